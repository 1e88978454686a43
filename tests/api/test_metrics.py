"""GET /metrics: Prometheus text (optionally behind a token), HTTP by route template, run figures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from importlib.metadata import version

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from store import runs, webhooks
from store.db import transaction
from store.models import Run, RunKind, RunStatus
from tests.api.conftest import MakeClient
from worker.recorder import Recorder

pytestmark = pytest.mark.anyio


async def _scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = await client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


async def test_http_requests_are_counted_by_route_template_not_raw_path(
    client: httpx.AsyncClient, auth: dict[str, str], make_run: Callable[..., Run]
) -> None:
    run = make_run(RunKind.TRAIN, RunStatus.QUEUED)
    await client.get(f"/runs/{run.id}", headers=auth)
    await client.get(f"/runs/{run.id}", headers=auth)

    answer = await client.get("/metrics")
    samples = await _scrape(client)

    assert run.id not in answer.text
    labels = (("method", "GET"), ("route", "/runs/{run_id}"), ("status", "200"))
    assert samples[("clr_http_requests_total", labels)] == 2
    latency = ("clr_http_request_duration_seconds_count", (("method", "GET"), ("route", "/runs/{run_id}")))
    assert samples[latency] == 2


async def test_run_figures_come_from_the_database_at_scrape(
    client: httpx.AsyncClient, make_run: Callable[..., Run], session_factory: sessionmaker[Session]
) -> None:
    before = await _scrape(client)
    make_run(RunKind.TRAIN, RunStatus.QUEUED)
    training = make_run(RunKind.TRAIN, RunStatus.RUNNING)
    with Recorder(session_factory, training.id, attempt=1) as recorder:  # as the worker writes points
        recorder.add_points("batch", {"step": range(7), "epoch": [0] * 7, "lr": [1.0] * 7, "loss": [1.0] * 7})
    with transaction(session_factory) as session:
        assert runs.transition(session=session, run_id=training.id, to=RunStatus.SUCCEEDED, result={})

    after = await _scrape(client)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("clr_runs", kind="train", status="queued") == 1
    assert delta("clr_runs_ended_total", kind="train", status="succeeded") == 1
    assert delta("clr_queue_depth") == 1
    assert delta("clr_job_duration_seconds_count", kind="train", status="succeeded") == 1
    assert delta("clr_job_duration_seconds_bucket", kind="train", status="succeeded", le="+Inf") == 1
    assert delta("clr_points_stored_total", series="batch") == 7


async def test_a_metrics_token_setting_puts_metrics_behind_that_bearer_token(
    make_client: MakeClient, auth: dict[str, str]
) -> None:
    client = await make_client(metrics_token="scrape-secret")

    missing = await client.get("/metrics")
    api_key = await client.get("/metrics", headers=auth)
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secreT"})
    right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})

    assert [missing.status_code, api_key.status_code, wrong.status_code] == [401, 401, 401]
    assert missing.json()["code"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert right.status_code == 200
    assert "clr_queue_depth" in right.text


async def test_the_oldest_queued_runs_age_is_read_at_scrape_and_drops_once_it_leaves_the_queue(
    client: httpx.AsyncClient, make_run: Callable[..., Run], session_factory: sessionmaker[Session]
) -> None:
    run = make_run(RunKind.LR_FIND, RunStatus.QUEUED)
    with transaction(session_factory) as session:  # queued an hour ago
        session.execute(
            update(Run).where(Run.id == run.id).values(updated_at=runs.utcnow() - timedelta(hours=1))
        )
    waiting = await _scrape(client)
    with transaction(session_factory) as session:
        assert runs.transition(session=session, run_id=run.id, to=RunStatus.CANCELLED)
    left = await _scrape(client)

    assert waiting[("clr_oldest_queued_run_age_seconds", ())] >= 3600
    assert left[("clr_oldest_queued_run_age_seconds", ())] < 3600


async def test_webhook_attempts_are_counted_by_outcome(
    client: httpx.AsyncClient, make_run: Callable[..., Run], session_factory: sessionmaker[Session]
) -> None:
    run = make_run(RunKind.LR_FIND, RunStatus.SUCCEEDED)
    before = await _scrape(client)
    for state in ("pending", "pending", "failed"):  # two failed tries, then given up
        with transaction(session_factory) as session:
            webhooks.record_delivery(session=session, run_id=run.id, delivery={"state": state})
    after = await _scrape(client)

    def delta(outcome: str) -> float:
        key = ("clr_webhook_attempts_total", (("outcome", outcome),))
        return after[key] - before.get(key, 0.0)

    assert (delta("retry"), delta("failed"), delta("delivered")) == (2, 1, 0)


async def test_build_info_names_the_installed_version(client: httpx.AsyncClient) -> None:
    samples = await _scrape(client)

    [labels] = [dict(labels) for name, labels in samples if name == "clr_build_info"]
    assert labels["version"] == version("clr-service")
