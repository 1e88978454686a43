"""Shared pieces of the benchmark scripts: throwaway databases, live processes, wrk, medians."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from cli.main import relay_command, worker_command
from store.db import make_engine, make_sessionmaker, transaction
from store.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = os.environ.get(
    "CLR_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CLR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh migrated PostgreSQL database, dropped afterwards."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"clr_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def sqlite_database() -> Iterator[str]:
    """A fresh migrated SQLite file in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="clr-bench-") as home:
        url = f"sqlite:///{Path(home) / 'clr.db'}"
        upgrade(url)
        yield url


@contextmanager
def temporary_home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="clr-bench-home-") as home:
        (Path(home) / "data").mkdir()
        yield Path(home)


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def create_key(database_url: str, owner: str = "bench") -> str:
    from store import keys

    engine = make_engine(database_url)
    with transaction(make_sessionmaker(engine)) as session:
        _, plain = keys.create_key(session=session, owner=owner)
    engine.dispose()
    return plain


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(home: Path, database_url: str, broker_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLR_")}
    env.update(
        {
            "CLR_HOME": str(home),
            "CLR_DATABASE_URL": database_url,
            "CLR_BROKER_URL": broker_url,
            "CLR_QUEUE": f"bench-{uuid.uuid4().hex[:8]}",
            "CLR_DATA_ROOTS": str(home / "data"),
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )
    return env


class Processes:
    """Child process groups started by a benchmark, all stopped on exit."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.children: list[subprocess.Popen[bytes]] = []

    def spawn(self, command: list[str], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        with (self.home / f"{name}.log").open("ab") as log:
            child = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.children.append(child)
        return child

    def uvicorn(self, app: str, env: dict[str, str], name: str, factory: bool = True) -> str:
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        if factory:
            command.append("--factory")
        self.spawn(command, env, name)
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(url + "/healthz"), timeout=60, what=f"{name} to start")
        return url

    def relay(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        return self.spawn(relay_command(), env, "relay")

    def worker(self, env: dict[str, str], name: str = "worker") -> subprocess.Popen[bytes]:
        command = worker_command(env["CLR_QUEUE"], 1, f"{name}@%h", loglevel="WARNING")
        return self.spawn(command, env, name)

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


@contextmanager
def processes(home: Path) -> Iterator[Processes]:
    started = Processes(home)
    try:
        yield started
    finally:
        started.stop()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"timed out after {timeout} s waiting for {what}")


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(
            "wrk is not installed: `apt-get install -y wrk` (benchmarks/run_all.sh does it as root)"
        )
    return path


WRK_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("WRK requests=%d seconds=%f errors_status=%d errors_other=%d p50_us=%f p99_us=%f\\n",
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    headers: dict[str, str] | None = None,
    body: str | None = None,
    threads: int = 2,
) -> dict[str, float]:
    """Run wrk against `url`; requests/s, non-2xx count, p50 and p99 in milliseconds."""
    script = WRK_REPORT
    if body is not None:
        escaped = body.replace("\\", "\\\\").replace('"', '\\"')
        script = f'wrk.method = "POST"\nwrk.body = "{escaped}"\n' + script
    for name, value in (headers or {}).items():
        script = f'wrk.headers["{name}"] = "{value}"\n' + script
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        command = [
            require_wrk(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            handle.name,
            url,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"wrk failed: {done.stderr or done.stdout}")
        output = done.stdout
    finally:
        os.unlink(handle.name)
    match = re.search(r"WRK (.*)", output)
    if match is None:
        raise SystemExit(f"unexpected wrk output:\n{output}")
    values = dict(part.split("=") for part in match.group(1).split())
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(values["requests"]) / float(values["seconds"]),
        "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0,
        "socket_errors": float(values["errors_other"]),
        "p50_ms": float(values["p50_us"]) / 1000,
        "p99_ms": float(values["p99_us"]) / 1000,
    }
