"""Run queries and commands behind the /runs routes: pages of runs and cancelling."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.errors import ApiError
from store import runs
from store.models import Run, RunKind, RunStatus


def page_of_runs(
    *,
    session: Session,
    owner: str,
    limit: int,
    kind: RunKind | None = None,
    status: RunStatus | None = None,
    cursor: str | None = None,
) -> tuple[list[Run], str | None]:
    """Up to `limit` runs older than `cursor`, newest first, and the next page's cursor (None at the end)."""
    found = runs.list_runs(
        session=session, owner=owner, limit=limit + 1, kind=kind, status=status, before=cursor
    )
    if len(found) <= limit:
        return found, None
    page = found[:limit]
    return page, page[-1].id


def cancel_run(*, session: Session, run: Run) -> Run:
    """A queued run is cancelled at once, a running one is asked to stop; a finished one is a 409."""
    if runs.request_cancel(session=session, run_id=run.id) is None:
        session.rollback()
        raise ApiError(409, "run_terminal", f"run {run.id} is {run.status}, so there is nothing to cancel")
    session.commit()
    cancelled = runs.get_run(session=session, run_id=run.id)
    assert cancelled is not None, "a run is never deleted"
    return cancelled
