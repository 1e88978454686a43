"""What a job must satisfy before it is queued: complete, within this service's limits, data in the roots.

Single runs and every child of a comparison pass the same `admit`, so neither path accepts what the other
refuses; the worker reads the stored request through the same job contract (`store.jobspec`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from api.errors import ApiError, validation_errors
from clr.costs import Costs, estimate, training_samples
from clr.datasets import (
    DEFAULT_MEMORY_BUDGET,
    DatasetFacts,
    DatasetNotFoundError,
    InvalidDataError,
    dataset_facts,
    dataset_plugin,
    source_for,
)
from clr.fields import SpecError
from clr.paths import OutsideDataRootsError, confined
from clr.plugins import PluginError
from dispatch.targets import refusal_for_url
from store.jobspec import JobRequest, LRFindCreate, check_runnable
from store.problems import ProblemCode
from store.settings import Settings

log = logging.getLogger(__name__)
Location = tuple[str | int, ...]
KnownFacts = dict[str, DatasetFacts | None]
"""Facts already read, by dataset (name, params, path, resize): a set's facts do not depend on the seed."""


def admit(
    *,
    settings: Settings,
    job: JobRequest,
    at: Location = ("body",),
    complete: bool = True,
    known: KnownFacts | None = None,
) -> None:
    """422 unless the job is complete, reads data inside the data roots, fits its data and the limits.

    `at` locates the job in the request body (a comparison's child: its variant); `complete=False` admits a
    comparison's held variant, whose bounds come from its range test later. Jobs admitted together (a
    comparison's) share `known`, so their dataset's files are read once.
    """
    try:
        if complete:
            check_runnable(job)
    except SpecError as error:
        raise _invalid([*at, *error.field.split(".")], str(error)) from error
    check_dataset_path(settings=settings, path=job.dataset.path, at=at)
    key = json.dumps(
        [job.dataset.name, job.dataset.params, job.dataset.path, job.dataset.resize], default=str
    )
    known = {} if known is None else known
    if key not in known:
        known[key] = dataset_facts_for(settings=settings, job=job, at=at)
    facts = known[key]
    if facts is not None:
        check_fits_data(job=job, facts=facts, at=at)
    check_limits(settings=settings, job=job, at=at, costs=None if facts is None else estimate(job, facts))
    check_callback_url(
        settings=settings, url=None if job.callback_url is None else str(job.callback_url), at=at
    )


def check_fits_data(*, job: JobRequest, facts: DatasetFacts, at: Location) -> None:
    """422 unless the data found has the split the job validates on and a batch of training samples."""
    if job.dataset.validation_split == "test" and facts.test_samples is None:
        raise _invalid(
            [*at, "dataset", "validation"],
            f"dataset {job.dataset.name!r} has no test split there; set validation='holdout'",
        )
    samples = training_samples(job.dataset, facts)
    if job.batch_size > samples:
        raise _invalid(
            [*at, "batch_size"],
            f"batch_size must be at most the {samples} training samples of dataset {job.dataset.name!r}, "
            f"got {job.batch_size}",
        )


def _invalid(loc: list[str | int], message: str) -> ApiError:
    return validation_errors([{"loc": loc, "msg": message, "type": "value_error"}])


def dataset_facts_for(*, settings: Settings, job: JobRequest, at: Location) -> DatasetFacts | None:
    """What the job's dataset holds, read here as a worker would; None where the API cannot tell.

    Data not on the API's roots is left to the worker (`dataset_missing`); a plugin that raises is logged and
    left to the worker too, whose run then fails naming it (`plugin_error`).
    """
    spec = job.dataset
    installed = dataset_plugin(spec.name)
    budget = settings.data_memory_budget
    source = source_for(
        spec.name, spec.path, settings.resolved_data_roots, resize=spec.resize, seed=job.seed,
        memory_budget=DEFAULT_MEMORY_BUDGET if budget is None else budget,
    )  # fmt: skip
    try:
        return dataset_facts(installed, spec.params, source)
    except DatasetNotFoundError:
        return None
    except InvalidDataError as error:
        raise _invalid([*at, "dataset"], str(error)) from error
    except PluginError as error:
        log.warning("admission: %s", error, exc_info=error.__cause__)
        return None


def check_limits(*, settings: Settings, job: JobRequest, at: Location, costs: Costs | None = None) -> None:
    """422 `limit_exceeded` listing every field or estimate above this service's limits."""
    checks: list[tuple[list[str | int], str, float | None, float]] = [
        ([*at, "batch_size"], "batch_size", job.batch_size, settings.max_batch_size),
        ([*at, "epochs"], "epochs", job.epochs, settings.max_epochs),
    ]
    if isinstance(job, LRFindCreate):
        checks.append(([*at, "num_iter"], "num_iter", job.num_iter, settings.max_num_iter))
    if costs is not None:
        checks += [
            ([*at, "dataset"], "data memory (bytes)", costs.data_bytes, settings.max_data_bytes),
            ([*at, "batch_size"], "batch memory (bytes)", costs.batch_bytes, settings.max_batch_bytes),
            (list(at), "total steps", costs.total_steps, settings.max_total_steps),
            (list(at), "stored points", costs.stored_points, settings.max_stored_points),
        ]
    errors: list[dict[str, Any]] = [
        {
            "loc": loc,
            "msg": f"{name} is {value}, above the limit of {limit}",
            "type": "limit_exceeded",
            "estimate": value,
            "limit": limit,
        }
        for loc, name, value, limit in checks
        if value is not None and value > limit
    ]
    if errors:
        raise ApiError(ProblemCode.LIMIT_EXCEEDED, "; ".join(e["msg"] for e in errors), errors=errors)


def check_dataset_path(*, settings: Settings, path: str | None, at: Location) -> None:
    """422 unless every place the worker may look for `path` resolves (symlinks, `..`) inside a data root."""
    if path is None:
        return
    try:
        confined(path, settings.resolved_data_roots)
    except OutsideDataRootsError as outside:
        error = {"loc": [*at, "dataset", "path"], "msg": str(outside), "type": "dataset_path_outside_roots"}
        raise ApiError(ProblemCode.DATASET_PATH_OUTSIDE_ROOTS, str(outside), errors=[error]) from outside


def check_callback_url(*, settings: Settings, url: str | None, at: Location) -> None:
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
