"""Optimizers built from an OptimizerSpec."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from clr.specs import OptimizerSpec

DEFAULT_EPS = {"adagrad": 1e-10, "rmsprop": 1e-8, "adam": 1e-8, "adamw": 1e-8}


def build_optimizer(spec: OptimizerSpec, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """Build the optimizer spec names over the parameters that require gradients."""
    trainable = [p for p in params if p.requires_grad]
    if not trainable:
        raise ValueError("params must contain at least one parameter that requires grad, got none")
    eps = spec.eps if spec.eps is not None else DEFAULT_EPS.get(spec.name, 1e-8)
    common: dict[str, Any] = {"lr": spec.lr, "weight_decay": spec.weight_decay}
    if spec.name in ("sgd", "sgd_momentum"):
        return torch.optim.SGD(trainable, momentum=spec.effective_momentum, nesterov=spec.nesterov, **common)
    if spec.name == "adagrad":
        return torch.optim.Adagrad(trainable, eps=eps, **common)
    if spec.name == "rmsprop":
        return torch.optim.RMSprop(
            trainable, alpha=spec.alpha, eps=eps, momentum=spec.effective_momentum, **common
        )
    if spec.name == "adam":
        return torch.optim.Adam(trainable, betas=spec.betas, eps=eps, **common)
    return torch.optim.AdamW(trainable, betas=spec.betas, eps=eps, **common)
