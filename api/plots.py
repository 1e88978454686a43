"""Figures of runs and comparisons, drawn with matplotlib's object API (no pyplot state, safe in threads).

Routes that call these are plain `def`, so FastAPI runs them in its threadpool and the event loop stays free.
Per-step series are read through their stored overviews (`store.overview`), never whole. Epochs are counted
from 0 here as in `/curves`, progress and events.
"""

from __future__ import annotations

import enum
import io
import json
import textwrap
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sqlalchemy.orm import Session

from api.comparisons import ComparisonCurves
from clr.specs import DatasetSpec
from store import overview, series
from store.models import Run, RunKind

MAX_POINTS = 2000  # a figure a few hundred pixels wide shows no more
START_SHARE = 0.02  # the first 2 % of a range test's points give the level its loss started at


class PlotFormat(enum.StrEnum):
    PNG = "png"
    SVG = "svg"

    @property
    def media_type(self) -> str:
        return "image/png" if self is PlotFormat.PNG else "image/svg+xml"


def save(figure: Figure, fmt: PlotFormat) -> bytes:
    """The figure's bytes, with no creation date, so the same data gives the same bytes."""
    buffer = io.BytesIO()
    metadata: dict[str, str | None] = {"Software": None} if fmt is PlotFormat.PNG else {"Date": None}
    figure.savefig(buffer, format=fmt.value, dpi=110, bbox_inches="tight", metadata=metadata)
    return buffer.getvalue()


def run_plot(*, session: Session, run: Run, fmt: PlotFormat) -> bytes:
    """A range test's loss and accuracy against LR, or a training run's LR, losses and accuracy."""
    kind = "range" if run.kind == RunKind.LR_FIND else "batch"
    columns = overview.read_downsampled(session=session, run_id=run.id, series=kind, max_points=MAX_POINTS)
    if run.kind == RunKind.LR_FIND:
        past = run.request.get("end_lr") if run.request.get("past_end_lr") else None
        return save(
            range_test_figure(columns, run.result or {}, describe(run.request), past_end_lr=past), fmt
        )
    epochs = series.read_epochs(session=session, run_id=run.id)
    schedule = run.request.get("schedule") or {}
    bounds = f" {schedule['base_lr']:.3g} to {schedule['max_lr']:.3g}" if schedule.get("max_lr") else ""
    title = describe(run.request) + (f", {schedule['policy']}{bounds}" if schedule else "")
    return save(training_figure(columns, epochs, title), fmt)


def describe(request: dict[str, Any]) -> str:
    """Model, dataset, optimizer and batch size of a run's request, in a few words."""
    model = request.get("model", {})
    words = [model.get("name", "?") + _params(model.get("params") or {})]
    words.append(f"on {request.get('dataset', {}).get('name', '?')},")
    words.append(request.get("optimizer", {}).get("name", "sgd"))
    return " ".join(words) + (f", batch {request['batch_size']}" if "batch_size" in request else "")


def _params(params: dict[str, Any]) -> str:
    """A model plugin's parameters as ` (key=value, ...)`, whichever plugin it is; nothing for none."""
    shown = [
        f"{key}={value if isinstance(value, str) else json.dumps(value)}" for key, value in params.items()
    ]
    return f" ({', '.join(shown)})" if shown else ""


def informative_end(smoothed: np.ndarray) -> int:
    """Points before the diverging tail: after the minimum, the first one above where the curve started."""
    finite = np.isfinite(smoothed)
    if not finite.any():
        return int(smoothed.size)
    start = float(np.median(smoothed[: max(1, round(START_SHARE * smoothed.size))]))
    lowest = int(np.argmin(np.where(finite, smoothed, np.inf)))
    above = np.flatnonzero(~(smoothed[lowest:] <= start))  # NaN and infinities count as diverged
    return int(smoothed.size) if above.size == 0 else lowest + int(above[0])


def range_test_figure(
    columns: dict[str, np.ndarray], result: dict[str, Any], title: str, *, past_end_lr: float | None = None
) -> Figure:
    """Raw loss faint behind the smoothed loss, each suggestion on the curve, accuracy below, warnings.

    past_end_lr: the end_lr a sweep went on past, marked where the planned sweep ended.
    """
    lrs, losses, smoothed = columns["lr"], columns["loss"], columns["smoothed_loss"]
    figure = Figure(figsize=(8, 7.5), layout="constrained")
    loss_axes, accuracy_axes = figure.subplots(2, 1, sharex=True, height_ratios=(2.2, 1))
    end = informative_end(smoothed)
    loss_axes.plot(lrs, losses, color="tab:blue", alpha=0.25, linewidth=0.7, label="loss (each batch)")
    loss_axes.plot(lrs, smoothed, color="tab:blue", linewidth=1.8, label="smoothed loss")
    shown = smoothed[:end][np.isfinite(smoothed[:end])]
    if shown.size:
        low, high = float(shown.min()), float(shown.max())
        margin = 0.1 * max(high - low, 1e-6)
        loss_axes.set_ylim(low - margin, high + margin)
    if end < smoothed.size:
        loss_axes.axvspan(lrs[end], lrs[-1], color="0.5", alpha=0.15, hatch="//", linewidth=0)
        loss_axes.annotate(
            f"diverging: {smoothed.size - end} points\nabove the start (clipped)",
            xy=(0.995, 0.03), xycoords="axes fraction", ha="right", va="bottom", fontsize="small",
            color="0.3",
        )  # fmt: skip
    if past_end_lr is not None:
        for axes in (loss_axes, accuracy_axes):
            axes.axvline(past_end_lr, color="0.4", linestyle=":", linewidth=1)
        loss_axes.annotate(
            f" end_lr {past_end_lr:g}: swept on past it", xy=(past_end_lr, 0.97),
            xycoords=("data", "axes fraction"), ha="left", va="top", fontsize="small", color="0.3",
        )  # fmt: skip
    _suggestions(loss_axes, lrs, smoothed, result)
    accuracy_axes.plot(lrs, columns["accuracy"], color="tab:green", alpha=0.25, linewidth=0.7)
    accuracy_axes.plot(lrs, _moving_average(columns["accuracy"]), color="tab:green", label="accuracy")
    accuracy_axes.set(xlabel="learning rate (log)", ylabel="training accuracy")
    loss_axes.set(xscale="log", ylabel="loss", title=f"Learning-rate range test: {title}")
    loss_axes.legend(loc="lower left", fontsize="small")
    warnings = result.get("warnings") or []
    if warnings:
        wrapped = "\n".join(textwrap.fill(f"! {w}", 110) for w in warnings)
        figure.text(0.01, -0.01, wrapped, ha="left", va="top", fontsize="small", color="tab:red")
    return figure


def _suggestions(axes: Axes, lrs: np.ndarray, smoothed: np.ndarray, result: dict[str, Any]) -> None:
    """Every rule's rate as a point on the smoothed curve; the chosen rule's CLR range shaded."""
    if lrs.size < 2:
        return
    lowest = int(np.nanargmin(smoothed))
    axes.plot(
        lrs[lowest], smoothed[lowest], marker="v", color="black", linestyle="none",
        label=f"lowest smoothed loss {smoothed[lowest]:.3g} at {lrs[lowest]:.3g}",
    )  # fmt: skip
    chosen = result.get("suggested_max_lr")
    for index, (name, suggestion) in enumerate(sorted((result.get("suggestions") or {}).items())):
        lr = suggestion.get("lr")
        if lr is None:
            continue
        y = float(np.interp(np.log(lr), np.log(lrs), smoothed))
        emphasised = lr == chosen
        axes.plot(
            [lr], [y], marker="*" if emphasised else "o", markersize=16 if emphasised else 7,
            color="tab:red" if emphasised else f"C{index + 3}", linestyle="none", zorder=5,
            markeredgecolor="black" if emphasised else "none",
            label=f"{name}: {lr:.3g}" + (" (suggested max_lr)" if emphasised else ""),
        )  # fmt: skip
    base = result.get("suggested_base_lr")
    if chosen and base:
        axes.axvspan(base, chosen, color="tab:red", alpha=0.08, label=f"CLR range {base:.3g} to {chosen:.3g}")


def _moving_average(values: np.ndarray, width: int = 25) -> np.ndarray:
    """A centred running mean, so per-batch accuracy reads as a trend."""
    if values.size < width:
        return values
    kernel = np.ones(width) / width
    padded = np.pad(values, (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def training_figure(
    batch: dict[str, np.ndarray], epochs: dict[str, list[float | None]], title: str
) -> Figure:
    """LR and loss by step (validation loss at each epoch's end), accuracy by epoch."""
    figure = Figure(figsize=(8, 9), layout="constrained")
    lr_axes, loss_axes, accuracy_axes = figure.subplots(3, 1)
    lr_axes.plot(batch["step"], batch["lr"], color="tab:purple")
    lr_axes.set(xlabel="step", ylabel="learning rate", title=f"Training: {title}")
    loss_axes.plot(
        batch["step"], batch["loss"], color="tab:blue", linewidth=0.6, alpha=0.6, label="batch loss"
    )
    ends = np.asarray(epochs["step"], dtype=np.float64)
    for name, colour in (("train_loss", "tab:blue"), ("val_loss", "tab:orange")):
        loss_axes.plot(ends, _floats(epochs[name]), marker="o", color=colour, label=f"{name} (epoch end)")
    loss_axes.set(xlabel="step", ylabel="loss")
    loss_axes.legend(fontsize="small")
    numbers = np.asarray(epochs["epoch"], dtype=np.int64)
    for name in ("train_accuracy", "val_accuracy"):
        accuracy_axes.plot(numbers, _floats(epochs[name]), marker="o", label=name)
    accuracy_axes.set(xlabel="epoch (from 0)", ylabel="accuracy")
    accuracy_axes.xaxis.get_major_locator().set_params(integer=True)
    accuracy_axes.legend(fontsize="small")
    return figure


def _floats(values: list[float | None]) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)


def comparison_figure(curves: ComparisonCurves, request: dict[str, Any], fmt: PlotFormat) -> bytes:
    """Validation and training accuracy per variant: the mean over repeats with a ±std band."""
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    dataset = request["dataset"]
    split = DatasetSpec(**dataset).validation_split
    model = request["model"]["name"] + _params(request["model"].get("params") or {})
    figure.suptitle(
        f"{model} on {dataset['name']}, batch {request['batch_size']}, {request['repeats']} seeds"
    )
    val_axes, train_axes = figure.subplots(1, 2, sharey=True)
    for index, (name, variant) in enumerate(sorted(curves.variants.items())):
        colour = f"C{index % 10}"
        summary = curves.summary[name]
        label = name
        if summary.best_val_accuracy_mean is not None:
            label += f" ({summary.best_val_accuracy_mean:.3f} ± {summary.best_val_accuracy_std or 0:.3f})"
        epochs = np.asarray(variant.epoch)
        _band(val_axes, epochs, variant.mean["val_accuracy"], variant.std["val_accuracy"], label, colour)
        _band(train_axes, epochs, variant.mean["train_accuracy"], variant.std["train_accuracy"], name, colour)
    val_axes.set(
        xlabel="epoch (from 0)",
        ylabel="validation accuracy",
        title=f"Validation on the {split} split (mean ± std)",
    )
    train_axes.set(
        xlabel="epoch (from 0)", ylabel="training accuracy", title="Training accuracy (mean ± std)"
    )
    val_axes.legend(title="best val accuracy", fontsize="small")
    return save(figure, fmt)


def _band(
    axes: Axes,
    x: np.ndarray,
    mean: list[float | None],
    std: list[float | None],
    label: str,
    colour: str,
) -> None:
    m = _floats(mean)
    s = np.asarray([0.0 if v is None else v for v in std], dtype=np.float64)
    axes.plot(x, m, marker="o", markersize=3, label=label, color=colour)
    axes.fill_between(x, m - s, m + s, color=colour, alpha=0.2)
