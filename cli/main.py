"""The `clr-service` command: run the service's processes and manage API keys."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, get_args

import typer
from sqlalchemy.orm import Session, sessionmaker

from cli import commands
from cli.output import AsJson, print_json
from cli.processes import end_by, run_together
from dispatch.broker import declare_queues, job_queue, make_celery
from dispatch.logs import logging_config
from dispatch.prometheus import MULTIPROCESS_DIR, WORKER_SCRATCH_PREFIX, service_version
from store import keys
from store.db import make_engine, make_sessionmaker, transaction
from store.filters import as_utc
from store.migrate import upgrade
from store.models import ApiKey
from store.settings import LogLevel, Settings, get_settings
from worker.devices import choose_gpus, visible_gpus

# Help is click's plain text: typer's rich panels show `<str>`/`<bool>` type placeholders with click 8.5.
app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(keys_app, name="keys")
commands.register(app)


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"clr-service {service_version()}")
        raise typer.Exit()


@app.callback()
def main(
    _version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit"),
    ] = False,
) -> None:
    """Learning-rate range tests and cyclical-LR training as a service.

    Exit statuses of the client commands: 0 done (a waited-for or watched run succeeded), 1 the run
    failed, 2 a usage error or no API key, 3 the run was cancelled, 4 the service answered an error or
    could not be reached, 5 --wait-limit passed.
    """


LOCAL_OWNER = "local"
LOG_LEVELS: tuple[str, ...] = get_args(LogLevel)
STOP_GRACE = 15.0  # seconds the API and relay get to stop before they are killed


def _factory() -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(get_settings().resolved_database_url))


@app.command()
def migrate() -> None:
    """Upgrade the database to the newest schema (alembic upgrade head)."""
    upgrade(get_settings().resolved_database_url)
    typer.echo("database at head")


LogLevelOption = Annotated[
    str | None,
    typer.Option(
        "--log-level",
        metavar="LEVEL",
        help=f"{', '.join(LOG_LEVELS)} (default: CLR_LOG_LEVEL, info)",
    ),
]


@app.command()
def api(
    host: Annotated[str, typer.Option("--host", metavar="HOST", help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", metavar="PORT", help="Port to bind")] = 8000,
    workers: Annotated[int, typer.Option(metavar="N", help="uvicorn worker processes")] = 1,
    relay: Annotated[bool, typer.Option(help="Start a relay process beside the API")] = True,
    log_level: LogLevelOption = None,
    access_log: Annotated[
        bool | None,
        typer.Option(help="Log every request: method, path, status (default: CLR_ACCESS_LOG, off)"),
    ] = None,
) -> None:
    """Serve the HTTP API (run `migrate` first), with a relay sending its runs to the broker.

    Several workers count HTTP metrics in a shared directory (PROMETHEUS_MULTIPROC_DIR, made here unless
    set, and removed on exit), so /metrics answers the same whichever process serves it.
    """
    settings = get_settings()
    level = _checked_level(log_level) or settings.log_level
    env = {**os.environ, "CLR_LOG_LEVEL": level}
    chosen = settings.access_log if access_log is None else access_log
    command = api_command(host, port, workers=workers, log_level=level, access_log=chosen)
    with tempfile.TemporaryDirectory(prefix="clr-api-") as scratch:  # removed however the processes stop
        if workers > 1 and MULTIPROCESS_DIR not in env:
            (metrics := Path(scratch) / "metrics").mkdir()
            env[MULTIPROCESS_DIR] = str(metrics)
        # uvicorn's supervisor of several workers never loads the app: it takes the format from --log-config.
        config = Path(scratch) / "logging.json"
        config.write_text(json.dumps(logging_config(settings, "api", level=level.upper())))
        processes = {"api": [*command, f"--log-config={config}"]}
        if relay:
            processes["relay"] = relay_command()
        stopped_by = run_together(processes, env, grace=STOP_GRACE)
    end_by(stopped_by)


def _checked_level(level: str | None) -> str | None:
    if level is not None and level.lower() not in LOG_LEVELS:
        raise typer.BadParameter(f"{level!r} is not one of {', '.join(LOG_LEVELS)}", param_hint="--log-level")
    return level and level.lower()


@app.command("relay")
def relay_process() -> None:
    """Send committed runs to the broker (`api` and `serve` start one; any number may run)."""
    os.execvp(sys.executable, relay_command())


@app.command()
def worker(
    queues: Annotated[
        str, typer.Option("--queues", metavar="QUEUES", help="Comma-separated queues to consume")
    ] = "",
    gpus: Annotated[
        str,
        typer.Option(
            "--gpus",
            metavar="GPUS",
            help="'all' visible GPUs, or their indices such as 0,1,3: one job on each",
        ),
    ] = "all",
    hostname: Annotated[str | None, typer.Option(metavar="NAME", help="Celery node name")] = None,
) -> None:
    """Start a Celery worker: a pool process per GPU, each pinned to its own (one CPU process without GPUs).

    SIGTERM drains it: each running job checkpoints at its next batch and goes back to the queue.
    """
    try:
        chosen = choose_gpus(gpus, visible_gpus())
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--gpus") from None
    settings = get_settings()
    command = worker_command(queues or settings.queue, max(1, len(chosen)), hostname)
    env = worker_env({**os.environ, "CLR_WORKER_GPUS": ",".join(chosen)}, settings)
    os.execvpe(sys.executable, command, env)


def worker_env(env: dict[str, str], settings: Settings, folder: str | None = None) -> dict[str, str]:
    """The worker's environment: with CLR_WORKER_METRICS_PORT set, a directory where its pool processes write
    their metrics for the main process to serve (unless PROMETHEUS_MULTIPROC_DIR is set already): `folder`,
    else a fresh one that the worker removes as it stops (worker/metrics.py)."""
    if settings.worker_metrics_port is None or MULTIPROCESS_DIR in env:
        return env
    return {**env, MULTIPROCESS_DIR: folder or tempfile.mkdtemp(prefix=WORKER_SCRATCH_PREFIX)}


def embedded_worker_threads(settings: Settings) -> int:
    """Torch threads of the worker `serve` starts: all cores but one, left to the API, unless set."""
    return settings.worker_torch_threads or max(1, (os.cpu_count() or 2) - 1)


def api_command(
    host: str, port: int, *, workers: int = 1, log_level: str = "info", access_log: bool = False
) -> list[str]:
    """uvicorn serving the app; open event streams get a few seconds to close when it is stopped."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "api.app:make_default_app",
        "--factory",
        f"--host={host}",
        f"--port={port}",
        f"--workers={workers}",
        f"--log-level={log_level}",
        "--access-log" if access_log else "--no-access-log",
        "--timeout-graceful-shutdown=5",
    ]


def relay_command() -> list[str]:
    """The relay's command line (dispatch/relay.py)."""
    return [sys.executable, "-m", "dispatch.relay"]


def worker_command(
    queues: str, concurrency: int, hostname: str | None, *, loglevel: str | None = None
) -> list[str]:
    """The Celery worker command line every launcher uses (CLI, tests, benchmarks).

    With JSON logs it is --quiet: Celery's start-up banner is text printed past the logging.
    """
    settings = get_settings()
    quiet = ["--quiet"] if settings.log_format == "json" else []
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker.tasks:celery_app",
        *quiet,
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        f"--queues={queues}",
        f"--loglevel={(loglevel or settings.log_level).upper()}",
        "--without-mingle",
        "--without-gossip",
    ]
    return command + ([f"--hostname={hostname}"] if hostname else [])


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", metavar="HOST", help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", metavar="PORT", help="Port to bind")] = 8000,
) -> None:
    """Migrate, then run the API and one embedded worker together (what `make run` calls)."""
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    declare_queues(make_celery(settings), [job_queue(settings.queue)])  # before its processes race to it
    _ensure_local_key()
    env = {**os.environ, "CLR_WORKER_TORCH_THREADS": str(embedded_worker_threads(settings))}
    processes = {
        "api": api_command(host, port, log_level=settings.log_level, access_log=settings.access_log),
        "worker": worker_command(settings.queue, 1, "embedded@%h"),
        "relay": relay_command(),
    }
    with tempfile.TemporaryDirectory(prefix="clr-serve-") as scratch:  # removed however the processes stop
        env = worker_env(env, settings, folder=scratch)
        stopped_by = run_together(processes, env, grace=settings.drain_timeout + STOP_GRACE)
    end_by(stopped_by)


def _ensure_local_key() -> None:
    """On first start create a key for the owner `local`, print it and keep it in CLR_HOME (mode 0600)."""
    settings = get_settings()
    path = settings.home / "local-api-key"
    if path.exists():
        typer.echo(f"API key for owner '{LOCAL_OWNER}' in {path}")
        return
    with transaction(_factory()) as session:
        _, plain = keys.create_key(session=session, owner=LOCAL_OWNER)
    path.touch(mode=0o600)
    path.write_text(plain + "\n")
    typer.echo(f"Created an API key for owner '{LOCAL_OWNER}' (kept in {path}):\n\n    {plain}\n")


def _key_fields(row: ApiKey) -> dict[str, str | None]:
    revoked = as_utc(row.revoked_at).isoformat() if row.revoked_at else None
    return {
        "prefix": row.prefix,
        "owner": row.owner,
        "created_at": as_utc(row.created_at).isoformat(),
        "revoked_at": revoked,
    }


@keys_app.command("create")
def keys_create(
    owner: Annotated[str, typer.Option("--owner", metavar="OWNER", help="Who the key's runs belong to")],
    as_json: AsJson = False,
) -> None:
    """Create a key and print it once; only its digest is stored."""
    with transaction(_factory()) as session:
        row, plain = keys.create_key(session=session, owner=owner)
        fields = _key_fields(row)
    if as_json:
        print_json({"key": plain, **fields})
        return
    typer.echo(plain)
    typer.echo(f"owner={fields['owner']} prefix={fields['prefix']}", err=True)


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(metavar="KEY", help="The key, or its first 12 characters")],
    as_json: AsJson = False,
) -> None:
    """Revoke a key."""
    with transaction(_factory()) as session:
        count = keys.revoke_key(session=session, prefix=prefix)
    if as_json:
        print_json({"prefix": prefix[:12], "revoked": count})
    elif count:
        typer.echo(f"revoked {count} key(s)")
    if not count:
        typer.echo(f"no active key starts with {prefix[:12]!r}", err=True)
        raise typer.Exit(1)


@keys_app.command("list")
def keys_list(
    owner: Annotated[
        str | None, typer.Option("--owner", metavar="OWNER", help="Only this owner's keys")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """List keys (prefix, owner, created, revoked)."""
    with transaction(_factory()) as session:
        rows = [_key_fields(row) for row in keys.list_keys(session=session, owner=owner)]
    if as_json:
        print_json({"items": rows})
        return
    for row in rows:
        typer.echo(f"{row['prefix']}\t{row['owner']}\t{row['created_at']}\t{row['revoked_at'] or 'active'}")
