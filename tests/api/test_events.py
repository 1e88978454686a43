"""GET /runs/{id}/events: a finished run's stream, resuming from a Last-Event-ID, and the owner check."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.events import BACKLOG_POINTS
from client.sse import Event, parse_events
from store import series
from store.db import transaction
from store.models import Run, RunKind, RunStatus

pytestmark = pytest.mark.anyio


def write_range(factory: sessionmaker[Session], run_id: str, steps: range) -> None:
    step = np.asarray(steps, dtype=float)
    columns = {
        "step": step,
        "lr": 1e-3 * (step + 1),
        "loss": 2.0 - 0.01 * step,
        "smoothed_loss": 2.0 - 0.01 * step,
    }
    columns["accuracy"] = np.full(step.size, np.nan)
    with transaction(factory) as session:
        series.append_chunk(session=session, run_id=run_id, series="range", columns=columns)


async def read_stream(client: httpx.AsyncClient, run_id: str, headers: dict[str, str]) -> list[Event]:
    answer = await client.get(f"/runs/{run_id}/events", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    return list(parse_events(answer.text.splitlines()))


async def test_a_finished_runs_stream_sends_its_points_then_the_terminal_status_and_ends(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    make_run: Callable[..., Run],
    session_factory: sessionmaker[Session],
) -> None:
    run = make_run(RunKind.LR_FIND, RunStatus.SUCCEEDED, result={"suggested_max_lr": 0.01})
    write_range(session_factory, run.id, range(0, 5))
    write_range(session_factory, run.id, range(5, 9))

    events = await read_stream(client, run.id, auth)

    assert [event.event for event in events] == ["points", "status"]
    assert events[0].data["series"] == "range"
    assert events[0].data["step"] == list(range(9))
    assert events[0].data["accuracy"] == [None] * 9
    assert events[1].data["status"] == "succeeded"
    assert events[1].id == "succeeded:8:-1"


async def test_resuming_with_last_event_id_sends_only_later_points_and_no_repeated_status(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    make_run: Callable[..., Run],
    session_factory: sessionmaker[Session],
) -> None:
    run = make_run(RunKind.LR_FIND, RunStatus.SUCCEEDED)
    write_range(session_factory, run.id, range(0, 9))

    events = await read_stream(client, run.id, {**auth, "Last-Event-ID": "running:5:-1"})
    assert [(event.event, event.id) for event in events] == [
        ("points", "running:8:-1"),
        ("status", "succeeded:8:-1"),
    ]
    assert events[0].data["step"] == [6, 7, 8]

    caught_up = await read_stream(client, run.id, {**auth, "Last-Event-ID": "succeeded:8:-1"})
    assert caught_up == []


async def test_another_owners_run_has_no_event_stream(
    client: httpx.AsyncClient, other_auth: dict[str, str], make_run: Callable[..., Run]
) -> None:
    run = make_run()
    answer = await client.get(f"/runs/{run.id}/events", headers=other_auth)
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"
    assert (await client.get(f"/runs/{run.id}/events")).status_code == 401


async def test_a_training_runs_stream_sends_batch_points_and_each_epoch_row_once(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    make_run: Callable[..., Run],
    session_factory: sessionmaker[Session],
) -> None:
    run = make_run(RunKind.TRAIN, RunStatus.FAILED)
    step = np.arange(6, dtype=float)
    batch = {"step": step, "epoch": step // 3, "lr": np.full(6, 0.01), "loss": np.full(6, np.inf)}
    with transaction(session_factory) as session:
        series.append_chunk(session=session, run_id=run.id, series="batch", columns=batch)
        for epoch in (0, 1):
            row = {"epoch": epoch, "step": 3 * epoch + 3, "train_loss": 1.0, "train_accuracy": 0.5}
            row |= {"val_loss": 1.1, "val_accuracy": 0.4, "lr": 0.01}
            series.record_epoch(session=session, run_id=run.id, values=row)

    events = await read_stream(client, run.id, auth)
    resumed = await read_stream(client, run.id, {**auth, "Last-Event-ID": events[1].id or ""})

    assert [(event.event, event.id) for event in events] == [
        ("points", ":5:-1"),
        ("epoch", ":5:0"),
        ("epoch", ":5:1"),
        ("status", "failed:5:1"),
    ]
    assert events[0].data["epoch"] == [0, 0, 0, 1, 1, 1]
    assert events[0].data["loss"] == [None] * 6
    assert events[2].data["val_accuracy"] == 0.4
    assert [event.id for event in resumed] == [":5:1", "failed:5:1"]


@pytest.mark.parametrize(
    "last_event_id",
    [
        "succeeded:9223372036854775808:-1",
        ":1:99999999999999999999999",
        ":-2:-1",
        "running:x:1",
        "bogus:1:1",
        "1:2:3:4",
        "garbage",
        "",
    ],
)
async def test_a_last_event_id_past_2_63_or_malformed_is_422(
    client: httpx.AsyncClient, auth: dict[str, str], make_run: Callable[..., Run], last_event_id: str
) -> None:
    run = make_run(RunKind.LR_FIND, RunStatus.SUCCEEDED)

    answer = await client.get(f"/runs/{run.id}/events", headers={**auth, "Last-Event-ID": last_event_id})

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "validation_error"
    assert answer.json()["errors"][0]["loc"] == ["header", "last-event-id"]


@pytest.fixture
def long_run(make_run: Callable[..., Run], session_factory: sessionmaker[Session]) -> Callable[[int], str]:
    """A succeeded range test with `points` points in chunks of 8192, as the recorder stores them."""

    def make(points: int) -> str:
        run = make_run(RunKind.LR_FIND, RunStatus.SUCCEEDED)
        for start in range(0, points, 8192):
            write_range(session_factory, run.id, range(start, min(start + 8192, points)))
        return run.id

    return make


async def test_a_new_stream_of_a_long_run_starts_with_a_downsampled_backlog(
    client: httpx.AsyncClient, auth: dict[str, str], long_run: Callable[[int], str]
) -> None:
    events = await read_stream(client, long_run(30_000), auth)

    points = [event for event in events if event.event == "points"]
    steps = [step for event in points for step in event.data["step"]]
    assert all(event.data["downsampled"] for event in points)
    assert len(steps) <= BACKLOG_POINTS
    assert (steps[0], steps[-1]) == (0, 29_999)
    assert steps == sorted(set(steps))
    assert (events[-1].event, events[-1].id) == ("status", "succeeded:29999:-1")


async def test_a_resumed_stream_far_behind_catches_up_page_by_page_with_every_point(
    client: httpx.AsyncClient, auth: dict[str, str], long_run: Callable[[int], str]
) -> None:
    events = await read_stream(client, long_run(25_000), {**auth, "Last-Event-ID": ":0:-1"})

    steps = [step for event in events if event.event == "points" for step in event.data["step"]]
    assert steps == list(range(1, 25_000))
    assert [event.event for event in events].count("status") == 1
    assert (events[-1].event, events[-1].id) == ("status", "succeeded:24999:-1")
