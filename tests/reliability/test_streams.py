"""Event streams of a live API process: bounded memory on a 1 M-point run, and a cap on streams per owner."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from client.sse import parse_events
from store import runs, series
from store.db import make_engine, make_sessionmaker, transaction
from store.models import RunKind, RunStatus
from tests.e2e.conftest import Service, service_env, wait_until

pytestmark = pytest.mark.e2e
POINTS = 1_000_000
SERIES_BYTES = POINTS * 4 * 8  # the batch series' four float64 columns
STREAMS_PER_OWNER = 5
OWNER = "streams"


@pytest.fixture(scope="module")
def api(own_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A live uvicorn on PostgreSQL (no worker: the runs are written through `store`)."""
    home = tmp_path_factory.mktemp("streams")
    env = service_env(
        home,
        own_database("postgres"),
        "redis://127.0.0.1:1/0",
        CLR_SUPERVISE="false",
        CLR_MAX_STREAMS_PER_OWNER=str(STREAMS_PER_OWNER),
    )
    service = Service(env=env, home=home)
    try:
        service.start_api()
        service.key = service.create_key(OWNER)
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def factory(api: Service) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(api.env["CLR_DATABASE_URL"])
    yield make_sessionmaker(engine)
    engine.dispose()


def training_run(factory: sessionmaker[Session], points: int, status: RunStatus) -> str:
    """A training run of OWNER with `points` batch points stored as the recorder stores them."""
    with transaction(factory) as session:
        run = runs.create_run(session=session, owner=OWNER, kind=RunKind.TRAIN, request={}, max_attempts=1)
        assert runs.start_run(session=session, run_id=run.id, worker="test")
    for start in range(0, points, 8192):
        step = np.arange(start, min(start + 8192, points), dtype=np.float64)
        columns = {
            "step": step,
            "epoch": step // 10_000,
            "lr": np.full(step.size, 0.01),
            "loss": 1 / (1 + step),
        }
        with transaction(factory) as session:
            series.append_chunk(session=session, run_id=run.id, series="batch", columns=columns)
    if status != RunStatus.RUNNING:
        with transaction(factory) as session:
            assert runs.transition(session=session, run_id=run.id, to=status)
    return run.id


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def read_points(api: Service, run_id: str, headers: dict[str, str], counted: list[int]) -> None:
    """Read a stream to its end, adding the points it sent to `counted`."""
    points = 0
    with api.client() as client, client.stream("GET", f"/runs/{run_id}/events", headers=headers) as answer:
        assert answer.status_code == 200, answer.read()
        for event in parse_events(answer.iter_lines()):
            if event.event == "points":
                points += len(event.data["step"])
    counted.append(points)


def test_streams_of_a_1m_point_run_keep_the_api_memory_far_below_the_series_size(
    api: Service, factory: sessionmaker[Session]
) -> None:
    run_id = training_run(factory, POINTS, RunStatus.SUCCEEDED)
    pid = api.processes[0].pid
    read_points(api, run_id, {}, [])  # warm up: imports and first allocations of this kind of read
    baseline = rss_bytes(pid)
    counted: list[int] = []
    # Four new streams (the case) and one resumed from the start, paging through every point.
    headers: list[dict[str, str]] = [{}] * 4 + [{"Last-Event-ID": ":0:-1"}]
    readers = [threading.Thread(target=read_points, args=(api, run_id, h, counted)) for h in headers]
    peak = baseline
    for reader in readers:
        reader.start()
    while any(reader.is_alive() for reader in readers):
        peak = max(peak, rss_bytes(pid))
        time.sleep(0.05)

    assert sorted(counted)[-1] == POINTS - 1  # the resumed stream got every later point
    assert all(0 < n <= 2000 for n in sorted(counted)[:-1])  # the new ones a downsampled backlog
    growth = peak - baseline
    assert growth < SERIES_BYTES / 2, f"the API grew by {growth / 2**20:.0f} MiB for five streams"


def test_streams_per_owner_are_capped_with_429_and_a_slot_frees_when_a_stream_closes(
    api: Service, factory: sessionmaker[Session]
) -> None:
    run_id = training_run(factory, 10, RunStatus.RUNNING)
    url = f"/runs/{run_id}/events"
    with api.client() as client, ExitStack() as streams:
        open_streams = [streams.enter_context(client.stream("GET", url)) for _ in range(STREAMS_PER_OWNER)]
        assert [answer.status_code for answer in open_streams] == [200] * STREAMS_PER_OWNER
        refused = client.get(url)
        open_streams[0].close()

        def accepted_again() -> bool:
            with client.stream("GET", url) as answer:
                return answer.status_code == 200

        wait_until(accepted_again, timeout=30, what="the closed stream's slot to free")

    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_streams"
    assert refused.headers["Retry-After"].isdigit()
