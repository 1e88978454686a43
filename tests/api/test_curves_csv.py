"""Curves as CSV (RFC 4180, a header row) for runs, paged and downsampled as JSON is, and for comparisons."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import series
from store.db import transaction
from store.models import Run, RunKind, RunStatus
from tests.api.test_curves import POINTS, range_columns, write

pytestmark = pytest.mark.anyio


def parse(answer: httpx.Response) -> tuple[list[str], list[list[str]]]:
    """The header row and the rows of a CSV answer, checked for its type."""
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    header, *rows = list(csv.reader(io.StringIO(answer.text)))
    return header, rows


def as_json_columns(header: list[str], rows: list[list[str]]) -> dict[str, list[Any]]:
    """CSV columns as the JSON answer has them: steps and epochs as integers, empty fields as null."""
    columns = [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in header]
    return {
        name: [int(v) if name in ("step", "epoch") else (float(v) if v else None) for v in values]
        for name, values in zip(header, columns, strict=True)
    }


async def get(client: httpx.AsyncClient, run: Run, auth: dict[str, str], **params: Any) -> httpx.Response:
    return await client.get(f"/runs/{run.id}/curves", params=params, headers=auth)


@pytest.mark.parametrize("params", [{}, {"max_points": 12}, {"min_step": 5, "max_lr": 1e-3}])
async def test_a_range_curve_as_csv_parses_to_exactly_the_json_columns(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    make_run: Callable[..., Run],
    session_factory: sessionmaker[Session],
    params: dict[str, Any],
) -> None:
    run = make_run(RunKind.LR_FIND, RunStatus.RUNNING)
    columns = range_columns()
    columns["loss"][[3, 4]] = [np.nan, np.inf]
    write(session_factory, run.id, "range", columns)

    header, rows = parse(await get(client, run, auth, format="csv", **params))
    expected = (await get(client, run, auth, **params)).json()

    assert header == ["step", "lr", "loss", "smoothed_loss", "accuracy"]
    assert len(rows) == expected["points"] > 0
    assert as_json_columns(header, rows) == {name: expected[name] for name in header}


async def test_csv_pages_by_cursor_with_the_next_cursor_in_a_header_until_every_point_came_once(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    make_run: Callable[..., Run],
    session_factory: sessionmaker[Session],
) -> None:
    run = make_run(RunKind.LR_FIND, RunStatus.SUCCEEDED)
    write(session_factory, run.id, "range", range_columns())
    steps: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"format": "csv", "limit": 16} | ({"cursor": cursor} if cursor is not None else {})
        answer = await get(client, run, auth, **params)
        _, rows = parse(answer)
        steps += [int(row[0]) for row in rows]
        pages += 1
        cursor = answer.headers.get("x-next-cursor")
        if cursor is None:
            break
        assert cursor == rows[-1][0]
    assert steps == list(range(POINTS))
    assert pages == 4


async def test_a_training_runs_csv_is_its_per_step_series(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    make_run: Callable[..., Run],
    session_factory: sessionmaker[Session],
) -> None:
    run = make_run(RunKind.TRAIN, RunStatus.RUNNING)
    step = np.arange(25, dtype=float)
    write(
        session_factory,
        run.id,
        "batch",
        {"step": step, "epoch": step // 10, "lr": 0.01 + 0 * step, "loss": 3 - step},
    )

    header, rows = parse(await get(client, run, auth, format="csv"))
    expected = (await get(client, run, auth)).json()["batch"]

    assert header == ["step", "epoch", "lr", "loss"]
    assert rows[11] == ["11", "1", "0.01", "-8.0"]
    assert as_json_columns(header, rows) == expected


async def test_a_run_without_points_yet_has_a_csv_of_its_header_alone(
    client: httpx.AsyncClient, auth: dict[str, str], make_run: Callable[..., Run]
) -> None:
    run = make_run(RunKind.LR_FIND, RunStatus.QUEUED)
    answer = await get(client, run, auth, format="csv")
    assert parse(answer) == (["step", "lr", "loss", "smoothed_loss", "accuracy"], [])
    assert "x-next-cursor" not in answer.headers


async def test_an_unknown_curve_format_is_a_422_naming_the_allowed_ones(
    client: httpx.AsyncClient, auth: dict[str, str], make_run: Callable[..., Run]
) -> None:
    run = make_run(RunKind.LR_FIND, RunStatus.QUEUED)
    answer = await get(client, run, auth, format="xlsx")
    assert answer.status_code == 422
    assert answer.json()["code"] == "validation_error"
    assert "'csv'" in answer.json()["detail"]


async def test_a_comparisons_curves_as_csv_hold_a_row_per_variant_and_epoch_matching_the_json(
    client: httpx.AsyncClient, auth: dict[str, str], session_factory: sessionmaker[Session], read_run: Any
) -> None:
    body = {
        "model": {"name": "vanilla_cnn"},
        "dataset": {"name": "digits"},
        "epochs": 2,
        "repeats": 2,
        "variants": [
            {"name": "sgd", "optimizer": {"name": "sgd"}},
            {"name": "adam", "optimizer": {"name": "adam"}},
        ],
    }
    created = await client.post("/comparisons", json=body, headers=auth)
    assert created.status_code == 202, created.text
    comparison = created.json()
    with transaction(session_factory) as session:
        for child in comparison["children"]:
            for epoch in range(2):
                accuracy = 0.5 + 0.1 * epoch + 0.05 * child["repeat"]
                values = {
                    "epoch": epoch,
                    "step": 9 + 10 * epoch,
                    "train_loss": 1.0,
                    "train_accuracy": accuracy,
                    "val_loss": 1.2,
                    "val_accuracy": accuracy if epoch else None,
                    "lr": 0.01,
                }
                series.record_epoch(session=session, run_id=child["run"]["id"], values=values)
    path = f"/comparisons/{comparison['id']}/curves"

    header, rows = parse(await client.get(path, params={"format": "csv"}, headers=auth))
    expected = (await client.get(path, headers=auth)).json()["variants"]

    assert header[:3] == ["variant", "epoch", "runs"]
    assert [row[:3] for row in rows] == [[v, str(e), "2"] for v in ("sgd", "adam") for e in (0, 1)]
    for row in rows:
        variant, epoch = expected[row[0]], int(row[1])
        for name in variant["mean"]:
            for stat in ("mean", "std"):
                cell = row[header.index(f"{name}_{stat}")]
                assert (float(cell) if cell else None) == pytest.approx(variant[stat][name][epoch])
    assert rows[1][header.index("train_accuracy_mean")] == str(0.625)
