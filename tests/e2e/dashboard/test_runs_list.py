"""The runs list: filters, paging by the API's cursor, failed runs' problems, live updates, overlays."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.dashboard.conftest import RANGE_TEST, screenshot, submit

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def listed(page: Page) -> list[str]:
    return [
        str(row.get_attribute("data-run-id")) for row in page.locator("#runs tbody tr[data-run-id]").all()
    ]


def ids(api: httpx.Client, query: str) -> list[str]:
    return [run["id"] for run in api.get(f"/runs?{query}").json()["items"]]


def refiltered(page: Page, action: Any) -> None:
    """Do `action` and wait until the list has loaded again."""
    version = int(page.locator("body").get_attribute("data-list-version") or 0)
    action()
    expect(page.locator("body")).to_have_attribute("data-list-version", str(version + 1))


def test_the_filters_keep_the_runs_of_a_kind_status_or_tag(
    page: Page, api: httpx.Client, range_test: dict[str, Any], failed_run: dict[str, Any]
) -> None:
    refiltered(page, lambda: page.get_by_label("Kind").select_option("lr_find"))
    by_kind = listed(page)
    refiltered(page, lambda: page.get_by_label("Kind").select_option(""))
    refiltered(page, lambda: page.get_by_label("Status").select_option("failed"))
    by_status = listed(page)
    refiltered(page, lambda: page.get_by_label("Status").select_option(""))
    page.get_by_label("Tag").fill("ui")
    refiltered(page, lambda: page.get_by_label("Tag").press("Enter"))
    by_tag = listed(page)

    assert {range_test["id"], failed_run["id"]} <= set(by_kind)
    assert by_kind == ids(api, "kind=lr_find")
    assert by_status == [failed_run["id"]] == ids(api, "status=failed")
    assert range_test["id"] in by_tag
    assert by_tag == ids(api, "tag=ui")
    assert page.url.endswith("/ui?tag=ui")


def test_a_failed_run_shows_its_error_code_and_the_detail_on_demand(
    page: Page, failed_run: dict[str, Any]
) -> None:
    row = page.locator(f"#runs tr[data-run-id='{failed_run['id']}']")
    problem = row.locator("details.problem")
    detail = problem.locator("p")

    expect(problem.locator("summary")).to_have_text(failed_run["error"]["code"])
    expect(detail).to_be_hidden()
    expect(row.locator("progress")).not_to_have_js_property("position", -1)  # not moving as if it ran
    expect(row.locator("progress")).not_to_have_js_property("value", 1)
    problem.locator("summary").focus()
    page.keyboard.press("Enter")  # keyboard, as a mouse click does
    expect(detail).to_have_text(failed_run["error"]["detail"])
    screenshot(page, "runs")


def test_pages_follow_the_api_cursor_forward_and_back(
    page: Page, api: httpx.Client, comparison: dict[str, Any], failed_run: dict[str, Any]
) -> None:
    first = api.get("/runs?limit=5").json()
    second = ids(api, f"limit=5&cursor={first['next_cursor']}")

    refiltered(page, lambda: page.get_by_label("Per page").select_option("5"))
    page_one = listed(page)
    refiltered(page, lambda: page.get_by_role("button", name="Next →").click())
    page_two = listed(page)
    refiltered(page, lambda: page.get_by_role("button", name="← Previous").click())

    assert page_one == [run["id"] for run in first["items"]]
    assert page_two == second
    assert listed(page) == page_one
    expect(page.get_by_role("button", name="← Previous")).to_be_disabled()


def test_the_list_shows_a_new_run_and_follows_its_status_without_reloading(
    page: Page, api: httpx.Client
) -> None:
    page.evaluate("window.notReloaded = true")
    run_id = submit(api, "/lr-find", {**RANGE_TEST, "num_iter": 20, "name": "watched"})

    row = page.locator(f"#runs tr[data-run-id='{run_id}']")
    expect(row).to_have_attribute("data-status", "succeeded", timeout=120_000)
    expect(row).to_contain_text("watched")
    expect(row.locator("progress")).to_have_js_property("value", 1)
    assert page.evaluate("window.notReloaded") is True


def test_runs_picked_in_the_list_are_overlaid_on_one_chart(
    page: Page, range_test: dict[str, Any], comparison: dict[str, Any]
) -> None:
    children = list(
        {child["variant"]: child["run"] for child in comparison["children"]}.values()
    )  # one a variant
    for run in [range_test, *children]:
        page.locator(f"#runs tr[data-run-id='{run['id']}'] input[type=checkbox]").check()
    page.get_by_role("button", name="Overlay selected (3)").click()

    expect(page.locator("#overlay-runs tbody tr")).to_have_count(3)
    range_chart = page.locator("#chart-overlay-range")
    expect(range_chart.locator(".legend .entry")).to_have_count(1)
    window = json.loads(range_chart.get_attribute("data-window") or "{}")
    assert window["x"][1] < range_test["result"]["last_lr"]  # the diverging tail is clipped here too
    validation = page.locator("#chart-overlay-val")
    labels = [f"{run['name']} · {run['variant']} #{run['repeat']}" for run in children]
    expect(validation.locator(".legend .entry")).to_have_text(labels)
    expect(validation).to_have_attribute("data-points", str(comparison["request"]["epochs"]))
    screenshot(page, "overlay")
