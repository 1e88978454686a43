"""A comparison's request, and the child runs it plans: one train run per variant and repeat.

Children are told apart by their idempotency key, `comparison:<id>:<variant>:<repeat>` (the range test:
`comparison:<id>:lr_find:0`); the unique (owner, idempotency_key) constraint makes creating one twice
impossible, so a release retried by two supervisors creates each child once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from store.schemas import (
    DatasetIn,
    Device,
    LRFindCreate,
    ModelIn,
    OptimizerIn,
    ScheduleIn,
    Strict,
    TrainCreate,
)

LR_FIND_VARIANT = "lr_find"
KEY_PREFIX = "comparison"


class VariantSchedule(Strict):
    """A schedule whose bounds may be left out when the comparison takes them from its range test."""

    policy: Literal["triangular", "triangular2", "exp_range", "one_cycle", "cosine_restarts", "constant"] = (
        "constant"
    )
    base_lr: float | None = Field(None, gt=0.0, le=100.0)
    max_lr: float | None = Field(None, gt=0.0, le=100.0)
    step_size_epochs: float | None = Field(None, gt=0.0)
    step_size_iter: int | None = Field(None, ge=1)

    @property
    def needs_bounds(self) -> bool:
        return self.policy != "constant" and (self.base_lr is None or self.max_lr is None)


class VariantIn(Strict):
    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_+.-]+$")
    optimizer: OptimizerIn
    schedule: VariantSchedule = VariantSchedule()


DEFAULT_VARIANTS = (
    VariantIn(name="sgd", optimizer=OptimizerIn(name="sgd", lr=0.01)),
    VariantIn(name="sgd_momentum", optimizer=OptimizerIn(name="sgd_momentum", lr=0.01, momentum=0.9)),
    VariantIn(name="adagrad", optimizer=OptimizerIn(name="adagrad", lr=0.01)),
    VariantIn(name="rmsprop", optimizer=OptimizerIn(name="rmsprop", lr=0.001)),
    VariantIn(name="adam", optimizer=OptimizerIn(name="adam", lr=0.001)),
    VariantIn(
        name="sgd_clr",
        optimizer=OptimizerIn(name="sgd", lr=0.01),
        schedule=VariantSchedule(policy="triangular", base_lr=0.01, max_lr=0.1),
    ),
)


class ComparisonCreate(Strict):
    model: ModelIn
    dataset: DatasetIn
    batch_size: int = Field(32, ge=1)
    epochs: int = Field(10, ge=1)
    seed: int = Field(0, ge=0, le=2**32 - 1 - 100)
    device: Device = "auto"
    variants: list[VariantIn] = Field(default=list(DEFAULT_VARIANTS), min_length=1, max_length=12)
    repeats: int = Field(3, ge=1, le=10, description="seeds seed+0 .. seed+repeats-1")
    clr_bounds_from_lr_find: bool = Field(
        False,
        description="Run a range test first; every cyclic variant takes its base_lr and max_lr from it",
    )

    @model_validator(mode="after")
    def _variants(self) -> Self:
        names = [variant.name for variant in self.variants]
        if len(set(names)) != len(names) or LR_FIND_VARIANT in names:
            raise ValueError(f"variant names must be unique and not {LR_FIND_VARIANT!r}; got {names}")
        for variant in self.variants:
            if variant.schedule.needs_bounds and not self.clr_bounds_from_lr_find:
                raise ValueError(
                    f"variant {variant.name!r}: policy {variant.schedule.policy!r} needs base_lr and max_lr, "
                    "or clr_bounds_from_lr_find: true"
                )
        return self

    @property
    def held_variants(self) -> list[VariantIn]:
        """Variants that wait for the range test: every cyclic one when clr_bounds_from_lr_find."""
        if not self.clr_bounds_from_lr_find:
            return []
        return [v for v in self.variants if v.schedule.policy != "constant"]

    @property
    def child_count(self) -> int:
        return len(self.variants) * self.repeats + (1 if self.clr_bounds_from_lr_find else 0)


@dataclass(frozen=True)
class PlannedChild:
    key: str
    kind: Literal["lr_find", "train"]
    request: dict[str, Any]


def child_key(comparison_id: str, variant: str, repeat: int) -> str:
    return f"{KEY_PREFIX}:{comparison_id}:{variant}:{repeat}"


def parse_child_key(key: str | None) -> tuple[str, int] | None:
    """(variant, repeat) of a child's idempotency key; None for a run that is no comparison's child."""
    parts = (key or "").split(":")
    if len(parts) != 4 or parts[0] != KEY_PREFIX:
        return None
    return parts[2], int(parts[3])


def plan_children(
    spec: ComparisonCreate,
    comparison_id: str,
    *,
    bounds: tuple[float, float] | None = None,
    lr_find_id: str | None = None,
) -> list[PlannedChild]:
    """Without `bounds`: the range test (if any) and the variants that need not wait for it.

    With `bounds` (base_lr, max_lr) from the range test `lr_find_id`: the held variants only, whose own
    bounds (if any) the range test's replace.
    """
    held = {v.name for v in spec.held_variants}
    chosen = [v for v in spec.variants if (v.name in held) == (bounds is not None)]
    base = {
        "model": spec.model,
        "dataset": spec.dataset,
        "batch_size": spec.batch_size,
        "device": spec.device,
    }
    children: list[PlannedChild] = []
    if bounds is None and spec.clr_bounds_from_lr_find:
        # the first held variant's optimizer, swept past end_lr so the minimum rule finds a real minimum
        optimizer = spec.held_variants[0].optimizer if spec.held_variants else OptimizerIn()
        lr_find = LRFindCreate(**base, seed=spec.seed, optimizer=optimizer, past_end_lr=True)
        key = child_key(comparison_id, LR_FIND_VARIANT, 0)
        children.append(PlannedChild(key, "lr_find", lr_find.model_dump(mode="json")))
    for variant in chosen:
        schedule = variant.schedule.model_dump()
        if bounds is not None:
            schedule.update(base_lr=bounds[0], max_lr=bounds[1], from_lr_find=lr_find_id)
        for repeat in range(spec.repeats):
            train = TrainCreate(
                **base,
                seed=spec.seed + repeat,
                epochs=spec.epochs,
                optimizer=variant.optimizer,
                schedule=ScheduleIn.model_validate(schedule),
            )
            key = child_key(comparison_id, variant.name, repeat)
            children.append(PlannedChild(key, "train", train.model_dump(mode="json")))
    return children


def bounds_from(result: dict[str, Any] | None, base_lr_factor: float) -> tuple[float, float] | None:
    """(base_lr, max_lr) from a range test's suggestions, None when it suggested no max_lr."""
    max_lr = (result or {}).get("suggested_max_lr")
    if max_lr is None:
        return None
    base_lr = (result or {}).get("suggested_base_lr") or max_lr / base_lr_factor
    return float(base_lr), float(max_lr)
