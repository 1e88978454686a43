"""What a failed job tells its caller: an RFC 9457 problem with a stable code and what to fix."""

from __future__ import annotations

from typing import Any

import torch
from celery.exceptions import SoftTimeLimitExceeded
from pydantic import ValidationError

from clr.datasets import DatasetNotFoundError
from clr.models import WeightsNotFoundError
from clr.paths import OutsideDataRootsError
from clr.plugins import PluginError, PluginNotFoundError
from store.problems import ProblemCode, failure


def problem_for(error: BaseException) -> dict[str, Any]:
    """Map an exception raised by a job to a problem object stored on the run."""
    if isinstance(error, PluginError) and isinstance(error.__cause__, SoftTimeLimitExceeded):
        error = error.__cause__  # the time limit came while a plugin's code ran: not the plugin's error
    cause = _spec_cause(error)
    if isinstance(cause, PluginNotFoundError):
        return failure(
            ProblemCode.PLUGIN_MISSING,
            "Plugin not installed on the worker",
            f"{cause}. Install the plugin's package in the worker's image (the API's image has it).",
        )
    if isinstance(error, PluginError):
        return failure(
            ProblemCode.PLUGIN_ERROR, "Plugin failed", f"{error}. The worker's log has the traceback."
        )
    if isinstance(error, OutsideDataRootsError):
        return failure(
            ProblemCode.DATASET_PATH_OUTSIDE_ROOTS, "Dataset path outside the data roots", str(error)
        )
    detail = str(error) or type(error).__name__
    if isinstance(error, DatasetNotFoundError):
        return failure(
            ProblemCode.DATASET_MISSING,
            "Dataset not found",
            f"{detail}. Place the files under a data root "
            "(CLR_DATA_ROOTS) or set dataset.params.download where the worker may download.",
        )
    if isinstance(error, WeightsNotFoundError):
        return failure(
            ProblemCode.WEIGHTS_MISSING,
            "Pretrained weights not found",
            f"{detail}. Copy the file into the "
            "worker's torch hub cache (CLR_TORCH_HOME), or submit with model.pretrained=false.",
        )
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return failure(
            ProblemCode.CUDA_OUT_OF_MEMORY,
            "CUDA out of memory",
            f"{detail.splitlines()[0]}. Lower batch_size, use amp=bf16, or choose a smaller model.",
        )
    if isinstance(error, SoftTimeLimitExceeded):
        return failure(
            ProblemCode.TIME_LIMIT,
            "Job time limit exceeded",
            "The job ran past CLR_JOB_SOFT_TIME_LIMIT; lower epochs or raise the limit.",
        )
    if isinstance(error, ValueError):
        return failure(ProblemCode.INVALID_JOB, "Invalid job", detail)
    return failure(ProblemCode.JOB_ERROR, "Job failed", f"{type(error).__name__}: {detail}")


def _spec_cause(error: BaseException) -> BaseException:
    """The spec check behind a pydantic ValidationError (where a plugin name was refused), else the error."""
    if isinstance(error, ValidationError):
        causes = [(e.get("ctx") or {}).get("error") for e in error.errors()]
        return next((c for c in causes if isinstance(c, PluginNotFoundError)), error)
    return error


def diverged(detail: str) -> dict[str, Any]:
    return failure(ProblemCode.DIVERGED, "Training diverged", detail)
