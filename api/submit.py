"""Submitting a job: idempotency, from_lr_find bounds, admission, then commit (a relay sends it).

The stored request is the job as the worker will run it (all defaults filled in) without its name, tags and
metadata, which the run keeps in columns of their own. For a train run with `schedule.from_lr_find`, a missing
`schedule.base_lr` / `schedule.max_lr` is filled in from that range test's `suggested_base_lr` /
`suggested_max_lr` (base falls back to max_lr / base_lr_factor); `from_lr_find` stays in it to say where they
came from. The idempotency digest is taken over the body as given, labels included.
"""

from __future__ import annotations

import dataclasses

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.admission import admit
from api.errors import ApiError
from api.hotpath import HotPath, IdempotencyConflict
from store import runs
from store.ids import is_id
from store.jobspec import JobRequest, TrainCreate, body_of, kind_of, request_of
from store.models import Run, RunKind, RunStatus
from store.problems import ProblemCode
from store.settings import Settings

RETRY_AFTER_SECONDS = 30


async def submit(
    *,
    hot: HotPath,
    settings: Settings,
    owner: str,
    body: JobRequest,
    idempotency_key: str | None,
    request_id: str | None = None,
) -> tuple[Run, bool]:
    """The run for this request and whether it is new (False: an idempotent replay of an earlier one)."""
    kind = kind_of(body)
    given = body_of(body)
    digest = runs.request_digest(given)
    if idempotency_key is not None:
        earlier = await hot.run_by_idempotency_key(owner=owner, key=idempotency_key)
        if earlier is not None:
            return replayed(run=earlier, kind=kind, digest=digest), False
    job = body
    if isinstance(body, TrainCreate) and body.schedule.from_lr_find is not None:
        source_id = body.schedule.from_lr_find
        source = await hot.run(run_id=source_id, owner=owner) if is_id(source_id) else None
        job = with_bounds_from(source=source, job=body)
    # admission reads the dataset's files (IDX headers, a folder listing, a CSV): off the event loop
    await run_in_threadpool(admit, settings=settings, job=job)
    run = runs.new_run(
        owner=owner,
        kind=kind,
        request=request_of(job),
        request_hash=digest,
        max_attempts=settings.max_attempts,
        idempotency_key=idempotency_key,
        callback_url=given["callback_url"],
        name=body.name,
        tags=body.tags,
        meta=body.metadata,
        request_id=request_id,
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
            ProblemCode.TOO_MANY_QUEUED,
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
            ProblemCode.IDEMPOTENCY_KEY_REUSED,
            f"this Idempotency-Key was first used for run {run.id} "
            "with a different body; send a new key for a different request",
        )
    return run


def with_bounds_from(*, source: Run | None, job: TrainCreate) -> TrainCreate:
    """The job with its missing schedule bounds taken from the caller's range test it names (`source`)."""
    schedule = job.schedule
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
            bounded = dataclasses.replace(schedule, base_lr=base_lr, max_lr=max_lr)
        except ValidationError as error:
            why = "its bounds do not fit this schedule: " + "; ".join(e["msg"] for e in error.errors())
        else:
            return dataclasses.replace(job, schedule=bounded)
    detail = f"schedule.from_lr_find {schedule.from_lr_find!r} cannot be used: {why}"
    error_item = {"loc": ["body", "schedule", "from_lr_find"], "msg": detail, "type": "lr_find_not_usable"}
    raise ApiError(ProblemCode.LR_FIND_NOT_USABLE, detail, errors=[error_item])
