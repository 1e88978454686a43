"""MNIST-format sets load from a data root, offline, from IDX files the test writes; splits as asked."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torchvision.datasets.cifar

import clr


def write_idx_set(
    raw: Path, count: int, seed: int, *, gz: bool = False, test_count: int | None = None
) -> None:
    """Tiny MNIST-format files (gz: compressed, as Debian ships them); class k: a square at row 2k."""
    rng = np.random.default_rng(seed)
    raw.mkdir(parents=True)
    for prefix, n in (("train", count), ("t10k", test_count or count)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, 2 * label : 2 * label + 4, 10:18] = 255
        files = {
            f"{prefix}-images-idx3-ubyte": struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes(),
            f"{prefix}-labels-idx1-ubyte": struct.pack(">II", 2049, n) + labels.tobytes(),
        }
        for name, data in files.items():
            if gz:
                (raw / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (raw / name).write_bytes(data)


@pytest.mark.parametrize(("name", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_format_sets_load_from_a_data_root_without_downloading(
    tmp_path: Path, name: str, folder: str
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


def test_a_set_with_a_test_split_validates_on_it_unless_holdout_is_asked(tmp_path: Path) -> None:
    write_idx_set(tmp_path / "mnist", count=200, seed=0, gz=True, test_count=50)
    official = clr.load_dataset(clr.DatasetSpec("mnist"), data_roots=[tmp_path], batch_size=16, seed=0)
    holdout = clr.load_dataset(
        clr.DatasetSpec("mnist", validation="holdout", val_fraction=0.25, train_samples=100),
        data_roots=[tmp_path], batch_size=16, seed=0,
    )  # fmt: skip

    assert official.info == clr.DataInfo(validation="test", train_samples=200, val_samples=50)
    assert sum(len(y) for _, y in official.val) == 50
    assert holdout.info == clr.DataInfo(validation="holdout", train_samples=100, val_samples=50)
    assert sum(len(y) for _, y in holdout.train) == 96  # whole batches of 16 only


def test_asking_for_a_test_split_a_set_lacks_is_refused_with_the_way_out(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="validation='test' needs a set with a test split"):
        clr.DatasetSpec("digits", validation="test")
    write_idx_set(tmp_path / "mnist", count=40, seed=0)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / "mnist" / name).unlink()
    with pytest.raises(clr.DatasetNotFoundError, match="validation='holdout'"):
        clr.load_dataset(clr.DatasetSpec("mnist"), data_roots=[tmp_path], batch_size=8, seed=0)


def test_a_file_that_is_not_idx_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "mnist").mkdir()
    for kind in ("images-idx3", "labels-idx1"):
        (tmp_path / "mnist" / f"train-{kind}-ubyte").write_bytes(b"<html>not found</html>")
    with pytest.raises(ValueError, match="train-images-idx3-ubyte is not an IDX file"):
        clr.load_dataset(clr.DatasetSpec("mnist"), data_roots=[tmp_path], batch_size=8, seed=0)


def write_cifar_batches(folder: Path, per_batch: int, test_count: int, seed: int) -> list[int]:
    """CIFAR-10's python layout (five data batches, a test batch, batches.meta) with a few random images;
    the test labels written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    test_labels: list[int] = []
    for name, n in [*((f"data_batch_{i}", per_batch) for i in range(1, 6)), ("test_batch", test_count)]:
        labels = rng.integers(0, 10, size=n).tolist()
        data = rng.integers(0, 256, size=(n, 3 * 32 * 32), dtype=np.uint8)
        with (folder / name).open("wb") as file:
            pickle.dump({"batch_label": name, "labels": labels, "data": data}, file)
        test_labels = labels
    with (folder / "batches.meta").open("wb") as file:
        pickle.dump({"label_names": [f"class-{k}" for k in range(10)], "num_vis": 3072}, file)
    return test_labels


def test_cifar10_loads_its_python_batches_from_a_data_root_and_validates_on_its_test_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    test_labels = write_cifar_batches(tmp_path / "cifar10" / "cifar-10-batches-py", 8, 12, seed=0)
    # torchvision checks each file's MD5 against the real release's, which written files cannot match
    monkeypatch.setattr(
        torchvision.datasets.cifar, "check_integrity", lambda path, md5=None: Path(path).is_file()
    )

    data = clr.load_dataset(
        clr.DatasetSpec("cifar10"), data_roots=[tmp_path], batch_size=4, seed=0, device="cpu"
    )

    assert (data.num_classes, data.input_shape) == (10, (3, 32, 32))
    assert data.info == clr.DataInfo(validation="test", train_samples=40, val_samples=12)
    assert sorted(int(label) for _, y in data.val for label in y) == sorted(test_labels)
    x, y = next(iter(data.train))
    assert x.shape == (4, 3, 32, 32)
    assert int(y.max()) < 10
