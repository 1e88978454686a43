"""Models: sized from the input, pretrained weights only from the local cache, partial freezing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

import clr


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32), (3, 64, 48)])
def test_vanilla_cnn_fits_inputs_down_to_8x8(shape: tuple[int, int, int]) -> None:
    model = clr.build_model(clr.ModelSpec("vanilla_cnn", {"width": 4}), input_shape=shape, num_classes=7)
    assert model(torch.randn(2, *shape)).shape == (2, 7)
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert any(isinstance(m, nn.Dropout) for m in model.modules())


def test_pretrained_resnet18_loads_weights_from_the_local_torch_home(tmp_path: Path) -> None:
    torch.manual_seed(1)
    reference = torchvision.models.resnet18(weights=None)
    target = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    target.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), target)
    assert clr.weights_file("resnet18", tmp_path) == target
    model = clr.build_model(
        clr.ModelSpec("resnet18", {"pretrained": True}),
        input_shape=(3, 16, 16),
        num_classes=5,
        torch_home=tmp_path,
    )
    assert torch.equal(model.layer3[0].conv1.weight, reference.layer3[0].conv1.weight)  # type: ignore[index, union-attr]
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 5)


def test_missing_pretrained_weights_raise_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(clr.WeightsNotFoundError, match=r"resnet34-b627a593\.pth"):
        clr.build_model(
            clr.ModelSpec("resnet34", {"pretrained": True}),
            input_shape=(3, 32, 32),
            num_classes=10,
            torch_home=tmp_path,
        )


def test_last_block_training_leaves_frozen_weights_bit_identical(state_equal: Callable[..., bool]) -> None:
    torch.manual_seed(0)
    model = clr.build_model(
        clr.ModelSpec("resnet18", {"trainable": "last_block"}), input_shape=(1, 16, 16), num_classes=3
    )
    frozen = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith(("layer4", "fc"))}
    head = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("fc")}
    optimizer = clr.build_optimizer(clr.OptimizerSpec("sgd_momentum", lr=0.1), model.parameters())
    model.train()
    for _ in range(3):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(torch.randn(4, 1, 16, 16)), torch.tensor([0, 1, 2, 0])).backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in frozen.items() if not k.endswith("num_batches_tracked"))
    assert not all(torch.equal(after[k], v) for k, v in head.items())


def test_head_only_training_leaves_only_the_new_head_trainable() -> None:
    model = clr.build_model(
        clr.ModelSpec("resnet18", {"trainable": "head"}), input_shape=(3, 32, 32), num_classes=4
    )
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fc.1.weight", "fc.1.bias"}
