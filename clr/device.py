"""Device choice, mixed precision and random-number-generator state."""

from __future__ import annotations

import contextlib
import random
from typing import Any

import numpy as np
import torch

from clr.specs import Amp


def resolve_device(device: str | torch.device | None, model: torch.nn.Module | None = None) -> torch.device:
    """Turn "auto"/"cpu"/"cuda[:n]"/None into a torch.device (None: where the model's weights are)."""
    if device is None:
        if model is not None:
            first = next(iter(model.parameters()), None)
            if first is not None:
                return first.device
        return torch.device("cpu")
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.split(":")[0] not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:index]', got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available; use 'auto' or 'cpu'")
    return torch.device(device)


def autocast(device: torch.device, amp: Amp) -> contextlib.AbstractContextManager[Any]:
    """Autocast context for amp, or a no-op for "none"."""
    if amp == "none":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def make_scaler(device: torch.device, amp: Amp) -> torch.amp.GradScaler | None:
    """A GradScaler for fp16 (bf16 keeps float32's exponent range and needs none)."""
    return torch.amp.GradScaler(device.type) if amp == "fp16" else None


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_rng() -> dict[str, Any]:
    """Every global RNG state as tensors and plain values (loadable with weights_only=True)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": (
            str(kind),
            torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            int(pos),
            int(has_gauss),
            gauss,
        ),
        "python": random.getstate(),
    }


def restore_rng(state: dict[str, Any]) -> None:
    """Put back RNG states taken by capture_rng."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate(state["python"])
