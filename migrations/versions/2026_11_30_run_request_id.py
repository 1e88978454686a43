"""runs.request_id: the X-Request-ID of the request that made the run, for the worker's log lines

Revision ID: 0009
Revises: 0006
Create Date: 2026-11-30 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("request_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE, also on SQLite (3.35+): batch mode would rebuild `runs` and lose its triggers.
    op.drop_column("runs", "request_id")
