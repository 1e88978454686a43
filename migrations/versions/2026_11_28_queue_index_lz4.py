"""queued-runs index for the submit-time queue limit; lz4 for stored curve chunks on PostgreSQL

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 18:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUED = sa.text("status = 'queued'")


def upgrade() -> None:
    op.create_index("ix_runs_owner_queued", "runs", ["owner"], postgresql_where=QUEUED, sqlite_where=QUEUED)
    if op.get_bind().dialect.name == "postgresql":
        # lz4 reads packed float chunks back faster than the default pglz (benchmarks/curves_read.py);
        # it applies to chunks written from now on.
        op.execute("ALTER TABLE series_chunks ALTER COLUMN data SET COMPRESSION lz4")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE series_chunks ALTER COLUMN data SET COMPRESSION pglz")
    op.drop_index("ix_runs_owner_queued", table_name="runs")
