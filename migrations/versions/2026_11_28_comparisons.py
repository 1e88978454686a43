"""comparisons: held variants released by the supervisor once their range test ends

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pending_release", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("release_error", sa.JSON(), nullable=True))
        batch_op.create_index("ix_comparisons_pending_release", ["pending_release"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.drop_index("ix_comparisons_pending_release")
        batch_op.drop_column("release_error")
        batch_op.drop_column("pending_release")
