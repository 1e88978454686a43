"""The installed wheel alone runs the service: migrate, api, worker, serve, relay, dashboard and docs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from tests.browser import browse
from tests.conftest import POSTGRES_ADMIN_URL, drop_postgres_database
from tests.deploy.conftest import Installed, ready
from tests.e2e.conftest import Service, free_port, service_env, wait_for_status, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]
PACKAGES = ("clr", "api", "worker", "store", "cli", "client", "migrations")
IMPORT = re.compile(r'from "\./([^"]+)"')
REFERENCE = re.compile(r"""(?:src|href|url|spec-url)\s*[=:]\s*["']([^"']+)["']""")


@dataclass
class InstalledStack:
    """`clr-service api` and `clr-service worker` of the installed wheel, started from an empty directory."""

    installed: Installed
    cwd: Path
    env: dict[str, str]
    base_url: str
    key: str


def clr_service(installed: Installed, cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [installed.clr_service, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def empty_database(postgres_admin: Engine) -> Iterator[str]:
    """A PostgreSQL database with no tables: the installed `migrate` must create them."""
    name = f"clr_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    drop_postgres_database(postgres_admin, url)


@pytest.fixture(scope="module")
def stack(
    installed: Installed, empty_database: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InstalledStack]:
    cwd = tmp_path_factory.mktemp("empty")
    home = tmp_path_factory.mktemp("home")
    env = service_env(home, empty_database, redis_url)
    env.pop("PYTHONPATH", None)
    clr_service(installed, cwd, env, "migrate")
    key = clr_service(installed, cwd, env, "keys", "create", "--owner", "installed").strip()
    port = free_port()
    commands: dict[str, list[str | Path]] = {
        "api": [installed.clr_service, "api", "--port", str(port)],
        "worker": [installed.clr_service, "worker", "--queues", env["CLR_QUEUE"], "--hostname", "wheel@%h"],
    }
    processes = []
    for name, command in commands.items():
        with (home / f"{name}.log").open("ab") as log:
            processes.append(
                subprocess.Popen(
                    command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: ready(base_url), timeout=90, what="the installed API to be ready")
        yield InstalledStack(installed, cwd, env, base_url, key)
    finally:
        Service(env=env, home=home, processes=processes).stop()


def references(html: str) -> list[str]:
    """Every URL a page loads or links: src, href, and the URLs its inline scripts fetch."""
    return REFERENCE.findall(html)


def test_every_package_is_imported_from_the_wheel_and_the_source_tree_is_not_importable(
    stack: InstalledStack,
) -> None:
    code = f"import importlib; print(*(importlib.import_module(p).__file__ for p in {PACKAGES!r}))"
    done = subprocess.run(
        [stack.installed.python, "-c", code], cwd=stack.cwd, env=stack.env, capture_output=True, text=True
    )

    assert done.returncode == 0, done.stderr
    assert all(Path(path).is_relative_to(stack.installed.venv) for path in done.stdout.split()), done.stdout


def assert_a_range_test_completes(base_url: str, key: str) -> None:
    body = {"model": {"name": "vanilla_cnn"}, "dataset": {"name": "digits"}, "batch_size": 16, "num_iter": 30}
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        answer = client.post("/lr-find", json=body)
        assert answer.status_code == 202, answer.text
        run = wait_for_status(client, answer.json()["id"], {"succeeded", "failed"}, timeout=180)
        curve = client.get(f"/runs/{run['id']}/curves").json()

    assert run["status"] == "succeeded", run["error"]
    assert curve["step"] == list(range(30))
    assert run["result"]["suggested_max_lr"] is not None


def test_a_range_test_completes_over_http_on_the_installed_service(stack: InstalledStack) -> None:
    assert_a_range_test_completes(stack.base_url, stack.key)


def test_serve_from_an_empty_directory_runs_a_range_test_on_its_sqlite_default_and_stops_on_sigterm(
    installed: Installed, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLR_") and k != "PYTHONPATH"}
    port = free_port()
    with (tmp_path / "serve.log").open("ab") as log:
        serve = subprocess.Popen(
            [installed.clr_service, "serve", "--port", str(port)],
            cwd=tmp_path, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: ready(base_url), timeout=120, what="the installed serve to be ready")
        assert_a_range_test_completes(base_url, (tmp_path / "var" / "local-api-key").read_text().strip())
        before_stop = (tmp_path / "serve.log").stat().st_size
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=90) == -signal.SIGTERM
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    assert (tmp_path / "var" / "clr.db").is_file()  # the SQLite default, under ./var
    assert b"Traceback" not in (tmp_path / "serve.log").read_bytes()[before_stop:]  # a clean stop


def test_a_standalone_relay_from_the_wheel_runs_until_sigterm_then_exits_cleanly(
    stack: InstalledStack, tmp_path: Path
) -> None:
    log = tmp_path / "relay.log"
    with log.open("ab") as out:
        relay = subprocess.Popen(
            [stack.installed.clr_service, "relay"],
            cwd=stack.cwd,
            env=stack.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(
            lambda: "relay sending queued runs" in log.read_text(), timeout=60, what="the relay to start"
        )
        assert relay.poll() is None, log.read_text()
        relay.send_signal(signal.SIGTERM)
        assert relay.wait(timeout=30) == 0, log.read_text()
    finally:
        if relay.poll() is None:
            relay.kill()
            relay.wait()
    assert "Traceback" not in log.read_text()


def test_the_dashboard_and_every_asset_it_references_load(stack: InstalledStack) -> None:
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        page = client.get("/ui")
        assets = {url: client.get(url) for url in references(page.text)}
        unread = [url for url in assets if url.endswith(".js")]
        while unread:  # the dashboard's modules import each other: each must be in the wheel too
            for name in IMPORT.findall(assets[unread.pop()].text):
                url = f"/ui/{name}"
                if url not in assets:
                    assets[url] = client.get(url)
                    unread.append(url)

    assert page.status_code == 200
    assert {"/ui/app.js", "/ui/style.css", "/ui/uPlot.iife.min.js", "/ui/charts.js"} <= set(assets)
    assert {url: answer.status_code for url, answer in assets.items()} == dict.fromkeys(assets, 200)
    assert all(answer.content for answer in assets.values())


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_load_their_assets_from_the_service_and_name_no_outside_host(
    stack: InstalledStack, path: str
) -> None:
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        page = client.get(path)
        urls = references(page.text)
        loaded = {url: client.get(url).status_code for url in urls if not url.startswith("#")}

    assert page.status_code == 200
    assert [url for url in urls if urlsplit(url).netloc] == []
    assert "openapi.json" in page.text
    assert loaded == dict.fromkeys(loaded, 200)
    assert any(url.endswith(".js") for url in loaded)


def test_swagger_ui_renders_the_operations_in_a_browser_without_internet(
    stack: InstalledStack, chromium: str, tmp_path: Path
) -> None:
    dom = browse(chromium, tmp_path, f"{stack.base_url}/docs", "--dump-dom")

    assert 'class="opblock-summary-path"' in dom
    assert "/lr-find" in dom
