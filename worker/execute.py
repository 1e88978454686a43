"""One delivery of a run: claim it, run it, persist its series, and record how it ended."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import torch
from sqlalchemy.orm import Session, sessionmaker

import clr
from dispatch.logs import log_context
from store import runs, series
from store.db import transaction
from store.jobspec import LRFindCreate, job_from_request
from store.models import RunKind, RunStatus
from store.settings import Settings
from worker.devices import Slot, placement
from worker.errors import diverged, problem_for
from worker.jobs import JobContext, run_lr_find, run_train
from worker.metrics import JobMeter
from worker.recorder import Recorder, Superseded

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    """A run this delivery started: what to run, its attempt, and the request that made it."""

    kind: str
    request: dict[str, Any]
    attempt: int
    request_id: str | None


def execute(
    run_id: str,
    *,
    factory: sessionmaker[Session],
    settings: Settings,
    worker: str,
    slot: Slot = Slot(index=0),  # noqa: B008 - frozen
) -> str | None:
    """Run `run_id` if still queued: the status it ended in (queued when drained), None if a duplicate.

    Every line logged meanwhile carries the run id and the X-Request-ID of the request that made it.
    """
    with log_context(run_id=run_id):
        claim = _claim(run_id, factory=factory, worker=worker, slot=slot)
        if claim is None:
            log.info("run %s is not queued any more: delivery ignored", run_id)
            return None
        with log_context(request_id=claim.request_id):
            log.info("run %s started (attempt %d) on %s", run_id, claim.attempt, worker)
            return _run_claimed(run_id, claim, factory=factory, settings=settings, slot=slot)


def _claim(run_id: str, *, factory: sessionmaker[Session], worker: str, slot: Slot) -> Claim | None:
    """Start the run if it is queued; None when it is not (a duplicate delivery)."""
    with transaction(factory) as session:
        run = runs.get_run(session=session, run_id=run_id)
        started = run is not None and runs.start_run(
            session=session,
            run_id=run_id,
            worker=worker,
            placement=placement(slot, worker=worker, requested_device=run.request["device"]),
        )
        if run is None or not started:
            return None
        session.refresh(run)  # the started attempt
        return Claim(kind=run.kind, request=run.request, attempt=run.attempt, request_id=run.request_id)


def _run_claimed(
    run_id: str, claim: Claim, *, factory: sessionmaker[Session], settings: Settings, slot: Slot
) -> str | None:
    kind, request, attempt = claim.kind, claim.request, claim.attempt
    context = JobContext.for_run(settings, run_id)
    poll_interval = min(1.0, settings.heartbeat_interval)
    try:
        job = job_from_request(kind, request)  # the API's own checks, again: a second line, never the first
        _discard_unconfirmed_points(factory, run_id, attempt, kind, context)
        meter = JobMeter(kind=kind, batch_size=job.batch_size, slot=slot.index)
        with Recorder(factory, run_id, attempt=attempt, poll_interval=poll_interval) as recorder:
            if isinstance(job, LRFindCreate):
                outcome = _finish_lr_find(run_lr_find(job, context, recorder, meter))
            else:
                outcome = _finish_train(run_train(job, context, recorder, meter))
    except Superseded:
        log.warning(
            "run %s: attempt %d was superseded (reaped while silent); it stops, writing nothing",
            run_id,
            attempt,
        )
        return None
    except Exception as error:
        log.exception("run %s failed", run_id)
        outcome = (RunStatus.FAILED, {"error": problem_for(error)})
    finally:
        if torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
            torch.cuda.empty_cache()  # what a failed (say out-of-memory) job held must not starve the next
    status, values = outcome
    with transaction(factory) as session:
        if status == RunStatus.QUEUED:
            if runs.requeue_drained(session=session, run_id=run_id, attempt=attempt):
                log.info("run %s handed back to the queue: its worker is shutting down", run_id)
                return status
            status, values = RunStatus.CANCELLED, {}  # a cancel came while it drained
        if not runs.transition(session=session, run_id=run_id, to=status, of_attempt=attempt, **values):
            log.warning("run %s could not move to %s (it was reaped or cancelled meanwhile)", run_id, status)
            return status
    log.info("run %s ended %s", run_id, status)
    return status


def _finish_lr_find(result: clr.RangeTestResult) -> tuple[RunStatus, dict[str, Any]]:
    if result.stop_reason == "paused":
        return RunStatus.QUEUED, {}
    if result.stop_reason == "cancelled":
        return RunStatus.CANCELLED, {"result": asdict(result.to_summary())}
    return RunStatus.SUCCEEDED, {"result": asdict(result.to_summary())}


def _finish_train(result: clr.TrainResult) -> tuple[RunStatus, dict[str, Any]]:
    summary = asdict(result.to_summary())
    if result.stop_reason == "paused":
        return RunStatus.QUEUED, {}
    if result.stop_reason == "cancelled":
        return RunStatus.CANCELLED, {"result": summary}
    if result.stop_reason == "diverged":
        detail = f"the loss became NaN or infinite at step {result.steps}; lower the learning rate bounds"
        return RunStatus.FAILED, {"result": summary, "error": diverged(detail)}
    return RunStatus.SUCCEEDED, {"result": summary}


def _discard_unconfirmed_points(
    factory: sessionmaker[Session], run_id: str, attempt: int, kind: str, context: JobContext
) -> None:
    """A retried run restarts at its last checkpoint (or zero): drop what earlier attempts wrote after it."""
    step, epoch = -1, -1
    if kind == RunKind.TRAIN and context.checkpoint_path.exists():
        state = clr.load_checkpoint(context.checkpoint_path)
        step, epoch = state.step - 1, state.epoch - 1  # the checkpoint counts steps and epochs done
    elif context.checkpoint_path.exists():
        step = clr.load_range_checkpoint(context.checkpoint_path).step - 1
    with transaction(factory) as session:
        if (
            runs.record_progress(
                session=session, run_id=run_id, attempt=attempt, step=0, total=None, epoch=None
            )
            is None
        ):
            raise Superseded(f"attempt {attempt} of run {run_id} is not the run's active one")
        name = "range" if kind == RunKind.LR_FIND else "batch"
        series.truncate_after(session=session, run_id=run_id, series=name, step=step)
        series.truncate_epochs_after(session=session, run_id=run_id, epoch=epoch)
