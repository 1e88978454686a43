"""Datasets: bundled, generated, torchvision and image folders, split, normalized and batched."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from clr.batches import Augment, InMemoryBatches
from clr.device import resolve_device
from clr.paths import confined
from clr.shapes import generate_shapes
from clr.specs import DatasetSpec

TORCHVISION_SETS = {"cifar10": "CIFAR10", "mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
DEFAULT_DIRS = {"cifar10": "cifar10", "mnist": "mnist", "fashion_mnist": "fashion_mnist"}


class DatasetNotFoundError(FileNotFoundError):
    """The data a DatasetSpec names is not on disk."""


class Batches(Protocol):
    """Something re-iterable over (inputs, targets) with a length in batches."""

    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...


@dataclass(frozen=True)
class DataSplits:
    """Training and validation batches plus what a model needs to know about them."""

    train: Batches
    val: Batches
    num_classes: int
    input_shape: tuple[int, int, int]
    batches_per_epoch: int


def _resolve_path(name: str, path: str | None, data_roots: Sequence[Path]) -> Path:
    """First existing candidate for path under the data roots (or path itself if absolute).

    With data roots (as the worker always has), a given path is confined to them here too, where the data is
    read: a link made after submit that leads out of them is refused (OutsideDataRootsError).
    """
    relative = Path(path) if path else Path(DEFAULT_DIRS.get(name, name))
    if path and data_roots:
        candidates = confined(path, data_roots)
    else:
        candidates = [relative] if relative.is_absolute() else [Path(root) / relative for root in data_roots]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    if not candidates:
        raise DatasetNotFoundError(
            f"dataset {name!r} expected at {relative} under a data root, but none is set"
        )
    return candidates[0]


def _load_arrays(
    spec: DatasetSpec, data_roots: Sequence[Path], seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """All labelled images as float (N, C, H, W) in [0, 1] and int64 labels."""
    if spec.name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)
        return x, torch.from_numpy(digits.target.astype(np.int64))
    if spec.name == "shapes":
        return generate_shapes(spec.num_samples, spec.image_size, seed)
    import torchvision.datasets as tvd

    root = _resolve_path(spec.name, spec.path, data_roots)
    if not root.exists() and not spec.download:
        raise DatasetNotFoundError(
            f"dataset {spec.name!r} not found at {root} (set download=True to fetch it)"
        )
    try:
        dataset = getattr(tvd, TORCHVISION_SETS[spec.name])(str(root), train=True, download=spec.download)
    except RuntimeError as error:
        raise DatasetNotFoundError(
            f"dataset {spec.name!r} not found or incomplete at {root}: {error}"
        ) from error
    data = torch.as_tensor(np.asarray(dataset.data))
    x = data.permute(0, 3, 1, 2) if data.ndim == 4 else data.unsqueeze(1)
    return x.float().div_(255.0), torch.as_tensor(np.asarray(dataset.targets), dtype=torch.int64)


def _split(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded permutation cut into train and validation indices."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    return order[n_val:], order[:n_val]


def _augment_for(spec: DatasetSpec, size: int) -> Augment | None:
    """Crop padding of 1/8 the image side; flips only where a mirror image keeps its class."""
    if not spec.augment:
        return None
    return Augment(padding=max(1, size // 8), hflip=spec.name not in ("digits", "mnist", "fashion_mnist"))


def load_dataset(
    spec: DatasetSpec,
    *,
    data_roots: Sequence[Path] = (),
    batch_size: int,
    seed: int,
    device: str | torch.device | None = None,
) -> DataSplits:
    """Load, split (seeded), normalize with train-split statistics and batch the data spec names."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    if spec.name == "imagefolder":
        return _load_imagefolder(spec, data_roots, batch_size, seed, resolve_device(device))
    dev = resolve_device(device)
    x, y = _load_arrays(spec, data_roots, seed)
    train_idx, val_idx = _split(len(x), spec.val_fraction, seed)
    mean = x[train_idx].mean(dim=(0, 2, 3), keepdim=True)
    std = x[train_idx].std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    x = ((x - mean) / std).to(dev)
    y = y.to(dev)
    train = InMemoryBatches(
        x[train_idx.to(dev)],
        y[train_idx.to(dev)],
        batch_size,
        shuffle=True,
        seed=seed,
        augment=_augment_for(spec, x.shape[-1]),
        resize=spec.resize,
        drop_last=True,
    )
    val = InMemoryBatches(
        x[val_idx.to(dev)], y[val_idx.to(dev)], batch_size, shuffle=False, resize=spec.resize
    )
    side = spec.resize or x.shape[-1]
    shape = (x.shape[1], side, side)
    return DataSplits(train, val, int(y.max().item()) + 1, shape, len(train))


class LoaderBatches:
    """A DataLoader that moves batches to the device and checkpoints its shuffling generator."""

    def __init__(self, loader: DataLoader[Any], generator: torch.Generator, device: torch.device) -> None:
        self.loader, self.generator, self.device = loader, generator, device

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in self.loader:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def state_dict(self) -> dict[str, Any]:
        """Shuffling generator state, for checkpoints."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the generator state saved by state_dict."""
        self.generator.set_state(state["generator"])


def _channel_stats(images: Iterable[torch.Tensor]) -> tuple[list[float], list[float]]:
    stacked = torch.stack(list(images))
    return stacked.mean(dim=(0, 2, 3)).tolist(), stacked.std(dim=(0, 2, 3)).clamp_min(1e-6).tolist()


def _load_imagefolder(
    spec: DatasetSpec, data_roots: Sequence[Path], batch_size: int, seed: int, device: torch.device
) -> DataSplits:
    """Class-per-folder images read by DataLoader workers, since they may not fit in memory."""
    import torchvision.datasets as tvd
    import torchvision.transforms.v2 as T

    root = _resolve_path("imagefolder", spec.path, data_roots)
    if not root.is_dir():
        raise DatasetNotFoundError(f"image folder not found at {root}")
    size = spec.resize or 224
    base = [T.ToImage(), T.Resize((size, size), antialias=True), T.ToDtype(torch.float32, scale=True)]
    plain = tvd.ImageFolder(str(root), transform=T.Compose(base))
    train_idx, val_idx = _split(len(plain), spec.val_fraction, seed)
    sample = train_idx[: min(len(train_idx), 500)].tolist()
    mean, std = _channel_stats(plain[i][0] for i in sample)
    normalize = T.Normalize(mean, std)
    augment = _augment_for(spec, size)
    extra: list[Any] = []
    if augment is not None:
        extra = [T.RandomCrop(size, padding=augment.padding), T.RandomHorizontalFlip()]
    train_set = tvd.ImageFolder(str(root), transform=T.Compose([*base, *extra, normalize]))
    val_set = tvd.ImageFolder(str(root), transform=T.Compose([*base, normalize]))
    generator = torch.Generator().manual_seed(seed)
    workers = min(4, max(0, (os.cpu_count() or 1) - 1))
    common: dict[str, Any] = {
        "batch_size": batch_size,
        "num_workers": workers,
        "pin_memory": device.type == "cuda",
        "persistent_workers": workers > 0,
    }
    train_loader = DataLoader(
        Subset(train_set, train_idx.tolist()),
        shuffle=True,
        drop_last=len(train_idx) > batch_size,
        generator=generator,
        **common,
    )
    val_loader = DataLoader(Subset(val_set, val_idx.tolist()), shuffle=False, **common)
    train = LoaderBatches(train_loader, generator, device)
    val = LoaderBatches(val_loader, torch.Generator(), device)
    shape = (int(plain[0][0].shape[0]), size, size)
    return DataSplits(train, val, len(plain.classes), shape, len(train))
