"""Client commands of `clr-service` for comparisons: start, list, show, watch, cancel and delete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.output import (
    DEFAULT_URL,
    AsJson,
    ComparisonId,
    Cursor,
    Key,
    Limit,
    TagFilter,
    Url,
    connect,
    end_with,
    print_json,
    say,
    show_page,
)
from cli.watching import watch_comparison

comparison_app = typer.Typer(
    help="Show, watch, cancel or delete a comparison.", no_args_is_help=True, rich_markup_mode=None
)


def compare(
    body: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="JSON file with the body of POST /comparisons ('-': stdin)"),
    ],
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow it until it ends; exit status by how it ended")
    ] = False,
    url: Url = DEFAULT_URL,
    key: Key = "",
    as_json: AsJson = False,
) -> None:
    """Start a comparison of variants.

    Optimizer and schedule variants of one training, each repeated over seeds.
    """
    text = typer.get_text_stream("stdin").read() if str(body) == "-" else body.read_text()
    with connect(url, key) as client:
        comparison = client.compare(**json.loads(text))
        if wait:
            comparison = watch_comparison(client, comparison["id"], bar=not as_json)
    _show(comparison, as_json)
    if wait:
        _end(comparison)


def comparisons(
    tag: TagFilter = None,
    limit: Limit = 20,
    cursor: Cursor = None,
    url: Url = DEFAULT_URL,
    key: Key = "",
    as_json: AsJson = False,
) -> None:
    """List your comparisons, newest first.

    One page at a time: the next page's cursor follows the list (on stderr, or as next_cursor with --json).
    """
    with connect(url, key) as client:
        page = client.list_comparisons(tag=tag, limit=limit, cursor=cursor)
    show_page(page["items"], [_line(item) for item in page["items"]], page["next_cursor"], as_json)


@comparison_app.command("show")
def show(comparison_id: ComparisonId, url: Url = DEFAULT_URL, key: Key = "", as_json: AsJson = False) -> None:
    """Show a comparison and each of its runs."""
    with connect(url, key) as client:
        comparison = client.get_comparison(comparison_id)
    _show(comparison, as_json)


@comparison_app.command("watch")
def watch(
    comparison_id: ComparisonId, url: Url = DEFAULT_URL, key: Key = "", as_json: AsJson = False
) -> None:
    """Follow a comparison until its runs ended.

    The exit status says how it ended.
    """
    with connect(url, key) as client:
        comparison = watch_comparison(client, comparison_id, bar=not as_json)
    _show(comparison, as_json)
    _end(comparison)


@comparison_app.command("cancel")
def cancel(
    comparison_id: ComparisonId, url: Url = DEFAULT_URL, key: Key = "", as_json: AsJson = False
) -> None:
    """Cancel a comparison's unfinished runs."""
    with connect(url, key) as client:
        _show(client.cancel_comparison(comparison_id), as_json)


@comparison_app.command("delete")
def delete(
    comparison_id: ComparisonId, url: Url = DEFAULT_URL, key: Key = "", as_json: AsJson = False
) -> None:
    """Delete a comparison whose runs all ended, with those runs."""
    with connect(url, key) as client:
        client.delete_comparison(comparison_id)
    say({"deleted": comparison_id}, f"deleted {comparison_id}", as_json)


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
    app.command("comparisons")(comparisons)
    app.add_typer(comparison_app, name="comparison")


def _show(comparison: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(comparison)
        return
    typer.echo(_line(comparison))
    for child in comparison["children"]:
        run = child["run"]
        typer.echo(f"  {run['id']}\t{child['variant']}\trepeat {child['repeat']}\t{run['status']}")


def _end(comparison: dict[str, Any]) -> None:
    failed = [child["run"]["error"] for child in comparison["children"] if child["run"]["status"] == "failed"]
    problems = [*failed, comparison["release_error"]] if comparison["release_error"] else failed
    end_with("comparison", comparison["id"], comparison["status"], problems)


def _line(comparison: dict[str, Any]) -> str:
    counts = ", ".join(f"{n} {status}" for status, n in sorted(comparison["counts"].items()) if n)
    labels = [comparison.get("name") or "-", ",".join(comparison.get("tags") or []) or "-"]
    return "\t".join([comparison["id"], comparison["status"], *labels, counts])
