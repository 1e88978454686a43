"""One contract at the door: what the API accepts a worker can build, and what it refuses is a 422 first.

Each request below was answered 202 and then failed on the worker (or answered 500) before the request bodies
became clr's own job specs; now each is refused at submit with the field named, and nothing is queued.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store import comparisons
from store.jobspec import job_from_request
from store.models import Run
from tests.api.test_problems import assert_problem

pytestmark = pytest.mark.anyio

CNN = "vanilla_cnn"
COMPARISON: dict[str, Any] = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "digits"},
    "epochs": 2,
    "repeats": 1,
}


def queued_runs(factory: sessionmaker[Session], owner: str) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).where(Run.owner == owner)) or 0)


@pytest.mark.parametrize(
    ("change", "loc", "message"),
    [
        ({"model": {"name": CNN, "params": {"pretrained": True}}}, ["model", "params"], "pretrained"),
        ({"model": {"name": CNN, "params": {"dropout": 0.97}}}, ["model", "params", "dropout"], "0.95"),
        ({"dataset": {"name": "digits", "val_fraction": 0.95}}, ["dataset", "val_fraction"], "0.9"),
        ({"optimizer": {"name": "adam", "nesterov": True}}, ["optimizer", "nesterov"], "not used by adam"),
        ({"optimizer": {"name": "adam", "betas": [1.5, 0.9]}}, ["optimizer", "betas"], "[0, 1)"),
        ({"dataset": {"name": "imagefolder", "path": "a\x00b"}}, ["dataset", "path"], "control characters"),
        ({"model": {"name": "alexnet"}}, ["model", "name"], "installed model"),
        ({"model": {"name": CNN, "params": {"width": None}}}, ["model", "params", "width"], "not be null"),
        (
            {"dataset": {"name": "cifar10", "params": {"download": None}}},
            ["dataset", "params", "download"],
            "null",
        ),
    ],
)
async def test_what_a_worker_would_refuse_is_a_422_naming_the_field_and_nothing_is_queued(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    owner: str,
    session_factory: sessionmaker[Session],
    train_body: dict[str, Any],
    change: dict[str, Any],
    loc: list[str],
    message: str,
) -> None:
    problem = assert_problem(
        await client.post("/train", json={**train_body, **change}, headers=auth), 422, "validation_error"
    )
    assert problem["errors"][0]["loc"] == ["body", *loc], problem
    assert message in problem["detail"]
    assert queued_runs(session_factory, owner) == 0


async def test_a_comparison_variant_whose_constant_bounds_are_equal_is_accepted_and_every_child_is_runnable(
    client: httpx.AsyncClient, auth: dict[str, str], read_run: Any
) -> None:
    """The fuzzer's 500: the comparison accepted it, the child's schedule refused it in the transaction."""
    variant = {
        "name": "flat",
        "optimizer": {"name": "sgd"},
        "schedule": {"policy": "constant", "base_lr": 0.05, "max_lr": 0.05},
    }
    answer = await client.post("/comparisons", json={**COMPARISON, "variants": [variant]}, headers=auth)
    assert answer.status_code == 202, answer.text
    for child in answer.json()["children"]:
        run = read_run(child["run"]["id"])
        job_from_request(run.kind, run.request)  # what the worker does first


async def test_a_comparison_variant_no_worker_could_run_is_a_422_naming_the_variant(
    client: httpx.AsyncClient, auth: dict[str, str], owner: str, session_factory: sessionmaker[Session]
) -> None:
    variants = [
        {"name": "fine", "optimizer": {"name": "sgd"}},
        {"name": "bad", "optimizer": {"name": "adagrad"}, "schedule": {"policy": "triangular",
         "base_lr": 0.01, "max_lr": 0.1, "cycle_momentum": True}},
    ]  # fmt: skip
    answer = await client.post("/comparisons", json={**COMPARISON, "variants": variants}, headers=auth)
    problem = assert_problem(answer, 422, "validation_error")
    assert problem["errors"][0]["loc"][:3] == ["body", "variants", 1], problem
    assert "cycle_momentum" in problem["detail"]
    assert queued_runs(session_factory, owner) == 0


async def test_a_comparison_reading_data_outside_the_data_roots_is_422_like_a_single_run(
    client: httpx.AsyncClient, auth: dict[str, str], tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    (outside / "cats").mkdir(parents=True)
    body = {**COMPARISON, "dataset": {"name": "imagefolder", "path": str(outside)}}
    problem = assert_problem(
        await client.post("/comparisons", json=body, headers=auth), 422, "dataset_path_outside_roots"
    )
    assert "cats" not in problem["detail"]


async def test_a_comparison_over_the_queue_limit_is_429_and_commits_nothing(
    make_client: Any, auth: dict[str, str], owner: str, session_factory: sessionmaker[Session]
) -> None:
    client = await make_client(max_queued_per_owner=5)
    body = {**COMPARISON, "variants": [{"name": "a", "optimizer": {"name": "sgd"}}], "repeats": 3}
    assert (await client.post("/comparisons", json=body, headers=auth)).status_code == 202
    assert_problem(await client.post("/comparisons", json=body, headers=auth), 429, "too_many_queued")
    assert queued_runs(session_factory, owner) == 3


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_concurrent_comparisons_at_the_queue_limit_admit_exactly_what_fits(
    make_client: Any, auth: dict[str, str], owner: str, session_factory: sessionmaker[Session]
) -> None:
    client = await make_client(max_queued_per_owner=6)
    body = {**COMPARISON, "variants": [{"name": "a", "optimizer": {"name": "sgd"}}], "repeats": 2}
    answers = await asyncio.gather(*(client.post("/comparisons", json=body, headers=auth) for _ in range(8)))
    assert sorted(a.status_code for a in answers) == [202] * 3 + [429] * 5
    assert queued_runs(session_factory, owner) == 6
    with session_factory() as session:
        made = comparisons.list_comparisons(session=session, owner=owner, limit=20)
    assert len(made) == 3
