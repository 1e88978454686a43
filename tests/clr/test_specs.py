"""Specs reject bad values with errors naming the argument, the value and what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

import clr


@pytest.mark.parametrize(
    ("build", "pattern"),
    [
        (lambda: clr.ModelSpec("vgg"), r"name must be one of .*'vgg'"),  # type: ignore[arg-type]
        (lambda: clr.ModelSpec("resnet18", dropout=1.5), r"dropout must be .*\[0, 0.95\], got 1.5"),
        (lambda: clr.DatasetSpec("digits", val_fraction=0.0), r"val_fraction .* got 0.0"),
        (lambda: clr.DatasetSpec("imagefolder"), r"path is required"),
        (lambda: clr.OptimizerSpec("adam", lr=-1.0), r"lr must be .* got -1.0"),
        (lambda: clr.OptimizerSpec("adam", nesterov=True), r"nesterov"),
        (
            lambda: clr.ScheduleSpec("triangular", base_lr=0.1, max_lr=0.01, step_size=3),
            r"max_lr .* got 0.01",
        ),
        (lambda: clr.ScheduleSpec("triangular", base_lr=0.01, max_lr=0.1), r"exactly one of step_size"),
        (lambda: clr.ScheduleSpec("wave", base_lr=0.01, max_lr=0.1), r"policy must be one of .*'triangular'"),  # type: ignore[arg-type]
        (lambda: clr.RangeTestSpec(start_lr=1.0, end_lr=0.1), r"end_lr must be greater than start_lr"),
        (lambda: clr.RangeTestSpec(step_mode="log"), r"step_mode must be one of \['exp', 'linear'\]"),  # type: ignore[arg-type]
        (lambda: clr.TrainSpec(epochs=0), r"epochs must be an integer >= 1, got 0"),
        (lambda: clr.TrainSpec(epochs=2, amp="fp8"), r"amp must be one of"),  # type: ignore[arg-type]
    ],
)
def test_invalid_spec_values_raise_value_errors_naming_the_argument(build: object, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        build()  # type: ignore[operator]


def test_specs_build_from_json_like_dicts() -> None:
    spec = clr.OptimizerSpec(**{"name": "adamw", "betas": [0.8, 0.99], "weight_decay": 0.01})  # type: ignore[arg-type]
    assert spec.betas == (0.8, 0.99)
    one_cycle: dict[str, Any] = {"policy": "one_cycle", "base_lr": 0.001, "max_lr": 0.01}
    assert clr.ScheduleSpec(**one_cycle).step_size is None
