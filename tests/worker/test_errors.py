"""worker/errors.py: the exception a job raised, as the problem stored on its run."""

from __future__ import annotations

import pytest
import torch

from clr.datasets import DatasetNotFoundError
from clr.models import WeightsNotFoundError
from worker.errors import problem_for


@pytest.mark.parametrize(
    ("error", "code", "hint"),
    [
        (WeightsNotFoundError("no /hub/resnet18.pth"), "weights_missing", "CLR_TORCH_HOME"),
        (
            torch.cuda.OutOfMemoryError("CUDA out of memory.\nreport"),
            "cuda_out_of_memory",
            "Lower batch_size",
        ),
        (DatasetNotFoundError("no mnist"), "dataset_missing", "CLR_DATA_ROOTS"),
    ],
)
def test_a_job_error_maps_to_its_problem_code_with_what_to_fix(
    error: Exception, code: str, hint: str
) -> None:
    problem = problem_for(error)

    assert problem["code"] == code
    assert hint in problem["detail"]
    assert "report" not in problem["detail"]  # only the first line of CUDA's long message
