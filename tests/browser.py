"""Headless Chromium for the tests that look at pages as a person would."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import unavailable


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing."""
    if shutil.which("chromium") is None:
        install = ["apt-get", "install", "-y", "-q", "chromium"]
        if subprocess.run(install, capture_output=True, check=False, timeout=900).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False, timeout=300)
            subprocess.run(install, capture_output=True, check=False, timeout=900)
    path = shutil.which("chromium")
    if path is None:
        unavailable("chromium", FileNotFoundError("apt-get install chromium failed"))
    return str(path)


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
