"""Image folders (a subfolder per class): decoded once into a memory-mapped uint8 cache, or streamed.

A folder whose decoded images fit the memory budget is decoded by a pool of threads (Pillow releases the
GIL while it decodes and resizes) into one `.npy` file named after the folder's contents, and every later
run maps that file instead of decoding again. A larger folder streams through a DataLoader whose worker
processes decode it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, SubsetRandomSampler

from clr.batches import Augment, Normalize, prepare_batch
from clr.datasets import InvalidDataError
from clr.folder_index import FolderIndex, FolderListing

CACHE_FORMAT = 1
"""Part of every cache file's name: bump it when decoding changes, so older files are not reused."""


def decode_image(path: str, size: int) -> np.ndarray:
    """One image as (3, size, size) uint8 RGB; a large JPEG is already scaled down while decoding."""
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))  # JPEG only: decode at 1/2, 1/4 or 1/8 scale when still >= size
            rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    except (OSError, ValueError) as error:
        raise InvalidDataError(f"image folder: cannot decode {path}: {error}") from error
    return np.asarray(rgb).transpose(2, 0, 1)


def _decode_into(out: np.ndarray, files: Sequence[str], size: int, threads: int) -> None:
    def decode_range(start: int) -> None:
        for i in range(start, min(start + 64, len(files))):
            out[i] = decode_image(files[i], size)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(decode_range, range(0, len(files), 64)))


def decode_threads() -> int:
    """Threads to decode with: one per CPU this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def decoded_images(index: FolderIndex, size: int, cache_dir: Path | None) -> np.ndarray:
    """Every image of the folder as (N, 3, size, size) uint8: mapped from the cache, else decoded."""
    shape = (len(index.files), 3, size, size)
    if cache_dir is None:
        out = np.empty(shape, dtype=np.uint8)
        _decode_into(out, index.files, size, decode_threads())
        return out
    path = Path(cache_dir) / f"{index.digest}-{size}px-v{CACHE_FORMAT}.npy"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=shape)
            _decode_into(out, index.files, size, decode_threads())
            out.flush()
            del out
            os.replace(partial, path)  # whole or absent: a job killed mid-decode leaves no half file
        finally:
            partial.unlink(missing_ok=True)
    # copy-on-write: writable for torch.from_numpy, and nothing is ever written back
    images: np.ndarray = np.load(path, mmap_mode="c")
    return images


class FolderImages(Dataset[tuple[torch.Tensor, int]]):
    """Images decoded one by one, for DataLoader workers."""

    def __init__(self, index: FolderListing, size: int) -> None:
        self.index, self.size = index, size

    def __len__(self) -> int:
        return len(self.index.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = np.ascontiguousarray(decode_image(self.index.files[i], self.size))  # writable for torch
        return torch.from_numpy(image), int(self.index.labels[i])


@contextlib.contextmanager
def _children_allowed() -> Iterator[None]:
    """Let a daemonic process, such as a Celery prefork pool process, start DataLoader workers.

    Python refuses children to daemons so that none outlive them; torch's workers already exit as soon as
    their parent is gone, so that guarantee holds without the flag.
    """
    config = multiprocessing.current_process()._config  # type: ignore[attr-defined]
    daemon = config.pop("daemon", None)
    try:
        yield
    finally:
        if daemon is not None:
            config["daemon"] = daemon


class StreamedBatches:
    """Batches of a set's items read by DataLoader workers, normalized and augmented on the device."""

    def __init__(
        self,
        items: Dataset[tuple[torch.Tensor, int]],
        indices: torch.Tensor,
        *,
        batch_size: int,
        shuffle: bool,
        seed: int,
        device: torch.device,
        normalize: Normalize,
        augment: Augment | None,
        workers: int,
    ) -> None:
        self.sampler_generator = torch.Generator().manual_seed(seed)
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)
        chosen = indices.tolist()
        sampler = SubsetRandomSampler(chosen, self.sampler_generator) if shuffle else chosen
        self.loader: DataLoader[Any] = DataLoader(
            items,
            batch_size=batch_size,
            sampler=sampler,
            drop_last=shuffle and len(chosen) > batch_size,
            num_workers=workers,
            pin_memory=device.type == "cuda",
            persistent_workers=workers > 0,
        )
        self.device, self.normalize, self.augment = device, normalize, augment

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        with _children_allowed():
            batches = iter(self.loader)
        for x, y in batches:
            x = x.to(self.device, non_blocking=True)
            x = prepare_batch(
                x, normalize=self.normalize, augment=self.augment, resize=None, generator=self.generator
            )
            yield x, y.to(self.device, non_blocking=True)

    def state_dict(self) -> dict[str, Any]:
        """Shuffling and augmentation generator states, for checkpoints."""
        return {"sampler": self.sampler_generator.get_state(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the generator states saved by state_dict."""
        self.sampler_generator.set_state(state["sampler"])
        self.generator.set_state(state["generator"])
