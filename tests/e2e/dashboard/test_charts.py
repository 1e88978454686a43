"""The charts as a person uses them: drag to zoom, double-click back, show all, log/linear, smoothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.dashboard.conftest import plot_area

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def x_max(chart: Locator) -> float:
    return float(chart.get_attribute("data-x-max") or "nan")


def test_the_loss_chart_zooms_resets_shows_all_and_switches_to_a_linear_axis(
    page: Page, range_test: dict[str, Any]
) -> None:
    page.goto(f"/ui?run={range_test['id']}")
    chart = page.locator("#chart-loss")
    expect(chart).to_have_attribute("data-marks", "3")
    window = json.loads(chart.get_attribute("data-window") or "{}")
    box = plot_area(chart)

    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 5, steps=5)
    page.mouse.up()
    zoomed = x_max(chart)
    chart.locator(".u-over").dblclick()
    reset = x_max(chart)
    chart.get_by_role("button", name="Show all").click()
    everything = x_max(chart)
    chart.get_by_label("log x").uncheck()

    assert zoomed < window["x"][1] / 100  # half of a log axis spanning many decades
    assert reset == pytest.approx(window["x"][1])
    assert everything >= range_test["result"]["last_lr"]
    expect(chart).to_have_attribute("data-log-x", "false")


def test_the_smoothing_slider_redraws_the_smoothed_batch_loss(page: Page, comparison: dict[str, Any]) -> None:
    run = comparison["children"][0]["run"]
    page.goto(f"/ui?run={run['id']}")
    chart = page.locator("#chart-batch-loss")
    expect(chart).to_have_attribute("data-points", str(run["progress"]["step"]))
    box = plot_area(chart)
    values = chart.locator(".legend .entry .value")

    def hovered() -> list[str]:
        page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
        expect(values.first).not_to_have_text("")
        return values.all_inner_texts()

    raw, smoothed = hovered()
    chart.get_by_label("smoothing").fill("0")
    unsmoothed = hovered()

    assert smoothed != raw
    assert unsmoothed == [raw, raw]
