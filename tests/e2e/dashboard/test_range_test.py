"""A range test's page: its curve with the suggestions marked, and a training run started from them."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest
import torch
from playwright.sync_api import Locator, Page, expect

from tests.e2e.dashboard.conftest import exponential, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_range_tests_page_shows_its_suggestions_on_the_curve(
    page: Page, range_test: dict[str, Any]
) -> None:
    page.goto(f"/ui?run={range_test['id']}")

    expect(page.locator("#chart-loss")).to_have_attribute("data-marks", "3")
    result = range_test["result"]
    expect(page.locator("#suggested-max")).to_have_text(exponential(result["suggested_max_lr"]))
    expect(page.locator("#suggested-base")).to_have_text(exponential(result["suggested_base_lr"]))
    for rule, suggestion in result["suggestions"].items():
        expect(page.locator(f"#suggestions tr[data-rule='{rule}'] td")).to_have_text(
            exponential(suggestion["lr"])
        )
    # the rule that chose max LR is the one row (and the one solid mark) emphasised
    expect(page.locator("#suggestions tr.chosen")).to_have_attribute(
        "data-rule", range_test["request"]["suggestion"]
    )
    chart = page.locator("#chart-loss")
    assert int(chart.get_attribute("data-points") or 0) == result["num_points"]
    # The view holds the minimum and every suggestion, and clips the diverging tail.
    window = json.loads(chart.get_attribute("data-window") or "{}")
    assert result["stop_reason"] == "diverged"
    assert (
        result["start_lr"] == window["x"][0] < result["lr_at_min_loss"] < window["x"][1] < result["last_lr"]
    )
    assert all(window["x"][0] < rule["lr"] < window["x"][1] for rule in result["suggestions"].values())
    warnings = page.locator("#warnings li")
    expect(warnings).to_have_count(len(result["warnings"]))
    screenshot(page, "range-test")


def test_the_range_tests_form_starts_training_with_its_bounds_and_the_chart_grows_from_the_event_stream(
    page: Page, range_test: dict[str, Any], api: httpx.Client
) -> None:
    curve_reads: list[str] = []
    page.on("request", lambda request: curve_reads.append(request.url) if "/curves" in request.url else None)
    page.goto(f"/ui?run={range_test['id']}")
    form = page.locator("#train-form")
    policies = [policy["name"] for policy in api.get("/policies").json()["items"]]
    expect(form.locator("[name=policy] option")).to_have_text(policies)
    step_size = form.locator("[name=step_size_epochs]")
    form.locator("[name=policy]").select_option("one_cycle")  # it reads no step size
    expect(step_size).to_be_hidden()
    form.locator("[name=policy]").select_option("triangular")
    expect(step_size).to_be_visible()
    form.locator("[name=epochs]").fill("12")
    form.locator("[name=step_size_epochs]").fill("2")
    curve_reads.clear()  # the finished range test's curve was read once
    form.get_by_role("button", name="Start training").click()
    page.wait_for_url(lambda url: "run=" in url and range_test["id"] not in url)
    run_id = page.url.rsplit("=", 1)[1]

    chart = page.locator("#chart-batch-loss")
    growth = sample_while_streaming(page, chart)
    expect(page.locator("body")).to_have_attribute("data-run-status", "succeeded", timeout=120_000)

    run = api.get(f"/runs/{run_id}").json()
    schedule = run["request"]["schedule"]
    result = range_test["result"]
    assert schedule["from_lr_find"] == range_test["id"]
    assert schedule["max_lr"] == pytest.approx(result["suggested_max_lr"], rel=5e-3)
    assert schedule["base_lr"] == pytest.approx(result["suggested_base_lr"], rel=5e-3)
    assert (schedule["policy"], schedule["step_size_epochs"]) == ("triangular", 2)
    assert run["request"]["epochs"] == 12
    # The chart grew over several events while the run trained, and never from a read of /curves.
    assert len(growth) >= 3, growth
    assert growth == sorted(growth)
    assert int(chart.get_attribute("data-points") or 0) == run["progress"]["step"]
    assert int(chart.get_attribute("data-events") or 0) >= len(growth)
    assert page.locator("#chart-epoch-accuracy").get_attribute("data-points") == "12"
    assert curve_reads == []
    source = page.get_by_role("link", name=re.compile("range test"))
    assert source.get_attribute("href") == f"/ui?run={range_test['id']}"
    screenshot(page, "training")
    with page.expect_download() as saving:
        page.get_by_role("button", name="Download weights (model.pt)").click()
    weights = saving.value
    assert weights.suggested_filename == f"{run_id}-model.pt"
    assert torch.load(weights.path(), weights_only=True).keys()  # the trained state dict, read with the key


def sample_while_streaming(page: Page, chart: Locator) -> list[int]:
    """The chart's point counts seen while its event stream was open, each one different from the last."""
    seen: list[int] = []
    deadline = time.monotonic() + 120
    chart.and_(page.locator("[data-streaming]")).wait_for()
    while chart.get_attribute("data-streaming") == "true" and time.monotonic() < deadline:
        points = int(chart.get_attribute("data-points") or 0)
        if points and (not seen or points != seen[-1]):
            seen.append(points)
        page.wait_for_timeout(100)
    return seen
