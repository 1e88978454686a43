"""Where each set's images come from: bundled, generated, IDX files, CIFAR-10 batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from clr.idx import DISTRIBUTION_DIRS, IDX_SETS, idx_folder, read_idx_set
from clr.paths import confined
from clr.shapes import generate_shapes
from clr.specs import DatasetSpec

DEFAULT_DIRS = {"cifar10": "cifar10", "mnist": "mnist", "fashion_mnist": "fashion_mnist"}
"""Folder each set is looked for in, under every data root, when its spec names no path."""


class DatasetNotFoundError(FileNotFoundError):
    """The data a DatasetSpec names is not on disk."""


@dataclass(frozen=True)
class Images:
    """Labelled images as stored, (N, C, H, W) uint8 or float in [0, 1], with int64 labels."""

    x: torch.Tensor
    y: torch.Tensor


def candidates(name: str, path: str | None, data_roots: Sequence[Path]) -> list[Path]:
    """Where a set may be: path (absolute, or under each data root), else its default folder under each.

    With data roots (as the worker always has), a given path is confined to them here too, where the data is
    read: a link made after submit that leads out of them is refused (OutsideDataRootsError).
    """
    if path and data_roots:
        return confined(path, data_roots)
    relative = Path(path) if path else Path(DEFAULT_DIRS.get(name, name))
    return [relative] if relative.is_absolute() else [Path(root) / relative for root in data_roots]


def _idx_images(folder: Path, part: str) -> Images | None:
    arrays = read_idx_set(folder, part)
    if arrays is None:
        return None
    x, y = arrays
    return Images(torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y))


def _idx_sets(spec: DatasetSpec, data_roots: Sequence[Path]) -> tuple[Images, Images | None]:
    """An MNIST-format set from a data root, else from where the distribution installs it."""
    places = candidates(spec.name, spec.path, data_roots)
    if spec.path is None and spec.name in DISTRIBUTION_DIRS:
        places.append(DISTRIBUTION_DIRS[spec.name])
    folder = idx_folder(spec.name, places)
    if folder is None and spec.download and places:
        import torchvision.datasets as tvd

        getattr(tvd, IDX_SETS[spec.name])(str(places[0]), train=True, download=True)
        folder = idx_folder(spec.name, places[:1])
    if folder is None:
        hint = " (apt-get install dataset-fashion-mnist)" if spec.name == "fashion_mnist" else ""
        raise DatasetNotFoundError(
            f"dataset {spec.name!r}: no train-images-idx3-ubyte[.gz] in {[str(p) for p in places]}{hint}"
        )
    train = _idx_images(folder, "train")
    assert train is not None  # idx_folder found its files
    return train, _idx_images(folder, "test")


def _cifar_sets(spec: DatasetSpec, data_roots: Sequence[Path]) -> tuple[Images, Images]:
    import torchvision.datasets as tvd

    places = candidates(spec.name, spec.path, data_roots)
    root = next((place for place in places if place.exists()), places[0] if places else None)
    if root is None or (not root.exists() and not spec.download):
        raise DatasetNotFoundError(
            f"dataset {spec.name!r} not found at {root or 'a data root (none is set)'} "
            "(set download=True to fetch it)"
        )
    parts = []
    for train in (True, False):
        try:
            part = tvd.CIFAR10(str(root), train=train, download=spec.download)
        except RuntimeError as error:
            raise DatasetNotFoundError(
                f"dataset {spec.name!r} not found or incomplete at {root}: {error}"
            ) from error
        x = torch.from_numpy(np.ascontiguousarray(part.data.transpose(0, 3, 1, 2)))
        parts.append(Images(x, torch.as_tensor(part.targets, dtype=torch.int64)))
    return parts[0], parts[1]


def load_sets(spec: DatasetSpec, data_roots: Sequence[Path], seed: int) -> tuple[Images, Images | None]:
    """The training images and the official test images (None for sets without a test split)."""
    if spec.name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)
        return Images(x, torch.from_numpy(digits.target.astype(np.int64))), None
    if spec.name == "shapes":
        return Images(*generate_shapes(spec.num_samples, spec.image_size, seed)), None
    if spec.name == "cifar10":
        return _cifar_sets(spec, data_roots)
    return _idx_sets(spec, data_roots)
