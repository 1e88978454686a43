"""Whole jobs from specs: what the worker calls, seeded, with progress through callables."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from clr.checkpoint import load_checkpoint
from clr.data import DEFAULT_MEMORY_BUDGET, DataSplits, load_dataset
from clr.device import resolve_device, seed_everything
from clr.models import build_model
from clr.optimizers import build_optimizer
from clr.range_test import range_test as run_range_test
from clr.records import BatchChunk, EpochRecord, Progress, RangeChunk, RangeTestResult, TrainResult
from clr.schedules import CyclicScheduler
from clr.specs import DatasetSpec, ModelSpec, OptimizerSpec, RangeTestSpec, ScheduleSpec, TrainSpec
from clr.training import train as run_train


def _setup(
    model: ModelSpec,
    dataset: DatasetSpec,
    optimizer: OptimizerSpec,
    *,
    batch_size: int,
    seed: int,
    device: torch.device,
    data_roots: Sequence[Path],
    torch_home: Path | None,
    cache_dir: Path | None,
    memory_budget: int,
) -> tuple[DataSplits, nn.Module, torch.optim.Optimizer]:
    seed_everything(seed)
    data = load_dataset(
        dataset,
        data_roots=data_roots,
        batch_size=batch_size,
        seed=seed,
        device=device,
        cache_dir=cache_dir,
        memory_budget=memory_budget,
    )
    net = build_model(
        model, input_shape=data.input_shape, num_classes=data.num_classes, torch_home=torch_home
    )
    net.to(device)
    return data, net, build_optimizer(optimizer, net.parameters())


def find_lr(
    *,
    model: ModelSpec,
    dataset: DatasetSpec,
    optimizer: OptimizerSpec,
    batch_size: int,
    range_test: RangeTestSpec,
    seed: int,
    device: str = "auto",
    data_roots: Sequence[Path] = (),
    torch_home: Path | None = None,
    cache_dir: Path | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    on_chunk: Callable[[RangeChunk], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RangeTestResult:
    """Run a learning-rate range test on freshly built, seeded data, model and optimizer."""
    dev = resolve_device(device)
    data, net, opt = _setup(
        model, dataset, optimizer, batch_size=batch_size, seed=seed, device=dev, data_roots=data_roots,
        torch_home=torch_home, cache_dir=cache_dir, memory_budget=memory_budget,
    )  # fmt: skip
    result = run_range_test(
        net,
        data.train,
        opt,
        nn.CrossEntropyLoss(),
        range_test,
        device=dev,
        on_chunk=on_chunk,
        on_progress=on_progress,
        should_stop=should_stop,
        restore=False,
    )
    return dataclasses.replace(result, data=data.info)


def fit(
    *,
    model: ModelSpec,
    dataset: DatasetSpec,
    optimizer: OptimizerSpec,
    schedule: ScheduleSpec,
    train: TrainSpec,
    batch_size: int,
    seed: int,
    device: str = "auto",
    data_roots: Sequence[Path] = (),
    torch_home: Path | None = None,
    cache_dir: Path | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    on_batches: Callable[[BatchChunk], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    checkpoint_path: Path | None = None,
    resume_from: Path | None = None,
    weights_path: Path | None = None,
) -> TrainResult:
    """Train with a cyclical schedule; resume from resume_from if that file exists."""
    dev = resolve_device(device)
    data, net, opt = _setup(
        model, dataset, optimizer, batch_size=batch_size, seed=seed, device=dev, data_roots=data_roots,
        torch_home=torch_home, cache_dir=cache_dir, memory_budget=memory_budget,
    )  # fmt: skip
    config = schedule.resolved(
        batches_per_epoch=data.batches_per_epoch, total_steps=train.epochs * data.batches_per_epoch
    )
    scheduler = CyclicScheduler(opt, config)
    resume = load_checkpoint(resume_from) if resume_from is not None and Path(resume_from).exists() else None
    result = run_train(
        net,
        data,
        opt,
        scheduler,
        nn.CrossEntropyLoss(),
        train,
        device=dev,
        on_batches=on_batches,
        on_epoch=on_epoch,
        on_progress=on_progress,
        should_stop=should_stop,
        checkpoint_path=checkpoint_path,
        resume=resume,
    )
    if weights_path is not None:
        weights_path = Path(weights_path)
        weights_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = weights_path.with_name(f".{weights_path.name}.{os.getpid()}.tmp")
        torch.save(net.state_dict(), tmp)
        os.replace(tmp, weights_path)
    return dataclasses.replace(result, data=data.info)
