"""MNIST-format sets read straight from their IDX files (gzipped or not), wherever they were installed."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from clr.datasets import InvalidDataError

IDX_SETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
"""MNIST-format sets and the folder name torchvision downloads each into."""
DISTRIBUTION_DIRS = {"fashion_mnist": Path("/usr/share/datasets/fashion-mnist")}
"""Where Debian's dataset packages install a set (`apt-get install dataset-fashion-mnist`)."""
_FILES = {"train": "train-{}-idx{}-ubyte", "test": "t10k-{}-idx{}-ubyte"}
_DTYPES: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """The array an IDX file holds (gzip-compressed when its name ends in .gz)."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise InvalidDataError(f"{path} is not an IDX file: it starts with {raw[:4].hex()}")
    ndim = raw[3]
    shape = tuple(int(n) for n in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_DTYPES[raw[2]])
    offset = 4 + 4 * ndim
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise InvalidDataError(f"{path} holds {len(raw)} bytes, its header {shape} needs {expected}")
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape)


def idx_shape(path: Path) -> tuple[int, ...]:
    """The shape an IDX file's header declares, read without the rest of the file."""
    with gzip.open(path) if path.suffix == ".gz" else path.open("rb") as file:
        head = file.read(4)
        if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _DTYPES:
            raise InvalidDataError(f"{path} is not an IDX file: it starts with {head.hex()}")
        dims = file.read(4 * head[3])
    if len(dims) != 4 * head[3]:
        raise InvalidDataError(f"{path} ends inside its header")
    return tuple(int(n) for n in np.frombuffer(dims, dtype=">u4"))


def idx_files(folder: Path, part: str) -> tuple[Path, Path] | None:
    """The (images, labels) IDX files of one part ("train"/"test") in folder, if both are there."""
    images, labels = _file(folder, part, "images"), _file(folder, part, "labels")
    return None if images is None or labels is None else (images, labels)


def _file(folder: Path, part: str, kind: str) -> Path | None:
    """The IDX file of one part ("train"/"test") and kind ("images"/"labels") in folder, if there."""
    stem = _FILES[part].format(kind, 3 if kind == "images" else 1)
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def idx_folder(name: str, roots: Sequence[Path]) -> Path | None:
    """The first of roots (or its torchvision `<Set>/raw` subfolder) holding the set's training files."""
    for root in roots:
        for folder in (root, root / "raw", root / IDX_SETS[name] / "raw"):
            if _file(folder, "train", "images") and _file(folder, "train", "labels"):
                return folder
    return None


def read_idx_set(folder: Path, part: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(uint8 images (N, H, W), int64 labels) of one part, or None if the folder lacks it."""
    files = idx_files(folder, part)
    if files is None:
        return None
    images, labels = files
    x, y = read_idx(images), read_idx(labels).astype(np.int64)
    if x.ndim != 3 or len(x) != len(y):
        raise InvalidDataError(f"{images} and {labels} do not match: shapes {x.shape} and {y.shape}")
    return x, y
