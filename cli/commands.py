"""Client commands of `clr-service` for runs: submit, list, show, watch, cancel, delete, read and plot."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, get_args

import typer

from cli import comparisons
from cli.exits import ExitCode
from cli.output import (
    DEFAULT_URL,
    AsJson,
    Cursor,
    Key,
    Limit,
    RunId,
    TagFilter,
    Url,
    connect,
    end_with,
    fail,
    print_json,
    run_line,
    say,
    show_page,
    show_run,
)
from cli.watching import watch_run
from client import ClrClient, Run
from clr.specs import OptimizerName, Policy
from store.models import RunKind, RunStatus

Wait = Annotated[
    bool, typer.Option("--wait", help="Wait until the run ends; exit status by how it ended (see README)")
]
Model = Annotated[
    str, typer.Option(metavar="NAME", help="A model plugin: vanilla_cnn, resnet18, ... (GET /models)")
]
Dataset = Annotated[
    str, typer.Option(metavar="NAME", help="A dataset plugin: digits, shapes, mnist, ... (GET /datasets)")
]
Optimizer = Annotated[str, typer.Option(metavar="NAME", help=", ".join(get_args(OptimizerName)))]
BatchSize = Annotated[int, typer.Option(metavar="N", help="Batch size")]
WaitLimit = Annotated[float, typer.Option(metavar="SECONDS", help="Seconds --wait waits at most")]
Name = Annotated[str | None, typer.Option(metavar="TEXT", help="A short name to find the run by")]
Tags = Annotated[list[str] | None, typer.Option("--tag", metavar="TAG", help="A tag (repeat for several)")]
ModelParams = Annotated[
    list[str] | None,
    typer.Option("--model-param", metavar="KEY=VALUE", help="A model parameter, e.g. width=16 (repeat)"),
]
DatasetParams = Annotated[
    list[str] | None,
    typer.Option("--dataset-param", metavar="KEY=VALUE", help="A dataset parameter (repeat; GET /datasets)"),
]
DatasetPath = Annotated[
    str | None,
    typer.Option(metavar="PATH", help="The data under the data roots (imagefolder, plugins)"),
]
Seed = Annotated[int, typer.Option(metavar="N", help="Seed of data split, shuffling and weights")]


def lr_find(
    model: Model = "vanilla_cnn",
    dataset: Dataset = "digits",
    optimizer: Optimizer = "sgd",
    batch_size: BatchSize = 32,
    model_param: ModelParams = None,
    dataset_param: DatasetParams = None,
    dataset_path: DatasetPath = None,
    seed: Seed = 0,
    start_lr: Annotated[float, typer.Option(metavar="LR", help="First learning rate")] = 1e-7,
    end_lr: Annotated[float, typer.Option(metavar="LR", help="Last learning rate")] = 0.1,
    num_iter: Annotated[
        int | None, typer.Option(metavar="N", help="Batches in the sweep (default: 2 epochs)")
    ] = None,
    past_end_lr: Annotated[
        bool, typer.Option("--past-end-lr", help="Sweep on past end_lr until the loss diverges")
    ] = False,
    name: Name = None,
    tag: Tags = None,
    wait: Wait = False,
    wait_limit: WaitLimit = 3600.0,
    url: Url = DEFAULT_URL,
    key: Key = "",
    as_json: AsJson = False,
) -> None:
    """Queue a learning-rate range test."""
    body = _job_body(
        _Job(model, model_param, dataset, dataset_param, dataset_path, optimizer, batch_size, seed), name, tag
    )
    body.update(start_lr=start_lr, end_lr=end_lr, past_end_lr=past_end_lr)
    body.update({"num_iter": num_iter} if num_iter else {})
    with connect(url, key) as client:
        run = client.lr_find(**body)
        _submitted(client, run, wait=wait, wait_limit=wait_limit, as_json=as_json)


def train(
    model: Model = "vanilla_cnn",
    dataset: Dataset = "digits",
    optimizer: Optimizer = "sgd",
    batch_size: BatchSize = 32,
    model_param: ModelParams = None,
    dataset_param: DatasetParams = None,
    dataset_path: DatasetPath = None,
    seed: Seed = 0,
    epochs: Annotated[int, typer.Option(metavar="N", help="Epochs to train")] = 10,
    policy: Annotated[str, typer.Option(metavar="NAME", help=", ".join(get_args(Policy)))] = "triangular",
    base_lr: Annotated[float | None, typer.Option(metavar="LR", help="Lower bound of the cycle")] = None,
    max_lr: Annotated[float | None, typer.Option(metavar="LR", help="Upper bound of the cycle")] = None,
    step_size_iter: Annotated[int | None, typer.Option(metavar="N", help="Half-cycle in batches")] = None,
    step_size_epochs: Annotated[
        float | None, typer.Option(metavar="EPOCHS", help="Half-cycle in epochs (the method: 2 to 8)")
    ] = None,
    from_lr_find: Annotated[
        str | None,
        typer.Option(metavar="RUN_ID", help="Take missing bounds from this finished range test"),
    ] = None,
    name: Name = None,
    tag: Tags = None,
    wait: Wait = False,
    wait_limit: WaitLimit = 3600.0,
    url: Url = DEFAULT_URL,
    key: Key = "",
    as_json: AsJson = False,
) -> None:
    """Queue training with a cyclical learning-rate policy."""
    schedule = {"policy": policy, "base_lr": base_lr, "max_lr": max_lr, "step_size_iter": step_size_iter}
    schedule.update(step_size_epochs=step_size_epochs, from_lr_find=from_lr_find)
    body = _job_body(
        _Job(model, model_param, dataset, dataset_param, dataset_path, optimizer, batch_size, seed), name, tag
    )
    body.update(epochs=epochs, schedule={name: v for name, v in schedule.items() if v is not None})
    with connect(url, key) as client:
        run = client.train(**body)
        _submitted(client, run, wait=wait, wait_limit=wait_limit, as_json=as_json)


def runs(
    kind: Annotated[str | None, typer.Option("--kind", metavar="KIND", help=" or ".join(RunKind))] = None,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", metavar="STATUS", help=f"{', '.join(RunStatus)} (repeat: any of them)"),
    ] = None,
    tag: TagFilter = None,
    name_prefix: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Only runs whose name starts so")
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
    url: Url = DEFAULT_URL,
    key: Key = "",
    as_json: AsJson = False,
) -> None:
    """List your runs, newest first.

    One page at a time: the next page's cursor follows the list (on stderr, or as next_cursor with --json).
    """
    with connect(url, key) as client:
        page = client.list_runs(
            kind=kind, status=status, tag=tag, name_prefix=name_prefix, limit=limit, cursor=cursor
        )
    items = [asdict(run) for run in page.items]
    show_page(items, [run_line(run) for run in page.items], page.next_cursor, as_json)


def show(run_id: RunId, url: Url = DEFAULT_URL, key: Key = "", as_json: AsJson = False) -> None:
    """Show a run: status, progress, labels, result and problem."""
    with connect(url, key) as client:
        run = client.get_run(run_id)
    if as_json:
        print_json(asdict(run))
        return
    progress = run.progress
    total = f"/{progress.total_steps}" if progress.total_steps else ""
    rows = {
        "id": run.id,
        "kind": run.kind,
        "status": run.status,
        "name": run.name or "",
        "tags": ", ".join(run.tags),
        "progress": f"step {progress.step}{total}"
        + (f", epoch {progress.epoch}" if progress.epoch is not None else ""),
        "created": run.created_at,
        "finished": run.finished_at or "",
        "comparison": run.comparison_id or "",
        "result": json.dumps(run.result) if run.result else "",
        "problem": f"{run.error.get('code')}: {run.error.get('detail')}" if run.error else "",
    }
    for label, value in rows.items():
        if value:
            typer.echo(f"{label:<11}{value}")


def watch(run_id: RunId, url: Url = DEFAULT_URL, key: Key = "", as_json: AsJson = False) -> None:
    """Follow a run live until it ends.

    The bar shows steps of the total, epoch, latest loss and validation accuracy, and the time left; the
    exit status says how the run ended.
    """
    with connect(url, key) as client:
        run = watch_run(client, run_id, bar=not as_json)
    _ended(run, as_json)


def cancel(run_id: RunId, url: Url = DEFAULT_URL, key: Key = "", as_json: AsJson = False) -> None:
    """Cancel a queued or running run.

    A running one stops at its next batch.
    """
    with connect(url, key) as client:
        show_run(client.cancel(run_id), as_json)


def delete(run_id: RunId, url: Url = DEFAULT_URL, key: Key = "", as_json: AsJson = False) -> None:
    """Delete an ended run with its curves and files.

    Exit status 4 (`run_active`) while it is queued or running.
    """
    with connect(url, key) as client:
        client.delete_run(run_id)
    say({"deleted": run_id}, f"deleted {run_id}", as_json)


def curves(
    run_id: RunId,
    max_points: Annotated[
        int | None, typer.Option(metavar="N", help="Downsample to at most this many points")
    ] = None,
    url: Url = DEFAULT_URL,
    key: Key = "",
    as_json: AsJson = False,
) -> None:
    """Print a run's curves.

    A table, or the columns as JSON with --json.
    """
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


def plot(
    run_id: RunId,
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="File to write (.png or .svg)")],
    url: Url = DEFAULT_URL,
    key: Key = "",
    as_json: AsJson = False,
) -> None:
    """Save a run's plot."""
    fmt: Literal["png", "svg"] = "svg" if out.suffix.lower() == ".svg" else "png"
    with connect(url, key) as client:
        out.write_bytes(client.plot(run_id, fmt))
    say({"path": str(out)}, str(out), as_json)


COMMANDS: dict[str, Callable[..., None]] = {
    "lr-find": lr_find,
    "train": train,
    "runs": runs,
    "show": show,
    "watch": watch,
    "cancel": cancel,
    "delete": delete,
    "curves": curves,
    "plot": plot,
}


def register(app: typer.Typer) -> None:
    """Add the client commands to the `clr-service` app."""
    for name, command in COMMANDS.items():
        app.command(name)(command)
    comparisons.register(app)


def _submitted(client: ClrClient, run: Run, *, wait: bool, wait_limit: float, as_json: bool) -> None:
    """Show a run just queued, or with `wait` the run once it ended, exiting by how it ended."""
    if not wait:
        show_run(run, as_json)
        return
    try:
        ended = client.wait(run.id, timeout=wait_limit)
    except TimeoutError as error:
        fail(ExitCode.TIMEOUT, f"{error}; follow it with `clr-service watch {run.id}`")
    _ended(ended, as_json)


def _ended(run: Run, as_json: bool) -> None:
    show_run(run, as_json)
    end_with("run", run.id, run.status, [run.error])


class _Job(NamedTuple):
    """What every job names, as the options gave it."""

    model: str
    model_params: list[str] | None
    dataset: str
    dataset_params: list[str] | None
    dataset_path: str | None
    optimizer: str
    batch_size: int
    seed: int


def _job_body(job: _Job, name: str | None, tags: list[str] | None) -> dict[str, Any]:
    dataset = {"name": job.dataset, "params": _params(job.dataset_params, "--dataset-param")}
    return {
        "model": {"name": job.model, "params": _params(job.model_params, "--model-param")},
        "dataset": dataset | ({"path": job.dataset_path} if job.dataset_path else {}),
        "optimizer": {"name": job.optimizer},
        "batch_size": job.batch_size,
        "seed": job.seed,
        "tags": tags or [],
        **({"name": name} if name else {}),
    }


def _params(pairs: list[str] | None, option: str) -> dict[str, Any]:
    """KEY=VALUE pairs as an object; a VALUE that reads as JSON (16, 0.5, true, [1,2]) is that value."""
    params: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint=option)
        try:
            params[key] = json.loads(text)
        except json.JSONDecodeError:
            params[key] = text
    return params
