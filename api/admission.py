"""What a job must satisfy before it is queued: complete, within this service's limits, data in the roots.

Single runs and every child of a comparison pass the same `admit`, so neither path accepts what the other
refuses; the worker reads the stored request through the same job contract (`store.jobspec`).
"""

from __future__ import annotations

from typing import Any

from api.errors import ApiError, validation_errors
from clr.fields import SpecError
from clr.paths import OutsideDataRootsError, confined
from dispatch.targets import refusal_for_url
from store.jobspec import JobRequest, LRFindCreate, check_runnable
from store.problems import ProblemCode
from store.settings import Settings


def admit(
    *, settings: Settings, job: JobRequest, at: tuple[str | int, ...] = ("body",), complete: bool = True
) -> None:
    """422 unless the job is complete, within the limits and reads data inside the data roots.

    `at` locates the job in the request body (a comparison's child: its variant); `complete=False` admits a
    comparison's held variant, whose bounds come from its range test later.
    """
    try:
        if complete:
            check_runnable(job)
    except SpecError as error:
        found = {"loc": at, "msg": str(error), "type": "value_error", "ctx": {"error": error}}
        raise validation_errors([found]) from error
    check_limits(settings=settings, job=job, at=at)
    check_dataset_path(settings=settings, path=job.dataset.path, at=at)
    check_callback_url(
        settings=settings, url=None if job.callback_url is None else str(job.callback_url), at=at
    )


def check_limits(*, settings: Settings, job: JobRequest, at: tuple[str | int, ...]) -> None:
    """422 `limit_exceeded` listing every field above this service's limits."""
    checks: list[tuple[str, float | None, float]] = [
        ("batch_size", job.batch_size, settings.max_batch_size),
        ("epochs", job.epochs, settings.max_epochs),
    ]
    if isinstance(job, LRFindCreate):
        checks.append(("num_iter", job.num_iter, settings.max_num_iter))
    errors: list[dict[str, Any]] = [
        {
            "loc": [*at, name],
            "msg": f"{name} is {value}, above the limit of {limit}",
            "type": "limit_exceeded",
        }
        for name, value, limit in checks
        if value is not None and value > limit
    ]
    if errors:
        raise ApiError(ProblemCode.LIMIT_EXCEEDED, "; ".join(e["msg"] for e in errors), errors=errors)


def check_dataset_path(*, settings: Settings, path: str | None, at: tuple[str | int, ...]) -> None:
    """422 unless every place the worker may look for `path` resolves (symlinks, `..`) inside a data root."""
    if path is None:
        return
    try:
        confined(path, settings.resolved_data_roots)
    except OutsideDataRootsError as outside:
        error = {"loc": [*at, "dataset", "path"], "msg": str(outside), "type": "dataset_path_outside_roots"}
        raise ApiError(ProblemCode.DATASET_PATH_OUTSIDE_ROOTS, str(outside), errors=[error]) from outside


def check_callback_url(*, settings: Settings, url: str | None, at: tuple[str | int, ...]) -> None:
    """422 `callback_url_not_allowed` when `url` names a loopback, private, link-local, multicast or reserved
    host this service is not set to allow (the sender checks the resolved addresses again)."""
    why = None if url is None else refusal_for_url(url, settings)
    if why is None:
        return
    detail = (
        f"callback_url {url!r} may not receive webhooks: {why}; "
        "allow it with CLR_WEBHOOK_ALLOWED_NETWORKS or CLR_WEBHOOK_ALLOWED_HOSTS"
    )
    error = {"loc": [*at, "callback_url"], "msg": detail, "type": "callback_url_not_allowed"}
    raise ApiError(ProblemCode.CALLBACK_URL_NOT_ALLOWED, detail, errors=[error])
