"""What this installation can run, as JSON Schema: models, optimizers and policies with their parameters.

The OpenAPI document and the discovery endpoints read it, from the same definitions the request checks use:
the installed model plugins, and `OPTIMIZER_PARAMS` / `POLICY_PARAMS` of `clr.specs`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter

from clr.plugins import Installed, model_plugins
from clr.specs import CYCLIC_POLICIES, OPTIMIZER_PARAMS, POLICY_PARAMS, OptimizerSpec, ScheduleSpec

REF_TEMPLATE = "#/components/schemas/{model}"


class ModelOut(BaseModel):
    name: str = Field(description="What `model.name` takes")
    summary: str
    source: str = Field(description="The entry point it was loaded from (package module:object)")
    params: dict[str, Any] = Field(description="JSON Schema of `model.params`")


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
