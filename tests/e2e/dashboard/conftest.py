"""One live service for the dashboard tests, the runs they look at, and Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    FloatRect,
    Locator,
    Page,
    ViewportSize,
    sync_playwright,
)

from tests.e2e.conftest import Service, service_env, start_service, wait_for_status, wait_until

DIGITS: dict[str, Any] = {"model": {"name": "vanilla_cnn"}, "dataset": {"name": "digits"}}
RANGE_TEST: dict[str, Any] = {
    **DIGITS,
    "batch_size": 16,
    "num_iter": 100,
    "end_lr": 10.0,
    "name": "digits range",
    "tags": ["ui"],
}
COMPARISON: dict[str, Any] = {
    **DIGITS,
    "batch_size": 64,
    "epochs": 2,
    "repeats": 2,
    "name": "sgd vs adam",
    "variants": [
        {
            "name": "sgd",
            "optimizer": {"name": "sgd_momentum", "lr": 0.05},
            "schedule": {"policy": "constant"},
        },
        {"name": "adam", "optimizer": {"name": "adam", "lr": 0.003}, "schedule": {"policy": "constant"}},
    ],
}
# Its folder does not exist under the data root: the worker fails it with a problem code.
FAILING: dict[str, Any] = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "imagefolder", "path": "absent"},
    "num_iter": 10,
    "name": "no such folder",
}
WIDE: ViewportSize = {"width": 1280, "height": 900}


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory, own_database: Any) -> Iterator[Service]:
    """The embedded stack (SQLite + SQLAlchemy broker): the pages do not depend on the stack."""
    home = tmp_path_factory.mktemp("dashboard")
    env = service_env(home, own_database("sqlite"), f"sqla+sqlite:///{home / 'broker.db'}")
    service = start_service(env, home)
    yield service
    service.stop()


@pytest.fixture(scope="package")
def api(live: Service) -> Iterator[httpx.Client]:
    with live.client() as client:
        yield client


def submit(api: httpx.Client, path: str, body: dict[str, Any]) -> str:
    answer = api.post(path, json=body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


@pytest.fixture(scope="package")
def queued(api: httpx.Client) -> dict[str, str]:
    """The runs every test shares, submitted at once so the worker runs them while the browser starts."""
    return {
        "range": submit(api, "/lr-find", RANGE_TEST),
        "failing": submit(api, "/lr-find", FAILING),
        "comparison": submit(api, "/comparisons", COMPARISON),
    }


@pytest.fixture(scope="package")
def range_test(api: httpx.Client, queued: dict[str, str]) -> dict[str, Any]:
    run = wait_for_status(api, queued["range"], {"succeeded", "failed"})
    assert run["status"] == "succeeded", run["error"]
    return run


@pytest.fixture(scope="package")
def browser(chromium: str) -> Iterator[Browser]:
    """Debian's chromium (never a downloaded one), headless."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="package")
def comparison(api: httpx.Client, queued: dict[str, str]) -> dict[str, Any]:
    done = wait_until(
        lambda: (
            (found := api.get(f"/comparisons/{queued['comparison']}").json())["status"] != "running" and found
        ),
        timeout=240,
        what="the comparison to finish",
    )
    assert done["status"] == "succeeded", done
    return dict(done)


@pytest.fixture(scope="package")
def failed_run(api: httpx.Client, queued: dict[str, str]) -> dict[str, Any]:
    run = wait_for_status(api, queued["failing"], {"succeeded", "failed"})
    assert run["status"] == "failed"
    return run


@pytest.fixture
def page(browser: Browser, live: Service, queued: dict[str, str]) -> Iterator[Page]:
    """A fresh page at 1280 px holding the service's key; it fails the test on any script error."""
    context = browser.new_context(viewport=WIDE, base_url=live.base_url)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("console", lambda message: errors.append(message.text) if console_error(message) else None)
    opened.goto(f"/ui#key={live.key}")
    opened.wait_for_selector("body[data-runs-loaded='true']")
    yield opened
    context.close()
    assert errors == [], "\n".join(errors)


def console_error(message: ConsoleMessage) -> bool:
    """An error the page logged, but the browser's note of a 404 (the favicon: the dashboard has none)."""
    return message.type == "error" and not message.text.startswith("Failed to load resource")


def plot_area(chart: Locator) -> FloatRect:
    """Where a chart draws its series (the area that takes the mouse), on the page."""
    box = chart.locator(".u-over").bounding_box()
    assert box is not None
    return box


def exponential(value: float) -> str:
    """A rate as the dashboard writes it (JavaScript's toExponential(2)): 1.12e-2."""
    mantissa, power = f"{value:.2e}".split("e")
    return f"{mantissa}e{int(power):+d}"


def screenshot(page: Page, name: str) -> None:
    """Save the page as docs/dashboard-<name>.png when CLR_DASHBOARD_SCREENSHOTS names a folder."""
    folder = os.environ.get("CLR_DASHBOARD_SCREENSHOTS")
    if folder:
        path = Path(folder) / f"dashboard-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        Image.open(path).quantize(colors=128).save(path, optimize=True)  # a third of the bytes
