"""Datasets loaded through their plugins, then split, normalized and batched the same way for every set."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from clr.batches import Augment, InMemoryBatches, Normalize
from clr.costs import holdout_size
from clr.datasets import (
    DEFAULT_MEMORY_BUDGET,
    PASSED_THROUGH,
    DatasetNotFoundError,
    DatasetPlugin,
    DataSource,
    Images,
    Loaded,
    Streamed,
    dataset_plugin,
    source_for,
)
from clr.device import resolve_device
from clr.folders import StreamedBatches, decode_threads
from clr.plugins import Installed, PluginError, typed_params
from clr.records import DataInfo
from clr.specs import DatasetSpec

PASSED_ON: tuple[type[BaseException], ...] = (*PASSED_THROUGH, torch.cuda.OutOfMemoryError)
"""What a plugin's load may raise that fails the run with its own problem, not as an error of the plugin."""
STATS_SAMPLE = 500
"""Training images a streamed set's normalization statistics are taken from."""


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
    n_val = holdout_size(n, spec.val_fraction)
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


def _augment_for(spec: DatasetSpec, plugin: DatasetPlugin[object], side: int) -> Augment | None:
    mode = plugin.augment if spec.augment is True else "none" if spec.augment is False else spec.augment
    if mode == "none":
        return None
    return Augment(padding=max(1, side // 8) if mode == "crop_flip" else 0, hflip=True)


@contextlib.contextmanager
def plugin_code(installed: Installed) -> Iterator[None]:
    """An unexpected error of the dataset plugin's code run in the block, as PluginError naming it."""
    try:
        yield
    except PASSED_ON:
        raise
    except Exception as error:
        raise PluginError(installed, error) from error


def load_data(installed: Installed, params: Mapping[str, Any], source: DataSource) -> Loaded | Streamed:
    """What the dataset plugin loads; an unexpected error of the plugin becomes PluginError."""
    with plugin_code(installed):
        loaded = installed.plugin.load(typed_params(installed, params), source)
    if not isinstance(loaded, Loaded | Streamed):
        raise PluginError(
            installed, TypeError(f"load returned {type(loaded).__name__}, not Loaded or Streamed")
        )
    return loaded


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
    """Load (through the set's plugin), split (seeded), normalize with training statistics and batch the data.

    Image folders are decoded into cache_dir (kept across runs) when their decoded size fits memory_budget,
    and streamed from disk otherwise.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    dev = resolve_device(device)
    installed = dataset_plugin(spec.name)
    source = source_for(
        spec.name, spec.path, data_roots, resize=spec.resize, seed=seed, cache_dir=cache_dir,
        memory_budget=memory_budget,
    )  # fmt: skip
    loaded = load_data(installed, spec.params, source)
    if isinstance(loaded, Streamed):
        return _streamed(spec, installed, loaded, batch_size, seed, dev)
    return _in_memory(spec, installed.plugin, loaded.train, loaded.test, batch_size, seed, dev)


def _check_batch(batch_size: int, train_samples: int) -> None:
    if batch_size > train_samples:
        raise ValueError(f"batch_size must be at most the {train_samples} training samples, got {batch_size}")


def _in_memory(
    spec: DatasetSpec,
    plugin: DatasetPlugin[object],
    train: Images,
    test: Images | None,
    batch_size: int,
    seed: int,
    dev: torch.device,
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
    _check_batch(batch_size, len(train_idx))
    normalize = channel_stats(train.x, train_idx).to(dev)
    x, y = train.x.to(dev), train.y.to(dev)
    side = spec.resize or x.shape[-1]
    train_batches = InMemoryBatches(
        x, y, batch_size, shuffle=True, seed=seed, indices=train_idx, normalize=normalize,
        augment=_augment_for(spec, plugin, x.shape[-1]), resize=spec.resize, drop_last=True,
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
    spec: DatasetSpec,
    installed: Installed,
    data: Streamed,
    batch_size: int,
    seed: int,
    dev: torch.device,
) -> DataSplits:
    """A set too large for memory: DataLoader workers read it batch by batch."""
    train_idx, val_idx = _split(len(data.items), spec, seed)  # type: ignore[arg-type]  # map-style: it has a length
    _check_batch(batch_size, len(train_idx))
    sample = train_idx[:STATS_SAMPLE].tolist()
    with plugin_code(installed):  # the plugin's items, read here in the job's process
        stats = torch.stack([data.items[i][0] for i in sample])
    normalize = channel_stats(stats, torch.arange(len(sample))).to(dev)
    side = stats.shape[-1]
    workers = min(4, max(1, decode_threads() - 1))
    train, val = (
        StreamedBatches(
            data.items,
            indices,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            device=dev,
            normalize=normalize,
            augment=_augment_for(spec, installed.plugin, side) if shuffle else None,
            workers=workers,
        )
        for indices, shuffle in ((train_idx, True), (val_idx, False))
    )
    info = DataInfo("holdout", len(train_idx), len(val_idx))
    return DataSplits(train, val, data.num_classes, (stats.shape[1], side, side), len(train), info)
