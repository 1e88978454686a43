"""Data: generated and bundled sets, seeded splits, device batching and clear missing-data errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

import clr


def test_shapes_are_deterministic_by_seed_and_balanced() -> None:
    x1, y1 = clr.generate_shapes(200, 32, seed=3)
    x2, y2 = clr.generate_shapes(200, 32, seed=3)
    x3, _ = clr.generate_shapes(200, 32, seed=4)
    assert torch.equal(x1, x2)
    assert torch.equal(y1, y2)
    assert not torch.equal(x1, x3)
    assert x1.shape == (200, 3, 32, 32)
    assert torch.bincount(y1).tolist() == [20] * 10


def test_shapes_are_drawn_in_chunks_so_memory_beyond_the_images_stays_bounded() -> None:
    """Drawing every mask at once took about four times the images' size on top of them; chunks take a fixed
    amount (the peak resident size of a fresh process, over its size once torch is loaded)."""
    code = (
        "import resource, torch, clr\n"
        "torch.set_num_threads(1)\n"
        "clr.generate_shapes(100, 64, seed=0)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "images, _ = clr.generate_shapes(8000, 64, seed=0)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024, images.nbytes)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    grown, images = map(int, done.stdout.split())
    assert images == 8000 * 3 * 64 * 64 * 4
    assert grown < images + 256 * 2**20, (grown, images)  # all masks at once: about 1 GiB more


def test_digits_split_is_seeded_and_normalized_with_train_statistics() -> None:
    spec = clr.DatasetSpec("digits", val_fraction=0.25, augment=False)
    a = clr.load_dataset(spec, batch_size=100, seed=5, device="cpu")
    b = clr.load_dataset(spec, batch_size=100, seed=5, device="cpu")
    assert (a.num_classes, a.input_shape) == (10, (1, 8, 8))
    assert a.info == clr.DataInfo(validation="holdout", train_samples=1348, val_samples=449)
    train_x = torch.cat([x for x, _ in a.train])
    assert torch.equal(train_x, torch.cat([x for x, _ in b.train]))
    assert sum(len(y) for _, y in a.val) == 449
    assert train_x.mean().abs() < 0.02  # whole batches only: drop_last leaves a few images out
    assert (train_x.std() - 1).abs() < 0.02
    assert a.batches_per_epoch == 1348 // 100


def test_in_memory_batches_reshuffle_each_epoch_and_replay_from_their_state() -> None:
    x = torch.arange(40, dtype=torch.float32).reshape(10, 1, 2, 2)
    batches = clr.InMemoryBatches(x, torch.arange(10), 4, shuffle=True, seed=1, drop_last=True)
    assert len(batches) == 2
    state = batches.state_dict()
    first = [y.tolist() for _, y in batches]
    second = [y.tolist() for _, y in batches]
    batches.load_state_dict(state)
    assert [y.tolist() for _, y in batches] == first
    assert first != second


def test_augmentation_crops_and_flips_each_image_independently() -> None:
    x = torch.randn(64, 3, 8, 8)
    batches = clr.InMemoryBatches(
        x, torch.zeros(64), 64, shuffle=False, augment=clr.Augment(padding=2, hflip=True)
    )
    (out, _) = next(iter(batches))
    assert out.shape == x.shape
    changed = (out != x).flatten(1).any(1)
    assert 0 < int(changed.sum()) < 64


def test_missing_torchvision_data_raises_an_error_naming_the_expected_path(tmp_path: Path) -> None:
    with pytest.raises(clr.DatasetNotFoundError, match=str(tmp_path / "cifar10")):
        clr.load_dataset(clr.DatasetSpec("cifar10"), data_roots=[tmp_path], batch_size=8, seed=0)


def test_image_folder_loads_classes_from_subdirectories(tmp_path: Path) -> None:
    for label, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (12, 10), colour).save(tmp_path / "imgs" / label / f"{i}.png")
    data = clr.load_dataset(
        clr.DatasetSpec("imagefolder", path="imgs", resize=16, val_fraction=0.25),
        data_roots=[tmp_path], batch_size=4, seed=0, device="cpu",
    )  # fmt: skip
    assert (data.num_classes, data.input_shape, data.batches_per_epoch) == (2, (3, 16, 16), 2)
    x, y = next(iter(data.train))
    assert x.shape == (4, 3, 16, 16)
    assert y.dtype == torch.int64


def test_crops_of_uint8_images_pad_with_the_mean_colour_which_normalizes_to_zero() -> None:
    x = torch.full((64, 3, 8, 8), 200, dtype=torch.uint8)
    mean = torch.tensor([50.0, 100.0, 150.0]).view(1, 3, 1, 1)
    normalize = clr.Normalize(mean, torch.full((1, 3, 1, 1), 25.0))
    batches = clr.InMemoryBatches(
        x,
        torch.zeros(64),
        64,
        shuffle=False,
        normalize=normalize,
        augment=clr.Augment(padding=3, hflip=False),
    )
    (out, _) = next(iter(batches))
    image_values = ((200 - mean) / 25).flatten()  # 6, 4, 2
    padded = out != image_values.view(1, 3, 1, 1)
    assert out.dtype == torch.float32
    assert 0 < int(padded.sum()) < out.numel()
    assert out[padded].abs().max() == 0
