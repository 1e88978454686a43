"""dataset-specific fields of stored requests move under dataset.params (datasets are plugins)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 10:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The fields each bundled dataset took at the top of `dataset` before this revision, now its params.
MOVED = {
    "shapes": ("num_samples", "image_size"),
    "mnist": ("download",),
    "fashion_mnist": ("download",),
    "cifar10": ("download",),
}
OLD_FIELDS = ("num_samples", "image_size", "download")
OLD_DEFAULTS = {"num_samples": 2000, "image_size": 32, "download": False}
TABLES = ("runs", "comparisons")
PAGE = 500


def _rewrite(table: str, change: Any) -> None:
    """Apply change (True if it changed it) to the dataset of every stored request, a page at a time."""
    rows = sa.table(table, sa.column("id", sa.String()), sa.column("request", sa.JSON()))
    bind, last = op.get_bind(), ""
    while True:
        page = bind.execute(
            sa.select(rows.c.id, rows.c.request).where(rows.c.id > last).order_by(rows.c.id).limit(PAGE)
        ).all()
        if not page:
            return
        for row_id, request in page:
            dataset = request.get("dataset") if isinstance(request, dict) else None
            if isinstance(dataset, dict) and change(dataset):
                bind.execute(sa.update(rows).where(rows.c.id == row_id).values(request=request))
        last = page[-1][0]


def _to_params(dataset: dict[str, Any]) -> bool:
    if "params" in dataset:
        return False
    moved = {field: dataset.pop(field) for field in OLD_FIELDS if field in dataset}
    dataset["params"] = {f: v for f, v in moved.items() if f in MOVED.get(dataset.get("name", ""), ())}
    return True


def _from_params(dataset: dict[str, Any]) -> bool:
    if "params" not in dataset:
        return False
    params = dataset.pop("params") or {}
    dataset.update({field: params.get(field, OLD_DEFAULTS[field]) for field in OLD_FIELDS})
    return True


def upgrade() -> None:
    for table in TABLES:
        _rewrite(table, _to_params)


def downgrade() -> None:
    for table in TABLES:
        _rewrite(table, _from_params)
