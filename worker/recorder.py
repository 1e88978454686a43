"""Persists a job's series off the training thread: a bounded queue, batched writes, heartbeats.

Every write is fenced: its transaction starts with the heartbeat of the recorder's attempt, which writes
nothing (and the recorder stops the job) once that attempt is no longer the run's active one.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from store import counters, runs, series
from store.db import transaction
from store.models import RunStatus

MAX_STORED_CHUNK = 8192  # points per stored row: big enough for fast reads, small enough for step filters


class Superseded(Exception):
    """The run was reaped and retried (or ended) while this attempt ran: it may write nothing more."""


@dataclass(frozen=True, slots=True)
class _Points:
    series: str
    columns: Mapping[str, Sequence[float] | np.ndarray]


@dataclass(frozen=True, slots=True)
class _Epoch:
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class _Flush:
    done: threading.Event


class Recorder:
    """Context manager the job's callables write into; a thread of its own does the SQL."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        run_id: str,
        *,
        attempt: int,
        poll_interval: float = 1.0,
        max_pending: int = 1024,
    ) -> None:
        self._factory = factory
        self._run_id = run_id
        self._attempt = attempt
        self._poll_interval = poll_interval
        self._queue: queue.Queue[_Points | _Epoch | _Flush | None] = queue.Queue(maxsize=max_pending)
        self._cancel = threading.Event()
        self._progress: tuple[int, int | None, int | None] = (0, None, None)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"recorder-{run_id}", daemon=True)
        self.points_written = 0

    # Callables handed to clr: cheap, never touch the database on the training thread.
    def add_points(self, series_name: str, columns: Mapping[str, Sequence[float] | np.ndarray]) -> None:
        self._put(_Points(series_name, columns))

    def add_epoch(self, values: Mapping[str, Any]) -> None:
        """Queue an epoch row and wait until it and every point before it are committed."""
        self._put(_Epoch(values))
        self.flush()

    def set_progress(self, step: int, total: int | None, epoch: int | None) -> None:
        self._progress = (step, total, epoch)

    def should_stop(self) -> bool:
        return self._cancel.is_set()

    def flush(self) -> None:
        done = threading.Event()
        self._put(_Flush(done))
        while not done.wait(0.5):
            self._raise_if_failed()
        self._raise_if_failed()

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        while self._thread.is_alive():  # a writer that failed reads the queue no more: never block on it
            try:
                self._queue.put(None, timeout=0.5)
                break
            except queue.Full:
                continue
        self._thread.join()
        if kind is None:
            self._raise_if_failed()

    def _put(self, item: _Points | _Epoch | _Flush) -> None:
        while True:
            self._raise_if_failed()
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _raise_if_failed(self) -> None:
        if isinstance(self._error, Superseded):
            raise self._error
        if self._error is not None:
            raise RuntimeError("could not persist the run's series") from self._error

    def _run(self) -> None:
        last_poll = 0.0
        try:
            while True:
                items = self._drain()
                finished = bool(items) and items[-1] is None
                batch = [item for item in items if item is not None]
                now = time.monotonic()
                poll = now - last_poll >= self._poll_interval or finished
                if batch or poll:  # every write is a heartbeat
                    self._write(batch)
                    last_poll = now
                for item in batch:
                    if isinstance(item, _Flush):
                        item.done.set()
                if finished:
                    return
        except BaseException as error:  # handed to the training thread, which raises it
            self._error = error
            self._cancel.set()

    def _drain(self) -> list[_Points | _Epoch | _Flush | None]:
        try:
            items = [self._queue.get(timeout=self._poll_interval)]
        except queue.Empty:
            return []
        while items[-1] is not None:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _write(self, batch: list[_Points | _Epoch | _Flush]) -> None:
        with transaction(self._factory) as session:
            step, total, epoch = self._progress
            status = runs.record_progress(
                session=session,
                run_id=self._run_id,
                attempt=self._attempt,
                step=step,
                total=total,
                epoch=epoch,
            )
            if status is None:
                raise Superseded(f"attempt {self._attempt} of run {self._run_id} is not the run's active one")
            if status != RunStatus.RUNNING:
                self._cancel.set()
            written: Counter[str] = Counter()
            for item in _coalesce(batch):
                if isinstance(item, _Points):
                    written[item.series] += series.append_chunk(
                        session=session, run_id=self._run_id, series=item.series, columns=item.columns
                    )
                elif isinstance(item, _Epoch):
                    written["epoch"] += series.record_epoch(
                        session=session, run_id=self._run_id, values=item.values
                    )
            # One increment per transaction: many of one counter row would each rewrite it.
            amounts = {counters.points_key(name): count for name, count in written.items() if count}
            counters.add(session=session, run_id=self._run_id, amounts=amounts)
            self.points_written += sum(count for name, count in written.items() if name != "epoch")


def _coalesce(batch: list[_Points | _Epoch | _Flush]) -> list[_Points | _Epoch]:
    """Merge consecutive point blocks of one series into stored chunks of at most MAX_STORED_CHUNK points."""
    out: list[_Points | _Epoch] = []
    pending: list[_Points] = []

    def emit() -> None:
        if not pending:
            return
        names = list(pending[0].columns)
        merged = {
            name: np.concatenate([np.asarray(p.columns[name], dtype=float) for p in pending])
            for name in names
        }
        for start in range(0, merged["step"].size, MAX_STORED_CHUNK):
            piece = {name: values[start : start + MAX_STORED_CHUNK] for name, values in merged.items()}
            out.append(_Points(pending[0].series, piece))
        pending.clear()

    for item in batch:
        if isinstance(item, _Points):
            if pending and pending[0].series != item.series:
                emit()
            pending.append(item)
        elif isinstance(item, _Epoch):
            emit()
            out.append(item)
    emit()
    return out
