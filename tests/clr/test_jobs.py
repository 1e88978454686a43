"""The job layer the worker calls: seeded, whole runs from specs, with progress through callables."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import clr

MODEL = clr.ModelSpec("vanilla_cnn", {"width": 8, "dropout": 0.1})
DIGITS = clr.DatasetSpec("digits")


def test_find_lr_reports_chunks_progress_and_a_suggested_range() -> None:
    chunks: list[clr.RangeChunk] = []
    progress: list[clr.Progress] = []
    job = clr.RangeTestJob(
        model=MODEL, dataset=DIGITS, optimizer=clr.OptimizerSpec("sgd_momentum"), batch_size=32,
        start_lr=1e-4, end_lr=10.0, num_iter=80, smoothing=0.9, seed=1, device="cpu",
    )  # fmt: skip
    result = clr.find_lr(job, on_chunk=chunks.append, on_progress=progress.append)
    assert sum(len(c.step) for c in chunks) == len(result.lrs)
    assert progress[-1].total_steps == 80
    assert result.suggested_max_lr is not None
    assert result.suggested_base_lr == pytest.approx(result.suggested_max_lr / 6.0)


def test_find_lr_is_reproducible_for_a_seed() -> None:
    job = clr.RangeTestJob(
        model=MODEL, dataset=DIGITS, optimizer=clr.OptimizerSpec("adam", lr=1e-3), num_iter=25, seed=7,
        device="cpu",
    )  # fmt: skip
    assert clr.find_lr(job).losses == clr.find_lr(job).losses


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_fit_one_cycle_with_adam_momentum_cycling_and_amp_on_cpu(amp: str, tmp_path: Path) -> None:
    epochs: list[clr.EpochRecord] = []
    job = clr.TrainJob(
        model=MODEL, dataset=DIGITS, optimizer=clr.OptimizerSpec("adam"),
        schedule=clr.ScheduleSpec("one_cycle", base_lr=4e-4, max_lr=1e-2, cycle_momentum=True),
        epochs=2, amp=amp, channels_last=True, batch_size=64, seed=0, device="cpu",  # type: ignore[arg-type]
    )  # fmt: skip
    result = clr.fit(job, on_epoch=epochs.append, weights_path=tmp_path / "w.pt")
    assert result.stop_reason == "completed"
    assert result.final is not None
    assert result.final.val_accuracy > 0.3
    assert epochs[-1].lr < 1e-4  # annealed far below the peak at the end
    assert "0.0.weight" in torch.load(tmp_path / "w.pt", weights_only=True)


def test_a_train_job_rejects_momentum_cycling_for_optimizers_without_momentum() -> None:
    schedule = clr.ScheduleSpec(
        "triangular", base_lr=1e-3, max_lr=1e-2, step_size_iter=5, cycle_momentum=True
    )
    with pytest.raises(clr.SpecError, match="cycle_momentum") as raised:
        clr.TrainJob(
            model=MODEL, dataset=DIGITS, optimizer=clr.OptimizerSpec("adagrad"), schedule=schedule, epochs=1
        )
    assert raised.value.field == "schedule.cycle_momentum"
