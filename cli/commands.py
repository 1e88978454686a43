"""Client commands of `clr-service`: submit, list, read, watch and plot runs over the HTTP API."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import typer
from rich.console import Console
from rich.progress import Progress

from client import DEFAULT_URL, ClrClient, ClrError, Run

Url = Annotated[str, typer.Option("--url", envvar="CLR_URL", help="The service's base URL")]
Key = Annotated[str, typer.Option("--key", envvar="CLR_API_KEY", help="API key", show_default=False)]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON only, for scripts")]
Wait = Annotated[bool, typer.Option("--wait", help="Wait until the run finishes")]
Model = Annotated[str, typer.Option(help="A model plugin: vanilla_cnn, resnet18, ... (GET /models)")]
Dataset = Annotated[str, typer.Option(help="A dataset plugin: digits, shapes, mnist, ... (GET /datasets)")]
Optimizer = Annotated[str, typer.Option(help="sgd, sgd_momentum, adagrad, rmsprop, adam or adamw")]
BatchSize = Annotated[int, typer.Option(help="Batch size")]
Limit = Annotated[float, typer.Option(help="Seconds --wait waits at most")]
Name = Annotated[str | None, typer.Option(help="A short name to find the run by")]
Tags = Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeat for several)")]


@contextmanager
def connect(url: str, key: str) -> Iterator[ClrClient]:
    """A client; a service or network error becomes a message on stderr and exit status 1."""
    try:
        with ClrClient(url, key) as client:
            yield client
    except ClrError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    except httpx.TransportError as error:
        typer.echo(f"error: cannot reach the service at {url} ({error}); set CLR_URL or --url", err=True)
        raise typer.Exit(1) from error


def register(app: typer.Typer) -> None:
    """Add the client commands to the `clr-service` app."""
    for name, command in COMMANDS.items():
        app.command(name)(command)


def lr_find(
    model: Model = "vanilla_cnn",
    dataset: Dataset = "digits",
    optimizer: Optimizer = "sgd",
    batch_size: BatchSize = 32,
    start_lr: Annotated[float, typer.Option(help="First learning rate")] = 1e-7,
    end_lr: Annotated[float, typer.Option(help="Last learning rate")] = 0.1,
    num_iter: Annotated[int | None, typer.Option(help="Batches in the sweep (default: 2 epochs)")] = None,
    name: Name = None,
    tag: Tags = None,
    wait: Wait = False,
    wait_limit: Limit = 3600.0,
    url: Url = DEFAULT_URL,
    key: Key = "",
    as_json: AsJson = False,
) -> None:
    """Queue a learning-rate range test."""
    body = _job_body(model, dataset, optimizer, batch_size, name, tag)
    body.update(start_lr=start_lr, end_lr=end_lr, **({"num_iter": num_iter} if num_iter else {}))
    with connect(url, key) as client:
        run = client.lr_find(**body)
        _show_run(client.wait(run.id, timeout=wait_limit) if wait else run, as_json)


def train(
    model: Model = "vanilla_cnn",
    dataset: Dataset = "digits",
    optimizer: Optimizer = "sgd",
    batch_size: BatchSize = 32,
    epochs: Annotated[int, typer.Option(help="Epochs to train")] = 10,
    policy: Annotated[
        str, typer.Option(help="triangular, triangular2, exp_range, one_cycle, …")
    ] = "triangular",
    base_lr: Annotated[float | None, typer.Option(help="Lower bound of the cycle")] = None,
    max_lr: Annotated[float | None, typer.Option(help="Upper bound of the cycle")] = None,
    step_size_iter: Annotated[int | None, typer.Option(help="Half-cycle in batches")] = None,
    from_lr_find: Annotated[
        str | None, typer.Option(help="Take missing bounds from this finished range test")
    ] = None,
    name: Name = None,
    tag: Tags = None,
    wait: Wait = False,
    wait_limit: Limit = 3600.0,
    url: Url = DEFAULT_URL,
    key: Key = "",
    as_json: AsJson = False,
) -> None:
    """Queue training with a cyclical learning-rate policy."""
    schedule = {"policy": policy, "base_lr": base_lr, "max_lr": max_lr, "step_size_iter": step_size_iter}
    schedule["from_lr_find"] = from_lr_find
    body = _job_body(model, dataset, optimizer, batch_size, name, tag)
    body.update(epochs=epochs, schedule={name: v for name, v in schedule.items() if v is not None})
    with connect(url, key) as client:
        run = client.train(**body)
        _show_run(client.wait(run.id, timeout=wait_limit) if wait else run, as_json)


def compare(
    body: Annotated[Path, typer.Argument(help="JSON file with the body of POST /comparisons ('-': stdin)")],
    url: Url = DEFAULT_URL,
    key: Key = "",
) -> None:
    """Queue a comparison of runs; prints the service's answer as JSON."""
    text = typer.get_text_stream("stdin").read() if str(body) == "-" else body.read_text()
    with connect(url, key) as client:
        typer.echo(json.dumps(client.compare(**json.loads(text)), indent=2))


def runs(
    kind: Annotated[str | None, typer.Option(help="lr_find or train")] = None,
    status: Annotated[
        list[str] | None, typer.Option(help="queued, running, succeeded, failed, … (repeat: any of them)")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option(help="Only runs carrying this tag (repeat: all of them)")
    ] = None,
    limit: Annotated[int, typer.Option(help="Runs to list")] = 20,
    url: Url = DEFAULT_URL,
    key: Key = "",
    as_json: AsJson = False,
) -> None:
    """List your runs, newest first."""
    with connect(url, key) as client:
        page = client.list_runs(kind=kind, status=status, tag=tag, limit=limit)
    if as_json:
        typer.echo(json.dumps([asdict(run) for run in page.items], indent=2))
        return
    for run in page.items:
        typer.echo(_run_line(run))


def curves(
    run_id: Annotated[str, typer.Argument(help="Run id")],
    max_points: Annotated[int | None, typer.Option(help="Downsample to at most this many points")] = None,
    url: Url = DEFAULT_URL,
    key: Key = "",
    as_json: AsJson = False,
) -> None:
    """Print a run's curves (columns as JSON with --json, else a table)."""
    with connect(url, key) as client:
        body = client.curves(run_id, max_points=max_points)
    if as_json:
        typer.echo(json.dumps(body))
        return
    columns = body if body["kind"] == "lr_find" else body["batch"]
    names = [name for name in ("step", "epoch", "lr", "loss", "smoothed_loss") if name in columns]
    typer.echo("\t".join(names))
    for row in zip(*(columns[name] for name in names), strict=True):
        typer.echo("\t".join("" if value is None else f"{value:.6g}" for value in row))


def watch(
    run_id: Annotated[str, typer.Argument(help="Run id")],
    url: Url = DEFAULT_URL,
    key: Key = "",
) -> None:
    """Follow a run's progress live until it finishes; exit status 1 unless it succeeded."""
    final: dict[str, Any] = {}
    with connect(url, key) as client, Progress(console=Console(stderr=True)) as bar:
        task = bar.add_task(run_id, total=None)
        for event in client.events(run_id):
            if event.event == "status":
                final = event.data
                progress = final["progress"]
                bar.update(task, description=f"{run_id} {final['status']}", total=progress["total_steps"])
                bar.update(task, completed=progress["step"])
            elif event.event == "points" and event.data["step"]:
                bar.update(task, completed=event.data["step"][-1] + 1)
    typer.echo(f"{run_id} {final.get('status', 'unknown')}")
    if final.get("status") != "succeeded":
        raise typer.Exit(1)


def plot(
    run_id: Annotated[str, typer.Argument(help="Run id")],
    out: Annotated[Path, typer.Option("--out", help="File to write (.png or .svg)")],
    url: Url = DEFAULT_URL,
    key: Key = "",
) -> None:
    """Save a run's plot."""
    fmt: Literal["png", "svg"] = "svg" if out.suffix.lower() == ".svg" else "png"
    with connect(url, key) as client:
        out.write_bytes(client.plot(run_id, fmt))
    typer.echo(str(out))


COMMANDS: dict[str, Callable[..., None]] = {
    "lr-find": lr_find,
    "train": train,
    "compare": compare,
    "runs": runs,
    "curves": curves,
    "watch": watch,
    "plot": plot,
}


def _job_body(
    model: str, dataset: str, optimizer: str, batch_size: int, name: str | None, tags: list[str] | None
) -> dict[str, Any]:
    return {
        "model": {"name": model},
        "dataset": {"name": dataset},
        "optimizer": {"name": optimizer},
        "batch_size": batch_size,
        "tags": tags or [],
        **({"name": name} if name else {}),
    }


def _show_run(run: Run, as_json: bool) -> None:
    typer.echo(json.dumps(asdict(run), indent=2) if as_json else _run_line(run))


def _run_line(run: Run) -> str:
    fraction = run.progress.fraction
    done = f"{fraction:.0%}" if fraction is not None else f"step {run.progress.step}"
    suggested = (run.result or {}).get("suggested_max_lr")
    return "\t".join(
        [run.id, run.kind, run.status, done] + ([f"max_lr={suggested:.3g}"] if suggested else [])
    )
