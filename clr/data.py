"""Datasets: bundled, generated, MNIST-format, CIFAR-10 and image folders, split, normalized and batched."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from clr.batches import Augment, InMemoryBatches, Normalize
from clr.device import resolve_device
from clr.folders import (
    FolderIndex,
    StreamedBatches,
    decode_image,
    decode_threads,
    decoded_images,
    scan_folder,
)
from clr.records import DataInfo
from clr.sources import DatasetNotFoundError, Images, candidates, load_sets
from clr.specs import DatasetSpec

AUGMENTATIONS: dict[str, Augment | None] = {
    "digits": None,  # a shifted 8x8 digit loses strokes, a mirrored one changes class
    "mnist": None,
    "fashion_mnist": Augment(padding=0, hflip=True),  # a mirrored garment is the same garment
}
"""Training augmentation by set; any other set: a random crop after padding 1/8 of its side, and h-flips."""
DEFAULT_MEMORY_BUDGET = 4 * 2**30
"""Bytes an image folder may take decoded (uint8) to be cached and held in memory instead of streamed."""
FOLDER_SIDE = 224
"""Side images of a folder are resized to when the spec gives no resize."""
STATS_SAMPLE = 500
"""Training images a streamed folder's normalization statistics are taken from."""


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
    info: DataInfo


def _split(n: int, spec: DatasetSpec, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded permutation cut into train and held-out indices, the first cut to spec.train_samples."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = min(max(1, round(n * spec.val_fraction)), n - 1)
    return order[n_val:][: spec.train_samples], order[:n_val]


def channel_stats(x: torch.Tensor, indices: torch.Tensor) -> Normalize:
    """Mean and std of each channel over the images indices picks, read a few thousand at a time."""
    total = torch.zeros(x.shape[1], dtype=torch.float64)
    squares = torch.zeros_like(total)
    for chunk in torch.split(indices.sort().values, 4096):
        block = x[chunk].to(torch.float64)
        total += block.sum(dim=(0, 2, 3))
        squares += block.square().sum(dim=(0, 2, 3))
    count = len(indices) * x.shape[2] * x.shape[3]
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt().clamp_min(1e-6)
    return Normalize(mean.float().view(1, -1, 1, 1), std.float().view(1, -1, 1, 1))


def _augment_for(spec: DatasetSpec, side: int) -> Augment | None:
    if not spec.augment:
        return None
    return AUGMENTATIONS.get(spec.name, Augment(padding=max(1, side // 8), hflip=True))


def load_dataset(
    spec: DatasetSpec,
    *,
    data_roots: Sequence[Path] = (),
    batch_size: int,
    seed: int,
    device: str | torch.device | None = None,
    cache_dir: Path | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> DataSplits:
    """Load, split (seeded), normalize with training statistics and batch the data spec names.

    Image folders are decoded into cache_dir (kept across runs) when their decoded size fits memory_budget,
    and streamed from disk otherwise.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    dev = resolve_device(device)
    if spec.name == "imagefolder":
        return _folder(spec, data_roots, batch_size, seed, dev, cache_dir, memory_budget)
    train, test = load_sets(spec, data_roots, seed)
    return _in_memory(spec, train, test, batch_size, seed, dev)


def _folder(
    spec: DatasetSpec,
    data_roots: Sequence[Path],
    batch_size: int,
    seed: int,
    dev: torch.device,
    cache_dir: Path | None,
    memory_budget: int,
) -> DataSplits:
    root = next(iter(candidates("imagefolder", spec.path, data_roots)), None)
    if root is None or not root.is_dir():
        raise DatasetNotFoundError(f"image folder not found at {root or 'a data root (none is set)'}")
    index = scan_folder(root)
    if len(index.classes) < 2:
        raise DatasetNotFoundError(f"image folder {root} needs images of two classes, has {index.classes}")
    side = spec.resize or FOLDER_SIDE
    if index.decoded_bytes(side) > memory_budget:
        return _streamed(spec, index, side, batch_size, seed, dev)
    images = decoded_images(index, side, cache_dir)
    train = Images(torch.from_numpy(images), torch.from_numpy(index.labels))
    return _in_memory(spec, train, None, batch_size, seed, dev)


def _in_memory(
    spec: DatasetSpec, train: Images, test: Images | None, batch_size: int, seed: int, dev: torch.device
) -> DataSplits:
    validation = spec.validation_split
    if validation == "test":
        if test is None:
            raise DatasetNotFoundError(
                f"dataset {spec.name!r} has no test split where it was found; set validation='holdout'"
            )
        order = torch.randperm(len(train.x), generator=torch.Generator().manual_seed(seed))
        train_idx = order[: spec.train_samples] if spec.train_samples else torch.arange(len(train.x))
        val, val_idx = test, torch.arange(len(test.x))
    else:
        train_idx, val_idx = _split(len(train.x), spec, seed)
        val = train
    normalize = channel_stats(train.x, train_idx).to(dev)
    x, y = train.x.to(dev), train.y.to(dev)
    side = spec.resize or x.shape[-1]
    train_batches = InMemoryBatches(
        x, y, batch_size, shuffle=True, seed=seed, indices=train_idx, normalize=normalize,
        augment=_augment_for(spec, x.shape[-1]), resize=spec.resize, drop_last=True,
    )  # fmt: skip
    val_batches = InMemoryBatches(
        val.x.to(dev) if val is not train else x, val.y.to(dev) if val is not train else y, batch_size,
        shuffle=False, indices=val_idx, normalize=normalize, resize=spec.resize,
    )  # fmt: skip
    num_classes = int(max(int(train.y.max()), int(val.y.max()))) + 1
    info = DataInfo(validation, len(train_idx), len(val_idx))
    return DataSplits(
        train_batches, val_batches, num_classes, (x.shape[1], side, side), len(train_batches), info
    )


def _streamed(
    spec: DatasetSpec, index: FolderIndex, side: int, batch_size: int, seed: int, dev: torch.device
) -> DataSplits:
    """A folder too large for memory: DataLoader workers decode it batch by batch."""
    train_idx, val_idx = _split(len(index.files), spec, seed)
    sample = train_idx[:STATS_SAMPLE].tolist()
    stats = torch.from_numpy(np.stack([decode_image(index.files[i], side) for i in sample]))
    normalize = channel_stats(stats, torch.arange(len(sample))).to(dev)
    workers = min(4, max(1, decode_threads() - 1))
    train, val = (
        StreamedBatches(
            index,
            indices,
            size=side,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            device=dev,
            normalize=normalize,
            augment=_augment_for(spec, side) if shuffle else None,
            workers=workers,
        )
        for indices, shuffle in ((train_idx, True), (val_idx, False))
    )
    info = DataInfo("holdout", len(train_idx), len(val_idx))
    return DataSplits(train, val, len(index.classes), (3, side, side), len(train), info)
