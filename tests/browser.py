"""Headless Chromium for the tests that look at pages as a person would."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import apt_install


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing."""
    apt_install("chromium", lambda: shutil.which("chromium") is not None)
    return str(shutil.which("chromium"))


def browse(chromium: str, profile: Path, url: str, *extra: str) -> str:
    """The page's DOM after its scripts ran for up to 10 s of virtual time."""
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        *extra,
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    return done.stdout
