"""Run queries and commands behind the /runs routes: pages of runs, cancelling and deleting."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.orm import Session

from api.errors import ApiError
from store import runs
from store.filters import RunFilter
from store.models import Run, RunStatus
from store.problems import ProblemCode

log = logging.getLogger(__name__)


def page_of_runs(
    *, session: Session, owner: str, limit: int, where: RunFilter, cursor: str | None = None
) -> tuple[list[Run], str | None]:
    """Up to `limit` runs passing `where` older than `cursor`, newest first, and the next cursor or None."""
    found = runs.list_runs(session=session, owner=owner, limit=limit + 1, where=where, before=cursor)
    if len(found) <= limit:
        return found, None
    page = found[:limit]
    return page, page[-1].id


def cancel_run(*, session: Session, run: Run) -> Run:
    """A queued run is cancelled at once, a running one is asked to stop; a finished one is a 409."""
    if runs.request_cancel(session=session, run_id=run.id) is None:
        session.rollback()
        raise ApiError(
            ProblemCode.RUN_TERMINAL, f"run {run.id} is {run.status}, so there is nothing to cancel"
        )
    session.commit()
    cancelled = runs.get_run(session=session, run_id=run.id)
    if cancelled is None:  # cancelled, hence ended, and deleted by another request right after
        raise ApiError(ProblemCode.NOT_FOUND, f"no run with id {run.id!r}")
    return cancelled


def delete_run(*, session: Session, run: Run, artifact_dir: Path) -> None:
    """Delete an ended run that belongs to no comparison, then its files; 409 otherwise."""
    if run.comparison_id is not None:
        raise ApiError(
            ProblemCode.RUN_IN_COMPARISON,
            f"run {run.id} belongs to comparison {run.comparison_id}; delete the comparison instead",
        )
    if not runs.delete_terminal(session=session, run_id=run.id, owner=run.owner):
        session.rollback()
        if RunStatus(run.status).is_terminal:  # it ended before, so another request deleted it meanwhile
            raise ApiError(ProblemCode.NOT_FOUND, f"no run with id {run.id!r}")
        raise ApiError(
            ProblemCode.RUN_ACTIVE, f"run {run.id} is {run.status}; cancel it and delete it once ended"
        )
    session.commit()
    remove_artifacts(artifact_dir=artifact_dir, run_ids=[run.id])


def remove_artifacts(*, artifact_dir: Path, run_ids: Iterable[str]) -> None:
    """Remove deleted runs' folders of checkpoints and weights; a failure is logged, the rows are gone."""
    for run_id in run_ids:
        try:
            shutil.rmtree(artifact_dir / run_id)
        except FileNotFoundError:
            continue
        except OSError as error:
            log.warning("could not remove the files of deleted run %s: %s", run_id, error)
