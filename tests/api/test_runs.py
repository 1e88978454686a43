"""GET /runs/{id}, GET /runs and POST /runs/{id}/cancel, always within the caller's own runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import runs
from store.db import transaction
from store.models import Run, RunKind, RunStatus

pytestmark = pytest.mark.anyio


async def test_a_run_reads_back_with_its_progress_as_a_fraction(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    make_run: Callable[..., Run],
    session_factory: sessionmaker[Session],
) -> None:
    run = make_run(RunKind.TRAIN, RunStatus.RUNNING)
    with transaction(session_factory) as session:
        runs.record_progress(session=session, run_id=run.id, attempt=1, step=5, total=20, epoch=1)

    answer = await client.get(f"/runs/{run.id}", headers=auth)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["id"], body["kind"], body["status"]) == (run.id, "train", "running")
    assert body["progress"] == {"step": 5, "total_steps": 20, "epoch": 1, "fraction": 0.25}
    assert body["started_at"].endswith("Z")


async def test_an_unknown_run_is_404(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    answer = await client.get(f"/runs/{'f' * 32}", headers=auth)
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"


@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("GET", "/curves"), ("POST", "/cancel")])
async def test_another_owners_run_is_404(
    client: httpx.AsyncClient,
    other_auth: dict[str, str],
    make_run: Callable[..., Run],
    read_run: Callable[[str], Run | None],
    method: str,
    suffix: str,
) -> None:
    run = make_run()
    answer = await client.request(method, f"/runs/{run.id}{suffix}", headers=other_auth)

    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"
    stored = read_run(run.id)
    assert stored is not None
    assert stored.status == RunStatus.QUEUED


async def test_another_owners_runs_are_not_listed(
    client: httpx.AsyncClient, other_auth: dict[str, str], make_run: Callable[..., Run]
) -> None:
    make_run()
    answer = await client.get("/runs", headers=other_auth)
    assert answer.json() == {"items": [], "next_cursor": None}


async def test_paging_lists_every_run_exactly_once_newest_first(
    client: httpx.AsyncClient, auth: dict[str, str], make_run: Callable[..., Run]
) -> None:
    created = []
    for i in range(7):
        created.append(make_run(RunKind.TRAIN if i % 2 else RunKind.LR_FIND).id)
        time.sleep(0.002)  # ids order runs by millisecond
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/runs", params=params, headers=auth)).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == created[::-1]
    assert pages == 3


async def test_the_page_size_is_capped_by_the_settings(
    make_client: Callable[..., Any], auth: dict[str, str], make_run: Callable[..., Run]
) -> None:
    for _ in range(3):
        make_run()
    client = await make_client(max_page_size=2)
    page = (await client.get("/runs", params={"limit": 1000}, headers=auth)).json()
    assert len(page["items"]) == 2
    assert page["next_cursor"] == page["items"][-1]["id"]


async def test_runs_are_filtered_by_kind_and_status(
    client: httpx.AsyncClient, auth: dict[str, str], make_run: Callable[..., Run]
) -> None:
    queued_find = make_run(RunKind.LR_FIND)
    train = make_run(RunKind.TRAIN)
    done_find = make_run(RunKind.LR_FIND, RunStatus.SUCCEEDED, result={"suggested_max_lr": 0.1})

    async def ids(**params: str) -> set[str]:
        answer = await client.get("/runs", params=params, headers=auth)
        return {item["id"] for item in answer.json()["items"]}

    assert await ids(kind="train") == {train.id}
    assert await ids(kind="lr_find") == {queued_find.id, done_find.id}
    assert await ids(status="succeeded") == {done_find.id}
    assert await ids(kind="lr_find", status="queued") == {queued_find.id}


async def test_an_unknown_status_filter_is_422_listing_the_allowed_values(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    answer = await client.get("/runs", params={"status": "done"}, headers=auth)
    assert answer.status_code == 422
    assert answer.json()["code"] == "validation_error"
    assert "'queued'" in answer.json()["errors"][0]["msg"]


@pytest.mark.parametrize(("before", "after"), [("queued", "cancelled"), ("running", "cancelling")])
async def test_cancel_stops_a_queued_run_at_once_and_asks_a_running_one_to_stop(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    make_run: Callable[..., Run],
    read_run: Callable[[str], Run | None],
    before: str,
    after: str,
) -> None:
    run = make_run(RunKind.TRAIN, RunStatus(before))
    answer = await client.post(f"/runs/{run.id}/cancel", headers=auth)

    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == after
    assert answer.json()["is_terminal"] == (after == "cancelled")
    stored = read_run(run.id)
    assert stored is not None
    assert stored.status == after


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled"])
async def test_cancelling_a_finished_run_is_409(
    client: httpx.AsyncClient, auth: dict[str, str], make_run: Callable[..., Run], status: str
) -> None:
    run = make_run(RunKind.LR_FIND, RunStatus(status), result={"suggested_max_lr": None})
    answer = await client.post(f"/runs/{run.id}/cancel", headers=auth)

    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "run_terminal"
