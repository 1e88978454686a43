"""POST/GET /comparisons: children per variant and seed, held CLR variants, aggregated curves, cancel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from dispatch.supervisor import supervise_once
from store import runs, series
from store.db import transaction
from store.models import RunStatus
from store.settings import Settings

pytestmark = pytest.mark.anyio

BASE: dict[str, Any] = {"model": {"name": "vanilla_cnn"}, "dataset": {"name": "digits"}, "epochs": 2}
TWO_VARIANTS = [
    {"name": "sgd", "optimizer": {"name": "sgd", "lr": 0.01}},
    {
        "name": "clr",
        "optimizer": {"name": "sgd", "lr": 0.001},
        "schedule": {"policy": "triangular", "step_size_iter": 10},
    },
]


def _finish(factory: sessionmaker[Session], run_id: str, result: dict[str, Any] | None = None) -> None:
    with transaction(factory) as session:
        assert runs.start_run(session=session, run_id=run_id, worker="test")
        assert runs.transition(session=session, run_id=run_id, to=RunStatus.SUCCEEDED, result=result or {})


@pytest.mark.usefixtures("relay")
async def test_default_comparison_queues_six_variants_times_three_seeds(
    client: httpx.AsyncClient, auth: dict[str, str], sent_run_ids: Callable[..., list[str]]
) -> None:
    answer = await client.post("/comparisons", json=BASE, headers=auth)

    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert answer.headers["Location"] == f"/comparisons/{body['id']}"
    labels = sorted((c["variant"], c["repeat"]) for c in body["children"])
    variants = ["adagrad", "adam", "rmsprop", "sgd", "sgd_clr", "sgd_momentum"]
    assert labels == [(v, r) for v in variants for r in range(3)]
    assert {c["run"]["request"]["seed"] for c in body["children"]} == {0, 1, 2}
    assert body["status"] == "running"
    assert body["counts"] == {"queued": 18}
    assert sorted(sent_run_ids(at_least=18)) == sorted(c["run"]["id"] for c in body["children"])


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"colour": "red"}, "validation_error"),
        ({"variants": []}, "validation_error"),
        ({"repeats": 0}, "validation_error"),
        ({"repeats": 11}, "validation_error"),
        ({"variants": [TWO_VARIANTS[0], TWO_VARIANTS[0]]}, "validation_error"),
        ({"variants": TWO_VARIANTS}, "validation_error"),
        ({"epochs": 200, "repeats": 10}, "limit_exceeded"),
    ],
    ids=[
        "unknown-field",
        "no-variants",
        "zero-repeats",
        "too-many-repeats",
        "same-name",
        "no-bounds",
        "limit",
    ],
)
async def test_invalid_comparison_is_422_problem(
    client: httpx.AsyncClient, auth: dict[str, str], change: dict[str, Any], code: str
) -> None:
    answer = await client.post("/comparisons", json={**BASE, **change}, headers=auth)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code


async def test_another_owners_comparison_is_404(
    client: httpx.AsyncClient, auth: dict[str, str], other_auth: dict[str, str]
) -> None:
    created = (await client.post("/comparisons", json={**BASE, "repeats": 1}, headers=auth)).json()

    for path in ("", "/curves"):
        answer = await client.get(f"/comparisons/{created['id']}{path}", headers=other_auth)
        assert answer.status_code == 404
    assert (await client.post(f"/comparisons/{created['id']}/cancel", headers=other_auth)).status_code == 404
    listed = (await client.get("/comparisons", headers=other_auth)).json()
    assert created["id"] not in [item["id"] for item in listed["items"]]


async def test_curves_give_mean_and_std_over_repeats_and_best_and_final_val_accuracy(
    client: httpx.AsyncClient, auth: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    body = {**BASE, "variants": TWO_VARIANTS[:1], "repeats": 2}
    created = (await client.post("/comparisons", json=body, headers=auth)).json()
    for child, accuracies in zip(created["children"], ([0.5, 0.7, 0.6], [0.7, 0.8, 0.8]), strict=True):
        with transaction(session_factory) as session:
            for epoch, accuracy in enumerate(accuracies):
                values = {"epoch": epoch, "step": 10 * epoch, "train_loss": 1.0, "train_accuracy": accuracy}
                values |= {"val_loss": 1.0, "val_accuracy": accuracy, "lr": 0.01}
                series.record_epoch(session=session, run_id=child["run"]["id"], values=values)

    answer = await client.get(f"/comparisons/{created['id']}/curves", headers=auth)

    assert answer.status_code == 200, answer.text
    sgd = answer.json()["variants"]["sgd"]
    assert sgd["epoch"] == [0, 1, 2]
    assert sgd["mean"]["val_accuracy"] == pytest.approx([0.6, 0.75, 0.7])
    assert sgd["std"]["val_accuracy"] == pytest.approx([0.1, 0.05, 0.1])
    summary = answer.json()["summary"]["sgd"]
    assert (summary["best_val_accuracy_mean"], summary["best_val_accuracy_std"]) == pytest.approx(
        (0.75, 0.05)
    )
    assert (summary["final_val_accuracy_mean"], summary["final_val_accuracy_std"]) == pytest.approx(
        (0.7, 0.1)
    )


async def test_clr_variants_wait_for_the_range_test_and_are_released_once_with_its_bounds(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    session_factory: sessionmaker[Session],
    celery_app: Celery,
    make_settings: Callable[..., Settings],
    read_run: Callable[[str], Any],
) -> None:
    body = {**BASE, "variants": TWO_VARIANTS, "repeats": 2, "clr_bounds_from_lr_find": True}
    headers = {**auth, "X-Request-ID": "platform-cmp-7"}
    created = (await client.post("/comparisons", json=body, headers=headers)).json()
    assert created["pending_release"] is True
    assert sorted(c["variant"] for c in created["children"]) == ["lr_find", "sgd", "sgd"]
    lr_find = next(c["run"] for c in created["children"] if c["variant"] == "lr_find")
    # the range test sweeps the held variant's optimizer past end_lr, so its minimum is a real one
    assert lr_find["request"]["optimizer"] == {**lr_find["request"]["optimizer"], "name": "sgd", "lr": 0.001}
    assert lr_find["request"]["past_end_lr"] is True
    settings = make_settings()

    supervise_once(celery=celery_app, factory=session_factory, settings=settings)
    assert len((await client.get(f"/comparisons/{created['id']}", headers=auth)).json()["children"]) == 3

    _finish(session_factory, lr_find["id"], {"suggested_max_lr": 0.05, "suggested_base_lr": 0.005})
    supervise_once(celery=celery_app, factory=session_factory, settings=settings)
    supervise_once(celery=celery_app, factory=session_factory, settings=settings)

    after = (await client.get(f"/comparisons/{created['id']}", headers=auth)).json()
    clr = [c["run"] for c in after["children"] if c["variant"] == "clr"]
    assert len(clr) == 2
    assert after["pending_release"] is False
    assert {(r["request"]["schedule"]["base_lr"], r["request"]["schedule"]["max_lr"]) for r in clr} == {
        (0.005, 0.05)
    }
    # the released variants carry the comparison's request id to the worker's log lines, as the first ones
    assert {read_run(c["run"]["id"]).request_id for c in after["children"]} == {"platform-cmp-7"}


async def test_a_cyclic_variant_that_gives_its_bounds_keeps_them_and_does_not_wait(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    given = {
        "name": "clr_given",
        "optimizer": {"name": "sgd", "lr": 0.001},
        "schedule": {"policy": "triangular", "step_size_iter": 10, "base_lr": 0.002, "max_lr": 0.02},
    }
    body = {**BASE, "variants": [*TWO_VARIANTS, given], "repeats": 1, "clr_bounds_from_lr_find": True}

    created = (await client.post("/comparisons", json=body, headers=auth)).json()

    assert created["pending_release"] is True  # "clr" still waits for the range test
    assert sorted(c["variant"] for c in created["children"]) == ["clr_given", "lr_find", "sgd"]
    run = next(c["run"] for c in created["children"] if c["variant"] == "clr_given")
    assert (run["request"]["schedule"]["base_lr"], run["request"]["schedule"]["max_lr"]) == (0.002, 0.02)
    assert run["request"]["schedule"].get("from_lr_find") is None


async def test_failed_range_test_stops_the_held_variants_and_says_why(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    session_factory: sessionmaker[Session],
    celery_app: Celery,
    make_settings: Callable[..., Settings],
) -> None:
    body = {**BASE, "variants": TWO_VARIANTS, "repeats": 1, "clr_bounds_from_lr_find": True}
    created = (await client.post("/comparisons", json=body, headers=auth)).json()
    lr_find = next(c["run"] for c in created["children"] if c["variant"] == "lr_find")
    with transaction(session_factory) as session:
        assert runs.transition(session=session, run_id=lr_find["id"], to=RunStatus.FAILED)

    supervise_once(celery=celery_app, factory=session_factory, settings=make_settings())

    after = (await client.get(f"/comparisons/{created['id']}", headers=auth)).json()
    assert after["pending_release"] is False
    assert "ended failed" in after["release_error"]["detail"]
    assert [c["variant"] for c in after["children"] if c["variant"] == "clr"] == []


async def test_cancel_cancels_every_queued_child(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    created = (await client.post("/comparisons", json={**BASE, "repeats": 1}, headers=auth)).json()

    answer = await client.post(f"/comparisons/{created['id']}/cancel", headers=auth)

    assert answer.status_code == 202, answer.text
    assert answer.json()["counts"] == {"cancelled": 6}
    assert answer.json()["status"] == "cancelled"


async def test_a_failed_child_makes_the_comparison_failed_beside_cancelled_ones(
    client: httpx.AsyncClient, auth: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    created = (await client.post("/comparisons", json={**BASE, "repeats": 1}, headers=auth)).json()
    path = f"/comparisons/{created['id']}"
    with transaction(session_factory) as session:
        assert runs.transition(
            session=session, run_id=created["children"][0]["run"]["id"], to=RunStatus.FAILED
        )

    cancelled = (await client.post(f"{path}/cancel", headers=auth)).json()
    read = (await client.get(path, headers=auth)).json()
    curves = (await client.get(f"{path}/curves", headers=auth)).json()

    assert cancelled["counts"] == {"failed": 1, "cancelled": len(created["children"]) - 1}
    assert (cancelled["status"], read["status"], curves["status"]) == ("failed", "failed", "failed")


async def test_list_shows_the_callers_comparisons_newest_first(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    first = (await client.post("/comparisons", json={**BASE, "repeats": 1}, headers=auth)).json()
    second = (await client.post("/comparisons", json={**BASE, "repeats": 1}, headers=auth)).json()

    page = (await client.get("/comparisons", params={"limit": 1}, headers=auth)).json()

    assert [item["id"] for item in page["items"]] == [second["id"]]
    rest = (await client.get("/comparisons", params={"cursor": page["next_cursor"]}, headers=auth)).json()
    assert [item["id"] for item in rest["items"]] == [first["id"]]
