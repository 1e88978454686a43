"""Runs one job: a stored request becomes `clr` specs, and `clr`'s callables feed the recorder."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import clr
from store.settings import Settings
from worker.recorder import Recorder

DEFAULT_STEP_SIZE_EPOCHS = 2.0  # the CLR paper: a half cycle of 2 to 10 epochs


@dataclasses.dataclass(frozen=True)
class JobContext:
    """Where a job reads its data and writes its files."""

    data_roots: tuple[Path, ...]
    torch_home: Path | None
    run_dir: Path
    cache_dir: Path
    memory_budget: int | None

    @classmethod
    def for_run(cls, settings: Settings, run_id: str) -> JobContext:
        return cls(
            data_roots=tuple(settings.resolved_data_roots),
            torch_home=settings.torch_home,
            run_dir=settings.resolved_artifact_dir / run_id,
            cache_dir=settings.resolved_cache_dir,
            memory_budget=settings.data_memory_budget,
        )

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoint.pt"

    @property
    def weights_path(self) -> Path:
        return self.run_dir / "model.pt"


def _common(request: dict[str, Any], context: JobContext) -> dict[str, Any]:
    optimizer = {k: v for k, v in request["optimizer"].items()}
    optimizer["betas"] = tuple(optimizer["betas"])
    return {
        "model": clr.ModelSpec(**request["model"]),
        "dataset": clr.DatasetSpec(**request["dataset"]),
        "optimizer": clr.OptimizerSpec(**optimizer),
        "batch_size": request["batch_size"],
        "seed": request["seed"],
        "device": request["device"],
        "data_roots": context.data_roots,
        "torch_home": context.torch_home,
        "cache_dir": context.cache_dir,
        **({} if context.memory_budget is None else {"memory_budget": context.memory_budget}),
    }


def run_lr_find(request: dict[str, Any], context: JobContext, recorder: Recorder) -> clr.RangeTestResult:
    names = (
        "start_lr",
        "end_lr",
        "past_end_lr",
        "lr_cap",
        "num_iter",
        "epochs",
        "step_mode",
        "smoothing",
        "diverge_threshold",
        "base_lr_factor",
        "suggestion",
    )
    spec = clr.RangeTestSpec(**{name: request[name] for name in names if name in request})

    def on_chunk(chunk: clr.RangeChunk) -> None:
        recorder.add_points("range", dataclasses.asdict(chunk))

    return clr.find_lr(
        **_common(request, context),
        range_test=spec,
        on_chunk=on_chunk,
        on_progress=lambda p: recorder.set_progress(p.step, p.total_steps, p.epoch),
        should_stop=recorder.should_stop,
    )


def schedule_spec(schedule: dict[str, Any], optimizer_lr: float) -> clr.ScheduleSpec:
    """The stored schedule (bounds already resolved by the API for from_lr_find) as a `clr` spec."""
    base_lr = schedule.get("base_lr") or optimizer_lr
    max_lr = schedule.get("max_lr") or base_lr
    step_size = schedule.get("step_size_iter")
    step_size_epochs = schedule.get("step_size_epochs")
    if schedule["policy"] in clr.CYCLIC_POLICIES and step_size is None and step_size_epochs is None:
        step_size_epochs = DEFAULT_STEP_SIZE_EPOCHS
    return clr.ScheduleSpec(
        policy=schedule["policy"],
        base_lr=base_lr,
        max_lr=max_lr,
        step_size=step_size,
        step_size_epochs=step_size_epochs,
        gamma=schedule["gamma"],
        bound_decay=schedule["bound_decay"],
        cycle_momentum=schedule["cycle_momentum"],
        base_momentum=schedule["base_momentum"],
        max_momentum=schedule["max_momentum"],
    )


def training_callbacks(recorder: Recorder) -> dict[str, Any]:
    """`clr.train`'s callables for a training run, all feeding `recorder`."""

    def on_batches(chunk: clr.BatchChunk) -> None:
        recorder.add_points("batch", dataclasses.asdict(chunk))

    return {
        "on_batches": on_batches,
        "on_epoch": lambda record: recorder.add_epoch(dataclasses.asdict(record)),
        "on_progress": lambda p: recorder.set_progress(p.step, p.total_steps, p.epoch),
        "should_stop": recorder.should_stop,
    }


def run_train(request: dict[str, Any], context: JobContext, recorder: Recorder) -> clr.TrainResult:
    train = clr.TrainSpec(
        epochs=request["epochs"], amp=request["amp"], channels_last=request["channels_last"]
    )
    context.run_dir.mkdir(parents=True, exist_ok=True)
    return clr.fit(
        **_common(request, context),
        schedule=schedule_spec(request["schedule"], request["optimizer"]["lr"]),
        train=train,
        **training_callbacks(recorder),
        checkpoint_path=context.checkpoint_path,
        resume_from=context.checkpoint_path if context.checkpoint_path.exists() else None,
        weights_path=context.weights_path,
    )
