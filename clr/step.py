"""One optimization step, shared by the range test and the training loop."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from clr.device import autocast
from clr.specs import Amp

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def optimize_step(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    *,
    device: torch.device,
    amp: Amp,
    scaler: torch.amp.GradScaler | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward, backward and optimizer step; returns the outputs and the loss, both still on the device."""
    optimizer.zero_grad(set_to_none=True)
    with autocast(device, amp):
        out = model(x)
        loss = loss_fn(out, y)
    if scaler is not None:
        scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    return out, loss
