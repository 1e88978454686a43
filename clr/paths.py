"""Dataset paths confined to the data roots: checked at submit by the service and again where data is read."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class OutsideDataRootsError(ValueError):
    """A dataset path that resolves (symlinks, `..`) outside every data root."""


def confined(path: str, roots: Sequence[Path]) -> list[Path]:
    """Every place `path` may name (itself if absolute, else under each root), resolved, all inside a root."""
    resolved_roots = [Path(root).resolve() for root in roots]
    relative = Path(path)
    candidates = [relative] if relative.is_absolute() else [root / relative for root in resolved_roots]
    places = [candidate.resolve() for candidate in candidates]
    outside = [p for p in places if not any(p.is_relative_to(root) for root in resolved_roots)]
    if outside or not places:
        raise OutsideDataRootsError(
            f"dataset.path {path!r} resolves outside the data roots {[str(r) for r in resolved_roots]}"
        )
    return places
