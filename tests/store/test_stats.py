"""What a /metrics scrape costs the database: no whole-table read, shown with EXPLAIN on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, text

from store import stats
from store.db import make_engine, make_sessionmaker

pytestmark = pytest.mark.postgres
RUNS = 50_000

FILL = [
    # Many ended runs and a few unfinished ones, with points and epochs: what a long-lived service holds.
    f"""
    INSERT INTO runs (id, owner, kind, status, request, request_hash, attempt, max_attempts, progress_step,
                      created_at, updated_at, started_at, finished_at)
    SELECT lpad(to_hex(n), 32, '0'), 'owner-' || (n % 50), 'train',
           CASE WHEN n % 1000 = 0 THEN 'running' WHEN n % 3 = 0 THEN 'failed' ELSE 'succeeded' END,
           '{{}}', 'h', 1, 2, 0, now(), now(), now() - interval '1 minute', now()
    FROM generate_series(1, {RUNS}) AS n
    """,
    """
    INSERT INTO series_chunks (run_id, series, first_step, last_step, count, data)
    SELECT lpad(to_hex(n), 32, '0'), 'batch', 0, 99, 100, '\\x00' FROM generate_series(1, 20000) AS n
    """,
    """
    INSERT INTO epoch_metrics (run_id, epoch, step, train_loss, train_accuracy, lr)
    SELECT lpad(to_hex(n), 32, '0'), 0, 100, 1.0, 0.5, 0.01 FROM generate_series(1, 20000) AS n
    """,
    "ANALYZE",
]


def test_a_scrape_reads_no_whole_table_of_runs_chunks_or_epochs(own_database: Callable[[str], str]) -> None:
    engine = make_engine(own_database("postgres"))
    with engine.begin() as connection:
        for statement in FILL:
            connection.execute(text(statement))
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    with make_sessionmaker(engine)() as session:
        figures = stats.run_stats(session=session)
    event.remove(engine, "before_cursor_execute", capture)
    with engine.connect() as connection:
        plans = [
            "\n".join(connection.exec_driver_sql("EXPLAIN " + sql, params).scalars())
            for sql, params in statements
        ]
    engine.dispose()

    assert figures.unfinished == {("train", "running"): RUNS // 1000}
    assert figures.oldest_queued_at is None
    assert len(plans) == 3  # unfinished runs, the oldest queued one, the counters
    for plan in plans:
        assert "Seq Scan on runs" not in plan, plan
        assert "series_chunks" not in plan, plan
        assert "epoch_metrics" not in plan, plan
