"""torchvision's MNIST-format sets load from a data root, offline, from files the test writes."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

import clr
from clr.specs import DatasetName


def write_idx_set(raw: Path, count: int, seed: int) -> None:
    """Tiny MNIST files in the idx format: class k is a bright square at row 2k."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=count).astype(np.uint8)
    images = rng.integers(0, 40, size=(count, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
        images[i, 2 * label : 2 * label + 4, 10:18] = 255
    raw.mkdir(parents=True)
    for prefix in ("train", "t10k"):
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 2051, count, 28, 28) + images.tobytes()
        )
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, count) + labels.tobytes())


@pytest.mark.parametrize(("name", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_format_sets_load_from_a_data_root_without_downloading(
    tmp_path: Path, name: DatasetName, folder: str
) -> None:
    write_idx_set(tmp_path / "sets" / name / folder / "raw", count=120, seed=0)
    data = clr.load_dataset(
        clr.DatasetSpec(name),
        data_roots=[tmp_path / "sets"],
        batch_size=16,
        seed=0,
        device="cpu",
    )
    assert (data.num_classes, data.input_shape) == (10, (1, 28, 28))
    x, y = next(iter(data.train))
    assert x.shape == (16, 1, 28, 28)
    assert int(y.max()) < 10


def test_a_missing_torchvision_set_names_where_it_was_expected(tmp_path: Path) -> None:
    with pytest.raises(clr.DatasetNotFoundError, match="cifar10"):
        clr.load_dataset(
            clr.DatasetSpec("cifar10"), data_roots=[tmp_path], batch_size=8, seed=0, device="cpu"
        )
