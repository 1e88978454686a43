"""The supervisor's pass: one failing item is logged and skipped, the rest of the pass goes on."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from celery import Celery
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from dispatch import webhook_pool, webhooks
from dispatch.supervisor import supervise_once
from store import runs
from store.db import transaction
from store.models import Run, RunKind, RunStatus
from store.settings import Settings
from tests.api.conftest import LOCAL_RECEIVERS, MakeClient, Receiver

pytestmark = pytest.mark.anyio
COMPARISON: dict[str, Any] = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "digits"},
    "epochs": 2,
    "repeats": 1,
    "clr_bounds_from_lr_find": True,
    "variants": [
        {
            "name": "clr",
            "optimizer": {"name": "sgd", "lr": 0.001},
            "schedule": {"policy": "triangular", "step_size_iter": 10},
        }
    ],
}


def failing_for(victim: str, action: Callable[..., Any], key: Callable[..., str]) -> Callable[..., Any]:
    """`action`, except that it raises for the item whose key is `victim`."""

    def act(*args: Any, **kwargs: Any) -> Any:
        if key(*args, **kwargs) == victim:
            raise RuntimeError(f"broken item {victim}")
        return action(*args, **kwargs)

    return act


@pytest.mark.parametrize("failing", ["release", "reap", "webhook"])
async def test_one_failing_item_stops_no_other_part_of_the_pass(
    make_client: MakeClient,
    auth: dict[str, str],
    owner: str,
    train_body: dict[str, Any],
    receiver: Receiver,
    make_run: Callable[..., Run],
    session_factory: sessionmaker[Session],
    celery_app: Celery,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
) -> None:
    client = await make_client(**LOCAL_RECEIVERS)
    comparison = (await client.post("/comparisons", json=COMPARISON, headers=auth)).json()
    lr_find = next(c["run"]["id"] for c in comparison["children"] if c["variant"] == "lr_find")
    silent = [make_run(RunKind.TRAIN, RunStatus.RUNNING).id for _ in range(2)]
    ended = []
    for _ in range(2):
        run = (
            await client.post("/train", json={**train_body, "callback_url": receiver.url}, headers=auth)
        ).json()
        await client.post(f"/runs/{run['id']}/cancel", headers=auth)
        ended.append(run["id"])
    with transaction(session_factory) as session:
        assert runs.start_run(session=session, run_id=lr_find, worker="test")
        result = {"suggested_max_lr": 0.05, "suggested_base_lr": 0.005}
        assert runs.transition(session=session, run_id=lr_find, to=RunStatus.SUCCEEDED, result=result)
        if failing == "release":
            # A run already holding the child slot the release needs makes that comparison's release fail.
            runs.create_run(
                session=session, owner=owner, kind=RunKind.TRAIN, request={}, max_attempts=1,
                comparison_id=comparison["id"], variant="clr", repeat=0,
            )  # fmt: skip
        long_ago = runs.utcnow() - timedelta(hours=1)
        session.execute(update(Run).where(Run.id.in_(silent)).values(heartbeat_at=long_ago))
    if failing == "reap":
        monkeypatch.setattr(runs, "reap", failing_for(silent[0], runs.reap, lambda **kw: kw["run_id"]))
    if failing == "webhook":
        broken = failing_for(ended[0], webhooks.attempt, lambda **kw: kw["due"].run_id)
        monkeypatch.setattr(webhook_pool, "attempt", broken)
    settings = make_settings(heartbeat_timeout=60, **LOCAL_RECEIVERS)

    with caplog.at_level(logging.ERROR):
        supervise_once(celery=celery_app, factory=session_factory, settings=settings)

    statuses = [(await client.get(f"/runs/{run_id}", headers=auth)).json()["status"] for run_id in silent]
    assert statuses == (["running", "queued"] if failing == "reap" else ["queued", "queued"])
    delivered = sorted(body["id"] for body in receiver.received)
    assert delivered == sorted(ended[1:] if failing == "webhook" else ended)
    held = (await client.get(f"/comparisons/{comparison['id']}", headers=auth)).json()
    assert held["pending_release"] is (failing == "release")
    logged = {
        "release": f"releasing comparison {comparison['id']} failed",
        "reap": f"reaping run {silent[0]} failed",
        "webhook": f"webhook delivery of run {ended[0]} failed",
    }
    assert logged[failing] in caplog.text
