"""The README's library examples run as they are written there."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def library_blocks() -> list[str]:
    section = README.read_text().split("## Using `clr` as a library", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_section_has_the_job_and_the_own_model_examples() -> None:
    blocks = library_blocks()
    assert len(blocks) == 2
    assert "clr.find_lr(" in blocks[0]
    assert "clr.range_test(" in blocks[1]


@pytest.mark.slow
@pytest.mark.parametrize("index", [0, 1], ids=["from_specs", "own_model"])
def test_a_library_example_runs_and_prints_a_suggestion_and_accuracies(index: int, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", library_blocks()[index]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"CLR_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("completed ")
    max_lr, base_lr = (float(x) for x in lines[0].split()[1:3])
    assert max_lr == pytest.approx(6 * base_lr)
    accuracies = [float(line.split()[1]) for line in lines[1:5]]
    assert [line.split()[0] for line in lines[1:5]] == ["0", "1", "2", "3"]
    assert max(accuracies) > 0.5  # ten classes: a broken loop stays near 0.1


def test_every_image_the_readme_shows_is_in_the_repository() -> None:
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", README.read_text())
    assert images
    missing = [image for image in images if not (README.parent / image).is_file()]
    assert missing == []
