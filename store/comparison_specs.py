"""A comparison's request, and the child runs it plans: one train run per variant and repeat.

A child is told apart by its comparison, variant and repeat (the range test: variant `lr_find`, repeat 0),
columns of its own with a unique index, so a release retried by two supervisors creates each child once and
no request's Idempotency-Key can collide with a child. Children are the very jobs `POST /train` and
`POST /lr-find` take, built from the comparison by `plan_children` and admitted like them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Self

from pydantic import Field, TypeAdapter, ValidationError, model_validator
from pydantic.dataclasses import dataclass as request_dataclass

from clr.specs import DatasetSpec, Device, JobSpec, ModelSpec, OptimizerSpec, ScheduleSpec, TrainSpec
from store.jobspec import REQUEST, LRFindCreate, MovedDatasetFields, ScheduleIn, TrainCreate
from store.labels import RunLabels, without_labels
from store.schemas import Strict

LR_FIND_VARIANT = "lr_find"
MAX_REPEATS = 10


def spec_field(owner: type, name: str) -> Any:
    """A pydantic Field with the default, description and bounds a clr spec declares for `name`."""
    found = next(field for field in dataclasses.fields(owner) if field.name == name)
    return Field(default=found.default, **found.metadata)


class ChildNotAJob(ValueError):
    """A variant (or the range test) that makes no valid job; `error` is pydantic's ValidationError."""

    def __init__(self, variant: str, error: ValidationError) -> None:
        super().__init__(f"variant {variant!r} is not a valid job: {error}")
        self.variant, self.error = variant, error


class VariantIn(Strict):
    """One arm of a comparison: an optimizer and a schedule (whose bounds may come from the range test)."""

    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_+.-]+$", description="Unique label")
    optimizer: OptimizerSpec = Field(description="The optimizer")
    schedule: ScheduleSpec = Field(
        default=ScheduleSpec("constant"),
        description="The schedule; with clr_bounds_from_lr_find a cyclic one may leave out its bounds",
    )


DEFAULT_VARIANTS = (
    VariantIn(name="sgd", optimizer=OptimizerSpec("sgd", lr=0.01)),
    VariantIn(name="sgd_momentum", optimizer=OptimizerSpec("sgd_momentum", lr=0.01, momentum=0.9)),
    VariantIn(name="adagrad", optimizer=OptimizerSpec("adagrad", lr=0.01)),
    VariantIn(name="rmsprop", optimizer=OptimizerSpec("rmsprop", lr=0.001)),
    VariantIn(name="adam", optimizer=OptimizerSpec("adam", lr=0.001)),
    VariantIn(
        name="sgd_clr",
        optimizer=OptimizerSpec("sgd", lr=0.01),
        schedule=ScheduleSpec("triangular", base_lr=0.01, max_lr=0.1),
    ),
)


@request_dataclass(frozen=True, kw_only=True, config=REQUEST)
class ComparisonCreate(MovedDatasetFields, RunLabels):
    """One training job over several optimizer/schedule variants, each repeated over seeds."""

    model: ModelSpec = Field(description="The network")
    dataset: DatasetSpec = Field(description="The data")
    batch_size: int = spec_field(JobSpec, "batch_size")
    epochs: int = spec_field(TrainSpec, "epochs")
    seed: int = spec_field(JobSpec, "seed")
    device: Device = spec_field(JobSpec, "device")
    variants: list[VariantIn] = Field(
        default=list(DEFAULT_VARIANTS),
        min_length=1,
        max_length=12,
        description="The optimizer and schedule arms to compare (default: the method's six)",
    )
    repeats: int = Field(3, ge=1, le=MAX_REPEATS, description="Seeds seed+0 .. seed+repeats-1 per variant")
    clr_bounds_from_lr_find: bool = Field(
        False,
        description="Run a range test first; every cyclic variant that leaves out base_lr or max_lr takes "
        "both from it (one that gives both keeps them)",
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
        """With clr_bounds_from_lr_find: the variants that wait for the range test (cyclic, short a bound)."""
        if not self.clr_bounds_from_lr_find:
            return []
        return [v for v in self.variants if v.schedule.needs_bounds]

    @property
    def child_count(self) -> int:
        return len(self.variants) * self.repeats + (1 if self.clr_bounds_from_lr_find else 0)


@dataclass(frozen=True)
class PlannedChild:
    """A child run to create: its variant and repeat, its job, and whether it waits for bounds."""

    variant: str
    repeat: int
    job: LRFindCreate | TrainCreate
    held: bool = False


def plan_children(
    spec: ComparisonCreate,
    *,
    bounds: tuple[float, float] | None = None,
    lr_find_id: str | None = None,
    with_held: bool = False,
) -> list[PlannedChild]:
    """Without `bounds`: the range test (if any) and the variants that need not wait for it (and the held
    ones, still without bounds, when `with_held`: what admission checks at submit).

    With `bounds` (base_lr, max_lr) from the range test `lr_find_id`: the held variants only, whose one given
    bound (if any) the range test's pair replaces. Raises ChildNotAJob for a child that is no valid job.
    """
    held = {v.name for v in spec.held_variants}
    common: dict[str, Any] = {
        "model": spec.model,
        "dataset": spec.dataset,
        "batch_size": spec.batch_size,
        "device": spec.device,
    }
    children: list[PlannedChild] = []
    if bounds is None and spec.clr_bounds_from_lr_find:
        # the first held variant's optimizer, swept past end_lr so the minimum rule finds a real minimum
        optimizer = spec.held_variants[0].optimizer if spec.held_variants else OptimizerSpec("sgd")
        try:
            lr_find = LRFindCreate(**common, seed=spec.seed, optimizer=optimizer, past_end_lr=True)
        except ValidationError as error:
            raise ChildNotAJob(LR_FIND_VARIANT, error) from error
        children.append(PlannedChild(LR_FIND_VARIANT, 0, lr_find))
    for variant in spec.variants:
        waits = variant.name in held
        if not (waits if bounds is not None else not waits or with_held):
            continue
        schedule = dataclasses.asdict(variant.schedule)
        if bounds is not None:
            schedule.update(base_lr=bounds[0], max_lr=bounds[1], from_lr_find=lr_find_id)
        for repeat in range(spec.repeats):
            try:
                job = TrainCreate(
                    **common,
                    seed=spec.seed + repeat,
                    epochs=spec.epochs,
                    optimizer=variant.optimizer,
                    schedule=ScheduleIn(**schedule),
                )
            except ValidationError as error:
                raise ChildNotAJob(variant.name, error) from error
            children.append(PlannedChild(variant.name, repeat, job, held=waits and bounds is None))
    return children


COMPARISON = TypeAdapter(ComparisonCreate)


def comparison_request(spec: ComparisonCreate) -> dict[str, Any]:
    """The comparison as the JSON stored on it: every default filled in, without its labels."""
    return without_labels(COMPARISON.dump_python(spec, mode="json"))


def bounds_from(result: dict[str, Any] | None, base_lr_factor: float) -> tuple[float, float] | None:
    """(base_lr, max_lr) from a range test's suggestions, None when it suggested no max_lr."""
    max_lr = (result or {}).get("suggested_max_lr")
    if max_lr is None:
        return None
    base_lr = (result or {}).get("suggested_base_lr") or max_lr / base_lr_factor
    return float(base_lr), float(max_lr)
