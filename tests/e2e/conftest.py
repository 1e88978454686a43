"""A live service for end-to-end tests: uvicorn, relay and Celery worker processes on real servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.main import relay_command, worker_command
from store import keys
from store.db import make_engine, make_sessionmaker, transaction
from tests.browser import chromium  # noqa: F401 - a fixture for the tests here

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """The processes of one service stack and an authenticated client for it."""

    env: dict[str, str]
    home: Path
    base_url: str = ""
    key: str = ""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def start_api(self) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:make_default_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        self.processes.append(self._spawn(command, "api"))
        wait_until(lambda: _healthy(self.base_url), timeout=60, what="the API to start")

    def start_relay(self) -> None:
        self.processes.append(self._spawn(relay_command(), "relay"))

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        process = self._spawn(worker_command(self.env["CLR_QUEUE"], 1, f"{name}@%h"), name)
        self.processes.append(process)
        return process

    def create_key(self, owner: str) -> str:
        engine = make_engine(self.env["CLR_DATABASE_URL"])
        with transaction(make_sessionmaker(engine)) as session:
            _, plain = keys.create_key(session=session, owner=owner)
        engine.dispose()
        return plain

    def _spawn(self, command: list[str], name: str) -> subprocess.Popen[bytes]:
        with (self.home / f"{name}.log").open("ab") as log:
            return subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def stop(self) -> None:
        """SIGTERM to every process group, SIGKILL to what still runs 5 s later (no drain is under test)."""
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(predicate: Any, *, timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def service_env(home: Path, database_url: str, broker_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLR_")}
    env.update(
        {
            "CLR_HOME": str(home),
            "CLR_DATABASE_URL": database_url,
            "CLR_BROKER_URL": broker_url,
            "CLR_QUEUE": f"gpu-{uuid.uuid4().hex[:8]}",
            "CLR_DATA_ROOTS": str(home / "data"),
            "CLR_WORKER_TORCH_THREADS": "1",
            "CLR_SWEEP_INTERVAL": "1",
            "CLR_DATA_MEMORY_BUDGET": "300000",  # image folders above 300 kB decoded stream from disk
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )
    (home / "data").mkdir(parents=True, exist_ok=True)
    return env


def start_service(env: dict[str, str], home: Path, workers: int = 1) -> Service:
    service = Service(env=env, home=home)
    try:
        service.start_api()
        service.start_relay()
        for i in range(workers):
            service.start_worker(f"w{i}")
        service.key = service.create_key("e2e")
    except BaseException:
        service.stop()
        raise
    return service


@pytest.fixture(scope="session", params=["postgres-redis", "sqlite-embedded"])
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The production stack (PostgreSQL + Redis) and the embedded default (SQLite + SQLAlchemy broker).

    Its image has the example plugin package installed, as a deployment installs its plugins.
    """
    request.getfixturevalue("tabular_plugin")
    home = tmp_path_factory.mktemp(request.param)
    own_database = request.getfixturevalue("own_database")
    if request.param == "postgres-redis":
        env = service_env(home, own_database("postgres"), request.getfixturevalue("redis_url"))
    else:
        env = service_env(home, own_database("sqlite"), f"sqla+sqlite:///{home / 'broker.db'}")
    service = start_service(env, home)
    yield service
    service.stop()


def wait_for_status(
    client: httpx.Client, run_id: str, statuses: set[str], timeout: float = 180
) -> dict[str, Any]:
    def current() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"/runs/{run_id}").json()
        return body if body["status"] in statuses else None

    return wait_until(current, timeout=timeout, what=f"run {run_id} to reach {statuses}", interval=0.3)  # type: ignore[no-any-return]
