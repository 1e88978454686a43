"""GET /runs/{id}/artifacts/model.pt: the trained weights as a download, 404 problem when absent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from store.models import Run, RunKind, RunStatus

pytestmark = pytest.mark.anyio


async def test_weights_of_a_finished_run_download_as_octet_stream(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]],
    auth: dict[str, str],
    make_run: Callable[..., Run],
    tmp_path: Path,
) -> None:
    client = await make_client(artifact_dir=tmp_path)
    run = make_run(RunKind.TRAIN, RunStatus.SUCCEEDED, result={})
    (tmp_path / run.id).mkdir()
    (tmp_path / run.id / "model.pt").write_bytes(b"weights")

    answer = await client.get(f"/runs/{run.id}/artifacts/model.pt", headers=auth)

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.content == b"weights"


async def test_missing_weights_or_another_owners_run_is_404_problem(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]],
    auth: dict[str, str],
    other_auth: dict[str, str],
    make_run: Callable[..., Run],
    tmp_path: Path,
) -> None:
    client = await make_client(artifact_dir=tmp_path)
    run = make_run(RunKind.TRAIN, RunStatus.RUNNING)

    missing = await client.get(f"/runs/{run.id}/artifacts/model.pt", headers=auth)
    (tmp_path / run.id).mkdir()
    (tmp_path / run.id / "model.pt").write_bytes(b"weights")
    foreign = await client.get(f"/runs/{run.id}/artifacts/model.pt", headers=other_auth)

    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "artifact_not_found"
    assert foreign.status_code == 404
