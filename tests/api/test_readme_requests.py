"""Every request body the README shows with `curl -X POST` is accepted as written (202), on both databases."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from store.models import Run, RunKind, RunStatus

pytestmark = pytest.mark.anyio
README = Path(__file__).resolve().parents[2] / "README.md"
POST = re.compile(r"curl -s -X POST localhost:8000(?P<path>/[\w-]+)[^\n]*?\\?\n?\s*-d '(?P<body>[^']*)'")


def readme_posts() -> list[tuple[str, str]]:
    return [(m["path"], m["body"]) for m in POST.finditer(README.read_text())]


def test_the_readme_shows_a_range_test_a_training_and_a_comparison() -> None:
    paths = [path for path, _ in readme_posts()]
    assert {"/lr-find", "/train", "/comparisons"} <= set(paths), paths


@pytest.mark.parametrize(("path", "body"), readme_posts(), ids=lambda v: v if v.startswith("/") else "")
async def test_a_readme_request_is_accepted_as_written(
    path: str,
    body: str,
    client: httpx.AsyncClient,
    auth: dict[str, str],
    make_run: Callable[..., Run],
) -> None:
    found = make_run(
        RunKind.LR_FIND,
        RunStatus.SUCCEEDED,
        result={"suggested_max_lr": 0.007, "suggested_base_lr": 0.0012, "stop_reason": "diverged"},
    )
    answer = await client.post(path, json=json.loads(body.replace("<lr>", found.id)), headers=auth)
    assert answer.status_code == 202, answer.text
