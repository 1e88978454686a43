"""Real Fashion-MNIST from Debian's package: found with no setting, its own test split, flips only."""

from __future__ import annotations

from pathlib import Path

import torch

import clr


def test_fashion_mnist_loads_from_the_distribution_with_no_data_root(fashion_mnist: Path) -> None:
    data = clr.load_dataset(clr.DatasetSpec("fashion_mnist"), batch_size=500, seed=0, device="cpu")

    assert data.info == clr.DataInfo(validation="test", train_samples=60_000, val_samples=10_000)
    assert (data.num_classes, data.input_shape, data.batches_per_epoch) == (10, (1, 28, 28), 120)
    test_labels = torch.cat([y for _, y in data.val])
    assert torch.bincount(test_labels).tolist() == [1000] * 10


def _first_batch(spec: clr.DatasetSpec) -> torch.Tensor:
    data = clr.load_dataset(spec, batch_size=256, seed=3, device="cpu")
    return next(iter(data.train))[0]


def test_fashion_mnist_trains_on_mirrored_garments_and_digits_on_the_images_as_they_are(
    fashion_mnist: Path,
) -> None:
    plain = _first_batch(clr.DatasetSpec("fashion_mnist", augment=False))
    augmented = _first_batch(clr.DatasetSpec("fashion_mnist"))
    mirrored = (augmented == plain.flip(3)).flatten(1).all(1)
    unchanged = (augmented == plain).flatten(1).all(1)

    assert bool((mirrored | unchanged).all())  # flips only: no crops, no shifts
    assert 64 < int(mirrored.sum()) < 192
    digits = [_first_batch(clr.DatasetSpec("digits", augment=flag)) for flag in (False, True)]
    assert torch.equal(digits[0], digits[1])
