"""queued-runs counter per owner kept by triggers, replacing the queued-runs index; undispatched-runs index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUED = sa.text("status = 'queued'")
UNDISPATCHED = sa.text("status = 'queued' AND dispatched_at IS NULL")

# One function for every change; the WHEN clauses keep rows that do not cross the 'queued' boundary
# (progress, heartbeats, running → succeeded) away from the counter row and its lock.
POSTGRES_TRIGGERS = [
    """
    CREATE FUNCTION count_queued_runs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' AND OLD.status = 'queued' THEN
            UPDATE owner_queues SET queued = queued - 1 WHERE owner = OLD.owner;
        END IF;
        IF TG_OP <> 'DELETE' AND NEW.status = 'queued' THEN
            INSERT INTO owner_queues (owner, queued) VALUES (NEW.owner, 1)
            ON CONFLICT (owner) DO UPDATE SET queued = owner_queues.queued + 1;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER runs_queued_insert AFTER INSERT ON runs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION count_queued_runs()
    """,
    """
    CREATE TRIGGER runs_queued_update AFTER UPDATE OF status ON runs
    FOR EACH ROW WHEN (
        OLD.status IS DISTINCT FROM NEW.status AND (OLD.status = 'queued' OR NEW.status = 'queued')
    )
    EXECUTE FUNCTION count_queued_runs()
    """,
    """
    CREATE TRIGGER runs_queued_delete AFTER DELETE ON runs
    FOR EACH ROW WHEN (OLD.status = 'queued') EXECUTE FUNCTION count_queued_runs()
    """,
]
SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER runs_queued_insert AFTER INSERT ON runs WHEN NEW.status = 'queued'
    BEGIN
        INSERT INTO owner_queues (owner, queued) VALUES (NEW.owner, 1)
        ON CONFLICT (owner) DO UPDATE SET queued = queued + 1;
    END
    """,
    """
    CREATE TRIGGER runs_queued_enter AFTER UPDATE OF status ON runs
    WHEN NEW.status = 'queued' AND OLD.status IS NOT 'queued'
    BEGIN
        INSERT INTO owner_queues (owner, queued) VALUES (NEW.owner, 1)
        ON CONFLICT (owner) DO UPDATE SET queued = queued + 1;
    END
    """,
    """
    CREATE TRIGGER runs_queued_leave AFTER UPDATE OF status ON runs
    WHEN OLD.status = 'queued' AND NEW.status IS NOT 'queued'
    BEGIN
        UPDATE owner_queues SET queued = queued - 1 WHERE owner = OLD.owner;
    END
    """,
    """
    CREATE TRIGGER runs_queued_delete AFTER DELETE ON runs WHEN OLD.status = 'queued'
    BEGIN
        UPDATE owner_queues SET queued = queued - 1 WHERE owner = OLD.owner;
    END
    """,
]
DROP_TRIGGERS = {
    "postgresql": [
        "DROP TRIGGER runs_queued_delete ON runs",
        "DROP TRIGGER runs_queued_update ON runs",
        "DROP TRIGGER runs_queued_insert ON runs",
        "DROP FUNCTION count_queued_runs()",
    ],
    "sqlite": [
        "DROP TRIGGER runs_queued_delete",
        "DROP TRIGGER runs_queued_leave",
        "DROP TRIGGER runs_queued_enter",
        "DROP TRIGGER runs_queued_insert",
    ],
}
# Every owner with runs or keys gets a row, at 0 when none is queued: the submit check locks that row, so no
# submission races past the limit.
BACKFILL = """
    INSERT INTO owner_queues (owner, queued)
    SELECT owner, sum(queued) FROM (
        SELECT owner, CASE WHEN status = 'queued' THEN 1 ELSE 0 END AS queued FROM runs
        UNION ALL
        SELECT owner, 0 FROM api_keys
    ) AS owners GROUP BY owner
"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "owner_queues",
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("queued", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_owner_queues")),
    )
    if dialect == "postgresql":
        # Writers wait until the migration commits, so no run changes between the backfill and the triggers.
        op.execute("LOCK TABLE runs IN SHARE ROW EXCLUSIVE MODE")
    op.execute(BACKFILL)
    for statement in POSTGRES_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)
    op.drop_index("ix_runs_owner_queued", table_name="runs")
    op.create_index(
        "ix_runs_undispatched",
        "runs",
        ["created_at"],
        postgresql_where=UNDISPATCHED,
        sqlite_where=UNDISPATCHED,
    )


def downgrade() -> None:
    op.drop_index("ix_runs_undispatched", table_name="runs")
    op.create_index("ix_runs_owner_queued", "runs", ["owner"], postgresql_where=QUEUED, sqlite_where=QUEUED)
    for statement in DROP_TRIGGERS[op.get_bind().dialect.name]:
        op.execute(statement)
    op.drop_table("owner_queues")
