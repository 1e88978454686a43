"""A procedurally generated, learnable image set: ten shape classes on random backgrounds."""

from __future__ import annotations

import torch

SHAPE_CLASSES = (
    "circle",
    "square",
    "diamond",
    "ring",
    "plus",
    "cross",
    "triangle_up",
    "triangle_down",
    "horizontal_bar",
    "vertical_bar",
)


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
    """Images (N, 3, S, S) in [0, 1] and balanced labels (N,), deterministic for a seed."""
    g = torch.Generator().manual_seed(seed)
    n, s = num_samples, image_size
    label = torch.randperm(n, generator=g) % len(SHAPE_CLASSES)
    r = s * (0.18 + 0.17 * torch.rand(n, generator=g))
    cx = r + 1 + (s - 2 * r - 2) * torch.rand(n, generator=g)
    cy = r + 1 + (s - 2 * r - 2) * torch.rand(n, generator=g)
    grid = torch.arange(s, dtype=torch.float32) + 0.5
    dx = grid[None, None, :] - cx[:, None, None]
    dy = grid[None, :, None] - cy[:, None, None]
    mask = _masks(label, dx, dy, r[:, None, None]).unsqueeze(1).float()
    background = 0.45 * torch.rand(n, 3, 1, 1, generator=g)
    foreground = 0.55 + 0.45 * torch.rand(n, 3, 1, 1, generator=g)
    noise = 0.15 * torch.rand(n, 1, 1, 1, generator=g) * torch.randn(n, 3, s, s, generator=g)
    images = (background + (foreground - background) * mask + noise).clamp(0.0, 1.0)
    return images, label
