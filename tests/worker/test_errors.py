"""worker/errors.py: the exception a job raised, as the problem stored on its run."""

from __future__ import annotations

import pytest
import torch
from celery.exceptions import SoftTimeLimitExceeded

from clr.datasets import DatasetNotFoundError
from clr.models import WeightsNotFoundError
from clr.plugins import Installed, PluginError
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


def test_a_plugin_error_names_the_plugin_but_a_time_limit_met_inside_one_is_the_time_limit() -> None:
    installed = Installed("acme_net", "acme:ACME_NET", object(), "model")
    limit = SoftTimeLimitExceeded()  # celery raises it in whatever frame runs, a plugin's too
    timed_out = PluginError(installed, limit)
    timed_out.__cause__ = limit

    assert problem_for(PluginError(installed, ValueError("bad weights")))["code"] == "plugin_error"
    assert problem_for(timed_out)["code"] == "time_limit"
