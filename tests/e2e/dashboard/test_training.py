"""A training run's page: cancelling it from the page."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

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
