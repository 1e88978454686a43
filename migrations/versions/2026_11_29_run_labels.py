"""name, tags and metadata of runs and comparisons, with tag tables and name indexes for filtering

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# store.labels.NAME_MAX_LENGTH and TAG_MAX_LENGTH as of this revision. Names compare by code point on
# PostgreSQL too (collation "C"), so a name prefix is a range of the (owner, name) index.
NAME = sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql")
NAMED = sa.text("name IS NOT NULL")  # unnamed rows cost no write of the name index
TAG = sa.String(64)
# (table, its tag table, the tag table's key column)
LABELLED = [("runs", "run_tags", "run_id"), ("comparisons", "comparison_tags", "comparison_id")]


def upgrade() -> None:
    # Plain ADD COLUMN, no batch copy: on SQLite a copied `runs` table would lose its queue triggers.
    for table, tag_table, key in LABELLED:
        op.add_column(table, sa.Column("name", NAME, nullable=True))
        op.add_column(table, sa.Column("tags", sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
        op.add_column(table, sa.Column("meta", sa.JSON(), server_default=sa.text("'{}'"), nullable=False))
        op.create_index(
            f"ix_{table}_owner_name", table, ["owner", "name"], postgresql_where=NAMED, sqlite_where=NAMED
        )
        op.create_table(
            tag_table,
            sa.Column(key, sa.String(length=32), nullable=False),
            sa.Column("tag", TAG, nullable=False),
            sa.Column("owner", sa.String(length=100), nullable=False),
            sa.ForeignKeyConstraint(
                [key], [f"{table}.id"], name=op.f(f"fk_{tag_table}_{key}_{table}"), ondelete="CASCADE"
            ),
            sa.PrimaryKeyConstraint(key, "tag", name=op.f(f"pk_{tag_table}")),
        )
        op.create_index(f"ix_{tag_table}_owner_tag", tag_table, ["owner", "tag", key])


def downgrade() -> None:
    for table, tag_table, _key in reversed(LABELLED):
        op.drop_index(f"ix_{tag_table}_owner_tag", table_name=tag_table)
        op.drop_table(tag_table)
        op.drop_index(f"ix_{table}_owner_name", table_name=table)
        for column in ("meta", "tags", "name"):
            op.drop_column(table, column)
