"""runs.placement: where the run's current or last attempt ran; runs.drains: attempts handed back in a drain

Revision ID: 0006
Revises: 0007
Create Date: 2026-11-29 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("placement", sa.JSON(), nullable=True))
    op.add_column("runs", sa.Column("drains", sa.Integer(), nullable=False, server_default=sa.text("0")))


def downgrade() -> None:
    # Plain ALTER TABLE, also on SQLite (3.35+): batch mode would rebuild `runs` and lose its triggers.
    op.drop_column("runs", "drains")
    op.drop_column("runs", "placement")
