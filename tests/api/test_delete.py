"""DELETE /runs/{id} and /comparisons/{id}: ended work goes with everything it left; the rest is 409."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store import comparisons, runs, series, webhooks
from store.db import transaction
from store.models import ComparisonTag, EpochMetric, Run, RunKind, RunStatus, RunTag, SeriesChunk
from tests.api.conftest import COMPARISON_BODY

pytestmark = pytest.mark.anyio

COMPARISON: dict[str, Any] = {**COMPARISON_BODY, "repeats": 2, "tags": ["sweep"]}
ENDINGS = [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED]


def end(factory: sessionmaker[Session], run_id: str, to: RunStatus) -> None:
    with transaction(factory) as session:
        if to != RunStatus.CANCELLED:
            assert runs.start_run(session=session, run_id=run_id, worker="test")
        assert runs.transition(session=session, run_id=run_id, to=to)


def leave_traces(factory: sessionmaker[Session], artifact_dir: Path, run_id: str) -> None:
    """What a worker leaves: batch points and their overview, an epoch row, a checkpoint and weights."""
    steps = np.arange(40.0)
    columns = {"step": steps, "epoch": steps // 20, "lr": np.full(40, 0.01), "loss": 3 - steps / 40}
    with transaction(factory) as session:
        series.append_chunk(session=session, run_id=run_id, series="batch", columns=columns)
        values: dict[str, float | None] = {"epoch": 0, "step": 19, "train_loss": 2.5, "train_accuracy": 0.4}
        values |= {"lr": 0.01, "val_loss": None, "val_accuracy": None}
        assert series.record_epoch(session=session, run_id=run_id, values=values)
    (artifact_dir / run_id).mkdir(parents=True)
    (artifact_dir / run_id / "checkpoint.pt").write_bytes(b"checkpoint")
    (artifact_dir / run_id / "model.pt").write_bytes(b"weights")


def rows_left(factory: sessionmaker[Session], run_ids: list[str]) -> dict[str, int]:
    counted = {
        "runs": Run.id,
        "series": SeriesChunk.run_id,
        "epochs": EpochMetric.run_id,
        "tags": RunTag.run_id,
    }
    with factory() as session:
        return {
            name: session.scalar(select(func.count()).where(column.in_(run_ids))) or 0
            for name, column in counted.items()
        }


def queued_counter_is_right(factory: sessionmaker[Session], owner: str) -> int:
    """The owner's queued runs as the trigger-kept counter says, checked against a count of the runs."""
    with factory() as session:
        counted = runs.count_queued(session=session, owner=owner)
        real = select(func.count()).where(Run.owner == owner, Run.status == RunStatus.QUEUED)
        assert counted == session.scalar(real)
    return counted


@pytest.fixture
async def client_with_artifacts(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]], tmp_path: Path
) -> httpx.AsyncClient:
    return await make_client(artifact_dir=tmp_path)


@pytest.mark.parametrize("ending", ENDINGS)
async def test_an_ended_run_is_deleted_with_its_curves_epochs_tags_and_files(
    client_with_artifacts: httpx.AsyncClient,
    auth: dict[str, str],
    owner: str,
    train_body: dict[str, Any],
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    ending: RunStatus,
) -> None:
    client = client_with_artifacts
    run_id = (await client.post("/train", json={**train_body, "tags": ["gone"]}, headers=auth)).json()["id"]
    kept = (await client.post("/train", json={**train_body, "tags": ["gone"]}, headers=auth)).json()["id"]
    leave_traces(session_factory, tmp_path, run_id)
    end(session_factory, run_id, ending)

    answer = await client.delete(f"/runs/{run_id}", headers=auth)

    assert answer.status_code == 204, answer.text
    assert answer.content == b""
    assert (await client.get(f"/runs/{run_id}", headers=auth)).status_code == 404
    assert rows_left(session_factory, [run_id]) == {"runs": 0, "series": 0, "epochs": 0, "tags": 0}
    assert not (tmp_path / run_id).exists()
    listed = (await client.get("/runs", params={"tag": "gone"}, headers=auth)).json()["items"]
    assert [run["id"] for run in listed] == [kept]
    again = await client.delete(f"/runs/{run_id}", headers=auth)
    assert (again.status_code, again.json()["code"]) == (404, "not_found")
    assert queued_counter_is_right(session_factory, owner) == 1


@pytest.mark.parametrize("status", [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLING])
async def test_a_run_queued_or_running_is_409_and_kept(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    owner: str,
    make_run: Callable[..., Run],
    read_run: Callable[[str], Run | None],
    session_factory: sessionmaker[Session],
    status: RunStatus,
) -> None:
    run = make_run(RunKind.TRAIN, status)

    answer = await client.delete(f"/runs/{run.id}", headers=auth)

    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "run_active"
    stored = read_run(run.id)
    assert stored is not None
    assert stored.status == status
    assert queued_counter_is_right(session_factory, owner) == (1 if status == RunStatus.QUEUED else 0)


async def test_another_owners_run_is_404_and_kept(
    client: httpx.AsyncClient,
    other_auth: dict[str, str],
    make_run: Callable[..., Run],
    read_run: Callable[[str], Run | None],
) -> None:
    run = make_run(RunKind.LR_FIND, RunStatus.SUCCEEDED, result={})

    answer = await client.delete(f"/runs/{run.id}", headers=other_auth)

    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")
    assert read_run(run.id) is not None


async def test_a_comparisons_run_is_409_naming_the_comparison(
    client: httpx.AsyncClient, auth: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    created = (await client.post("/comparisons", json=COMPARISON, headers=auth)).json()
    child = created["children"][0]["run"]["id"]
    end(session_factory, child, RunStatus.SUCCEEDED)

    answer = await client.delete(f"/runs/{child}", headers=auth)

    assert answer.status_code == 409
    assert answer.json()["code"] == "run_in_comparison"
    assert created["id"] in answer.json()["detail"]


async def test_a_deleted_run_drops_its_pending_webhook(
    client: httpx.AsyncClient, auth: dict[str, str], owner: str, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        run = runs.create_run(
            session=session,
            owner=owner,
            kind=RunKind.LR_FIND,
            request={},
            max_attempts=1,
            callback_url="https://hooks.example.org/clr",
        )
    end(session_factory, run.id, RunStatus.FAILED)

    def due() -> list[str]:
        with session_factory() as session:
            return [
                r.id
                for r in webhooks.due_deliveries(
                    session=session, now=runs.utcnow(), limit=1000, per_owner=1000
                )
            ]

    assert run.id in due()
    assert (await client.delete(f"/runs/{run.id}", headers=auth)).status_code == 204
    assert run.id not in due()


async def test_an_ended_comparison_is_deleted_with_its_runs_and_their_files(
    client_with_artifacts: httpx.AsyncClient,
    auth: dict[str, str],
    owner: str,
    train_body: dict[str, Any],
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    client = client_with_artifacts
    created = (await client.post("/comparisons", json=COMPARISON, headers=auth)).json()
    kept = (await client.post("/train", json=train_body, headers=auth)).json()["id"]
    children = [child["run"]["id"] for child in created["children"]]
    for child, ending in zip(children, [RunStatus.SUCCEEDED, RunStatus.CANCELLED], strict=True):
        leave_traces(session_factory, tmp_path, child)
        end(session_factory, child, ending)

    answer = await client.delete(f"/comparisons/{created['id']}", headers=auth)

    assert answer.status_code == 204, answer.text
    assert (await client.get(f"/comparisons/{created['id']}", headers=auth)).status_code == 404
    assert rows_left(session_factory, children) == {"runs": 0, "series": 0, "epochs": 0, "tags": 0}
    assert not any((tmp_path / child).exists() for child in children)
    with session_factory() as session:
        assert comparisons.get_comparison(session=session, comparison_id=created["id"], owner=owner) is None
        assert session.scalar(select(func.count()).where(ComparisonTag.comparison_id == created["id"])) == 0
    assert (await client.get("/comparisons", params={"tag": "sweep"}, headers=auth)).json()["items"] == []
    assert (await client.get(f"/runs/{kept}", headers=auth)).status_code == 200
    assert queued_counter_is_right(session_factory, owner) == 1


async def test_a_comparison_with_a_queued_run_is_409_and_kept(
    client: httpx.AsyncClient, auth: dict[str, str], owner: str, session_factory: sessionmaker[Session]
) -> None:
    created = (await client.post("/comparisons", json=COMPARISON, headers=auth)).json()
    end(session_factory, created["children"][0]["run"]["id"], RunStatus.SUCCEEDED)

    answer = await client.delete(f"/comparisons/{created['id']}", headers=auth)

    assert answer.status_code == 409, answer.text
    assert answer.json()["code"] == "comparison_active"
    after = (await client.get(f"/comparisons/{created['id']}", headers=auth)).json()
    assert after["counts"] == {"succeeded": 1, "queued": 1}
    assert queued_counter_is_right(session_factory, owner) == 1


async def test_a_comparison_whose_held_variants_await_release_is_409(
    client: httpx.AsyncClient, auth: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    body = {
        **COMPARISON,
        "clr_bounds_from_lr_find": True,
        "variants": [{"name": "clr", "optimizer": {"name": "sgd"}, "schedule": {"policy": "triangular"}}],
    }
    created = (await client.post("/comparisons", json=body, headers=auth)).json()
    [lr_find] = [child["run"]["id"] for child in created["children"]]
    end(session_factory, lr_find, RunStatus.SUCCEEDED)  # every run ended, but no release has run yet

    answer = await client.delete(f"/comparisons/{created['id']}", headers=auth)

    assert answer.status_code == 409, answer.text
    assert answer.json()["code"] == "comparison_active"


async def test_another_owners_comparison_is_404_and_kept(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    other_auth: dict[str, str],
    session_factory: sessionmaker[Session],
) -> None:
    created = (await client.post("/comparisons", json=COMPARISON, headers=auth)).json()
    for child in created["children"]:
        end(session_factory, child["run"]["id"], RunStatus.SUCCEEDED)

    answer = await client.delete(f"/comparisons/{created['id']}", headers=other_auth)

    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")
    assert (await client.get(f"/comparisons/{created['id']}", headers=auth)).status_code == 200
