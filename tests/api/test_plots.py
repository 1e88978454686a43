"""GET /runs/{id}/plot.{png,svg} and /comparisons/{id}/plot.{png,svg}: figures from the stored curves."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import series
from store.db import transaction
from store.models import Run, RunKind, RunStatus

pytestmark = pytest.mark.anyio
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _range_points(factory: sessionmaker[Session], run_id: str, count: int) -> None:
    lrs = np.geomspace(1e-6, 1.0, count)
    loss = 2.0 - np.exp(-((np.log10(lrs) + 2) ** 2))
    columns = {"step": np.arange(count), "lr": lrs, "loss": loss, "smoothed_loss": loss, "accuracy": loss * 0}
    with transaction(factory) as session:
        series.append_chunk(session=session, run_id=run_id, series="range", columns=columns)


async def test_range_test_plot_is_a_png_of_a_large_series(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    make_run: Callable[..., Run],
    session_factory: sessionmaker[Session],
) -> None:
    result = {"suggested_max_lr": 0.01, "suggested_base_lr": 0.002}
    run = make_run(RunKind.LR_FIND, RunStatus.SUCCEEDED, result=result)
    _range_points(session_factory, run.id, 20_000)

    answer = await client.get(f"/runs/{run.id}/plot.png", headers=auth)

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/png"
    assert answer.content.startswith(PNG_MAGIC)


async def test_training_plot_as_svg_shows_lr_loss_and_accuracy(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    make_run: Callable[..., Run],
    session_factory: sessionmaker[Session],
) -> None:
    run = make_run(RunKind.TRAIN, RunStatus.SUCCEEDED, result={})
    with transaction(session_factory) as session:
        steps = np.arange(50)
        columns = {"step": steps, "epoch": steps // 25, "lr": 0.01 + steps * 1e-4, "loss": 2.0 / (1 + steps)}
        series.append_chunk(session=session, run_id=run.id, series="batch", columns=columns)
        for epoch in range(2):
            values: dict[str, float | None] = {"epoch": epoch, "step": 25 * (epoch + 1), "train_loss": 1.0}
            values |= {"train_accuracy": 0.5, "val_loss": None, "val_accuracy": None, "lr": 0.01}
            series.record_epoch(session=session, run_id=run.id, values=values)

    answer = await client.get(f"/runs/{run.id}/plot.svg", headers=auth)

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in answer.content


async def test_plot_of_another_owners_run_or_an_unknown_format_is_refused(
    client: httpx.AsyncClient, other_auth: dict[str, str], auth: dict[str, str], make_run: Callable[..., Run]
) -> None:
    run = make_run(RunKind.LR_FIND, RunStatus.QUEUED)

    assert (await client.get(f"/runs/{run.id}/plot.png", headers=other_auth)).status_code == 404
    assert (await client.get(f"/runs/{run.id}/plot.gif", headers=auth)).status_code == 422


async def test_comparison_plot_draws_every_variant(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    body = {"model": {"name": "vanilla_cnn"}, "dataset": {"name": "digits"}, "epochs": 1, "repeats": 1}
    created = (await client.post("/comparisons", json=body, headers=auth)).json()

    png = await client.get(f"/comparisons/{created['id']}/plot.png", headers=auth)
    svg = await client.get(f"/comparisons/{created['id']}/plot.svg", headers=auth)

    assert png.status_code == 200, png.text
    assert png.content.startswith(PNG_MAGIC)
    assert b"<svg" in svg.content
