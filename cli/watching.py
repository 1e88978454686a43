"""Live progress bars of a run (from its event stream) and of a comparison (polled), drawn on stderr."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from client import ClrClient, Event, Run

POLL_SECONDS = 1.0


def progress_bar(unit: str, *, visible: bool) -> Progress:
    """Steps done of the total, the latest figures, elapsed time and the time left (ETA)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TextColumn("{task.fields[figures]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not visible,
    )


@dataclass
class RunFigures:
    """What a run's events said last: status, steps, epoch, loss, learning rate and validation accuracy."""

    status: str = "queued"
    step: int = 0
    total_steps: int | None = None
    epoch: int | None = None
    epochs: int | None = None
    loss: float | None = None
    lr: float | None = None
    val_accuracy: float | None = None

    def apply(self, event: Event) -> None:
        data: dict[str, Any] = event.data
        if event.event == "status":
            self.status = data["status"]
            self.epochs = data["request"].get("epochs")
            self._progress(data["progress"])
        elif event.event == "progress":
            self._progress(data)
        elif event.event == "points" and data["step"]:
            self.step = max(self.step, data["step"][-1] + 1)
            self.loss = _last_finite(data.get("loss", []))
            self.lr = _last_finite(data.get("lr", []))
        elif event.event == "epoch":
            self.val_accuracy = data.get("val_accuracy")

    def _progress(self, progress: dict[str, Any]) -> None:
        self.step = max(self.step, progress["step"])
        self.total_steps = progress["total_steps"] or self.total_steps
        self.epoch = progress["epoch"]

    def describe(self) -> str:
        parts = []
        if self.epoch is not None:
            parts.append(
                f"epoch {self.epoch + 1}/{self.epochs}" if self.epochs else f"epoch {self.epoch + 1}"
            )
        if self.loss is not None:
            parts.append(f"loss {self.loss:.4g}")
        if self.lr is not None:
            parts.append(f"lr {self.lr:.3g}")
        if self.val_accuracy is not None:
            parts.append(f"val_acc {self.val_accuracy:.2%}")
        return "  ".join(parts)


def watch_run(client: ClrClient, run_id: str, *, bar: bool) -> Run:
    """Follow the run's events until it ends, drawing the bar unless `bar` is false; the run as it ended."""
    figures = RunFigures()
    with progress_bar("steps", visible=bar) as progress:
        task = progress.add_task(run_id, total=None, figures="")
        for event in client.events(run_id):
            figures.apply(event)
            progress.update(
                task,
                description=f"{run_id[:12]} {figures.status}",
                total=figures.total_steps,
                completed=figures.step,
                figures=figures.describe(),
            )
    return client.get_run(run_id)


def watch_comparison(client: ClrClient, comparison_id: str, *, bar: bool) -> dict[str, Any]:
    """Poll the comparison until it ends; the bar counts its runs, each by its fraction done."""
    with progress_bar("runs", visible=bar) as progress:
        task = progress.add_task(comparison_id, total=None, figures="")
        while True:
            comparison = client.get_comparison(comparison_id)
            children = [child["run"] for child in comparison["children"]]
            done = sum(1.0 if run["is_terminal"] else run["progress"]["fraction"] or 0.0 for run in children)
            counts = ", ".join(f"{n} {status}" for status, n in sorted(comparison["counts"].items()) if n)
            progress.update(
                task,
                description=f"{comparison_id[:12]} {comparison['status']}",
                total=len(children) or None,
                completed=round(done, 2),
                figures=counts,
            )
            if comparison["status"] != "running":
                return comparison
            time.sleep(POLL_SECONDS)


def _last_finite(values: list[float | None]) -> float | None:
    return next((v for v in reversed(values) if v is not None and math.isfinite(v)), None)
