"""An example plugin package for clr-service: an MLP for feature vectors and a CSV-of-features dataset.

The entry points in pyproject.toml name the plugin objects below. This module imports no torch: the API reads
it to validate requests, and torch is imported inside the functions that build on a worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clr import ModelInput, ModelPlugin, param
from clr.fields import check_fields


@dataclass(frozen=True)
class MlpParams:
    """Layer sizes and regularisation of the MLP."""

    hidden: int = param(128, doc="Units of each hidden layer", ge=1, le=8192)
    layers: int = param(2, doc="Hidden layers", ge=1, le=16)
    dropout: float = param(0.1, doc="Dropout after each hidden layer", ge=0.0, le=0.9)

    def __post_init__(self) -> None:
        check_fields(self)


def build_mlp(params: MlpParams, given: ModelInput) -> Any:
    """An MLP over the flattened input (features arrive as channels of a 1x1 image)."""
    from torch import nn

    width = given.input_shape[0] * given.input_shape[1] * given.input_shape[2]
    layers: list[nn.Module] = [nn.Flatten()]
    for _ in range(params.layers):
        layers += [nn.Linear(width, params.hidden), nn.ReLU(), nn.Dropout(params.dropout)]
        width = params.hidden
    layers.append(nn.Linear(width, given.num_classes))
    return nn.Sequential(*layers)


TABULAR_MLP = ModelPlugin(
    params=MlpParams, build=build_mlp, summary="A multi-layer perceptron for feature vectors (tabular data)"
)
