"""The datasets that ship with clr, declared as plugins like any other (entry points in pyproject.toml).

This module imports no torch: the API reads each set's facts from file headers, folder listings and fixed
numbers, and `clr.sources` loads the images on a worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clr.datasets import (
    Augmentation,
    DatasetFacts,
    DatasetNotFoundError,
    DatasetPlugin,
    DataSource,
    InvalidDataError,
    Loaded,
    Streamed,
)
from clr.fields import check_fields, param
from clr.folder_index import list_folder
from clr.idx import DISTRIBUTION_DIRS, idx_files, idx_folder, idx_shape

TEN = tuple(str(digit) for digit in range(10))
SHAPE_CLASSES = (
    "circle", "square", "diamond", "ring", "plus", "cross", "triangle_up", "triangle_down", "horizontal_bar",
    "vertical_bar",
)  # fmt: skip
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IDX_FACTS = {
    "mnist": DatasetFacts(60_000, 10_000, (1, 28, 28), 10, TEN),
    "fashion_mnist": DatasetFacts(60_000, 10_000, (1, 28, 28), 10, FASHION_CLASSES),
}
"""What the official MNIST-format sets hold (a folder of them is read for its own counts)."""
CIFAR10_FACTS = DatasetFacts(50_000, 10_000, (3, 32, 32), 10, CIFAR10_CLASSES)
FOLDER_SIDE = 224
"""Side images of a folder are decoded to when the spec gives no resize."""


@dataclass(frozen=True)
class NoParams:
    """The set takes no parameters."""


@dataclass(frozen=True)
class ShapesParams:
    """How many shapes to draw, and how large."""

    num_samples: int = param(2000, doc="How many images to generate", ge=100, le=200_000)
    image_size: int = param(32, doc="Side of the generated images in pixels", ge=8, le=256)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class DownloadParams:
    """Whether a torchvision set may be downloaded."""

    download: bool = param(False, doc="Download the set if it is missing (workers with internet only)")

    def __post_init__(self) -> None:
        check_fields(self)


def _digits(_: NoParams, source: DataSource) -> Loaded:
    from clr.sources import load_digits

    return load_digits()


def _digits_facts(_: NoParams, source: DataSource) -> DatasetFacts:
    return DatasetFacts(1797, None, (1, 8, 8), 10, TEN, value_bytes=4)


def _shapes(params: ShapesParams, source: DataSource) -> Loaded:
    from clr.sources import load_shapes

    return load_shapes(params.num_samples, params.image_size, source.seed)


def _shapes_facts(params: ShapesParams, source: DataSource) -> DatasetFacts:
    side = params.image_size
    return DatasetFacts(params.num_samples, None, (3, side, side), 10, SHAPE_CLASSES, value_bytes=4)


def idx_places(name: str, source: DataSource) -> list[Path]:
    """Where an MNIST-format set may be: the source's places, then where the distribution installs it."""
    places = list(source.places)
    if source.path is None and name in DISTRIBUTION_DIRS:
        places.append(DISTRIBUTION_DIRS[name])
    return places


def _idx_set(name: str, *, augment: Augmentation, summary: str) -> DatasetPlugin[DownloadParams]:
    """An MNIST-format set: read from its IDX files, its facts from their headers."""

    def load(params: DownloadParams, source: DataSource) -> Loaded:
        from clr.sources import load_idx

        return load_idx(name, idx_places(name, source), download=params.download)

    def facts(params: DownloadParams, source: DataSource) -> DatasetFacts:
        places = idx_places(name, source)
        folder = idx_folder(name, places)
        if folder is None:
            if params.download and places:
                return IDX_FACTS[name]
            raise DatasetNotFoundError(
                f"dataset {name!r}: no train-images-idx3-ubyte[.gz] in {[str(p) for p in places]}"
            )
        train, test = idx_files(folder, "train"), idx_files(folder, "test")
        assert train is not None  # idx_folder found them
        count, height, width = idx_shape(train[0])
        return DatasetFacts(
            count,
            None if test is None else idx_shape(test[0])[0],
            (1, height, width),
            10,
            IDX_FACTS[name].classes,
        )

    return DatasetPlugin(
        params=DownloadParams, load=load, facts=facts, path="optional", test_split=True, augment=augment,
        summary=summary,
    )  # fmt: skip


def cifar10_root(source: DataSource) -> Path | None:
    """The first place holding torchvision's CIFAR-10 batches, else the first place."""
    found = next((p for p in source.places if (p / "cifar-10-batches-py" / "data_batch_1").is_file()), None)
    return found or next(iter(source.places), None)


def _cifar10(params: DownloadParams, source: DataSource) -> Loaded:
    from clr.sources import load_cifar10

    return load_cifar10(cifar10_root(source), download=params.download)


def _cifar10_facts(params: DownloadParams, source: DataSource) -> DatasetFacts:
    root = cifar10_root(source)
    if params.download or (root is not None and (root / "cifar-10-batches-py" / "data_batch_1").is_file()):
        return CIFAR10_FACTS
    raise DatasetNotFoundError(f"dataset 'cifar10' not found at {root or 'a data root (none is set)'}")


def folder_root(source: DataSource) -> Path:
    """The image folder a source names, or DatasetNotFoundError."""
    root = next(iter(source.places), None)
    if root is None or not root.is_dir():
        raise DatasetNotFoundError(f"image folder not found at {root or 'a data root (none is set)'}")
    return root


def _image_folder(_: NoParams, source: DataSource) -> Loaded | Streamed:
    from clr.sources import load_image_folder

    return load_image_folder(folder_root(source), source.resize or FOLDER_SIDE, source)


def _image_folder_facts(_: NoParams, source: DataSource) -> DatasetFacts:
    root = folder_root(source)
    listing = list_folder(root)
    if len(listing.classes) < 2:
        raise InvalidDataError(f"image folder {root} needs images of two classes, has {listing.classes}")
    side = source.resize or FOLDER_SIDE
    streamed = listing.decoded_bytes(side) > source.memory_budget
    classes = listing.classes
    return DatasetFacts(len(listing.files), None, (3, side, side), len(classes), classes, streamed=streamed)


DIGITS = DatasetPlugin(
    params=NoParams, load=_digits, facts=_digits_facts, augment="none",
    summary="scikit-learn's bundled 1,797 8x8 handwritten digits",
)  # fmt: skip
SHAPES = DatasetPlugin(
    params=ShapesParams, load=_shapes, facts=_shapes_facts,
    summary="Ten classes of shapes drawn on random backgrounds, generated from the seed",
)  # fmt: skip
MNIST = _idx_set(
    "mnist", augment="none",
    summary="MNIST digits from their IDX files under a data root (mnist/, or torchvision's MNIST/raw)",
)  # fmt: skip
FASHION_MNIST = _idx_set(
    "fashion_mnist", augment="flip",  # a mirrored garment is the same garment
    summary="Fashion-MNIST from its IDX files under a data root, else Debian's dataset-fashion-mnist",
)  # fmt: skip
CIFAR10 = DatasetPlugin(
    params=DownloadParams, load=_cifar10, facts=_cifar10_facts, path="optional", test_split=True,
    summary="CIFAR-10 from torchvision's files under a data root (cifar10/)",
)  # fmt: skip
IMAGE_FOLDER = DatasetPlugin(
    params=NoParams, load=_image_folder, facts=_image_folder_facts, path="required",
    summary="A folder per class of images under a data root, cached decoded or streamed when large",
)  # fmt: skip
