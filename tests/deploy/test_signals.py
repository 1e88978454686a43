"""SIGTERM and SIGINT to `clr-service serve` and `api` stop every process they started, within seconds."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from store import runs
from store.db import make_engine, make_sessionmaker
from tests.deploy.conftest import ready
from tests.e2e.conftest import free_port, service_env, wait_for_status, wait_until

pytestmark = pytest.mark.e2e
CLI = [sys.executable, "-m", "cli"]
TRAINING = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "digits"},
    "epochs": 200,
    "schedule": {"policy": "triangular", "base_lr": 0.005, "max_lr": 0.05, "step_size_iter": 30},
}


def descendants(pid: int) -> set[int]:
    """Every living process below `pid`, read from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running (zombies are dead)."""
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            living.add(pid)
    return living


@dataclass
class Started:
    """A `clr-service` process with everything it started, and where it answers."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def stop_with(self, signum: int, *, within: float) -> tuple[int, float, set[int]]:
        """Send `signum`; its exit status, the seconds it took and the processes it left running."""
        children = descendants(self.process.pid)
        started = time.monotonic()
        self.process.send_signal(signum)
        returncode = self.process.wait(timeout=within)
        took = time.monotonic() - started
        deadline = time.monotonic() + 5  # a killed process's parent may reap it a moment later
        while alive(children) and time.monotonic() < deadline:
            time.sleep(0.1)
        return returncode, took, alive(children)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Started]]:
    """Start `clr-service ARGS` in an empty directory; wait until its API answers and its children run."""
    begun: list[Started] = []

    def run(args: list[str], env: dict[str, str], children: int) -> Started:
        port = free_port()
        log = tmp_path / "clr-service.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [*CLI, *args, "--port", str(port)],
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        begun.append(Started(process, f"http://127.0.0.1:{port}", log))
        wait_until(lambda: ready(begun[-1].base_url), timeout=90, what="the API to answer")
        wait_until(lambda: len(descendants(process.pid)) >= children, timeout=60, what=f"{children} children")
        return begun[-1]

    yield run
    for started in begun:
        if started.process.poll() is None:
            started.process.kill()
            started.process.wait()


def _serve_env(home: Path) -> dict[str, str]:
    env = service_env(home, f"sqlite:///{home / 'clr.db'}", f"sqla+sqlite:///{home / 'broker.db'}")
    env["CLR_HEARTBEAT_INTERVAL"] = "0.5"
    return env


def test_sigterm_to_serve_drains_its_job_and_stops_api_worker_and_relay_within_seconds(
    start: Callable[..., Started], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    serve = start(["serve"], _serve_env(home), children=4)  # uvicorn, relay, worker and its pool process
    key = (home / "local-api-key").read_text().strip()
    with httpx.Client(base_url=serve.base_url, headers={"Authorization": f"Bearer {key}"}) as client:
        run_id = client.post("/train", json=TRAINING).json()["id"]
        wait_for_status(client, run_id, {"running"}, timeout=120)
        wait_until(
            lambda: client.get(f"/runs/{run_id}").json()["progress"]["step"] > 0, timeout=60, what="steps"
        )

    returncode, took, left = serve.stop_with(signal.SIGTERM, within=60)

    assert returncode == -signal.SIGTERM
    assert took < 20
    assert left == set()
    assert "Traceback" not in serve.log.read_text()
    engine = make_engine(f"sqlite:///{home / 'clr.db'}")
    with make_sessionmaker(engine)() as session:
        run = runs.get_run(session=session, run_id=run_id)
    engine.dispose()
    assert run is not None
    assert (run.status, run.attempt, run.drains) == ("queued", 1, 1)  # drained: handed back, not counted


def test_ctrl_c_stops_serve_without_a_traceback(start: Callable[..., Started], tmp_path: Path) -> None:
    serve = start(["serve"], _serve_env(tmp_path / "home"), children=4)

    returncode, took, left = serve.stop_with(signal.SIGINT, within=60)

    assert returncode == -signal.SIGINT
    assert took < 20
    assert left == set()
    assert "Traceback" not in serve.log.read_text()


@pytest.mark.postgres
@pytest.mark.redis
def test_sigterm_to_api_with_two_uvicorn_workers_stops_them_and_the_relay(
    start: Callable[..., Started], own_database: Callable[[str], str], redis_url: str, tmp_path: Path
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = service_env(tmp_path / "home", own_database("postgres"), redis_url, TMPDIR=str(scratch))
    api = start(["api", "--workers", "2"], env, children=4)  # uvicorn, its two workers, the relay
    [made] = scratch.glob("clr-api-*")
    assert {p.name for p in made.iterdir()} == {"metrics", "logging.json"}

    returncode, took, left = api.stop_with(signal.SIGTERM, within=60)

    assert returncode == -signal.SIGTERM
    assert took < 15
    assert left == set()
    assert not made.exists()  # removed on exit, however it stopped
