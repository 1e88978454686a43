"""One optimization step and when to read its losses back, shared by the range test and the training loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from clr.device import autocast
from clr.specs import Amp

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
READ_BACK_SECONDS = 2.0  # the longest a loop keeps losses on the device, so progress reports stay live


@dataclass
class ReadBack:
    """When a loop reads its pending losses back: after `steps` batches, or `seconds` after the last read.

    Each read waits for the device, so it happens per chunk or interval, never per batch; asking the host's
    clock whether one is due waits for nothing.
    """

    steps: int
    seconds: float = READ_BACK_SECONDS
    _last: float = field(default_factory=time.monotonic)

    def due(self, pending: int) -> bool:
        return pending >= self.steps or (pending > 0 and time.monotonic() - self._last >= self.seconds)

    def done(self) -> None:
        """The pending losses were just read back."""
        self._last = time.monotonic()


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
