"""A comparison's page: a mean ± std band per variant for validation and training accuracy, and its runs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.dashboard.conftest import plot_area, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_comparison_page_shows_one_band_per_variant_and_links_each_run(
    page: Page, comparison: dict[str, Any]
) -> None:
    page.goto(f"/ui?comparison={comparison['id']}")

    expect(page.locator("body")).to_have_attribute("data-comparison-status", "succeeded")
    for chart_id in ("#chart-val-accuracy", "#chart-train-accuracy"):
        chart = page.locator(chart_id)
        expect(chart).to_have_attribute("data-bands", "2")
        expect(chart).to_have_attribute("data-points", str(comparison["request"]["epochs"]))
        expect(chart.locator(".legend .entry")).to_have_text(["sgd", "adam"])
    expect(page.locator("#comparison-summary tbody tr")).to_have_count(2)
    expect(page.locator("#comparison-summary tbody tr[data-variant='adam'] td").first).to_have_text("2")
    links = page.locator("#children tbody a")
    expect(links).to_have_count(4)
    children = {child["run"]["id"] for child in comparison["children"]}
    assert {str(link.get_attribute("href")).split("=")[1] for link in links.all()} == children
    screenshot(page, "comparison")


def test_hovering_a_band_chart_reads_the_mean_and_std_of_each_variant(
    page: Page, comparison: dict[str, Any]
) -> None:
    page.goto(f"/ui?comparison={comparison['id']}")
    chart = page.locator("#chart-val-accuracy")
    expect(chart).to_have_attribute("data-points", "2")

    box = plot_area(chart)
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)

    expect(chart.locator(".legend .x-value")).to_have_text("epoch 2")
    expect(chart.locator(".legend .entry .value").first).to_have_text(re.compile(r"^\d+\.\d % ± \d+\.\d %$"))
