"""Figures of runs and comparisons, drawn with matplotlib's object API (no pyplot state, safe in threads).

Routes that call these are plain `def`, so FastAPI runs them in its threadpool and the event loop stays free.
"""

from __future__ import annotations

import enum
import io

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sqlalchemy.orm import Session

from api.comparisons import ComparisonCurves
from store import series
from store.downsample import keep_indices
from store.models import Run, RunKind

MAX_POINTS = 2000  # a figure a few hundred pixels wide shows no more


class PlotFormat(enum.StrEnum):
    PNG = "png"
    SVG = "svg"

    @property
    def media_type(self) -> str:
        return "image/png" if self is PlotFormat.PNG else "image/svg+xml"


def _thin(*columns: np.ndarray) -> list[np.ndarray]:
    """The columns at the points min/max downsampling of the last one keeps."""
    if columns[-1].size <= MAX_POINTS:
        return list(columns)
    kept = keep_indices(columns[-1], max_points=MAX_POINTS)
    return [column[kept] for column in columns]


def _save(figure: Figure, fmt: PlotFormat) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt.value, dpi=110, bbox_inches="tight", metadata=_metadata(fmt))
    return buffer.getvalue()


def _metadata(fmt: PlotFormat) -> dict[str, str | None]:
    """No creation date, so the same data gives the same bytes."""
    return {"Software": None} if fmt is PlotFormat.PNG else {"Date": None}


def run_plot(*, session: Session, run: Run, fmt: PlotFormat) -> bytes:
    """A range test's smoothed loss against LR, or a training run's LR, loss and accuracy."""
    if run.kind == RunKind.LR_FIND:
        columns = series.read_series(session=session, run_id=run.id, series="range")
        return range_test_figure(columns["lr"], columns["smoothed_loss"], run.result or {}, run.id, fmt)
    batch = series.read_series(session=session, run_id=run.id, series="batch")
    epochs = series.read_epochs(session=session, run_id=run.id)
    return training_figure(batch, epochs, run.id, fmt)


def range_test_figure(
    lrs: np.ndarray, losses: np.ndarray, result: dict[str, float], title: str, fmt: PlotFormat
) -> bytes:
    figure = Figure(figsize=(7, 4.5))
    axes = figure.subplots()
    lrs, losses = _thin(lrs, losses)
    axes.plot(lrs, losses, color="tab:blue", label="smoothed loss")
    axes.set_xscale("log")
    for name, colour in (("suggested_max_lr", "tab:red"), ("suggested_base_lr", "tab:green")):
        if result.get(name):
            axes.axvline(result[name], color=colour, linestyle="--", label=f"{name} = {result[name]:.3g}")
    axes.set(xlabel="learning rate (log)", ylabel="loss", title=f"LR range test {title}")
    axes.legend()
    return _save(figure, fmt)


def training_figure(
    batch: dict[str, np.ndarray], epochs: dict[str, list[float | None]], title: str, fmt: PlotFormat
) -> bytes:
    figure = Figure(figsize=(7, 8))
    lr_axes, loss_axes, accuracy_axes = figure.subplots(3, 1)
    steps, lrs, losses = _thin(batch["step"], batch["lr"], batch["loss"])
    lr_axes.plot(steps, lrs, color="tab:purple")
    lr_axes.set(ylabel="learning rate", title=f"Training {title}")
    loss_axes.plot(steps, losses, color="tab:blue", linewidth=0.8)
    loss_axes.set(xlabel="batch", ylabel="loss")
    for name in ("train_accuracy", "val_accuracy"):
        values = np.asarray([np.nan if v is None else v for v in epochs[name]], dtype=np.float64)
        accuracy_axes.plot(np.asarray(epochs["epoch"]) + 1, values, marker="o", label=name)
    accuracy_axes.set(xlabel="epoch", ylabel="accuracy")
    accuracy_axes.legend()
    figure.tight_layout()
    return _save(figure, fmt)


def comparison_figure(curves: ComparisonCurves, fmt: PlotFormat) -> bytes:
    """Validation and training accuracy per variant: the mean over repeats with a ±std band."""
    figure = Figure(figsize=(11, 4.5))
    val_axes, train_axes = figure.subplots(1, 2, sharey=True)
    for index, (name, variant) in enumerate(sorted(curves.variants.items())):
        colour = f"C{index % 10}"
        summary = curves.summary[name]
        label = name
        if summary.best_val_accuracy_mean is not None:
            label += f" ({summary.best_val_accuracy_mean:.3f} ± {summary.best_val_accuracy_std or 0:.3f})"
        epochs = np.asarray(variant.epoch) + 1
        _band(val_axes, epochs, variant.mean["val_accuracy"], variant.std["val_accuracy"], label, colour)
        _band(train_axes, epochs, variant.mean["train_accuracy"], variant.std["train_accuracy"], name, colour)
    val_axes.set(xlabel="epoch", ylabel="validation accuracy", title="Validation accuracy (mean ± std)")
    train_axes.set(xlabel="epoch", ylabel="training accuracy", title="Training accuracy (mean ± std)")
    val_axes.legend(title="best val accuracy", fontsize="small")
    figure.tight_layout()
    return _save(figure, fmt)


def _band(
    axes: Axes,
    x: np.ndarray,
    mean: list[float | None],
    std: list[float | None],
    label: str,
    colour: str,
) -> None:
    m = np.asarray([np.nan if v is None else v for v in mean], dtype=np.float64)
    s = np.asarray([0.0 if v is None else v for v in std], dtype=np.float64)
    axes.plot(x, m, marker="o", markersize=3, label=label, color=colour)
    axes.fill_between(x, m - s, m + s, color=colour, alpha=0.2)
