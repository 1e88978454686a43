"""Discovery: the models, datasets, optimizers and policies installed, and their parameters."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import OwnerDep, SettingsDep
from api.responses import problems
from store import catalog
from store.catalog import DatasetOut, ModelOut, OptimizerOut, PolicyOut
from store.problems import ProblemCode

router = APIRouter(tags=["discovery"], responses=problems(ProblemCode.UNAUTHORIZED))


class ModelList(BaseModel):
    items: list[ModelOut]


class DatasetList(BaseModel):
    items: list[DatasetOut]


class OptimizerList(BaseModel):
    items: list[OptimizerOut]


class PolicyList(BaseModel):
    items: list[PolicyOut]


@router.get("/models", summary="Installed models and their parameters")
async def list_models(_: OwnerDep) -> ModelList:
    """Every model plugin installed (the bundled ones and any package's), with `model.params`' schema."""
    return ModelList(items=catalog.models())


@router.get("/datasets", summary="Installed datasets, their parameters and what they hold here")
def list_datasets(_: OwnerDep, settings: SettingsDep) -> DatasetList:
    """Every dataset plugin installed, with `dataset.params`' schema and, for those that take no required
    path, whether its data is on this service's data roots and what it holds (samples, shape, classes)."""
    return DatasetList(items=catalog.datasets(settings.resolved_data_roots))


@router.get("/optimizers", summary="Optimizers and the fields each reads")
async def list_optimizers(_: OwnerDep) -> OptimizerList:
    return OptimizerList(items=catalog.optimizers())


@router.get("/policies", summary="Learning-rate policies and the schedule fields each reads")
async def list_policies(_: OwnerDep) -> PolicyList:
    return PolicyList(items=catalog.policies())
