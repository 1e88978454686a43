"""A training run's page: cancelling the run, resuming a dropped event stream."""

from __future__ import annotations

import json

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.dashboard.conftest import DIGITS, submit

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_cancel_button_stops_a_running_training_run(page: Page, api: httpx.Client) -> None:
    long_run = {**DIGITS, "batch_size": 16, "epochs": 500, "name": "long", "schedule": {"policy": "constant"}}
    run_id = submit(api, "/train", long_run)
    page.goto(f"/ui?run={run_id}")
    expect(page.locator("body")).to_have_attribute("data-run-status", "running", timeout=120_000)
    expect(page.locator("#chart-batch-loss")).not_to_have_attribute("data-points", "0", timeout=60_000)

    page.get_by_role("button", name="Cancel run").click()

    expect(page.locator("body")).to_have_attribute("data-run-status", "cancelled", timeout=60_000)
    run = api.get(f"/runs/{run_id}").json()
    assert run["status"] == "cancelled"
    assert run["progress"]["step"] < run["progress"]["total_steps"]
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)


def test_a_dropped_event_stream_resumes_after_the_last_event_id(page: Page, api: httpx.Client) -> None:
    run_id = submit(api, "/train", {**DIGITS, "batch_size": 32, "epochs": 2, "name": "resumed"})
    queued = api.get(f"/runs/{run_id}").json()
    seen: list[str | None] = []

    def stream(route: Route) -> None:
        """The first stream sends the queued status, then drops; later ones go to the service."""
        seen.append(route.request.headers.get("last-event-id"))
        if len(seen) > 1:
            route.continue_()
            return
        event = f"event: status\r\nid: queued:-1:-1\r\ndata: {json.dumps(queued)}\r\n\r\n"
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=event)

    page.route(f"**/runs/{run_id}/events", stream)
    page.goto(f"/ui?run={run_id}")

    expect(page.locator("body")).to_have_attribute("data-run-status", "succeeded", timeout=120_000)
    run = api.get(f"/runs/{run_id}").json()
    assert seen[:2] == [None, "queued:-1:-1"]
    expect(page.locator("#chart-batch-loss")).to_have_attribute("data-points", str(run["progress"]["step"]))
    expect(page.locator("#chart-epoch-loss")).to_have_attribute("data-points", "2")
