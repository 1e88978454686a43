"""How each bundled set's images are loaded on a worker: bundled, generated, IDX files, CIFAR-10, folders."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from clr.datasets import DatasetNotFoundError, DataSource, Images, InvalidDataError, Loaded, Streamed
from clr.folder_index import scan_folder
from clr.folders import FolderImages, decoded_images
from clr.idx import IDX_SETS, idx_folder, read_idx_set
from clr.shapes import generate_shapes


def load_digits() -> Loaded:
    """scikit-learn's 8x8 digits as float images in [0, 1]."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    x = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)
    return Loaded(Images(x, torch.from_numpy(digits.target.astype(np.int64))))


def load_shapes(num_samples: int, image_size: int, seed: int) -> Loaded:
    """The generated shapes of a seed."""
    return Loaded(Images(*generate_shapes(num_samples, image_size, seed)))


def _idx_images(folder: Path, part: str) -> Images | None:
    arrays = read_idx_set(folder, part)
    if arrays is None:
        return None
    x, y = arrays
    return Images(torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y))


def load_idx(name: str, places: Sequence[Path], *, download: bool) -> Loaded:
    """An MNIST-format set from the first of places that holds it (downloaded into the first if asked)."""
    folder = idx_folder(name, places)
    if folder is None and download and places:
        import torchvision.datasets as tvd

        getattr(tvd, IDX_SETS[name])(str(places[0]), train=True, download=True)
        folder = idx_folder(name, places[:1])
    if folder is None:
        hint = " (apt-get install dataset-fashion-mnist)" if name == "fashion_mnist" else ""
        raise DatasetNotFoundError(
            f"dataset {name!r}: no train-images-idx3-ubyte[.gz] in {[str(p) for p in places]}{hint}"
        )
    train = _idx_images(folder, "train")
    assert train is not None  # idx_folder found its files
    return Loaded(train, _idx_images(folder, "test"))


def load_cifar10(root: Path | None, *, download: bool) -> Loaded:
    """CIFAR-10's training and test batches from torchvision's files under root."""
    import torchvision.datasets as tvd

    if root is None or (not root.exists() and not download):
        raise DatasetNotFoundError(
            f"dataset 'cifar10' not found at {root or 'a data root (none is set)'} "
            "(set params.download=true to fetch it)"
        )
    parts = []
    for train in (True, False):
        try:
            part = tvd.CIFAR10(str(root), train=train, download=download)
        except RuntimeError as error:
            raise DatasetNotFoundError(
                f"dataset 'cifar10' not found or incomplete at {root}: {error}"
            ) from error
        x = torch.from_numpy(np.ascontiguousarray(part.data.transpose(0, 3, 1, 2)))
        parts.append(Images(x, torch.as_tensor(part.targets, dtype=torch.int64)))
    return Loaded(parts[0], parts[1])


def load_image_folder(root: Path, side: int, source: DataSource) -> Loaded | Streamed:
    """A folder decoded at `side` into the cache when it fits the memory budget, else streamed."""
    index = scan_folder(root)
    if len(index.classes) < 2:
        raise InvalidDataError(f"image folder {root} needs images of two classes, has {index.classes}")
    if index.decoded_bytes(side) > source.memory_budget:
        return Streamed(FolderImages(index, side), len(index.classes))
    images = decoded_images(index, side, source.cache_dir)
    return Loaded(Images(torch.from_numpy(images), torch.from_numpy(index.labels)))
