"""Submitting a job: idempotency, limits, data paths and from_lr_find bounds, then commit (a relay sends it).

The stored request is the validated body as given (all defaults filled in). For a train run with
`schedule.from_lr_find`, a missing `schedule.base_lr` / `schedule.max_lr` is filled in from that range test's
`suggested_base_lr` / `suggested_max_lr` (base falls back to max_lr / base_lr_factor), so the worker reads its
bounds from the request alone; `from_lr_find` stays in it to say where they came from. The idempotency digest
is taken over the body as given, before those bounds are filled in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from api.callbacks import check_callback_url
from api.errors import ApiError
from api.hotpath import HotPath, IdempotencyConflict
from store import runs
from store.models import Run, RunKind, RunStatus
from store.schemas import LRFindCreate, ScheduleIn, TrainCreate
from store.settings import Settings

RETRY_AFTER_SECONDS = 30


async def submit(
    *,
    hot: HotPath,
    settings: Settings,
    owner: str,
    body: LRFindCreate | TrainCreate,
    idempotency_key: str | None,
) -> tuple[Run, bool]:
    """The run for this request and whether it is new (False: an idempotent replay of an earlier one)."""
    kind = RunKind.LR_FIND if isinstance(body, LRFindCreate) else RunKind.TRAIN
    given = body.model_dump(mode="json")
    digest = runs.request_digest(given)
    if idempotency_key is not None:
        earlier = await hot.run_by_idempotency_key(owner=owner, key=idempotency_key)
        if earlier is not None:
            return replayed(run=earlier, kind=kind, digest=digest), False
    check_limits(settings=settings, body=body)
    check_dataset_path(settings=settings, path=body.dataset.path)
    check_callback_url(settings=settings, url=given["callback_url"])
    request = given
    if isinstance(body, TrainCreate) and body.schedule.from_lr_find is not None:
        source = await hot.run(run_id=body.schedule.from_lr_find, owner=owner)
        request = {**given, "schedule": resolve_schedule(source=source, schedule=body.schedule)}
    run = runs.new_run(
        owner=owner,
        kind=kind,
        request=request,
        request_hash=digest,
        max_attempts=settings.max_attempts,
        idempotency_key=idempotency_key,
        callback_url=given["callback_url"],
    )
    try:
        accepted = await hot.accept(run, max_queued=settings.max_queued_per_owner)
    except IdempotencyConflict:
        # A concurrent request with the same Idempotency-Key committed first.
        earlier = await hot.run_by_idempotency_key(owner=owner, key=str(idempotency_key))
        if earlier is None:
            raise
        return replayed(run=earlier, kind=kind, digest=digest), False
    if not accepted:
        raise ApiError(
            429,
            "too_many_queued",
            f"{settings.max_queued_per_owner} runs are already queued for "
            "this owner; retry once some have started",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    # Committed: a relay process sends it to the broker (dispatch/relay.py).
    return run, True


def replayed(*, run: Run, kind: RunKind, digest: str) -> Run:
    """The earlier run for a repeated Idempotency-Key, if the body is the same."""
    if run.kind != kind or run.request_hash != digest:
        raise ApiError(
            422,
            "idempotency_key_reused",
            f"this Idempotency-Key was first used for run {run.id} "
            "with a different body; send a new key for a different request",
        )
    return run


def check_limits(*, settings: Settings, body: LRFindCreate | TrainCreate) -> None:
    """422 `limit_exceeded` listing every field above this service's limits."""
    checks: list[tuple[str, float | None, float]] = [
        ("batch_size", body.batch_size, settings.max_batch_size),
        ("epochs", body.epochs, settings.max_epochs),
    ]
    if isinstance(body, LRFindCreate):
        checks.append(("num_iter", body.num_iter, settings.max_num_iter))
    errors: list[dict[str, Any]] = [
        {
            "loc": ["body", name],
            "msg": f"{name} is {value}, above the limit of {limit}",
            "type": "limit_exceeded",
        }
        for name, value, limit in checks
        if value is not None and value > limit
    ]
    if errors:
        raise ApiError(422, "limit_exceeded", "; ".join(e["msg"] for e in errors), errors=errors)


def check_dataset_path(*, settings: Settings, path: str | None) -> None:
    """422 unless every place the worker may look for `path` resolves (symlinks, `..`) inside a data root."""
    if path is None:
        return
    roots = settings.resolved_data_roots
    relative = Path(path)
    candidates = [relative] if relative.is_absolute() else [root / relative for root in roots]
    outside = [c for c in candidates if not any(c.resolve().is_relative_to(root) for root in roots)]
    if outside or not candidates:
        detail = f"dataset.path {path!r} resolves outside the data roots {[str(r) for r in roots]}"
        error = {"loc": ["body", "dataset", "path"], "msg": detail, "type": "dataset_path_outside_roots"}
        raise ApiError(422, "dataset_path_outside_roots", detail, errors=[error])


def resolve_schedule(*, source: Run | None, schedule: ScheduleIn) -> dict[str, Any]:
    """The schedule with base_lr and max_lr taken from the caller's range test it names (`source`)."""
    run_id = schedule.from_lr_find
    suggested = (source.result or {}) if source is not None else {}
    if source is None:
        why = "no such run"
    elif source.kind != RunKind.LR_FIND:
        why = f"it is a {source.kind} run, not an lr_find run"
    elif source.status != RunStatus.SUCCEEDED:
        why = f"its status is {source.status}, and only a succeeded range test has suggestions"
    elif suggested.get("suggested_max_lr") is None:
        why = "the range test found no suggested_max_lr (its loss never fell clearly)"
    else:
        max_lr = schedule.max_lr or suggested["suggested_max_lr"]
        base_lr = (
            schedule.base_lr
            or suggested.get("suggested_base_lr")
            or max_lr / source.request["base_lr_factor"]
        )
        try:
            resolved = ScheduleIn.model_validate(
                {**schedule.model_dump(), "base_lr": base_lr, "max_lr": max_lr}
            )
        except ValidationError as error:
            why = "its bounds do not fit this schedule: " + "; ".join(e["msg"] for e in error.errors())
        else:
            return resolved.model_dump(mode="json")
    detail = f"schedule.from_lr_find {run_id!r} cannot be used: {why}"
    error_item = {"loc": ["body", "schedule", "from_lr_find"], "msg": detail, "type": "lr_find_not_usable"}
    raise ApiError(422, "lr_find_not_usable", detail, errors=[error_item])
