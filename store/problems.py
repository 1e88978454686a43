"""RFC 9457 problems: every stable `code` the service emits, once, with its status and meaning."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, Field

RUN = None  # the status of a code that only a run's `error` (or a comparison's `release_error`) carries


class ProblemCode(StrEnum):
    """The machine-readable `code` of a problem: of an error answer, or of a failed run's `error`."""

    status: int | None
    meaning: str

    def __new__(cls, value: str, status: int | None, meaning: str) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.status, member.meaning = status, meaning
        return member

    VALIDATION_ERROR = (
        "validation_error",
        422,
        "a body, query or header value is not allowed; `errors` locate each",
    )
    UNKNOWN_QUERY_PARAMETER = "unknown_query_parameter", 422, "a query parameter the route does not take"
    REPEATED_QUERY_PARAMETER = "repeated_query_parameter", 422, "a single-valued query parameter given twice"
    LIMIT_EXCEEDED = "limit_exceeded", 422, "above a limit of this service (`CLR_MAX_*`)"
    DATASET_PATH_OUTSIDE_ROOTS = (
        "dataset_path_outside_roots",
        422,
        "dataset.path resolves outside `CLR_DATA_ROOTS` (also a run's error when found by the worker)",
    )
    CALLBACK_URL_NOT_ALLOWED = "callback_url_not_allowed", 422, "callback_url reaches inside the network"
    LR_FIND_NOT_USABLE = (
        "lr_find_not_usable",
        422,
        "from_lr_find names no succeeded range test with suggestions (also a comparison's release_error)",
    )
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused", 422, "this Idempotency-Key came with another body"
    BAD_REQUEST = "bad_request", 400, "the request could not be read (other client errors too)"
    UNAUTHORIZED = "unauthorized", 401, "no API key, or an unknown or revoked one (see WWW-Authenticate)"
    NOT_FOUND = "not_found", 404, "no such route, or no run or comparison of yours with this id"
    ARTIFACT_NOT_FOUND = "artifact_not_found", 404, "the run has no such file (yet)"
    METHOD_NOT_ALLOWED = "method_not_allowed", 405, "the route does not take this method (see Allow)"
    RUN_TERMINAL = "run_terminal", 409, "the run has ended, so there is nothing to cancel"
    RUN_ACTIVE = "run_active", 409, "the run is queued or running: cancel it, delete it once ended"
    RUN_IN_COMPARISON = "run_in_comparison", 409, "the run belongs to a comparison: delete the comparison"
    COMPARISON_ACTIVE = "comparison_active", 409, "a run of the comparison is queued or running"
    BODY_TOO_LARGE = "body_too_large", 413, "the body is above `CLR_MAX_BODY_BYTES`"
    TOO_MANY_QUEUED = (
        "too_many_queued",
        429,
        "`CLR_MAX_QUEUED_PER_OWNER` runs are queued: retry after Retry-After",
    )
    TOO_MANY_STREAMS = (
        "too_many_streams",
        429,
        "`CLR_MAX_STREAMS_PER_OWNER` streams are open: retry after Retry-After",
    )
    INTERNAL_ERROR = "internal_error", 500, "the server failed; its log has the traceback"
    NOT_READY = "not_ready", 503, "the database or the broker does not answer (`/readyz`)"
    DATASET_MISSING = "dataset_missing", RUN, "the dataset's files are not on the worker's data roots"
    WEIGHTS_MISSING = "weights_missing", RUN, "pretrained weights are not in the worker's `CLR_TORCH_HOME`"
    CUDA_OUT_OF_MEMORY = "cuda_out_of_memory", RUN, "the job did not fit on the GPU: lower batch_size"
    DIVERGED = "diverged", RUN, "training loss became NaN or infinite: lower the learning rate bounds"
    WORKER_LOST = "worker_lost", RUN, "the worker stopped sending heartbeats on every attempt"
    TIME_LIMIT = "time_limit", RUN, "the job ran past `CLR_JOB_SOFT_TIME_LIMIT`"
    PLUGIN_MISSING = (
        "plugin_missing",
        RUN,
        "a model or dataset plugin the job names is not installed on the worker",
    )
    PLUGIN_ERROR = (
        "plugin_error",
        RUN,
        "a model or dataset plugin raised; `detail` names it, the worker's log has the traceback",
    )
    INVALID_JOB = "invalid_job", RUN, "the worker found the job invalid (say, a file that does not decode)"
    JOB_ERROR = "job_error", RUN, "the job raised an unexpected error; the worker's log has the traceback"
    CANCELLED = "cancelled", RUN, "the comparison was cancelled before its cyclic variants were released"


def code_table() -> str:
    """The codes as a Markdown list with status and meaning, for the OpenAPI document."""
    return "\n".join(f"- `{code}` ({_answered(code)}): {code.meaning}" for code in ProblemCode)


def _answered(code: ProblemCode) -> str:
    return "a run's error" if code.status is None else str(code.status)


class ErrorItem(BaseModel):
    """One refused value: where it is and why."""

    loc: list[str | int] = Field(
        description="Path to the value: `body`, `query` or `header`, then field names"
    )
    msg: str = Field(description="What is wrong and what is allowed")
    type: str = Field(description="pydantic's error type, or the problem code")
    estimate: float | None = Field(None, description="limit_exceeded: the job's estimated amount")
    limit: float | None = Field(None, description="limit_exceeded: this service's limit (`CLR_MAX_*`)")


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable machine-readable `code`."""

    type: str = Field("about:blank", description="Always about:blank: `code` tells problems apart")
    title: str = Field(description="The HTTP status phrase, or a short summary of a run's failure")
    status: int = Field(description="The HTTP status (500 for a run's failure)")
    detail: str | None = Field(None, description="What was wrong and what to do")
    code: ProblemCode = Field(description="Stable, for programs to act on:\n" + code_table())
    instance: str | None = Field(None, description="The path of the request")
    errors: list[ErrorItem] | None = Field(None, description="Each refused value, for validation problems")


def failure(code: ProblemCode, title: str, detail: str) -> dict[str, Any]:
    """A run's (or a comparison's) stored problem."""
    return Problem(title=title, status=500, detail=detail, code=code).model_dump(
        mode="json", exclude_none=True
    )
