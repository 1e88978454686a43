"""Whole jobs from specs: what the worker calls, seeded, with progress through callables."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from clr.checkpoint import load_checkpoint, load_range_checkpoint
from clr.data import PASSED_ON, DataSplits, load_dataset
from clr.datasets import DEFAULT_MEMORY_BUDGET, dataset_plugin
from clr.device import resolve_device, seed_everything
from clr.lr_range_test import range_test as run_range_test
from clr.models import build_model
from clr.optimizers import build_optimizer
from clr.plugins import PluginError, culprit, model_plugin
from clr.records import BatchChunk, EpochRecord, Progress, RangeChunk, RangeTestResult, TrainResult
from clr.schedules import CyclicScheduler
from clr.specs import JobSpec, RangeTestJob, TrainJob
from clr.training import train as run_train


@dataclass(frozen=True)
class DataPlaces:
    """Where a job finds its data and weights and keeps decoded image folders (the worker's settings)."""

    data_roots: Sequence[Path] = ()
    torch_home: Path | None = None
    cache_dir: Path | None = None
    memory_budget: int = DEFAULT_MEMORY_BUDGET


def _setup(
    job: JobSpec, *, device: torch.device, where: DataPlaces
) -> tuple[DataSplits, nn.Module, torch.optim.Optimizer]:
    seed_everything(job.seed)
    data = load_dataset(
        job.dataset,
        data_roots=where.data_roots,
        batch_size=job.batch_size,
        seed=job.seed,
        device=device,
        cache_dir=where.cache_dir,
        memory_budget=where.memory_budget,
    )
    net = build_model(
        job.model, input_shape=data.input_shape, num_classes=data.num_classes, torch_home=where.torch_home
    )
    net.to(device)
    return data, net, build_optimizer(job.optimizer, net.parameters())


PASSED_IN_LOOP: tuple[type[BaseException], ...] = (*PASSED_ON, torch.AcceleratorError)
"""What the loop may raise that is never a plugin's error: it has its own problem, or the device failed."""


@contextlib.contextmanager
def plugin_errors(job: JobSpec, net: nn.Module) -> Iterator[None]:
    """An error the code of the job's model or dataset plugin raised in the loop, as PluginError naming it.

    Which plugin it was is read from the traceback, only once something raised: the loop itself runs as is.
    """
    try:
        yield
    except PASSED_IN_LOOP:
        raise
    except Exception as error:
        model, dataset = model_plugin(job.model.name), dataset_plugin(job.dataset.name)
        found = culprit(error, model=model, network=net, dataset=dataset)
        if found is None:
            raise
        raise PluginError(found, error) from error


def find_lr(
    job: RangeTestJob,
    *,
    where: DataPlaces = DataPlaces(),
    on_chunk: Callable[[RangeChunk], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    should_pause: Callable[[], bool] | None = None,
    checkpoint_path: Path | None = None,
    resume_from: Path | None = None,
) -> RangeTestResult:
    """Run a learning-rate range test on freshly built, seeded data, model and optimizer.

    A paused test (`should_pause`) leaves its checkpoint: resuming from it (`resume_from`) finishes the test.
    """
    dev = resolve_device(job.device)
    data, net, opt = _setup(job, device=dev, where=where)
    with plugin_errors(job, net):
        result = run_range_test(
            net,
            data.train,
            opt,
            nn.CrossEntropyLoss(),
            job,
            device=dev,
            on_chunk=on_chunk,
            on_progress=on_progress,
            should_stop=should_stop,
            should_pause=should_pause,
            checkpoint_path=checkpoint_path,
            resume=load_range_checkpoint(resume_from) if resume_from is not None else None,
            restore=False,
        )
    return dataclasses.replace(result, data=data.info)


def fit(
    job: TrainJob,
    *,
    where: DataPlaces = DataPlaces(),
    on_batches: Callable[[BatchChunk], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    should_pause: Callable[[], bool] | None = None,
    checkpoint_path: Path | None = None,
    resume_from: Path | None = None,
    weights_path: Path | None = None,
    chunk_size: int = 256,
) -> TrainResult:
    """Train with the job's schedule; resume from resume_from if that file exists.

    A paused run (`should_pause`) leaves its checkpoint and no weights: resuming from it finishes the job.
    """
    dev = resolve_device(job.device)
    data, net, opt = _setup(job, device=dev, where=where)
    config = job.schedule.resolved(
        batches_per_epoch=data.batches_per_epoch,
        total_steps=job.epochs * data.batches_per_epoch,
        optimizer_lr=job.optimizer.lr,
    )
    scheduler = CyclicScheduler(opt, config)
    resume = load_checkpoint(resume_from) if resume_from is not None and Path(resume_from).exists() else None
    with plugin_errors(job, net):
        result = run_train(
            net,
            data,
            opt,
            scheduler,
            nn.CrossEntropyLoss(),
            job,
            device=dev,
            on_batches=on_batches,
            on_epoch=on_epoch,
            on_progress=on_progress,
            should_stop=should_stop,
            should_pause=should_pause,
            checkpoint_path=checkpoint_path,
            resume=resume,
            chunk_size=chunk_size,
        )
    if weights_path is not None and result.stop_reason != "paused":
        weights_path = Path(weights_path)
        weights_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = weights_path.with_name(f".{weights_path.name}.{os.getpid()}.tmp")
        torch.save(net.state_dict(), tmp)
        os.replace(tmp, weights_path)
    return dataclasses.replace(result, data=data.info)
