"""Graceful drain: on SIGTERM a running job stops at its next batch and its run goes back to the queue.

Celery's warm shutdown (SIGTERM to the worker's main process) waits for running tasks to finish, and TERM
does not reach the pool processes, so the main process forwards it to those running a job
(`forward_to_running_jobs`). While a job runs, its pool process takes SIGTERM, from there or from a signal to
the whole process group, as a request to drain: the training loop checkpoints at its next batch and the run
is queued again without counting an attempt. A pool process still alive `timeout` seconds after the request
kills itself; its run is then reaped as lost and resumes from its last checkpoint, the attempt counted.
Between jobs SIGTERM keeps billiard's meaning (the idle pool process exits).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from celery.worker import state

_requested = threading.Event()


def requested() -> bool:
    """Whether this pool process was asked to drain: its job polls this before every batch."""
    return _requested.is_set()


@contextlib.contextmanager
def on_sigterm(timeout: float) -> Iterator[None]:
    """While the block runs a job, SIGTERM asks it to drain, with a deadline of `timeout` seconds."""

    def request(_signum: int, _frame: FrameType | None) -> None:
        if _requested.is_set():
            return
        _requested.set()
        deadline = threading.Timer(timeout, os.kill, (os.getpid(), signal.SIGKILL))
        deadline.daemon = True
        deadline.start()

    previous = signal.signal(signal.SIGTERM, request)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def forward_to_running_jobs() -> None:
    """From the worker's main process: ask each pool process running a job to drain it."""
    for pid in {request.worker_pid for request in list(state.active_requests)} - {None}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
