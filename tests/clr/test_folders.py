"""Image folders: decoded once into a cache named by the folder's contents, or streamed past the budget."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import clr
from clr.folders import StreamedBatches, decode_image

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (20, 40, 230)}


def make_folder(root: Path, per_class: int = 12, side: int = 20) -> Path:
    """JPEGs of three plain colours with a little noise, a folder per class."""
    rng = np.random.default_rng(0)
    for label, colour in COLOURS.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = np.clip(np.array(colour) + rng.integers(-20, 20, size=(side, side, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(root / label / f"{i}.jpg")
    return root


def load(root: Path, cache: Path | None, **options: object) -> clr.DataSplits:
    spec = clr.DatasetSpec("imagefolder", path=str(root), resize=16, val_fraction=0.25)
    return clr.load_dataset(spec, batch_size=8, seed=0, device="cpu", cache_dir=cache, **options)  # type: ignore[arg-type]


def test_a_folder_is_decoded_once_into_a_cache_file_named_by_its_contents(tmp_path: Path) -> None:
    root, cache = make_folder(tmp_path / "images"), tmp_path / "cache"
    first = load(root, cache)
    (cached,) = cache.iterdir()
    stamp = cached.stat().st_mtime_ns
    again = load(root, cache)

    assert first.info == clr.DataInfo(validation="holdout", train_samples=27, val_samples=9)
    assert (first.num_classes, first.input_shape) == (3, (3, 16, 16))
    assert list(cache.iterdir()) == [cached]
    assert cached.stat().st_mtime_ns == stamp
    images = np.load(cached)
    blue_first = sorted((root / "blue").iterdir())[0]
    assert np.array_equal(images[0], decode_image(str(blue_first), 16))  # ImageFolder order: classes sorted
    train = torch.cat([x for x, _ in again.train])
    assert train.dtype == torch.float32
    assert train.mean(dim=(0, 2, 3)).abs().max() < 0.3  # normalized with the training images' statistics
    Image.new("RGB", (20, 20), (0, 0, 0)).save(blue_first)
    load(root, cache)
    assert len(list(cache.iterdir())) == 2  # another content, another file


def test_a_folder_larger_than_the_memory_budget_streams_the_same_images(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "images")
    streamed = load(root, tmp_path / "cache", memory_budget=1000)
    cached = load(root, None)

    assert isinstance(streamed.train, StreamedBatches)
    assert not (tmp_path / "cache").exists()
    assert streamed.info == cached.info
    assert streamed.input_shape == cached.input_shape
    labels = torch.cat([y for _, y in streamed.val])
    assert labels.tolist() == torch.cat([y for _, y in cached.val]).tolist()
    assert sum(len(y) for _, y in streamed.train) == 24  # 27 images, whole batches of 8


def _stream_one_epoch(root: str, result: multiprocessing.Queue[object]) -> None:
    try:
        data = load(Path(root), None, memory_budget=1000)
        result.put(sum(len(y) for _, y in data.train))
    except BaseException as error:
        result.put(repr(error))


def test_a_streamed_folder_loads_inside_a_daemonic_process_like_a_celery_pool_process(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "images")
    context = multiprocessing.get_context("fork")
    result: multiprocessing.Queue[object] = context.Queue()
    process = context.Process(target=_stream_one_epoch, args=(str(root), result), daemon=True)
    process.start()
    outcome = result.get(timeout=120)
    process.join(timeout=30)

    assert outcome == 24
    assert process.exitcode == 0


def test_a_missing_folder_is_missing_data_and_a_one_class_folder_unusable_data(tmp_path: Path) -> None:
    with pytest.raises(clr.DatasetNotFoundError, match="image folder not found"):
        load(tmp_path / "nowhere", None)
    (tmp_path / "one" / "only").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "one" / "only" / "a.png")
    with pytest.raises(clr.InvalidDataError, match="two classes"):
        load(tmp_path / "one", None)
    assert os.listdir(tmp_path / "one") == ["only"]


def test_a_file_that_does_not_decode_is_named_and_leaves_no_cache_behind(tmp_path: Path) -> None:
    root, cache = make_folder(tmp_path / "images"), tmp_path / "cache"
    (root / "red" / "broken.jpg").write_bytes(b"not a jpeg")

    with pytest.raises(ValueError, match=r"cannot decode .*broken\.jpg"):
        load(root, cache)
    assert list(cache.iterdir()) == []
