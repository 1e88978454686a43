"""What this installation can run, as JSON Schema: models, datasets, optimizers and policies with parameters.

The OpenAPI document and the discovery endpoints read it, from the same definitions the request checks use:
the installed model and dataset plugins, and `OPTIMIZER_PARAMS` / `POLICY_PARAMS` of `clr.specs`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter

from clr.datasets import (
    Augmentation,
    DatasetFacts,
    DatasetNotFoundError,
    InvalidDataError,
    PathUse,
    dataset_facts,
    dataset_plugins,
    source_for,
)
from clr.plugins import Installed, PluginError, model_plugins
from clr.specs import CYCLIC_POLICIES, OPTIMIZER_PARAMS, POLICY_PARAMS, OptimizerSpec, ScheduleSpec

REF_TEMPLATE = "#/components/schemas/{model}"
log = logging.getLogger(__name__)


class ModelOut(BaseModel):
    name: str = Field(description="What `model.name` takes")
    summary: str
    source: str = Field(description="The entry point it was loaded from (package module:object)")
    params: dict[str, Any] = Field(description="JSON Schema of `model.params`")


class DatasetOut(BaseModel):
    name: str = Field(description="What `dataset.name` takes")
    summary: str
    source: str = Field(description="The entry point it was loaded from (package module:object)")
    params: dict[str, Any] = Field(description="JSON Schema of `dataset.params`")
    path: PathUse = Field(description="Whether `dataset.path` is required, optional or not taken")
    test_split: bool = Field(
        description="Whether the set has an official test split (validated on by default)"
    )
    augment: Augmentation = Field(description="Training augmentation of `augment: true`")
    available: bool | None = Field(
        description="Whether the set is on this service's data roots with its default params (null: it "
        "needs a path)"
    )
    facts: DatasetFacts | None = Field(
        description="What it holds with its default params: samples, input shape (C, H, W), classes"
    )
    detail: str | None = Field(None, description="Why it is not available")


class OptimizerOut(BaseModel):
    name: str = Field(description="What `optimizer.name` takes")
    params: dict[str, Any] = Field(description="JSON Schema of the optimizer fields it reads")


class PolicyOut(BaseModel):
    name: str = Field(description="What `schedule.policy` takes")
    cyclic: bool = Field(description="Whether the rate cycles between base_lr and max_lr")
    params: dict[str, Any] = Field(description="JSON Schema of the schedule fields it reads")


def params_schema(installed: Installed) -> dict[str, Any]:
    """The JSON Schema of a plugin's parameters (nested definitions under `$defs`)."""
    schema: dict[str, Any] = TypeAdapter(installed.plugin.params).json_schema(ref_template=REF_TEMPLATE)
    schema.setdefault("additionalProperties", False)
    return schema


def models() -> list[ModelOut]:
    """Each installed model: its summary, where it comes from and its parameters' schema."""
    return [
        ModelOut(name=name, summary=found.plugin.summary, source=found.source, params=params_schema(found))
        for name, found in model_plugins().items()
    ]


def datasets(data_roots: Sequence[Path] | None) -> list[DatasetOut]:
    """Each installed dataset: its parameters, and what it holds on these data roots with its defaults
    (None: not looked for)."""
    return [_dataset(found, data_roots) for found in dataset_plugins().values()]


def _dataset(found: Installed, data_roots: Sequence[Path] | None) -> DatasetOut:
    plugin = found.plugin
    facts, available, detail = None, None, None
    if plugin.path != "required" and data_roots is not None:
        try:
            facts = dataset_facts(found, {}, source_for(found.name, None, data_roots))
            available = True
        except (DatasetNotFoundError, InvalidDataError, PluginError) as error:
            available, detail = False, str(error)
            if isinstance(error, PluginError):
                log.warning("GET /datasets: %s", error, exc_info=error.__cause__)
    return DatasetOut(
        name=found.name, summary=plugin.summary, source=found.source, params=params_schema(found),
        path=plugin.path, test_split=plugin.test_split, augment=plugin.augment, available=available,
        facts=facts, detail=detail,
    )  # fmt: skip


@cache
def _properties(spec: type) -> dict[str, Any]:
    properties: dict[str, Any] = TypeAdapter(spec).json_schema()["properties"]
    return properties


def _subset(spec: type, names: tuple[str, ...]) -> dict[str, Any]:
    properties = _properties(spec)
    return {"type": "object", "properties": {name: properties[name] for name in names}}


def optimizers() -> list[OptimizerOut]:
    return [
        OptimizerOut(name=name, params=_subset(OptimizerSpec, used))
        for name, used in OPTIMIZER_PARAMS.items()
    ]


def policies() -> list[PolicyOut]:
    return [
        PolicyOut(name=name, cyclic=name in CYCLIC_POLICIES, params=_subset(ScheduleSpec, used))
        for name, used in POLICY_PARAMS.items()
    ]
