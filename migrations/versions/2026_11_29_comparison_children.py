"""comparison children named by (comparison_id, variant, repeat) columns, not by an Idempotency-Key

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-29 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_runs_comparison_variant_repeat"


def upgrade() -> None:
    op.add_column("runs", sa.Column("variant", sa.String(length=40), nullable=True))
    op.add_column("runs", sa.Column("repeat", sa.Integer(), nullable=True))
    runs = sa.table(
        "runs",
        sa.column("id", sa.String),
        sa.column("comparison_id", sa.String),
        sa.column("idempotency_key", sa.String),
        sa.column("variant", sa.String),
        sa.column("repeat", sa.Integer),
    )
    bind = op.get_bind()
    children = bind.execute(
        sa.select(runs.c.id, runs.c.idempotency_key).where(runs.c.comparison_id.is_not(None))
    ).all()
    for run_id, key in children:
        # keys were `comparison:<id>:<variant>:<repeat>`, in the namespace of the owner's own keys
        _, _, variant, repeat = str(key).split(":")
        bind.execute(
            sa.update(runs)
            .where(runs.c.id == run_id)
            .values(variant=variant, repeat=int(repeat), idempotency_key=None)
        )
    op.create_index(INDEX, "runs", ["comparison_id", "variant", "repeat"], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="runs")
    runs = sa.table(
        "runs",
        sa.column("comparison_id", sa.String),
        sa.column("idempotency_key", sa.String),
        sa.column("variant", sa.String),
        sa.column("repeat", sa.Integer),
    )
    key = sa.literal("comparison:") + runs.c.comparison_id + ":" + runs.c.variant + ":"
    op.get_bind().execute(
        sa.update(runs)
        .where(runs.c.comparison_id.is_not(None))
        .values(idempotency_key=key + sa.cast(runs.c.repeat, sa.String))
    )
    op.drop_column("runs", "repeat")
    op.drop_column("runs", "variant")
