"""CSV files of separable feature vectors for the example plugin's csv_features dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = ("setosa", "versicolor", "virginica")


def write_blobs(
    path: Path, *, rows: int = 240, features: int = 4, seed: int = 0, bad_cell: bool = False
) -> Path:
    """Three well separated Gaussian blobs, the label in the middle column; bad_cell: one cell not numeric."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), size=rows)
    centres = rng.normal(0.0, 4.0, size=(len(CLASSES), features))
    x = centres[labels] + rng.normal(0.0, 0.5, size=(rows, features))
    middle = features // 2
    header = [f"f{i}" for i in range(middle)] + ["species"] + [f"f{i}" for i in range(middle, features)]
    lines = [",".join(header)]
    for values, label in zip(x, labels, strict=True):
        cells = [f"{v:.5f}" for v in values]
        lines.append(",".join([*cells[:middle], CLASSES[label], *cells[middle:]]))
    if bad_cell:
        lines[rows // 2] = lines[rows // 2].replace(lines[rows // 2].split(",")[0], "n/a", 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
