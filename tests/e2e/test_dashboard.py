"""The dashboard in headless Chromium on a live service: runs and comparisons listed, their plots shown."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from client import ClrClient
from tests.conftest import apt_install
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


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing."""
    apt_install("chromium", lambda: shutil.which("chromium") is not None)
    return str(shutil.which("chromium"))


def browse(chromium: str, profile: Path, url: str, *extra: str) -> str:
    """The page's DOM after its scripts ran for up to 10 s of virtual time."""
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        *extra,
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    return done.stdout


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
    answer = CliRunner().invoke(app, ["compare", str(body)], env=env)
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
