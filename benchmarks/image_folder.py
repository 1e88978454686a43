"""Image folders: clr's decoded, memory-mapped cache against torchvision's ImageFolder + DataLoader.

    .venv/bin/python -m benchmarks.image_folder

Generates a folder of --files JPEGs (10 classes, 64x64 px) and feeds it, resized to 32 px, with the same
augmentation (random crop after 4 px of padding, horizontal flips), normalization and batch size through
  baseline: torchvision ImageFolder + DataLoader(num_workers=2, shuffle, persistent workers)
  clr:      clr.load_dataset(imagefolder): decoded once into a uint8 .npy cache, batched and augmented
and prints samples/s of the pipeline alone (batches delivered, no model) for the first epoch (clr's includes
scanning and decoding the folder into a fresh cache) and for the second, then end to end with the vanilla
CNN for two epochs from a fresh cache. Targets: second epoch >= 10x, first epoch and end to end >= 1x.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import clr

SIDE, CLASSES, PADDING = 32, 10, 4
Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


def generate(root: Path, files: int, seed: int = 0) -> None:
    """files JPEGs of 64x64 px in CLASSES folders: a class-coloured square on noise."""
    rng = np.random.default_rng(seed)
    for label in range(CLASSES):
        (root / f"class{label}").mkdir(parents=True, exist_ok=True)
    for i in range(files):
        label = i % CLASSES
        image = rng.integers(0, 120, size=(64, 64, 3), dtype=np.uint8)
        top, left = rng.integers(0, 32, size=2)
        image[top : top + 32, left : left + 32, label % 3] = 128 + 12 * label
        Image.fromarray(image).save(root / f"class{label}" / f"{i:06d}.jpg", quality=90)


def baseline(root: Path, batch_size: int) -> Batches:
    """torchvision's way: a transform per image in two DataLoader worker processes."""
    import torchvision.datasets as tvd
    import torchvision.transforms.v2 as T

    transform = T.Compose(
        [
            T.ToImage(),
            T.Resize((SIDE, SIDE), antialias=True),
            T.ToDtype(torch.float32, scale=True),
            T.RandomCrop(SIDE, padding=PADDING),
            T.RandomHorizontalFlip(),
            T.Normalize([0.3, 0.3, 0.3], [0.2, 0.2, 0.2]),
        ]
    )
    dataset = tvd.ImageFolder(str(root), transform=transform)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, drop_last=True, num_workers=2, persistent_workers=True
    )


def ours(root: Path, batch_size: int, cache: Path) -> Batches:
    """clr's way: scan, decode into the cache (first call), then batches of the memory-mapped tensor."""
    spec = clr.DatasetSpec("imagefolder", path=str(root), resize=SIDE, val_fraction=0.01)
    return clr.load_dataset(spec, batch_size=batch_size, seed=0, device="cpu", cache_dir=cache).train


def epochs(make: Callable[[], Batches], step: Callable[..., None]) -> list[float]:
    """samples/s of two epochs; the first includes building the pipeline."""
    rates = []
    started = time.perf_counter()
    batches = make()
    for _ in range(2):
        seen = 0
        for x, y in batches:
            step(x, y)
            seen += len(y)
        rates.append(seen / (time.perf_counter() - started))
        started = time.perf_counter()
    return rates


def train_step() -> Callable[..., None]:
    model = clr.build_model(clr.ModelSpec("vanilla_cnn"), input_shape=(3, SIDE, SIDE), num_classes=CLASSES)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()

    return step


def _nothing(x: torch.Tensor, y: torch.Tensor) -> None:
    """The pipeline alone: batches are delivered and dropped."""


def _overall(rates: list[float]) -> float:
    """samples/s over epochs of equal size run one after the other."""
    return len(rates) / sum(1 / rate for rate in rates)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the training process")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = sys.stdout
    with tempfile.TemporaryDirectory(prefix="clr-bench-folder-") as tmp:
        root = Path(tmp) / "images"
        started = time.perf_counter()
        generate(root, args.files)
        out.write(f"generated {args.files} JPEGs in {time.perf_counter() - started:.0f} s\n")
        rates: dict[str, list[float]] = {}
        for name, model in (("pipeline", False), ("end to end", True)):
            for who in ("baseline", "clr"):
                cache = Path(tmp) / f"cache-{name}".replace(" ", "-")
                make: Callable[[], Batches] = (
                    functools.partial(baseline, root, args.batch_size)
                    if who == "baseline"
                    else functools.partial(ours, root, args.batch_size, cache)
                )
                rates[f"{name} {who}"] = epochs(make, train_step() if model else _nothing)
                first, second = rates[f"{name} {who}"]
                out.write(f"{name:10s} {who:8s} epoch 1 {first:8.0f} samples/s, epoch 2 {second:8.0f}\n")
                out.flush()
        pipe_base, pipe_ours = rates["pipeline baseline"], rates["pipeline clr"]
        e2e_base, e2e_ours = rates["end to end baseline"], rates["end to end clr"]
        checks = [
            ("pipeline, epoch 2", pipe_ours[1] / pipe_base[1], 10.0),
            ("pipeline, epoch 1 (decoding)", pipe_ours[0] / pipe_base[0], 1.0),
            ("end to end, two epochs", _overall(e2e_ours) / _overall(e2e_base), 1.0),
        ]
        for what, ratio, target in checks:
            verdict = "met" if ratio >= target else "NOT met"
            out.write(f"{what:30s} {ratio:6.1f}x the baseline (target >= {target:g}x): {verdict}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
