"""The dashboard in headless Chromium on a live service: runs and comparisons listed, their plots shown."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner
from websockets.sync.client import ClientConnection, connect

from cli.main import app
from client import ClrClient
from tests.browser import browse
from tests.e2e.conftest import Service, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
# The page does not depend on the stack: one is enough.
ONE_STACK = pytest.mark.parametrize("service", ["sqlite-embedded"], indirect=True)
RANGE_TEST: dict[str, Any] = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "digits"},
    "batch_size": 16,
    "num_iter": 30,
}

COMPARISON: dict[str, Any] = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "digits"},
    "batch_size": 64,
    "epochs": 1,
    "repeats": 1,
    "variants": [
        {"name": "sgd", "optimizer": {"name": "sgd", "lr": 0.05}, "schedule": {"policy": "constant"}}
    ],
}


@pytest.fixture(scope="module")
def finished_run(service: Service) -> str:
    with ClrClient(service.base_url, service.key) as client:
        run = client.lr_find(**RANGE_TEST)
        assert client.wait(run.id, timeout=180, interval=0.3).status == "succeeded"
    return run.id


@ONE_STACK
def test_the_dashboard_lists_a_submitted_run_with_its_status(
    service: Service, finished_run: str, chromium: str, tmp_path: Path
) -> None:
    dom = browse(chromium, tmp_path, f"{service.base_url}/ui#key={service.key}", "--dump-dom")

    assert 'data-runs-loaded="true"' in dom
    assert f'data-run-id="{finished_run}" data-status="succeeded"' in dom


@ONE_STACK
def test_a_runs_page_shows_its_plot_fetched_with_the_key(
    service: Service, finished_run: str, chromium: str, tmp_path: Path
) -> None:
    dom = browse(
        chromium, tmp_path, f"{service.base_url}/ui?run={finished_run}#key={service.key}", "--dump-dom"
    )

    assert 'data-run-status="succeeded"' in dom
    assert 'data-plot-loaded="true"' in dom
    assert 'src="blob:' in dom


@pytest.fixture(scope="module")
def finished_comparison(service: Service, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A one-run comparison started with `clr-service compare` and followed with the client."""
    body = tmp_path_factory.mktemp("comparison") / "body.json"
    body.write_text(json.dumps(COMPARISON))
    env = {"CLR_URL": service.base_url, "CLR_API_KEY": service.key}
    answer = CliRunner().invoke(app, ["compare", str(body), "--json"], env=env)
    assert answer.exit_code == 0, answer.output
    comparison_id = str(json.loads(answer.stdout)["id"])
    with ClrClient(service.base_url, service.key) as client:
        done = wait_until(
            lambda: (found := client.get_comparison(comparison_id))["status"] != "running" and found,
            timeout=180,
            what="the comparison to finish",
        )
    assert done["status"] == "succeeded"
    return comparison_id


@ONE_STACK
def test_the_dashboard_lists_a_comparison_and_shows_its_plot(
    service: Service, finished_comparison: str, chromium: str, tmp_path: Path
) -> None:
    listing = browse(chromium, tmp_path / "list", f"{service.base_url}/ui#key={service.key}", "--dump-dom")
    page = f"{service.base_url}/ui?comparison={finished_comparison}#key={service.key}"
    shown = browse(chromium, tmp_path / "page", page, "--dump-dom")

    assert f'data-comparison-id="{finished_comparison}"' in listing
    assert 'data-comparison-status="succeeded"' in shown
    assert 'data-plot-loaded="true"' in shown


class DevTools:
    """One headless chromium page driven over the DevTools protocol, answering its confirm() dialogs."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.calls = 0
        self.dialogs: list[str] = []
        self.call("Page.enable")

    def call(self, method: str, accept_dialogs: bool = False, **params: Any) -> dict[str, Any]:
        self.calls += 1
        self.socket.send(json.dumps({"id": self.calls, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("method") == "Page.javascriptDialogOpening":
                self.dialogs.append(message["params"]["message"])
                answer = {
                    "id": 0,
                    "method": "Page.handleJavaScriptDialog",
                    "params": {"accept": accept_dialogs},
                }
                self.socket.send(json.dumps(answer))
            elif message.get("id") == self.calls:
                return dict(message.get("result", {}))

    def open(self, url: str, *, accept_dialogs: bool) -> None:
        """Load `url` in a fresh document and wait until its run list has loaded."""
        self.call("Page.navigate", url="about:blank")
        self.call("Page.navigate", accept_dialogs, url=url)
        wait_until(
            lambda: self.evaluate(
                "document.querySelector('[data-runs-loaded=\"true\"]') !== null", accept_dialogs
            ),
            timeout=60,
            what="the run list",
        )

    def evaluate(self, expression: str, accept_dialogs: bool = False) -> Any:
        found = self.call("Runtime.evaluate", accept_dialogs, expression=expression, returnByValue=True)
        return found["result"].get("value")


@contextmanager
def devtools(chromium: str, profile: Path) -> Iterator[DevTools]:
    """A headless chromium with a debugging port, and its first page."""
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    command += ["--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        port = wait_until(
            lambda: port_file.exists() and port_file.read_text().split("\n")[0], timeout=30, what="the port"
        )
        pages = [t for t in httpx.get(f"http://127.0.0.1:{port}/json/list").json() if t["type"] == "page"]
        with connect(pages[0]["webSocketDebuggerUrl"], max_size=None) as socket:
            yield DevTools(socket)
    finally:
        process.terminate()
        process.wait(timeout=30)


@ONE_STACK
def test_a_key_link_replaces_a_stored_key_only_when_the_user_agrees(
    service: Service, finished_run: str, chromium: str, tmp_path: Path
) -> None:
    other_key = service.create_key("someone-else")
    with devtools(chromium, tmp_path) as browser:
        browser.open(f"{service.base_url}/ui#key={service.key}", accept_dialogs=False)
        asked_before = list(browser.dialogs)
        browser.open(f"{service.base_url}/ui#key={other_key}", accept_dialogs=False)
        kept = browser.evaluate("localStorage.getItem('clr-api-key')")
        listed = browser.evaluate(f"document.querySelector('[data-run-id=\"{finished_run}\"]') !== null")
        browser.open(f"{service.base_url}/ui#key={other_key}", accept_dialogs=True)
        replaced = browser.evaluate("localStorage.getItem('clr-api-key')")
        dialogs = browser.dialogs

    assert asked_before == []  # nothing stored yet: the first key is taken without asking
    assert len(dialogs) == 2
    assert "Replace the key stored in this browser" in dialogs[0]
    assert (kept, listed) == (service.key, True)
    assert replaced == other_key
