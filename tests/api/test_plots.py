"""GET /runs/{id}/plot.{png,svg} and /comparisons/{id}/plot.{png,svg}: figures from the stored curves."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from api.plots import describe, range_test_figure, training_figure
from store import series
from store.db import transaction
from store.models import Run, RunKind, RunStatus, SeriesChunk

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


@pytest.mark.parametrize(
    ("model", "shown"),
    [
        ({"name": "vanilla_cnn", "params": {"width": 16}}, "vanilla_cnn (width=16) on"),
        (
            {"name": "resnet18", "params": {"pretrained": True, "trainable": "head"}},
            "resnet18 (pretrained=true, trainable=head) on",
        ),
        (
            {"name": "plugin_net", "params": {"depth": 3, "sizes": [8, 4]}},
            "plugin_net (depth=3, sizes=[8, 4]) on",
        ),
        ({"name": "vanilla_cnn", "params": {}}, "vanilla_cnn on"),
    ],
)
def test_a_plot_title_shows_any_models_params(model: dict[str, object], shown: str) -> None:
    request = {"model": model, "dataset": {"name": "digits"}, "optimizer": {"name": "adam"}, "batch_size": 16}

    assert describe(request) == f"{shown} digits, adam, batch 16"


def _diverging_range_test(count: int = 400) -> dict[str, np.ndarray]:
    """A range test whose smoothed loss falls from 2.3 to 0.5, then explodes to 50 over its last 60 points."""
    lrs = np.geomspace(1e-6, 10.0, count)
    smoothed = 0.5 + 1.8 / (1 + np.exp(4 * (np.log10(lrs) + 3)))
    smoothed[-60:] = np.geomspace(0.6, 50.0, 60)
    noise = np.random.default_rng(0).normal(0, 0.1, count)
    return {"lr": lrs, "loss": smoothed + noise, "smoothed_loss": smoothed, "accuracy": 1 / (1 + smoothed)}


def test_a_range_test_figure_clips_the_diverging_tail_and_puts_every_suggestion_on_the_curve() -> None:
    result = {
        "suggestions": {
            "minimum": {"lr": 0.03, "index": 330, "reason": None},
            "steepest": {"lr": 1e-3, "index": 180, "reason": None},
            "valley": {"lr": None, "index": None, "reason": "the loss never decreases"},
        },
        "suggested_max_lr": 0.03,
        "suggested_base_lr": 0.005,
        "warnings": ["the rules disagree by 30x: the curve is noisy"],
    }
    figure = range_test_figure(
        _diverging_range_test(), result, "vanilla_cnn on fashion_mnist, sgd_momentum", past_end_lr=0.1
    )
    loss_axes, accuracy_axes = figure.axes

    assert "vanilla_cnn on fashion_mnist, sgd_momentum" in loss_axes.get_title()
    low, high = loss_axes.get_ylim()
    assert 0.3 < low < 0.5
    assert 2.3 < high < 2.6  # the informative part, not the tail's 50
    assert any("diverging" in text.get_text() for text in loss_axes.texts)
    assert any("end_lr 0.1: swept on past it" in text.get_text() for text in loss_axes.texts)
    points = {line.get_label(): line for line in loss_axes.lines if line.get_linestyle() == "None"}
    lowest = "lowest smoothed loss 0.5 at 0.886"
    assert set(points) == {"minimum: 0.03 (suggested max_lr)", "steepest: 0.001", lowest}
    chosen, other = points["minimum: 0.03 (suggested max_lr)"], points["steepest: 0.001"]
    assert chosen.get_marker() == "*"
    assert chosen.get_markersize() > other.get_markersize()
    for line in (chosen, other):  # on the smoothed curve
        x, y = np.asarray(line.get_xdata())[0], np.asarray(line.get_ydata())[0]
        curve = _diverging_range_test()
        assert y == pytest.approx(np.interp(np.log(x), np.log(curve["lr"]), curve["smoothed_loss"]))
    raw, smooth = loss_axes.lines[:2]
    assert (raw.get_alpha() or 1.0) < 0.5  # faint behind the smoothed loss
    assert smooth.get_alpha() is None
    assert accuracy_axes.get_ylabel() == "training accuracy"
    assert any("rules disagree" in text.get_text() for text in figure.texts)


def test_a_training_figure_shows_validation_loss_and_counts_epochs_from_zero() -> None:
    steps = np.arange(30.0)
    batch = {"step": steps, "epoch": steps // 10, "lr": 0.01 + steps * 1e-4, "loss": 2.0 / (1 + steps)}
    epochs: dict[str, list[float | None]] = {
        "epoch": [0, 1, 2], "step": [10, 20, 30], "train_loss": [1.0, 0.8, 0.7],
        "train_accuracy": [0.5, 0.6, 0.7], "val_loss": [1.1, 0.9, None], "val_accuracy": [0.4, 0.5, None],
        "lr": [0.01, 0.01, 0.01],
    }  # fmt: skip
    figure = training_figure(batch, epochs, "vanilla_cnn on digits, sgd")
    _, loss_axes, accuracy_axes = figure.axes

    val_loss = next(line for line in loss_axes.lines if line.get_label() == "val_loss (epoch end)")
    assert np.asarray(val_loss.get_xdata()).tolist() == [10, 20, 30]
    assert np.asarray(val_loss.get_ydata()).tolist()[:2] == [1.1, 0.9]
    val_accuracy = next(line for line in accuracy_axes.lines if line.get_label() == "val_accuracy")
    assert np.asarray(val_accuracy.get_xdata()).tolist() == [0, 1, 2]  # as in /curves, progress and events


@pytest.mark.parametrize(("kind", "name"), [(RunKind.LR_FIND, "range"), (RunKind.TRAIN, "batch")])
async def test_plots_of_long_runs_read_the_stored_overviews_never_the_points(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    make_run: Callable[..., Run],
    session_factory: sessionmaker[Session],
    kind: RunKind,
    name: str,
) -> None:
    run = make_run(kind, RunStatus.SUCCEEDED, result={})
    count = 100_000
    steps = np.arange(count)
    columns = {"step": steps, "lr": np.geomspace(1e-6, 1.0, count), "loss": 2.0 - steps / count}
    columns |= {"smoothed_loss": columns["loss"], "accuracy": steps / count, "epoch": steps // 1000}
    with transaction(session_factory) as session:
        for start in range(0, count, 8192):
            chunk = {key: values[start : start + 8192] for key, values in columns.items()}
            series.append_chunk(session=session, run_id=run.id, series=name, columns=chunk)
        # points that cannot be decoded: reading them would fail the request
        session.execute(
            sa.update(SeriesChunk)
            .where(SeriesChunk.run_id == run.id, SeriesChunk.series == name)
            .values(data=b"unreadable")
        )

    answer = await client.get(f"/runs/{run.id}/plot.png", headers=auth)

    assert answer.status_code == 200, answer.text
    assert answer.content.startswith(PNG_MAGIC)
