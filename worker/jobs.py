"""Runs one job: the stored request becomes the job by the API's own contract; `clr` feeds the recorder."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import clr
from clr.jobs import DataPlaces
from store.jobspec import LRFindCreate, TrainCreate
from store.settings import Settings
from worker import drain
from worker.metrics import JobMeter
from worker.recorder import Recorder


@dataclasses.dataclass(frozen=True)
class JobContext:
    """Where a job reads its data and writes its files."""

    places: DataPlaces
    run_dir: Path

    @classmethod
    def for_run(cls, settings: Settings, run_id: str) -> JobContext:
        budget = settings.data_memory_budget
        places = DataPlaces(
            data_roots=tuple(settings.resolved_data_roots),
            torch_home=settings.torch_home,
            cache_dir=settings.resolved_cache_dir,
            **({} if budget is None else {"memory_budget": budget}),
        )
        return cls(places=places, run_dir=settings.resolved_artifact_dir / run_id)

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoint.pt"

    @property
    def weights_path(self) -> Path:
        return self.run_dir / "model.pt"


def progress_sink(recorder: Recorder, meter: JobMeter | None) -> Callable[[clr.Progress], None]:
    """`on_progress` for clr: the recorder stores the progress, the meter (if any) times the steps."""

    def on_progress(progress: clr.Progress) -> None:
        recorder.set_progress(progress.step, progress.total_steps, progress.epoch)
        if meter is not None:
            meter.on_progress(progress.step)

    return on_progress


def run_lr_find(
    job: LRFindCreate, context: JobContext, recorder: Recorder, meter: JobMeter | None = None
) -> clr.RangeTestResult:
    def on_chunk(chunk: clr.RangeChunk) -> None:
        recorder.add_points("range", dataclasses.asdict(chunk))

    return clr.find_lr(
        job,
        where=context.places,
        on_chunk=on_chunk,
        on_progress=progress_sink(recorder, meter),
        should_stop=recorder.should_stop,
        should_pause=drain.requested,
        checkpoint_path=context.checkpoint_path,
        resume_from=context.checkpoint_path if context.checkpoint_path.exists() else None,
    )


def training_callbacks(recorder: Recorder, meter: JobMeter | None = None) -> dict[str, Any]:
    """`clr.train`'s callables for a training run, all feeding `recorder`."""

    def on_batches(chunk: clr.BatchChunk) -> None:
        recorder.add_points("batch", dataclasses.asdict(chunk))

    return {
        "on_batches": on_batches,
        "on_epoch": lambda record: recorder.add_epoch(dataclasses.asdict(record)),
        "on_progress": progress_sink(recorder, meter),
        "should_stop": recorder.should_stop,
        "should_pause": drain.requested,
    }


def run_train(
    job: TrainCreate, context: JobContext, recorder: Recorder, meter: JobMeter | None = None
) -> clr.TrainResult:
    context.run_dir.mkdir(parents=True, exist_ok=True)
    return clr.fit(
        job,
        where=context.places,
        **training_callbacks(recorder, meter),
        checkpoint_path=context.checkpoint_path,
        resume_from=context.checkpoint_path if context.checkpoint_path.exists() else None,
        weights_path=context.weights_path,
    )
