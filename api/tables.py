"""Columns as JSON lists and as CSV: integers for steps and epochs, null (an empty field) where not finite."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from api.comparisons import METRICS, ComparisonCurves
from store.series import INTEGER_COLUMNS


def encode_column(key: str, values: np.ndarray) -> list[Any]:
    """A column as a JSON-ready list: integers for steps and epochs, None for NaN and infinities."""
    if key in INTEGER_COLUMNS:
        return values.astype(np.int64).tolist()  # type: ignore[no-any-return]
    finite = np.isfinite(values)
    if finite.all():
        return values.tolist()  # type: ignore[no-any-return]
    boxed = values.astype(object)
    boxed[~finite] = None
    return boxed.tolist()  # type: ignore[no-any-return]


def csv_table(columns: Mapping[str, np.ndarray]) -> bytes:
    """The columns as CSV (RFC 4180): a header row, then a row per point; non-finite values are empty."""
    # Numbers never need quoting: joining their reprs gives csv.writer's bytes in about half its time.
    texts = [
        ["" if v is None else repr(v) for v in encode_column(key, values)] for key, values in columns.items()
    ]
    return "".join(
        f"{line}\r\n" for line in [",".join(columns), *map(",".join, zip(*texts, strict=True))]
    ).encode()


def csv_rows(header: Iterable[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A header row and rows as CSV; None is an empty field, floats keep every digit (shortest repr)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def comparison_csv(curves: ComparisonCurves) -> bytes:
    """A row per variant and epoch: how many runs, then the mean and std of each metric over them."""
    header = ["variant", "epoch", "runs", *(f"{name}_{stat}" for name in METRICS for stat in ("mean", "std"))]
    rows = [
        [
            variant,
            epoch,
            found.runs,
            *(v for name in METRICS for v in (found.mean[name][i], found.std[name][i])),
        ]
        for variant, found in curves.variants.items()
        for i, epoch in enumerate(found.epoch)
    ]
    return csv_rows(header, rows)
