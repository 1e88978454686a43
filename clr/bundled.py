"""The models that ship with clr, declared as plugins like any other (entry points in pyproject.toml).

This module imports no torch: the API reads it to validate requests, and `clr.models` builds the networks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from clr.fields import check_fields, param
from clr.plugins import ModelInput, ModelPlugin


@dataclass(frozen=True)
class VanillaCnnParams:
    """The vanilla CNN's size and regularisation."""

    width: int = param(32, doc="Channels of the first block (the next two have 2x and 4x)", ge=1, le=1024)
    dropout: float = param(0.5, doc="Dropout probability before each linear layer", ge=0.0, le=0.95)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class ResNetParams:
    """Transfer learning from ImageNet with a torchvision ResNet."""

    pretrained: bool = param(
        False, doc="Start from ImageNet weights in the worker's torch hub cache (CLR_TORCH_HOME)"
    )
    trainable: Literal["all", "last_block", "head"] = param(
        "all", doc="Which layers train; the rest are frozen"
    )
    dropout: float = param(0.5, doc="Dropout probability before the new classifier", ge=0.0, le=0.95)

    def __post_init__(self) -> None:
        check_fields(self)


def _vanilla_cnn(params: VanillaCnnParams, given: ModelInput) -> Any:
    from clr.models import vanilla_cnn

    return vanilla_cnn(given.input_shape, given.num_classes, width=params.width, dropout=params.dropout)


def _resnet(name: Literal["resnet18", "resnet34"]) -> Any:
    def build(params: ResNetParams, given: ModelInput) -> Any:
        from clr.models import resnet

        return resnet(name, params, given)

    return build


VANILLA_CNN = ModelPlugin(
    params=VanillaCnnParams,
    build=_vanilla_cnn,
    summary="Three conv-BN-ReLU blocks and a dropout MLP head, for small images trained from scratch",
)
RESNET18 = ModelPlugin(
    params=ResNetParams, build=_resnet("resnet18"), summary="torchvision ResNet-18 with a new classifier"
)
RESNET34 = ModelPlugin(
    params=ResNetParams, build=_resnet("resnet34"), summary="torchvision ResNet-34 with a new classifier"
)
