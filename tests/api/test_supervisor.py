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


async def test_a_comparison_that_cannot_be_released_stops_neither_reaping_nor_webhooks(
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
) -> None:
    client = await make_client(**LOCAL_RECEIVERS)
    comparison = (await client.post("/comparisons", json=COMPARISON, headers=auth)).json()
    lr_find = next(c["run"]["id"] for c in comparison["children"] if c["variant"] == "lr_find")
    silent = make_run(RunKind.TRAIN, RunStatus.RUNNING)
    ended = (
        await client.post("/train", json={**train_body, "callback_url": receiver.url}, headers=auth)
    ).json()
    await client.post(f"/runs/{ended['id']}/cancel", headers=auth)
    with transaction(session_factory) as session:
        assert runs.start_run(session=session, run_id=lr_find, worker="test")
        result = {"suggested_max_lr": 0.05, "suggested_base_lr": 0.005}
        assert runs.transition(session=session, run_id=lr_find, to=RunStatus.SUCCEEDED, result=result)
        # A run already holding the child slot the release needs makes that comparison's release fail.
        runs.create_run(
            session=session,
            owner=owner,
            kind=RunKind.TRAIN,
            request={},
            max_attempts=1,
            comparison_id=comparison["id"],
            variant="clr",
            repeat=0,
        )
        long_ago = runs.utcnow() - timedelta(hours=1)
        session.execute(update(Run).where(Run.id == silent.id).values(heartbeat_at=long_ago))
    settings = make_settings(heartbeat_timeout=60, **LOCAL_RECEIVERS)

    with caplog.at_level(logging.ERROR, logger="dispatch.supervisor"):
        supervise_once(celery=celery_app, factory=session_factory, settings=settings)

    reaped = (await client.get(f"/runs/{silent.id}", headers=auth)).json()
    assert reaped["status"] == "queued"
    assert [body["id"] for body in receiver.received] == [ended["id"]]
    assert f"releasing comparison {comparison['id']} failed" in caplog.text
    still_held = (await client.get(f"/comparisons/{comparison['id']}", headers=auth)).json()
    assert still_held["pending_release"] is True
