"""Batches drawn from tensors already on the training device, augmented a whole batch at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Augment:
    """Random crop after zero padding (in normalized units, i.e. the mean colour) and optional h-flip."""

    padding: int
    hflip: bool


def augment_batch(x: torch.Tensor, augment: Augment, generator: torch.Generator) -> torch.Tensor:
    """Randomly crop and flip every image of x independently."""
    n, c, h, w = x.shape
    p = augment.padding
    if p > 0:
        padded = F.pad(x, (p, p, p, p))
        offsets = torch.randint(0, 2 * p + 1, (2, n), generator=generator, device=x.device)
        rows = (offsets[0][:, None] + torch.arange(h, device=x.device))[:, None, :, None]
        cols = (offsets[1][:, None] + torch.arange(w, device=x.device))[:, None, None, :]
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        chans = torch.arange(c, device=x.device)[None, :, None, None]
        x = padded[batch, chans, rows, cols]
    if augment.hflip:
        flip = torch.rand(n, generator=generator, device=x.device) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    return x


class InMemoryBatches:
    """Re-iterable (inputs, targets) batches over normalized tensors, reshuffled every epoch."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        augment: Augment | None = None,
        resize: int | None = None,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(f"x and y must be non-empty and equally long, got {len(x)} and {len(y)}")
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.augment = augment
        self.resize = resize
        # a final batch of one sample would break BatchNorm in training mode
        self.drop_last = drop_last and len(x) > batch_size
        self.generator = torch.Generator(device=x.device)
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        full, rest = divmod(len(self.x), self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.x)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator, device=self.x.device)
        else:
            order = torch.arange(n, device=self.x.device)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            xb = self.x[idx]
            if self.augment is not None:
                xb = augment_batch(xb, self.augment, self.generator)
            if self.resize is not None and xb.shape[-1] != self.resize:
                xb = F.interpolate(xb, size=(self.resize, self.resize), mode="bilinear", antialias=True)
            yield xb, self.y[idx]

    def state_dict(self) -> dict[str, Any]:
        """Shuffling/augmentation generator state, for checkpoints."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the generator state saved by state_dict."""
        self.generator.set_state(state["generator"])
