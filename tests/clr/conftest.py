"""Shared fixtures for the clr library tests: one thread, tiny seeded problems."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

import clr

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits() -> clr.DataSplits:
    """The bundled 8x8 digits, batched on the CPU."""
    return clr.load_dataset(clr.DatasetSpec("digits"), batch_size=64, seed=0, device="cpu")


def _tiny_cnn(data: clr.DataSplits, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    spec = clr.ModelSpec("vanilla_cnn", {"width": 8, "dropout": 0.1})
    return clr.build_model(spec, input_shape=data.input_shape, num_classes=data.num_classes)


@pytest.fixture
def tiny_cnn() -> Callable[..., torch.nn.Module]:
    """Factory of narrow, seeded vanilla CNNs sized for a DataSplits."""
    return _tiny_cnn


@pytest.fixture
def state_equal() -> Callable[[dict[str, torch.Tensor], dict[str, torch.Tensor]], bool]:
    """Whether two state dicts hold bit-identical tensors."""

    def equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
        return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    return equal
