"""Training lifts accuracy, records every batch, stops when told and resumes bit for bit."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

import clr

SGD = clr.OptimizerSpec("sgd_momentum")
TRIANGULAR = clr.ScheduleSpec("triangular", base_lr=0.01, max_lr=0.1, step_size_epochs=1.0)


def _fit(dataset: clr.DatasetSpec, epochs: int, **kwargs: object) -> clr.TrainResult:
    job = clr.TrainJob(
        model=clr.ModelSpec("vanilla_cnn", {"width": 16, "dropout": 0.2}), dataset=dataset, optimizer=SGD,
        schedule=TRIANGULAR, epochs=epochs, batch_size=32, seed=0, device="cpu",
    )  # fmt: skip
    return clr.fit(job, chunk_size=16, **kwargs)  # type: ignore[arg-type]


def test_training_on_digits_lifts_validation_accuracy_far_above_chance() -> None:
    epochs: list[clr.EpochRecord] = []
    chunks: list[clr.BatchChunk] = []
    progress: list[clr.Progress] = []
    result = _fit(
        clr.DatasetSpec("digits"),
        3,
        on_epoch=epochs.append,
        on_batches=chunks.append,
        on_progress=progress.append,
    )
    assert result.stop_reason == "completed"
    assert result.final is not None
    assert result.final.val_accuracy > 0.8
    assert [e.epoch for e in epochs] == [0, 1, 2]
    steps = [s for c in chunks for s in c.step]
    assert steps == list(range(result.steps))
    assert progress[-1] == clr.Progress(result.steps, result.steps, 2)
    assert result.best_val_accuracy == max(e.val_accuracy for e in epochs)
    assert result.to_summary().final == epochs[-1]


def test_training_on_shapes_lifts_validation_accuracy_far_above_chance() -> None:
    result = _fit(clr.DatasetSpec("shapes", {"num_samples": 1200, "image_size": 16}, augment=False), 4)
    assert result.final is not None
    assert result.final.val_accuracy > 0.4, result.final


def test_batch_records_carry_the_lr_each_step_used(
    digits: clr.DataSplits, tiny_cnn: Callable[..., nn.Module]
) -> None:
    model = tiny_cnn(digits)
    optimizer = clr.build_optimizer(SGD, model.parameters())
    config = TRIANGULAR.resolved(
        batches_per_epoch=digits.batches_per_epoch, total_steps=digits.batches_per_epoch, optimizer_lr=0.01
    )
    chunks: list[clr.BatchChunk] = []
    clr.train(
        model, digits, optimizer, clr.CyclicScheduler(optimizer, config), nn.CrossEntropyLoss(),
        clr.TrainSpec(epochs=1), on_batches=chunks.append, chunk_size=5,
    )  # fmt: skip
    lrs = [lr for c in chunks for lr in c.lr]
    assert lrs == [clr.lr_at(config, s) for s in range(digits.batches_per_epoch)]
    assert all(len(c.step) <= 5 for c in chunks)


def _train_digits(
    digits: clr.DataSplits, tiny_cnn: Callable[..., nn.Module], epochs: int, **kwargs: object
) -> clr.TrainResult:
    model = tiny_cnn(digits)
    optimizer = clr.build_optimizer(SGD, model.parameters())
    return clr.train(
        model, digits, optimizer, None, nn.CrossEntropyLoss(), clr.TrainSpec(epochs=epochs),
        **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


def test_epochs_shorter_than_a_chunk_report_progress_at_the_start_and_before_and_after_each_evaluation(
    digits: clr.DataSplits, tiny_cnn: Callable[..., nn.Module]
) -> None:
    seen: list[object] = []
    per_epoch = digits.batches_per_epoch
    _train_digits(
        digits, tiny_cnn, 2, on_progress=seen.append, on_epoch=lambda record: seen.append(record.epoch),
        chunk_size=per_epoch * 10, progress_seconds=3600.0,
    )  # fmt: skip
    total = 2 * per_epoch
    assert seen == [
        clr.Progress(0, total, 0),
        clr.Progress(per_epoch, total, 0), 0, clr.Progress(per_epoch, total, 0),
        clr.Progress(total, total, 1), 1, clr.Progress(total, total, 1),
    ]  # fmt: skip


def test_losses_are_read_back_and_progress_reported_once_progress_seconds_passed(
    digits: clr.DataSplits, tiny_cnn: Callable[..., nn.Module]
) -> None:
    chunks: list[clr.BatchChunk] = []
    progress: list[clr.Progress] = []
    _train_digits(
        digits, tiny_cnn, 1, on_batches=chunks.append, on_progress=progress.append, chunk_size=10_000,
        progress_seconds=0.0,
    )  # fmt: skip
    per_epoch = digits.batches_per_epoch
    assert [len(chunk.step) for chunk in chunks] == [1] * per_epoch
    assert [p.step for p in progress] == [0, *range(1, per_epoch + 1), per_epoch, per_epoch]


def test_training_is_cancelled_by_should_stop_with_records_so_far(digits: clr.DataSplits) -> None:
    polls = 0

    def stop_after_30() -> bool:
        nonlocal polls
        polls += 1
        return polls > 30

    chunks: list[clr.BatchChunk] = []
    result = _fit(clr.DatasetSpec("digits"), 3, should_stop=stop_after_30, on_batches=chunks.append)
    assert result.stop_reason == "cancelled"
    assert sum(len(c.step) for c in chunks) == 30
    assert result.steps == 30


def test_training_stops_as_diverged_on_nan_loss(
    digits: clr.DataSplits, tiny_cnn: Callable[..., nn.Module]
) -> None:
    model = tiny_cnn(digits)
    calls = 0

    def nan_at_step_9(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        loss = nn.functional.cross_entropy(out, y)
        return loss * float("nan") if calls == 9 else loss

    chunks: list[clr.BatchChunk] = []
    optimizer = clr.build_optimizer(SGD, model.parameters())
    result = clr.train(
        model,
        digits,
        optimizer,
        None,
        nan_at_step_9,
        clr.TrainSpec(epochs=2),
        on_batches=chunks.append,
        chunk_size=4,
    )
    losses = [v for c in chunks for v in c.loss]
    assert result.stop_reason == "diverged"
    assert len(losses) == 9
    assert math.isnan(losses[-1])
    assert result.final is None


def test_resuming_from_an_epoch_checkpoint_matches_an_uninterrupted_run(
    tmp_path: Path, state_equal: Callable[..., bool]
) -> None:
    dataset = clr.DatasetSpec("digits")
    ckpt = tmp_path / "run" / "state.pt"
    kept = tmp_path / "after_epoch_0.pt"

    def keep_first_checkpoint(record: clr.EpochRecord) -> None:
        full_epochs.append(record)
        if record.epoch == 1:  # the file still holds the state written at the end of epoch 0
            shutil.copy(ckpt, kept)

    full_epochs: list[clr.EpochRecord] = []
    full_chunks: list[clr.BatchChunk] = []
    _fit(
        dataset, 3, on_epoch=keep_first_checkpoint, on_batches=full_chunks.append, checkpoint_path=ckpt,
        weights_path=tmp_path / "full.pt",
    )  # fmt: skip
    resumed_epochs: list[clr.EpochRecord] = []
    resumed_chunks: list[clr.BatchChunk] = []
    result = _fit(
        dataset, 3, resume_from=kept, on_epoch=resumed_epochs.append, on_batches=resumed_chunks.append,
        weights_path=tmp_path / "resumed.pt",
    )  # fmt: skip
    assert clr.load_checkpoint(kept).epoch == 1
    assert result.epochs_completed == 3
    assert resumed_epochs == full_epochs[1:]
    assert [s for c in resumed_chunks for s in zip(c.step, c.lr, c.loss, strict=True)] == [
        s
        for c in full_chunks
        for s, e in zip(zip(c.step, c.lr, c.loss, strict=True), c.epoch, strict=True)
        if e >= 1
    ]
    full = torch.load(tmp_path / "full.pt", weights_only=True)
    resumed = torch.load(tmp_path / "resumed.pt", weights_only=True)
    assert state_equal(full, resumed)


def test_a_run_paused_mid_epoch_resumes_at_the_next_batch_exactly_as_an_uninterrupted_run(
    tmp_path: Path, state_equal: Callable[..., bool]
) -> None:
    dataset = clr.DatasetSpec("digits")  # shuffled and augmented: the data order must be restored too
    full_epochs: list[clr.EpochRecord] = []
    full_chunks: list[clr.BatchChunk] = []
    _fit(
        dataset, 3, on_epoch=full_epochs.append, on_batches=full_chunks.append,
        weights_path=tmp_path / "full.pt",
    )  # fmt: skip
    asked = iter(range(10_000))
    epochs: list[clr.EpochRecord] = []
    chunks: list[clr.BatchChunk] = []
    ckpt = tmp_path / "run" / "state.pt"
    paused = _fit(
        dataset, 3, on_epoch=epochs.append, on_batches=chunks.append, checkpoint_path=ckpt,
        should_pause=lambda: next(asked) == 57, weights_path=tmp_path / "paused.pt",
    )  # fmt: skip
    state = clr.load_checkpoint(ckpt)
    resumed = _fit(
        dataset, 3, on_epoch=epochs.append, on_batches=chunks.append, checkpoint_path=ckpt,
        resume_from=ckpt, weights_path=tmp_path / "resumed.pt",
    )  # fmt: skip

    per_epoch = full_epochs[0].step
    assert paused.stop_reason == "paused"
    assert not (tmp_path / "paused.pt").exists()
    assert (state.epoch, state.batch, state.step) == (57 // per_epoch, 57 % per_epoch, 57)
    assert 0 < state.batch < per_epoch  # inside an epoch, not at its end
    assert resumed.stop_reason == "completed"
    assert epochs == full_epochs
    assert [s for c in chunks for s in zip(c.step, c.epoch, c.lr, c.loss, strict=True)] == [
        s for c in full_chunks for s in zip(c.step, c.epoch, c.lr, c.loss, strict=True)
    ]
    full = torch.load(tmp_path / "full.pt", weights_only=True)
    assert state_equal(full, torch.load(tmp_path / "resumed.pt", weights_only=True))


def test_checkpoint_round_trips_through_a_file(tmp_path: Path) -> None:
    state = clr.TrainingState(
        epoch=2, step=40, model={"w": torch.ones(2)}, optimizer={"state": {}, "param_groups": []},
        scheduler={"last_epoch": 40, "step_count": 41}, scaler=None, rng={"torch": torch.get_rng_state()},
        data=None, best_val_accuracy=0.5,
    )  # fmt: skip
    clr.save_checkpoint(tmp_path / "c.pt", state)
    loaded = clr.load_checkpoint(tmp_path / "c.pt")
    assert (loaded.epoch, loaded.step, loaded.best_val_accuracy) == (2, 40, 0.5)
    assert torch.equal(loaded.model["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]
