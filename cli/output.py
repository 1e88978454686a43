"""What the client commands share: options, the connection, JSON or text output and exit statuses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated, Any, NoReturn

import httpx
import typer

from cli.exits import ExitCode, for_status
from client import DEFAULT_URL, ClrClient, ClrError, Run

Url = Annotated[str, typer.Option("--url", envvar="CLR_URL", metavar="URL", help="The service's base URL")]
Key = Annotated[
    str,
    typer.Option("--key", envvar="CLR_API_KEY", metavar="KEY", help="API key", show_default=False),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON only, for scripts")]
RunId = Annotated[str, typer.Argument(metavar="RUN_ID", help="Run id", show_default=False)]
ComparisonId = Annotated[
    str, typer.Argument(metavar="COMPARISON_ID", help="Comparison id", show_default=False)
]
Cursor = Annotated[
    str | None,
    typer.Option("--cursor", metavar="CURSOR", help="Continue a listing at the next_cursor it printed"),
]
Limit = Annotated[int, typer.Option(metavar="N", help="Items per page")]
TagFilter = Annotated[
    list[str] | None,
    typer.Option("--tag", metavar="TAG", help="Only those carrying this tag (repeat: all of them)"),
]

__all__ = ["DEFAULT_URL", "AsJson", "ComparisonId", "Cursor", "Key", "Limit", "RunId", "TagFilter", "Url"]


@contextmanager
def connect(url: str, key: str) -> Iterator[ClrClient]:
    """A client; an error answer or an unreachable service is a message on stderr and exit status 4."""
    key = key.strip()
    if not key:
        fail(
            ExitCode.USAGE,
            "no API key: set CLR_API_KEY or pass --key (`clr-service keys create --owner NAME` makes "
            "one; `clr-service serve` keeps one in $CLR_HOME/local-api-key)",
        )
    try:
        with ClrClient(url, key) as client:
            yield client
    except ClrError as error:
        fail(ExitCode.SERVICE, f"error: {error}")
    except httpx.TransportError as error:
        fail(ExitCode.SERVICE, f"error: cannot reach the service at {url} ({error}); set CLR_URL or --url")


def fail(code: ExitCode, message: str) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2))


def say(value: Any, text: str, as_json: bool) -> None:
    """`value` as JSON with --json, else `text`."""
    if as_json:
        print_json(value)
    else:
        typer.echo(text)


def show_run(run: Run, as_json: bool) -> None:
    say(asdict(run), run_line(run), as_json)


def show_page(items: list[dict[str, Any]], lines: list[str], next_cursor: str | None, as_json: bool) -> None:
    """A page of a listing: `{items, next_cursor}` as JSON, or a line each and the cursor on stderr."""
    if as_json:
        print_json({"items": items, "next_cursor": next_cursor})
        return
    for line in lines:
        typer.echo(line)
    if next_cursor:
        typer.echo(f"more: --cursor {next_cursor}", err=True)


def run_line(run: Run) -> str:
    fraction = run.progress.fraction
    done = f"{fraction:.0%}" if fraction is not None else f"step {run.progress.step}"
    suggested = (run.result or {}).get("suggested_max_lr")
    labels = [run.name or "-", ",".join(run.tags) or "-"]
    return "\t".join(
        [run.id, run.kind, run.status, done, *labels] + ([f"max_lr={suggested:.3g}"] if suggested else [])
    )


def problem_line(problem: dict[str, Any] | None) -> str:
    """`code: detail` of a stored problem."""
    if not problem:
        return "no problem recorded"
    return f"{problem.get('code', 'unknown')}: {problem.get('detail') or problem.get('title', '')}"


def end_with(kind: str, ident: str, status: str, problems: list[dict[str, Any] | None]) -> None:
    """Exit with the status for how a run or comparison ended, its problems on stderr unless it succeeded."""
    code = for_status(status)
    if code != ExitCode.OK:
        typer.echo(f"{kind} {ident} {status}", err=True)
        for problem in problems:
            if problem or code == ExitCode.FAILED:
                typer.echo(f"  {problem_line(problem)}", err=True)
        raise typer.Exit(code)
