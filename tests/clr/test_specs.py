"""Specs reject bad values with errors naming the field, the value and what is allowed."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import clr


@pytest.mark.parametrize(
    ("build", "field", "pattern"),
    [
        (lambda: clr.ModelSpec("vgg"), "name", r"installed model, one of .*'vanilla_cnn'.* got 'vgg'"),
        (lambda: clr.ModelSpec("resnet18", {"dropout": 1.5}), "params.dropout", r"<= 0.95, got 1.5"),
        (lambda: clr.ModelSpec("resnet18", {"pretrained": "yes"}), "params.pretrained", r"type bool"),
        (lambda: clr.ModelSpec("vanilla_cnn", {"pretrained": True}), "params", r"unexpected keyword"),
        (lambda: clr.DatasetSpec("digits", val_fraction=0.0), "val_fraction", r"> 0, got 0.0"),
        (lambda: clr.DatasetSpec("digits", val_fraction=0.95), "val_fraction", r"<= 0.9, got 0.95"),
        (lambda: clr.DatasetSpec("imagefolder"), "path", r"path is required"),
        (lambda: clr.DatasetSpec("imagefolder", path="a\x00b"), "path", r"control characters"),
        (lambda: clr.OptimizerSpec("adam", lr=-1.0), "lr", r"lr must be > 0, got -1.0"),
        (lambda: clr.OptimizerSpec("adam", nesterov=True), "nesterov", r"not used by adam, which takes"),
        (lambda: clr.OptimizerSpec("adam", betas=(1.5, 0.9)), "betas", r"two numbers in \[0, 1\)"),
        (lambda: clr.OptimizerSpec("adam", momentum=0.9), "momentum", r"not used by adam"),
        (lambda: clr.OptimizerSpec("sgd", betas=(0.5, 0.9)), "betas", r"not used by sgd"),
        (lambda: clr.ScheduleSpec("one_cycle", gamma=0.5), "gamma", r"not used by one_cycle"),
        (
            lambda: clr.ScheduleSpec("triangular", base_lr=0.1, max_lr=0.01, step_size_iter=3),
            "max_lr",
            r"max_lr must be above base_lr=0.1, got 0.01",
        ),
        (
            lambda: clr.ScheduleSpec("triangular", step_size_iter=3, step_size_epochs=1.0),
            "step_size_iter",
            r"not both",
        ),
        (lambda: clr.ScheduleSpec("wave"), "policy", r"policy must be one of .*'triangular'"),  # type: ignore[arg-type]
        (lambda: clr.RangeTestSpec(start_lr=1.0, end_lr=0.1), "end_lr", r"end_lr must be above start_lr"),
        (lambda: clr.RangeTestSpec(step_mode="log"), "step_mode", r"one of \['exp', 'linear'\]"),  # type: ignore[arg-type]
        (lambda: clr.TrainSpec(epochs=0), "epochs", r"epochs must be >= 1, got 0"),
        (lambda: clr.TrainSpec(epochs=2, amp="fp8"), "amp", r"amp must be one of"),  # type: ignore[arg-type]
    ],
)
def test_invalid_spec_values_raise_spec_errors_naming_the_field(build: Any, field: str, pattern: str) -> None:
    with pytest.raises(clr.SpecError, match=pattern) as raised:
        build()
    assert raised.value.field == field


def test_model_params_are_filled_in_with_the_plugins_defaults() -> None:
    assert clr.ModelSpec("resnet34", {"pretrained": True}).params == {
        "pretrained": True,
        "trainable": "all",
        "dropout": 0.5,
    }


def test_a_cyclic_schedule_without_a_step_size_gets_the_papers_two_epochs() -> None:
    assert clr.ScheduleSpec("triangular", base_lr=0.01, max_lr=0.1).step_size_epochs == 2.0
    assert clr.ScheduleSpec("one_cycle", base_lr=0.001, max_lr=0.01).step_size_epochs is None


def test_a_schedule_without_bounds_is_refused_only_once_it_must_run() -> None:
    schedule = clr.ScheduleSpec("triangular")
    with pytest.raises(clr.SpecError, match="needs base_lr and max_lr"):
        schedule.resolved(batches_per_epoch=10, total_steps=100, optimizer_lr=0.1)
    constant = clr.ScheduleSpec("constant").resolved(batches_per_epoch=10, total_steps=100, optimizer_lr=0.1)
    assert (constant.base_lr, constant.max_lr) == (0.1, 0.1)


def test_specs_build_from_json_like_dicts() -> None:
    given: dict[str, Any] = {"name": "adamw", "betas": [0.8, 0.99], "weight_decay": 0.01}
    spec = clr.OptimizerSpec(**given)
    assert spec.betas == (0.8, 0.99)


def test_importing_the_specs_loads_no_torch() -> None:
    """The API validates requests with these specs and the installed plugins without loading torch."""
    code = "import sys, clr; clr.ModelSpec('resnet18'); clr.TrainJob; print('torch' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"


def test_every_lazy_name_of_clr_is_also_imported_for_type_checkers() -> None:
    source = Path(clr.__file__).read_text()
    checked = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
    )
    typed = {
        (node.module, alias.name)
        for node in checked.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    lazy = {(module, name) for module, names in clr._MODULES.items() for name in names}
    assert typed == lazy
    assert all(getattr(clr, name) is not None for _, name in lazy)
