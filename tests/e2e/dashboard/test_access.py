"""Reaching the dashboard: a key link, a narrow screen, the keyboard."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.e2e.conftest import Service
from tests.e2e.dashboard.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_key_link_replaces_a_stored_key_only_when_the_user_agrees(browser: Browser, live: Service) -> None:
    other_key = live.create_key("someone-else")
    context = browser.new_context(base_url=live.base_url)
    page = context.new_page()
    dialogs: list[str] = []
    accept = [False]

    def answer(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept() if accept[0] else dialog.dismiss()

    page.on("dialog", answer)

    def open_with(key: str) -> Any:
        page.goto("about:blank")
        page.goto(f"/ui#key={key}")
        page.wait_for_selector("body[data-runs-loaded='true']")
        return page.evaluate("localStorage.getItem('clr-api-key')")

    first = open_with(live.key)
    asked_before = list(dialogs)
    kept = open_with(other_key)
    accept[0] = True
    replaced = open_with(other_key)
    context.close()

    assert (first, asked_before) == (live.key, [])  # nothing stored yet: taken without asking
    assert len(dialogs) == 2
    assert "Replace the key stored in this browser" in dialogs[0]
    assert (kept, replaced) == (live.key, other_key)
    assert "key=" not in page.url


def test_pages_fit_a_narrow_screen(page: Page, range_test: dict[str, Any]) -> None:
    page.set_viewport_size({"width": 400, "height": 800})
    for path in ("/ui", f"/ui?run={range_test['id']}"):
        page.goto(path)
        page.wait_for_selector("body[data-runs-loaded='true'], #range-view figure")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, path
    screenshot(page, "narrow")
    chart = page.locator("#chart-loss canvas").bounding_box()
    assert chart is not None
    assert chart["width"] <= 400


def test_the_train_form_is_reached_and_sent_with_the_keyboard(page: Page, range_test: dict[str, Any]) -> None:
    page.goto(f"/ui?run={range_test['id']}")
    page.locator("#train-form [name=policy]").focus()
    page.keyboard.press("Tab")
    expect(page.locator("#train-form [name=base_lr]")).to_be_focused()
    for _ in range(5):
        page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Start training")).to_be_focused()
