"""Probes and docs answer without a key; readiness names the part that is down."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from celery import Celery

pytestmark = pytest.mark.anyio


async def test_healthz_answers_200_without_a_key(client: httpx.AsyncClient) -> None:
    answer = await client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


async def test_readyz_is_200_when_the_database_and_broker_answer(client: httpx.AsyncClient) -> None:
    answer = await client.get("/readyz")
    assert answer.status_code == 200, answer.text


async def test_readyz_is_503_naming_the_broker_when_it_is_unreachable(
    make_client: Callable[..., Any], down_celery_app: Celery
) -> None:
    client = await make_client(celery=down_celery_app)
    started = time.monotonic()
    answer = await client.get("/readyz")

    assert time.monotonic() - started < 3
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "not_ready"
    assert "broker" in problem["detail"]
    assert "database" not in problem["detail"]


async def test_openapi_and_docs_are_served_without_a_key_and_declare_bearer_auth(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    docs = await client.get("/docs")

    assert docs.status_code == 200
    assert {
        "/lr-find",
        "/train",
        "/runs",
        "/runs/{run_id}",
        "/runs/{run_id}/cancel",
        "/runs/{run_id}/curves",
    } <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_the_default_app_builds_from_the_environment_without_loading_torch_or_the_tasks(
    tmp_path: Path,
) -> None:
    code = (
        "import sys, api.app; api.app.make_default_app(); "
        "loaded = [m for m in ('torch', 'worker.tasks', 'clr.models') if m in sys.modules]; "
        "sys.exit(f'loaded {loaded}' if loaded else 0)"
    )
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CLR_")}, "CLR_HOME": str(tmp_path)}
    completed = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
