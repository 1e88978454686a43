"""Networks: a small vanilla CNN and torchvision ResNets with locally cached ImageNet weights."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torchvision.models as tvm
from torch import nn

from clr.bundled import ResNetParams
from clr.plugins import ModelInput, PluginError, model_plugin, typed_params
from clr.specs import ModelSpec

RESNETS = {
    "resnet18": (tvm.resnet18, tvm.ResNet18_Weights.IMAGENET1K_V1),
    "resnet34": (tvm.resnet34, tvm.ResNet34_Weights.IMAGENET1K_V1),
}


class WeightsNotFoundError(FileNotFoundError):
    """Pretrained weights are not in the local torch hub cache (they are never downloaded)."""


def _block(c_in: int, c_out: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


def vanilla_cnn(
    input_shape: tuple[int, int, int], num_classes: int, *, width: int = 32, dropout: float = 0.5
) -> nn.Sequential:
    """Three conv-BN-ReLU blocks, pooling while the side stays >= 2, then a dropout MLP head."""
    channels, side, _ = input_shape
    widths = (width, 2 * width, 4 * width)
    blocks: list[nn.Module] = []
    c_in = channels
    for c_out in widths:
        pool = side >= 4
        blocks.append(_block(c_in, c_out, pool))
        side = side // 2 if pool else side
        c_in = c_out
    # cap the flattened size so resized (large) inputs do not blow up the first linear layer
    pooled = min(side, 4)
    return nn.Sequential(
        *blocks,
        nn.AdaptiveAvgPool2d(pooled),
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(c_in * pooled * pooled, 8 * width),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(8 * width, num_classes),
    )


def weights_file(name: str, torch_home: Path | None = None) -> Path:
    """Where the torch hub cache keeps the ImageNet weights of a torchvision ResNet."""
    home = torch_home if torch_home is not None else Path(os.environ.get("TORCH_HOME", "~/.cache/torch"))
    url: str = RESNETS[name][1].url
    return Path(home).expanduser() / "hub" / "checkpoints" / url.rsplit("/", 1)[-1]


def resnet(name: str, params: ResNetParams, given: ModelInput) -> tvm.ResNet:
    """A torchvision ResNet with a new head, ImageNet weights if asked, frozen but `params.trainable`."""
    model: tvm.ResNet = RESNETS[name][0](weights=None)
    if params.pretrained:
        path = weights_file(name, given.torch_home)
        if not path.is_file():
            raise WeightsNotFoundError(f"pretrained weights for {name} not found: expected {path}")
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    channels = given.input_shape[0]
    if channels != 3:
        old = model.conv1
        model.conv1 = nn.Conv2d(channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        with torch.no_grad():
            model.conv1.weight.copy_(old.weight.mean(dim=1, keepdim=True).expand(-1, channels, -1, -1))
    model.fc = nn.Sequential(nn.Dropout(params.dropout), nn.Linear(model.fc.in_features, given.num_classes))
    if params.trainable != "all":
        _freeze(model, params.trainable)
    return model


def _freeze(model: tvm.ResNet, trainable: str) -> None:
    """Freeze all but the trainable part; frozen BatchNorms also stop updating their running stats."""
    keep: list[nn.Module] = [model.fc] if trainable == "head" else [model.layer4, model.fc]
    kept = {id(p) for module in keep for p in module.parameters()}
    for p in model.parameters():
        p.requires_grad_(id(p) in kept)
    kept_modules = {id(m) for module in keep for m in module.modules()}
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d) and id(m) not in kept_modules:
            m.momentum = 0.0


def build_model(
    spec: ModelSpec, *, input_shape: tuple[int, int, int], num_classes: int, torch_home: Path | None = None
) -> nn.Module:
    """Build the network spec names for inputs of input_shape (C, H, W) and num_classes outputs."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes!r}")
    installed = model_plugin(spec.name)
    given = ModelInput(input_shape=input_shape, num_classes=num_classes, torch_home=torch_home)
    try:
        model = installed.plugin.build(typed_params(installed, spec.params), given)
    except (WeightsNotFoundError, torch.cuda.OutOfMemoryError):
        raise
    except Exception as error:
        raise PluginError(installed, error) from error
    if not isinstance(model, nn.Module):
        raise PluginError(
            installed, TypeError(f"build returned {type(model).__name__}, not a torch.nn.Module")
        )
    return model
