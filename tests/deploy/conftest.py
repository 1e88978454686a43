"""The service as the image installs it: a wheel built from exactly what the Dockerfile copies."""

from __future__ import annotations

import fnmatch
import shlex
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.browser import chromium  # noqa: F401 - a fixture for the tests here

ROOT = Path(__file__).resolve().parents[2]


def build_stage_copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY of the Dockerfile's first stage, the one that builds the wheel."""
    copies: list[tuple[list[str], str]] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = shlex.split(line)
        if words[:1] == ["FROM"] and copies:
            break
        if words[:1] == ["COPY"] and not any(word.startswith("--") for word in words):
            copies.append((words[1:-1], words[-1]))
    return copies


def ignored_by_docker(name: str) -> bool:
    """Whether .dockerignore keeps a file or folder of this name out of the build context."""
    patterns = [
        line.strip().removeprefix("**/") for line in (ROOT / ".dockerignore").read_text().splitlines()
    ]
    return any(
        fnmatch.fnmatch(name, pattern) for pattern in patterns if pattern and not pattern.startswith("#")
    )


def copy_build_context(target: Path) -> None:
    """Lay out the build stage's work directory as the Dockerfile's COPY lines fill it."""
    for sources, destination in build_stage_copies():
        for source in sources:
            origin = ROOT / source
            place = target / destination / source if destination.endswith("/") else target / destination
            if origin.is_dir():
                shutil.copytree(
                    origin, place, ignore=lambda _, names: [n for n in names if ignored_by_docker(n)]
                )
            else:
                place.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, place)


@dataclass(frozen=True)
class Installed:
    """A fresh virtual environment holding only the wheel; dependencies come from this test's environment."""

    venv: Path
    wheel: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def clr_service(self) -> Path:
        return self.venv / "bin" / "clr-service"


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel once, install it without dependencies into a new venv and point that venv at ours."""
    work = tmp_path_factory.mktemp("wheel")
    context = work / "context"
    copy_build_context(context)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", work, context], check=True)
    (wheel,) = work.glob("*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    subprocess.run([*pip, "--python", python, "install", "--no-deps", "--no-index", wheel], check=True)
    # Plain path lines: our site-packages are searched after the venv's own, and their .pth files (our
    # editable install of the source tree among them) are not run.
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    dependencies = [entry for entry in sys.path if entry.endswith("site-packages")]
    (site / "zz_dependencies.pth").write_text("\n".join(dependencies) + "\n")
    return Installed(venv=venv, wheel=wheel)


def ready(base_url: str) -> bool:
    """Whether the API at `base_url` answers /readyz with 200 (database and broker reachable)."""
    try:
        return httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
