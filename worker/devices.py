"""One GPU per pool process: the CLI picks the GPUs, each pool process pins its own before CUDA starts."""

from __future__ import annotations

import os
import socket
import warnings
from dataclasses import dataclass
from typing import Any

from celery.utils.log import current_process_index  # type: ignore[attr-defined]


def visible_gpus() -> list[str]:
    """The CUDA devices this process may use, as CUDA_VISIBLE_DEVICES names them (numbers or UUIDs)."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [name.strip() for name in listed.split(",") if name.strip()]
    import torch

    with warnings.catch_warnings():  # a host without a driver warns, and simply has none
        warnings.simplefilter("ignore")
        return [str(index) for index in range(torch.cuda.device_count())]  # NVML: CUDA stays uninitialised


def choose_gpus(option: str, visible: list[str]) -> list[str]:
    """`--gpus all` or comma-separated indices into `visible`: the devices to pin, one pool process each."""
    if option == "all":
        return visible
    try:
        indices = [int(part) for part in option.split(",")]
    except ValueError:
        raise ValueError(f"--gpus must be 'all' or indices such as 0,1,3, got {option!r}") from None
    wrong = [index for index in indices if not 0 <= index < len(visible)]
    if wrong or len(set(indices)) != len(indices):
        raise ValueError(
            f"--gpus {option!r} must name distinct visible GPUs: indices 0 to {len(visible) - 1} of {visible}"
        )
    return [visible[index] for index in indices]


@dataclass(frozen=True)
class Slot:
    """This pool process's place on its worker: Celery's index for it, kept when the process is replaced."""

    index: int


def pin_pool_process(gpus: list[str]) -> Slot:
    """Pin the calling pool process to the GPU of its index; call before anything initialises CUDA."""
    index = current_process_index(base=0) or 0
    if gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus[index % len(gpus)]
    return Slot(index=index)


def placement(slot: Slot, *, worker: str, requested_device: str) -> dict[str, Any]:
    """Where a job runs: the worker (Celery node/pid), host, process, pool slot and its device."""
    import torch

    on_cuda = requested_device != "cpu" and torch.cuda.is_available()
    return {
        "worker": worker,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "slot": slot.index,
        "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"),  # what CUDA in this process sees
        "device": "cuda" if on_cuda else "cpu",
        "device_name": torch.cuda.get_device_name(0) if on_cuda else "cpu",
    }
