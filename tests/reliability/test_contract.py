"""Requests generated from the live OpenAPI schema: a 4xx, or runnable by a worker; never a 5xx."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from store.jobspec import job_from_request
from tests.e2e.conftest import Service, service_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_api(
    tmp_path_factory: pytest.TempPathFactory, own_database: Callable[[str], str], redis_url: str
) -> Iterator[Service]:
    """A live uvicorn API on a database of its own, with no relay or worker: accepted runs stay queued."""
    home = tmp_path_factory.mktemp("contract")
    service = Service(env=service_env(home, own_database("postgres"), redis_url), home=home)
    try:
        service.start_api()
        service.key = service.create_key("contract")
        yield service
    finally:
        service.stop()


def accepted_runs(client: httpx.Client, answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs a 2xx answer created: the run itself, or a comparison's children."""
    ids = [child["run"]["id"] for child in answer["children"]] if "children" in answer else [answer["id"]]
    return [client.get(f"/runs/{run_id}").json() for run_id in ids]


@pytest.mark.parametrize("path", ["/lr-find", "/train", "/comparisons"])
def test_every_request_the_schema_allows_is_refused_with_a_4xx_or_built_by_the_worker(
    live_api: Service, path: str
) -> None:
    schema = schemathesis.openapi.from_url(f"{live_api.base_url}/openapi.json")
    auth = {"Authorization": f"Bearer {live_api.key}"}
    accepted: list[str] = []

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=schema[path]["POST"].as_strategy())
    def check(case: schemathesis.Case[Any]) -> None:
        response = case.call(base_url=live_api.base_url, headers=auth)
        assert response.status_code < 500, (case.body, response.text)
        given = case.headers.get("X-Request-ID")  # a declared parameter: the answer echoes it
        answered = response.headers["x-request-id"]  # schemathesis: lower-case names, a list of values each
        assert answered == [given] if given else len(answered) == 1, (given, answered)
        if response.status_code >= 300:
            return
        with live_api.client() as client:
            for run in accepted_runs(client, response.json()):
                job_from_request(run["kind"], run["request"])  # what the worker does first; must not raise
                accepted.append(run["id"])

    check()
    assert accepted, "no generated request was accepted: the test would prove nothing"


# Every answer is checked against the document: status, content type, headers (X-Request-ID on every one)
# and body schema.
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
    "response_schema_conformance,allow_header_conformance"
)


def test_a_bounded_schemathesis_run_finds_no_server_error_and_every_answer_as_documented(
    live_api: Service,
) -> None:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{live_api.base_url}/openapi.json",
        "--checks", CHECKS, "--header", f"Authorization: Bearer {live_api.key}",
        "--max-time", "60", "--workers", "1", "--seed", "1", "--warnings", "off",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-2000:]
