"""A procedurally generated, learnable image set: ten shape classes on random backgrounds."""

from __future__ import annotations

import torch

from clr.bundled_datasets import SHAPE_CLASSES

CHUNK_PIXELS = 2**20
"""Pixels drawn at once: the masks of a chunk take about ten times its images' size, not the whole set's."""


def _masks(label: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Boolean (N, H, W) masks of each sample's shape; dx, dy are offsets from its centre."""
    ax, ay = dx.abs(), dy.abs()
    inside = torch.maximum(ax, ay) <= r
    thin = r / 3
    options = (
        dx**2 + dy**2 <= r**2,
        inside,
        ax + ay <= r,
        ((dx**2 + dy**2) <= r**2) & ((dx**2 + dy**2) >= (0.55 * r) ** 2),
        inside & ((ax <= thin) | (ay <= thin)),
        inside & ((ax - ay).abs() <= r / 4),
        (ay <= r) & (ax <= (dy + r) / 2),
        (ay <= r) & (ax <= (r - dy) / 2),
        (ax <= r) & (ay <= thin),
        (ay <= r) & (ax <= thin),
    )
    stacked = torch.stack(options)
    return stacked[label, torch.arange(len(label))]


def generate_shapes(num_samples: int, image_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 3, S, S) in [0, 1] and balanced labels (N,), deterministic for a seed.

    Every sample's shape, place and colours are drawn first; the images are then drawn in chunks of at most
    CHUNK_PIXELS pixels, so the memory beyond the images themselves stays bounded however large the set.
    """
    g = torch.Generator().manual_seed(seed)
    n, s = num_samples, image_size
    label = torch.randperm(n, generator=g) % len(SHAPE_CLASSES)
    r = s * (0.18 + 0.17 * torch.rand(n, generator=g))
    cx = r + 1 + (s - 2 * r - 2) * torch.rand(n, generator=g)
    cy = r + 1 + (s - 2 * r - 2) * torch.rand(n, generator=g)
    background = 0.45 * torch.rand(n, 3, 1, 1, generator=g)
    foreground = 0.55 + 0.45 * torch.rand(n, 3, 1, 1, generator=g)
    noise_scale = 0.15 * torch.rand(n, 1, 1, 1, generator=g)
    grid = torch.arange(s, dtype=torch.float32) + 0.5
    images = torch.empty(n, 3, s, s)
    step = max(1, CHUNK_PIXELS // (s * s))
    for start in range(0, n, step):
        part = slice(start, min(n, start + step))
        dx = grid[None, None, :] - cx[part, None, None]
        dy = grid[None, :, None] - cy[part, None, None]
        mask = _masks(label[part], dx, dy, r[part, None, None]).unsqueeze(1).float()
        noise = noise_scale[part] * torch.randn(len(mask), 3, s, s, generator=g)
        drawn = background[part] + (foreground[part] - background[part]) * mask + noise
        images[part] = drawn.clamp_(0.0, 1.0)
    return images, label
