"""POST /lr-find and /train: commit, dispatch by id, idempotency, limits and data roots."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from celery import Celery
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.relay import relay_once
from dispatch.supervisor import supervise_once
from store import runs
from store.db import transaction
from store.models import Run, RunKind, RunStatus
from store.settings import Settings

pytestmark = pytest.mark.anyio


async def test_lr_find_answers_202_with_location_and_the_queued_run(
    client: httpx.AsyncClient, auth: dict[str, str], lr_find_body: dict[str, Any]
) -> None:
    answer = await client.post("/lr-find", json=lr_find_body, headers=auth)

    assert answer.status_code == 202, answer.text
    run = answer.json()
    assert answer.headers["location"] == f"/runs/{run['id']}"
    assert (run["kind"], run["status"], run["is_terminal"]) == ("lr_find", "queued", False)
    assert run["progress"] == {"step": 0, "total_steps": None, "epoch": None, "fraction": None}
    assert run["request"]["batch_size"] == 16
    assert run["request"]["start_lr"] == 1e-7, "defaults are stored with the request"


@pytest.mark.usefixtures("relay")
async def test_a_submitted_run_is_committed_then_sent_to_the_broker_as_its_id_alone(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    train_body: dict[str, Any],
    sent_run_ids: Callable[..., list[str]],
    read_run: Callable[[str], Run | None],
) -> None:
    answer = await client.post("/train", json=train_body, headers=auth)

    assert answer.status_code == 202, answer.text
    run_id = answer.json()["id"]
    stored = read_run(run_id)
    assert stored is not None
    assert (stored.kind, stored.status) == (RunKind.TRAIN, RunStatus.QUEUED)
    assert stored.request["schedule"]["max_lr"] == 0.01
    assert sent_run_ids(at_least=1) == [run_id]
    deadline = time.monotonic() + 10
    while (stored := read_run(run_id)) is not None and stored.dispatched_at is None:
        assert time.monotonic() < deadline, "the relay never recorded the run as dispatched"
        time.sleep(0.01)


async def test_an_unreachable_broker_still_answers_202_fast_and_the_relay_keeps_the_run_for_later(
    make_client: Callable[..., Any],
    down_celery_app: Celery,
    session_factory: sessionmaker[Session],
    auth: dict[str, str],
    lr_find_body: dict[str, Any],
    read_run: Callable[[str], Run | None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await make_client(celery=down_celery_app)
    started = time.monotonic()
    answer = await client.post("/lr-find", json=lr_find_body, headers=auth)
    assert time.monotonic() - started < 1, "the answer does not wait for the broker"
    with caplog.at_level(logging.WARNING):
        sent = relay_once(celery=down_celery_app, factory=session_factory, queue="q", batch_size=1000)

    assert answer.status_code == 202, answer.text
    assert sent == 0
    assert "could not send runs" in caplog.text
    stored = read_run(answer.json()["id"])
    assert stored is not None
    assert stored.status == RunStatus.QUEUED
    assert stored.dispatched_at is None, "a refused publish leaves the run to be claimed again"


@pytest.mark.usefixtures("relay")
async def test_the_same_idempotency_key_and_body_return_the_first_run_without_sending_it_again(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    lr_find_body: dict[str, Any],
    sent_run_ids: Callable[..., list[str]],
) -> None:
    headers = {**auth, "Idempotency-Key": "retry-1"}
    first = await client.post("/lr-find", json=lr_find_body, headers=headers)
    again = await client.post("/lr-find", json=lr_find_body, headers=headers)

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    assert sent_run_ids(at_least=1) == [first.json()["id"]]


async def test_two_racing_requests_with_one_idempotency_key_make_one_run(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    owner: str,
    lr_find_body: dict[str, Any],
    session_factory: sessionmaker[Session],
) -> None:
    rounds = 5
    for attempt in range(rounds):
        headers = {**auth, "Idempotency-Key": f"race-{attempt}"}
        answers = await asyncio.gather(
            *(client.post("/lr-find", json=lr_find_body, headers=headers) for _ in range(2))
        )

        assert sorted(answer.status_code for answer in answers) == [200, 202], [a.text for a in answers]
        assert answers[0].json()["id"] == answers[1].json()["id"]
    with session_factory() as session:
        made = session.scalar(select(func.count()).select_from(Run).where(Run.owner == owner))
    assert made == rounds


async def test_an_idempotency_key_reused_with_another_body_is_422(
    client: httpx.AsyncClient, auth: dict[str, str], lr_find_body: dict[str, Any]
) -> None:
    headers = {**auth, "Idempotency-Key": "retry-2"}
    await client.post("/lr-find", json=lr_find_body, headers=headers)
    answer = await client.post("/lr-find", json={**lr_find_body, "batch_size": 32}, headers=headers)

    assert answer.status_code == 422
    assert answer.json()["code"] == "idempotency_key_reused"


async def test_idempotency_keys_are_per_owner(
    client: httpx.AsyncClient, auth: dict[str, str], other_auth: dict[str, str], lr_find_body: dict[str, Any]
) -> None:
    mine = await client.post("/lr-find", json=lr_find_body, headers={**auth, "Idempotency-Key": "k"})
    theirs = await client.post("/lr-find", json=lr_find_body, headers={**other_auth, "Idempotency-Key": "k"})

    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json()["id"] != theirs.json()["id"]


@pytest.mark.parametrize(
    ("path", "change", "limits", "field"),
    [
        ("/lr-find", {"batch_size": 65}, {"max_batch_size": 64}, "batch_size"),
        ("/lr-find", {"num_iter": 1001}, {"max_num_iter": 1000}, "num_iter"),
        ("/lr-find", {"epochs": 5.5}, {"max_epochs": 5}, "epochs"),
        ("/train", {"epochs": 6}, {"max_epochs": 5}, "epochs"),
    ],
)
async def test_requests_above_the_service_limits_are_422_naming_the_field_and_limit(
    make_client: Callable[..., Any],
    auth: dict[str, str],
    lr_find_body: dict[str, Any],
    train_body: dict[str, Any],
    path: str,
    change: dict[str, Any],
    limits: dict[str, int],
    field: str,
) -> None:
    client = await make_client(**limits)
    body = {**(lr_find_body if path == "/lr-find" else train_body), **change}
    answer = await client.post(path, json=body, headers=auth)

    assert answer.status_code == 422
    problem = answer.json()
    assert problem["code"] == "limit_exceeded"
    assert problem["errors"][0]["loc"] == ["body", field]
    assert str(next(iter(limits.values()))) in problem["detail"]


async def test_too_many_queued_runs_is_429_with_retry_after_for_that_owner_only(
    make_client: Callable[..., Any],
    auth: dict[str, str],
    other_auth: dict[str, str],
    lr_find_body: dict[str, Any],
) -> None:
    client = await make_client(max_queued_per_owner=2)
    for _ in range(2):
        assert (await client.post("/lr-find", json=lr_find_body, headers=auth)).status_code == 202
    refused = await client.post("/lr-find", json=lr_find_body, headers=auth)
    other = await client.post("/lr-find", json=lr_find_body, headers=other_auth)

    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "too_many_queued"
    assert int(refused.headers["retry-after"]) > 0
    assert other.status_code == 202


@pytest.mark.parametrize("where", ["relative", "absolute"])
async def test_a_dataset_path_inside_a_data_root_is_accepted(
    client: httpx.AsyncClient, auth: dict[str, str], lr_find_body: dict[str, Any], data_root: Path, where: str
) -> None:
    (data_root / "cifar").mkdir()
    path = "cifar" if where == "relative" else str(data_root / "cifar")
    body = {**lr_find_body, "dataset": {"name": "cifar10", "path": path}}

    answer = await client.post("/lr-find", json=body, headers=auth)

    assert answer.status_code == 202, answer.text
    assert answer.json()["request"]["dataset"]["path"] == path


@pytest.mark.parametrize("escape", ["dot-dot", "absolute-elsewhere", "symlink-out"])
async def test_a_dataset_path_resolving_outside_the_data_roots_is_422(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    lr_find_body: dict[str, Any],
    data_root: Path,
    tmp_path: Path,
    escape: str,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (data_root / "link").symlink_to(elsewhere, target_is_directory=True)
    path = {"dot-dot": "cifar/../../elsewhere", "absolute-elsewhere": str(elsewhere), "symlink-out": "link"}[
        escape
    ]
    body = {**lr_find_body, "dataset": {"name": "imagefolder", "path": path}}

    answer = await client.post("/lr-find", json=body, headers=auth)

    assert answer.status_code == 422
    assert answer.json()["code"] == "dataset_path_outside_roots"
    assert answer.json()["errors"][0]["loc"] == ["body", "dataset", "path"]


async def test_an_image_folder_of_one_class_is_422_at_submit_naming_the_dataset(
    client: httpx.AsyncClient, auth: dict[str, str], lr_find_body: dict[str, Any], data_root: Path
) -> None:
    (data_root / "one" / "only").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(data_root / "one" / "only" / "a.png")
    body = {**lr_find_body, "dataset": {"name": "imagefolder", "path": "one"}}

    answer = await client.post("/lr-find", json=body, headers=auth)

    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["body", "dataset"]
    assert "needs images of two classes, has ('only',)" in answer.json()["errors"][0]["msg"]


def test_a_run_committed_but_never_sent_is_sent_by_the_supervisor(
    session_factory: sessionmaker[Session],
    celery_app: Celery,
    make_settings: Callable[..., Settings],
    sent_run_ids: Callable[..., list[str]],
    read_run: Callable[[str], Run | None],
) -> None:
    with transaction(session_factory) as session:  # as if no relay were running
        orphan = runs.create_run(
            session=session, owner="crashed", kind=RunKind.LR_FIND, request={}, max_attempts=1
        ).id
    settings = make_settings(dispatch_timeout=0)

    sent = supervise_once(celery=celery_app, factory=session_factory, settings=settings)

    assert orphan in sent
    assert orphan in sent_run_ids(at_least=1)
    stored = read_run(orphan)
    assert stored is not None
    assert stored.dispatched_at is not None
