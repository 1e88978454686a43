"""GET /runs/{id}/curves: columns written through store.series, filtered, downsampled and paged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from store import series
from store.db import transaction
from store.models import Run, RunKind, RunStatus, SeriesChunk

pytestmark = pytest.mark.anyio

POINTS = 50
CHUNK = 7


def range_columns(count: int = POINTS) -> dict[str, np.ndarray]:
    """A range test that falls, bottoms out at step 30, then diverges."""
    step = np.arange(count, dtype=float)
    lr = 1e-5 * 1.2**step
    loss = 2.0 + 0.002 * (step - 30) ** 2 + 0.01 * np.sin(step)
    smoothed = 2.0 + 0.002 * (step - 28) ** 2
    return {
        "step": step,
        "lr": lr,
        "loss": loss,
        "smoothed_loss": smoothed,
        "accuracy": np.linspace(0.1, 0.5, count),
    }


def batch_columns(count: int = POINTS) -> dict[str, np.ndarray]:
    step = np.arange(count, dtype=float)
    return {"step": step, "epoch": step // 10, "lr": 0.01 + 0.001 * (step % 10), "loss": 3.0 - 0.04 * step}


def write(factory: sessionmaker[Session], run_id: str, name: str, columns: dict[str, np.ndarray]) -> None:
    """The points in chunks of CHUNK, as the worker's recorder writes them."""
    with transaction(factory) as session:
        for start in range(0, columns["step"].size, CHUNK):
            chunk = {key: values[start : start + CHUNK] for key, values in columns.items()}
            series.append_chunk(session=session, run_id=run_id, series=name, columns=chunk)


@pytest.fixture
def lr_find_run(make_run: Callable[..., Run], session_factory: sessionmaker[Session]) -> Run:
    run = make_run(RunKind.LR_FIND, RunStatus.RUNNING)
    write(session_factory, run.id, "range", range_columns())
    return run


@pytest.fixture
def train_run(make_run: Callable[..., Run], session_factory: sessionmaker[Session]) -> Run:
    run = make_run(RunKind.TRAIN, RunStatus.RUNNING)
    write(session_factory, run.id, "batch", batch_columns())
    with transaction(session_factory) as session:
        for epoch in range(3):
            values = {
                "epoch": epoch,
                "step": 10 * epoch + 9,
                "train_loss": 2.0 - epoch,
                "train_accuracy": 0.5,
                "val_loss": None if epoch == 0 else 1.5,
                "val_accuracy": None,
                "lr": 0.01,
            }
            series.record_epoch(session=session, run_id=run.id, values=values)
    return run


async def curves(client: httpx.AsyncClient, run: Run, auth: dict[str, str], **params: Any) -> dict[str, Any]:
    answer = await client.get(f"/runs/{run.id}/curves", params=params, headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    body: dict[str, Any] = answer.json()
    return body


async def test_a_running_range_test_returns_its_partial_curve_as_columns(
    client: httpx.AsyncClient, auth: dict[str, str], lr_find_run: Run
) -> None:
    body = await curves(client, lr_find_run, auth)

    expected = range_columns()
    assert (body["run_id"], body["kind"], body["status"]) == (lr_find_run.id, "lr_find", "running")
    assert body["points"] == POINTS
    assert body["next_cursor"] is None
    assert body["step"] == list(range(POINTS))
    for key in ("lr", "loss", "smoothed_loss", "accuracy"):
        assert body[key] == pytest.approx(expected[key].tolist())


async def test_a_train_run_returns_batch_and_epoch_columns(
    client: httpx.AsyncClient, auth: dict[str, str], train_run: Run
) -> None:
    body = await curves(client, train_run, auth)

    assert set(body["batch"]) == {"step", "epoch", "lr", "loss"}
    assert body["batch"]["step"] == list(range(POINTS))
    assert body["batch"]["epoch"][:11] == [0] * 10 + [1]
    epochs = body["epochs"]
    assert set(epochs) >= {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"}
    assert epochs["epoch"] == [0, 1, 2]
    assert epochs["val_loss"] == [None, 1.5, 1.5]


async def test_a_run_without_points_yet_returns_empty_columns(
    client: httpx.AsyncClient, auth: dict[str, str], make_run: Callable[..., Run]
) -> None:
    body = await curves(client, make_run(), auth)
    assert body["points"] == 0
    assert body["step"] == body["loss"] == []


async def test_non_finite_losses_are_null(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    make_run: Callable[..., Run],
    session_factory: sessionmaker[Session],
) -> None:
    run = make_run(RunKind.LR_FIND, RunStatus.RUNNING)
    columns = range_columns(5)
    columns["loss"][3:] = [np.inf, np.nan]
    write(session_factory, run.id, "range", columns)

    body = await curves(client, run, auth)

    assert body["loss"][3:] == [None, None]


async def test_step_and_lr_filters_keep_only_matching_points(
    client: httpx.AsyncClient, auth: dict[str, str], lr_find_run: Run
) -> None:
    lr = range_columns()["lr"]
    body = await curves(
        client, lr_find_run, auth, min_step=5, max_step=40, min_lr=float(lr[10]), max_lr=float(lr[35])
    )
    assert body["step"] == list(range(10, 36))

    tail = await curves(client, lr_find_run, auth, min_step=45)
    assert tail["step"] == list(range(45, POINTS))


@pytest.mark.parametrize("max_points", [4, 9, 20])
async def test_downsampling_keeps_first_last_and_the_loss_minima_within_max_points(
    client: httpx.AsyncClient, auth: dict[str, str], lr_find_run: Run, max_points: int
) -> None:
    body = await curves(client, lr_find_run, auth, max_points=max_points)
    again = await curves(client, lr_find_run, auth, max_points=max_points)

    expected = range_columns()
    steps = body["step"]
    assert body["points"] == len(steps) <= max_points
    assert steps[0] == 0
    assert steps[-1] == POINTS - 1
    assert steps == sorted(set(steps))
    assert int(np.argmin(expected["loss"])) in steps
    assert int(np.argmin(expected["smoothed_loss"])) in steps
    assert body == again


async def test_filters_apply_before_downsampling(
    client: httpx.AsyncClient, auth: dict[str, str], train_run: Run
) -> None:
    body = await curves(client, train_run, auth, min_step=10, max_step=30, max_points=5)
    steps = body["batch"]["step"]
    assert len(steps) <= 5
    assert (steps[0], steps[-1]) == (10, 30)
    assert all(10 <= step <= 30 for step in steps)


@pytest.mark.parametrize("limit", [1, 6, 7, 13, POINTS])
async def test_cursor_pages_return_every_point_once_across_chunk_boundaries(
    client: httpx.AsyncClient, auth: dict[str, str], lr_find_run: Run, train_run: Run, limit: int
) -> None:
    for run, nested in ((lr_find_run, None), (train_run, "batch")):
        steps: list[int] = []
        losses: list[float] = []
        cursor: int | None = None
        while True:
            params = {"limit": limit, **({"cursor": cursor} if cursor is not None else {})}
            body = await curves(client, run, auth, **params)
            assert body["points"] <= limit
            columns = body[nested] if nested else body
            steps += columns["step"]
            losses += columns["loss"]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert steps == list(range(POINTS))
        assert len(losses) == POINTS


async def test_paging_combines_with_an_lr_filter(
    client: httpx.AsyncClient, auth: dict[str, str], lr_find_run: Run
) -> None:
    lr = range_columns()["lr"]
    first = await curves(client, lr_find_run, auth, min_lr=float(lr[20]), limit=10)
    second = await curves(
        client, lr_find_run, auth, min_lr=float(lr[20]), limit=10, cursor=first["next_cursor"]
    )
    assert first["step"] + second["step"] == list(range(20, 40))


async def test_lr_filters_on_a_long_range_test_read_the_overviews_and_the_end_chunks_only(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    make_run: Callable[..., Run],
    session_factory: sessionmaker[Session],
) -> None:
    run = make_run(RunKind.LR_FIND, RunStatus.SUCCEEDED, result={})
    count, chunk, low, high = 100_000, 8192, 20_000, 70_000
    steps = np.arange(count, dtype=float)
    loss = 2.0 + ((steps - 60_000) / count) ** 2
    columns = {"step": steps, "lr": np.geomspace(1e-6, 1.0, count), "loss": loss, "smoothed_loss": loss}
    columns["accuracy"] = steps / count
    with transaction(session_factory) as session:
        for start in range(0, count, chunk):
            part = {key: values[start : start + chunk] for key, values in columns.items()}
            series.append_chunk(session=session, run_id=run.id, series="range", columns=part)
        # the chunks of the two ends (and the one a page may reach) stay readable; reading any other fails
        readable = [low // chunk * chunk, (low // chunk + 1) * chunk, high // chunk * chunk]
        session.execute(
            sa.update(SeriesChunk)
            .where(
                SeriesChunk.run_id == run.id,
                SeriesChunk.series == "range",
                SeriesChunk.first_step.not_in(readable),
            )
            .values(data=b"unreadable")
        )
    lr = columns["lr"]
    bounds = {"min_lr": float(lr[low]), "max_lr": float(lr[high])}

    reduced = await curves(client, run, auth, max_points=200, **bounds)
    first = await curves(client, run, auth, limit=1000, **bounds)
    second = await curves(client, run, auth, limit=1000, cursor=first["next_cursor"], **bounds)
    table = await client.get(
        f"/runs/{run.id}/curves", params={"format": "csv", "limit": 1000, **bounds}, headers=auth
    )

    assert 50 <= reduced["points"] <= 200
    assert (reduced["step"][0], reduced["step"][-1]) == (low, high)
    assert min(reduced["lr"]) >= bounds["min_lr"]
    assert max(reduced["lr"]) <= bounds["max_lr"]
    assert first["step"] + second["step"] == list(range(low, low + 2000))
    assert table.status_code == 200, table.text
    below = await curves(client, run, auth, max_lr=float(lr[0]) / 2, max_points=200)
    assert below["points"] == 0


async def test_an_lr_filtered_page_of_a_long_training_curve_reads_only_the_chunks_the_page_spans(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    make_run: Callable[..., Run],
    session_factory: sessionmaker[Session],
) -> None:
    run = make_run(RunKind.TRAIN, RunStatus.SUCCEEDED, result={})
    count, chunk = 100_000, 8192
    steps = np.arange(count, dtype=float)
    cycle = np.abs((steps % 2000) / 1000 - 1)  # triangular: the lr rises and falls every 2000 steps
    columns = {
        "step": steps,
        "epoch": steps // 1000,
        "lr": 0.001 + 0.009 * cycle,
        "loss": 3.0 - steps / count,
    }
    with transaction(session_factory) as session:
        for start in range(0, count, chunk):
            part = {key: values[start : start + chunk] for key, values in columns.items()}
            series.append_chunk(session=session, run_id=run.id, series="batch", columns=part)
        # past the third chunk nothing can be read: a page that read the whole series would fail
        session.execute(
            sa.update(SeriesChunk)
            .where(
                SeriesChunk.run_id == run.id,
                SeriesChunk.series == "batch",
                SeriesChunk.first_step >= 3 * chunk,
            )
            .values(data=b"unreadable")
        )
    expected = steps[columns["lr"] >= 0.008].astype(int).tolist()

    first = await curves(client, run, auth, min_lr=0.008, limit=1000)
    second = await curves(client, run, auth, min_lr=0.008, limit=1000, cursor=first["next_cursor"])

    assert first["batch"]["step"] + second["batch"]["step"] == expected[:2000]


@pytest.mark.parametrize(
    "params",
    [{"max_points": 10, "limit": 5}, {"min_step": 9, "max_step": 3}, {"max_points": 2}, {"min_lr": "nan"}],
)
async def test_inconsistent_curve_parameters_are_422(
    client: httpx.AsyncClient, auth: dict[str, str], lr_find_run: Run, params: dict[str, Any]
) -> None:
    answer = await client.get(f"/runs/{lr_find_run.id}/curves", params=params, headers=auth)
    assert answer.status_code == 422
    assert answer.json()["code"] == "validation_error"
