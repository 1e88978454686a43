"""Batches drawn from tensors already on the training device, normalized and augmented a batch at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Augment:
    """Random crop after padding with the mean colour (0 once normalized), and optional h-flips."""

    padding: int
    hflip: bool


@dataclass(frozen=True)
class Normalize:
    """Per-channel standardization with training-split statistics, in the stored images' units."""

    mean: torch.Tensor
    std: torch.Tensor

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean).div_(self.std)  # the subtraction makes a new float tensor: divide in place

    def to(self, device: torch.device) -> Normalize:
        """The same statistics on device."""
        return Normalize(self.mean.to(device), self.std.to(device))


def prepare_batch(
    x: torch.Tensor,
    *,
    normalize: Normalize | None,
    augment: Augment | None,
    resize: int | None,
    generator: torch.Generator,
) -> torch.Tensor:
    """Augment, normalize and resize one batch of stored images (uint8 or float) on their device.

    Augmenting first moves uint8 images, a quarter of the bytes of float32 ones.
    """
    if augment is not None:
        fill = None
        if normalize is not None:
            mean = normalize.mean.flatten()
            fill = (mean if x.is_floating_point() else mean.round()).to(x.dtype)
        x = augment_batch(x, augment, generator, fill=fill)
    if normalize is not None:
        x = normalize(x)
    if resize is not None and x.shape[-1] != resize:
        x = F.interpolate(x, size=(resize, resize), mode="bilinear", antialias=True)
    return x


def augment_batch(
    x: torch.Tensor, augment: Augment, generator: torch.Generator, *, fill: torch.Tensor | None = None
) -> torch.Tensor:
    """Randomly crop and flip every image of x independently; padding takes fill (per channel) or 0."""
    n, c, h, w = x.shape
    p = augment.padding
    if p > 0:
        offsets = torch.randint(0, 2 * p + 1, (2, n), generator=generator, device=x.device)
        if fill is None:
            padded = F.pad(x, (p, p, p, p))
        else:
            padded = fill.view(1, c, 1, 1).expand(n, c, h + 2 * p, w + 2 * p).clone()
            padded[:, :, p : p + h, p : p + w] = x
        # every crop of the padded batch as a view (n, c, rows, cols, h, w); one gather picks each image's
        windows = padded.unfold(2, h, 1).unfold(3, w, 1)
        x = windows[torch.arange(n, device=x.device), :, offsets[0], offsets[1]]
    if augment.hflip:
        flip = torch.rand(n, generator=generator, device=x.device) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    return x


class InMemoryBatches:
    """Re-iterable (inputs, targets) batches over the samples `indices` picks, reshuffled every epoch.

    x may hold raw uint8 images (a memory-mapped cache on the CPU, say) that `normalize` turns into floats
    batch by batch, so the whole set is never held as float32.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        indices: torch.Tensor | None = None,
        normalize: Normalize | None = None,
        augment: Augment | None = None,
        resize: int | None = None,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(f"x and y must be non-empty and equally long, got {len(x)} and {len(y)}")
        self.x, self.y = x, y
        self.indices = torch.arange(len(x)) if indices is None else indices
        if len(self.indices) == 0:
            raise ValueError("indices must pick at least one sample, got none")
        self.indices = self.indices.to(x.device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.normalize, self.augment, self.resize = normalize, augment, resize
        # a final batch of one sample would break BatchNorm in training mode
        self.drop_last = drop_last and len(self.indices) > batch_size
        self.generator = torch.Generator(device=x.device)
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        full, rest = divmod(len(self.indices), self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self.indices
        if self.shuffle:
            order = order[torch.randperm(len(order), generator=self.generator, device=order.device)]
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            xb = prepare_batch(
                self.x[idx],
                normalize=self.normalize,
                augment=self.augment,
                resize=self.resize,
                generator=self.generator,
            )
            yield xb, self.y[idx]

    def state_dict(self) -> dict[str, Any]:
        """Shuffling/augmentation generator state, for checkpoints."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the generator state saved by state_dict."""
        self.generator.set_state(state["generator"])
