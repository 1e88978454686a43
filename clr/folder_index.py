"""Image folders (a subfolder per class) listed without torch, in torchvision's ImageFolder order."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clr.datasets import InvalidDataError

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
"""torchvision's `IMG_EXTENSIONS`: the files an ImageFolder reads."""


@dataclass(frozen=True)
class FolderListing:
    """The images of a folder with their labels and the class names."""

    files: tuple[str, ...]
    labels: np.ndarray
    classes: tuple[str, ...]

    def decoded_bytes(self, size: int) -> int:
        """Bytes of every image decoded to (3, size, size) uint8."""
        return len(self.files) * 3 * size * size


@dataclass(frozen=True)
class FolderIndex(FolderListing):
    """A listing and a digest of every file's path, label, size and modification time."""

    digest: str = ""


def list_folder(root: Path) -> FolderListing:
    """Class folders sorted by name, files of each sorted as torchvision's `make_dataset` walks them."""
    classes = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
    files: list[str] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        before = len(files)
        for folder, _, names in sorted(os.walk(os.path.join(root, name), followlinks=True)):
            for file in sorted(names):
                if file.lower().endswith(IMG_EXTENSIONS):
                    files.append(os.path.join(folder, file))
        if len(files) == before:
            raise InvalidDataError(
                f"image folder {root}: class folder {name!r} holds no image {IMG_EXTENSIONS}"
            )
        labels += [label] * (len(files) - before)
    return FolderListing(tuple(files), np.asarray(labels, dtype=np.int64), tuple(classes))


def scan_folder(root: Path) -> FolderIndex:
    """The folder's listing, digested by path, label, size and mtime (the decoded cache's name)."""
    listing = list_folder(root)
    digest = hashlib.blake2b(digest_size=16)
    for path, label in zip(listing.files, listing.labels.tolist(), strict=True):
        stat = os.stat(path)
        entry = f"{os.path.relpath(path, root)}\0{label}\0{stat.st_size}\0{stat.st_mtime_ns}\n"
        digest.update(entry.encode("utf-8", "surrogateescape"))
    return FolderIndex(listing.files, listing.labels, listing.classes, digest.hexdigest())
