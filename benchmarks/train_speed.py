"""Overhead of training through the service and of clr.range_test, against a hand loop and torch-lr-finder.

Run: python benchmarks/train_speed.py [--device cpu|cuda] [--pairs N] [--amp] [--channels-last]

(a) `clr.train` with the worker's own callables (`worker.jobs.training_callbacks`): every batch's loss and
LR recorded and persisted by the worker's Recorder into a migrated SQLite database, an epoch row and a
checkpoint per epoch; against a minimal hand-written loop on the same model, data and batch size.
(b) `clr.range_test` against torch-lr-finder's `range_test` over the same batches.

Each comparison runs in pairs, back to back, the order alternating; the figure is the median of the pairs'
ratios, with a 90 % bootstrap interval of that median. On a shared 2-core machine the same loop's time varies
by 15 % or more from one run to the next (CPU time with it, so it is the machine's speed, not scheduling): a
ratio of two medians drifts with it, a pair's ratio much less.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from sqlalchemy.orm import Session, sessionmaker
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import clr
from store import runs
from store.db import make_engine, make_sessionmaker, transaction
from store.migrate import upgrade
from store.models import RunKind, RunStatus
from worker.jobs import training_callbacks
from worker.recorder import Recorder

BATCH = 128
EPOCHS = 2


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], object], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def _hand_loop(model: nn.Module, data: clr.DataSplits, train: clr.TrainSpec) -> None:
    """The minimal loop: shuffle, index, forward, backward, step; a validation pass per epoch."""
    x, y = data.train.x, data.train.y  # type: ignore[attr-defined]
    val_x, val_y = data.val.x, data.val.y  # type: ignore[attr-defined]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    fmt = torch.channels_last if train.channels_last else torch.contiguous_format
    model.to(memory_format=fmt)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(train.amp)
    scaler = torch.amp.GradScaler(x.device.type, enabled=train.amp == "fp16")
    for _ in range(train.epochs):
        model.train()
        order = torch.randperm(len(x), device=x.device)
        for i in range(len(x) // BATCH):
            idx = order[i * BATCH : (i + 1) * BATCH]
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(x.device.type, dtype=dtype, enabled=dtype is not None):
                loss = loss_fn(model(x[idx].contiguous(memory_format=fmt)), y[idx])
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        model.eval()
        with torch.no_grad(), torch.autocast(x.device.type, dtype=dtype, enabled=dtype is not None):
            for i in range(0, len(val_x), BATCH):
                loss_fn(model(val_x[i : i + BATCH].contiguous(memory_format=fmt)), val_y[i : i + BATCH])
    float(loss.item())


def _clr_train(
    model: nn.Module, data: clr.DataSplits, train: clr.TrainSpec, factory: sessionmaker[Session], store: Path
) -> None:
    """Training as the worker runs it: the Recorder persists every point, one checkpoint per epoch."""
    with transaction(factory) as session:
        run = runs.create_run(session=session, owner="bench", kind=RunKind.TRAIN, request={}, max_attempts=1)
        runs.transition(session=session, run_id=run.id, to=RunStatus.RUNNING, worker="bench")
    optimizer = clr.build_optimizer(clr.OptimizerSpec("sgd_momentum", lr=0.01), model.parameters())
    total = EPOCHS * data.batches_per_epoch
    schedule = clr.ScheduleSpec("triangular", base_lr=0.001, max_lr=0.01, step_size_epochs=0.5)
    scheduler = clr.CyclicScheduler(
        optimizer,
        schedule.resolved(batches_per_epoch=data.batches_per_epoch, total_steps=total, optimizer_lr=0.001),
    )
    with Recorder(factory, run.id, attempt=0) as recorder:  # moved to running without start_run
        clr.train(
            model, data, optimizer, scheduler, nn.CrossEntropyLoss(), train,
            checkpoint_path=store / f"{run.id}.pt", **training_callbacks(recorder),
        )  # fmt: skip
    if recorder.points_written < train.epochs * data.batches_per_epoch:
        raise SystemExit(f"the recorder persisted {recorder.points_written} points, fewer than the batches")


def _lr_finder(
    model: nn.Module, loader: DataLoader[tuple[torch.Tensor, ...]], num_iter: int, device: torch.device
) -> None:
    from torch_lr_finder import LRFinder

    optimizer = torch.optim.SGD(model.parameters(), lr=1e-7, momentum=0.9)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder = LRFinder(model, optimizer, nn.CrossEntropyLoss(), device=device)
        finder.range_test(
            loader,
            start_lr=1e-7,
            end_lr=1.0,
            num_iter=num_iter,
            step_mode="exp",
            smooth_f=0.02,
            diverge_th=1e9,
        )
        finder.reset()


def _clr_range(model: nn.Module, batches: object, num_iter: int) -> None:
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-7, momentum=0.9)
    spec = clr.RangeTestSpec(
        start_lr=1e-7, end_lr=1.0, num_iter=num_iter, smoothing=0.98, diverge_threshold=1e9
    )
    clr.range_test(model, batches, optimizer, nn.CrossEntropyLoss(), spec)  # type: ignore[arg-type]


def main() -> None:
    """Time both comparisons in alternating pairs and print the median ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--pairs", type=int, default=10, help="timed pairs of each comparison")
    parser.add_argument("--num-iter", type=int, default=60)
    parser.add_argument("--amp", default="none", choices=["none", "bf16", "fp16"])
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--samples", type=int, default=4096, help="training set size (shapes, 32x32)")
    args = parser.parse_args()
    train = clr.TrainSpec(epochs=EPOCHS, amp=args.amp, channels_last=args.channels_last)
    device = clr.resolve_device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(2)
    spec = clr.DatasetSpec(
        "shapes", {"num_samples": args.samples, "image_size": 32}, augment=False, val_fraction=0.1
    )
    data = clr.load_dataset(spec, batch_size=BATCH, seed=0, device=device)
    torch.manual_seed(0)
    initial = clr.build_model(
        clr.ModelSpec("vanilla_cnn", {"width": 16}),
        input_shape=data.input_shape,
        num_classes=data.num_classes,
    ).to(device)
    x, y = data.train.x, data.train.y  # type: ignore[attr-defined]
    samples = EPOCHS * data.batches_per_epoch * BATCH
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True, drop_last=True)

    store = Path(tempfile.mkdtemp(prefix="clr-train-speed-"))
    database = f"sqlite:///{store / 'clr.db'}"
    upgrade(database)
    engine = make_engine(database)
    factory = make_sessionmaker(engine)
    _timed(lambda: _hand_loop(copy.deepcopy(initial), data, train), device)  # warm-up
    _timed(lambda: _clr_train(copy.deepcopy(initial), data, train, factory, store), device)
    hand, ours = _pairs(
        lambda: _hand_loop(copy.deepcopy(initial), data, train),
        lambda: _clr_train(copy.deepcopy(initial), data, train, factory, store),
        args.pairs,
        device,
    )
    finder, ranged = _pairs(
        lambda: _lr_finder(copy.deepcopy(initial), loader, args.num_iter, device),
        lambda: _clr_range(copy.deepcopy(initial), loader, args.num_iter),
        args.pairs,
        device,
    )
    train_ratios = [h / o for h, o in zip(hand, ours, strict=True)]  # time ratio = samples/s ratio
    range_ratios = [r / f for f, r in zip(finder, ranged, strict=True)]
    out = sys.stdout
    engine.dispose()
    shutil.rmtree(store, ignore_errors=True)
    out.write(
        f"device={device} threads={torch.get_num_threads()} pairs={args.pairs} amp={train.amp} "
        f"channels_last={train.channels_last} samples={args.samples}; baseline runs varied "
        f"{max(hand) / min(hand):.2f}x between slowest and fastest\n"
    )
    out.write(f"{'comparison':<44}{'baseline':>10}{'clr':>10}{'ratio':>8}{'90% interval':>14}  target\n")
    hand_rate, ours_rate = samples / statistics.median(hand), samples / statistics.median(ours)
    out.write(
        f"{'(a) train samples/s, recorded and persisted':<44}{hand_rate:>10.1f}{ours_rate:>10.1f}"
        f"{statistics.median(train_ratios):>8.3f}{_interval(train_ratios):>14}  >= 0.97\n"
    )
    out.write(
        f"{f'(b) range test seconds, {args.num_iter} iters':<44}{statistics.median(finder):>10.3f}"
        f"{statistics.median(ranged):>10.3f}{statistics.median(range_ratios):>8.3f}"
        f"{_interval(range_ratios):>14}  <= 1.0\n"
    )


def _pairs(
    baseline: Callable[[], object], ours: Callable[[], object], pairs: int, device: torch.device
) -> tuple[list[float], list[float]]:
    """Seconds of each side over `pairs` back-to-back pairs, the order alternating."""
    times: tuple[list[float], list[float]] = ([], [])
    for pair in range(pairs):
        sides = [(times[0], baseline), (times[1], ours)]
        for out, fn in sides if pair % 2 == 0 else sides[::-1]:
            out.append(_timed(fn, device))
    return times


def _interval(ratios: list[float], resamples: int = 2000) -> str:
    """A 90 % bootstrap interval of the median of `ratios` (seeded: the same ratios, the same interval)."""
    draw = random.Random(0)
    medians = sorted(statistics.median(draw.choices(ratios, k=len(ratios))) for _ in range(resamples))
    return f"{medians[resamples // 20]:.3f}-{medians[-resamples // 20]:.3f}"


if __name__ == "__main__":
    main()
