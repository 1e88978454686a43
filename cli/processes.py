"""The processes `api` and `serve` start: run together, stopped together on SIGTERM or SIGINT."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import FrameType
from typing import NoReturn

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def run_together(commands: Mapping[str, list[str]], env: Mapping[str, str], *, grace: float) -> int:
    """Run named commands until a stop signal or until one of them exits, then stop them all.

    Each child leads a process group of its own: a terminal's Ctrl+C reaches only this process, which sends
    every child SIGTERM (a worker then drains its job), waits up to `grace` seconds, or less if a second
    signal comes, and SIGKILLs whatever is left in their groups. Stopped by a signal, it returns that signal
    for the caller to end by with `end_by` once it has cleaned up; when a child ended on its own, it exits
    with status 1 (SystemExit, so the caller's context managers still clean up).
    """
    received: list[int] = []
    wake = threading.Event()

    def on_signal(signum: int, _: FrameType | None) -> None:
        received.append(signum)
        wake.set()

    for number in STOP_SIGNALS:
        signal.signal(number, on_signal)
    children: dict[str, subprocess.Popen[bytes]] = {}
    ended: str | None = None
    try:
        for name, command in commands.items():
            if received:
                break
            children[name] = subprocess.Popen(command, env=dict(env), start_new_session=True)
        while not received and ended is None:
            ended = next((name for name, child in children.items() if child.poll() is not None), None)
            wake.wait(0.2)
    finally:
        _stop(list(children.values()), grace=grace, hurry=lambda: len(received) > 1)
    if received:
        return received[0]
    assert ended is not None
    sys.stderr.write(
        f"clr-service: {ended} exited with status {children[ended].returncode}; stopped the rest\n"
    )
    sys.exit(1)


def _stop(children: list[subprocess.Popen[bytes]], *, grace: float, hurry: Callable[[], bool]) -> None:
    """SIGTERM each child, wait for them up to `grace` seconds, then SIGKILL their process groups."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(child.poll() is None for child in children) and time.monotonic() < deadline:
        if hurry():
            break
        time.sleep(0.1)
    for child in children:
        # Also whatever the child started and left behind (uvicorn's workers, pool processes).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def end_by(signum: int) -> NoReturn:
    """End this process by `signum`, so its parent sees which signal stopped it."""
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    # Reached only as PID 1 of a container, where the kernel drops signals left at their default action.
    sys.exit(128 + signum)
