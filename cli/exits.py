"""Exit statuses of the client commands: what a script can act on without reading the output."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """`clr-service` exit statuses (2 is click's and typer's own for a usage error)."""

    OK = 0  # done; a waited-for or watched run or comparison succeeded
    FAILED = 1  # the run or comparison failed: its problem is on stderr
    USAGE = 2  # bad options or arguments, or no API key
    CANCELLED = 3  # the run or comparison was cancelled
    SERVICE = 4  # the service answered an error (its problem is on stderr) or could not be reached
    TIMEOUT = 5  # --wait-limit passed before the run ended


def for_status(status: str) -> ExitCode:
    """The exit status for how a run or comparison ended."""
    return {"succeeded": ExitCode.OK, "cancelled": ExitCode.CANCELLED}.get(status, ExitCode.FAILED)
