"""Every error is application/problem+json with a stable code: validation, auth, routes, size, crashes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from store.settings import Settings

pytestmark = pytest.mark.anyio

PROBLEM_JSON = "application/problem+json"


def assert_problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = answer.json()
    assert (problem["status"], problem["code"]) == (status, code)
    assert problem["title"]
    return problem


@pytest.mark.parametrize(
    ("path", "change", "loc", "message"),
    [
        ("/lr-find", {"start_lr": 0}, ["body", "start_lr"], "greater than 0"),
        ("/lr-find", {"start_lr": 0.5, "end_lr": 0.1}, ["body", "end_lr"], "end_lr must be above start_lr"),
        (
            "/lr-find",
            {"model": {"name": "alexnet"}},
            ["body", "model", "name"],
            "name must be an installed model, one of [",  # the installed plugins, whichever they are
        ),
        ("/lr-find", {"batch_size": "many"}, ["body", "batch_size"], "valid integer"),
        ("/lr-find", {"colour": "red"}, ["body", "colour"], "Unexpected keyword argument"),
        (
            "/train",
            {"schedule": {"policy": "triangular", "base_lr": 0.1, "max_lr": 0.01}},
            ["body", "schedule", "max_lr"],
            "max_lr must be above base_lr=0.1, got 0.01",
        ),
        ("/train", {"schedule": {"policy": "sawtooth"}}, ["body", "schedule", "policy"], "'triangular', "),
        (
            "/train",
            {"dataset": {"name": "digits", "validation": "test"}},
            ["body", "dataset", "validation"],
            "validation='test' needs a set with a test split, not 'digits'",
        ),
        (
            "/lr-find",
            {"past_end_lr": True, "end_lr": 1.0, "lr_cap": 0.5},
            ["body", "lr_cap"],
            "lr_cap must be above end_lr=1.0, got 0.5",
        ),
    ],
)
async def test_invalid_bodies_are_422_validation_errors_with_pydantic_messages(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    lr_find_body: dict[str, Any],
    train_body: dict[str, Any],
    path: str,
    change: dict[str, Any],
    loc: list[str],
    message: str,
) -> None:
    body = {**(lr_find_body if path == "/lr-find" else train_body), **change}
    problem = assert_problem(await client.post(path, json=body, headers=auth), 422, "validation_error")

    matching = [error for error in problem["errors"] if error["loc"] == loc]
    assert matching, problem["errors"]
    assert message in matching[0]["msg"]
    assert set(matching[0]) == {"loc", "msg", "type"}


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
async def test_non_finite_numbers_are_422(
    client: httpx.AsyncClient, auth: dict[str, str], literal: str
) -> None:
    raw = '{"model": {"name": "vanilla_cnn"}, "dataset": {"name": "digits"}, "end_lr": ' + literal + "}"
    headers = {**auth, "Content-Type": "application/json"}
    problem = assert_problem(
        await client.post("/lr-find", content=raw, headers=headers), 422, "validation_error"
    )

    assert problem["errors"][0]["loc"] == ["body", "end_lr"]
    assert "finite number" in problem["errors"][0]["msg"]


async def test_malformed_json_is_422(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    headers = {**auth, "Content-Type": "application/json"}
    problem = assert_problem(
        await client.post("/train", content="{", headers=headers), 422, "validation_error"
    )
    assert problem["errors"][0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/runs"),
        ("GET", "/runs/x"),
        ("GET", "/runs/x/curves"),
        ("POST", "/runs/x/cancel"),
        ("POST", "/train"),
    ],
)
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-key", "Basic dXNlcjpwYXNz"])
async def test_requests_without_a_valid_key_are_401_with_www_authenticate(
    client: httpx.AsyncClient, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = await client.request(method, path, headers=headers)

    assert_problem(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_unknown_routes_are_404_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/no/such/route"), 404, "not_found")


async def test_a_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    answer = await client.delete("/runs")
    assert_problem(answer, 405, "method_not_allowed")
    assert answer.headers["allow"] == "GET"


async def test_a_405_allows_every_method_of_the_path_not_only_its_first_routes(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    answer = await client.put(f"/runs/{'0' * 32}", headers=auth)
    assert_problem(answer, 405, "method_not_allowed")
    assert answer.headers["allow"] == "DELETE, GET"
    assert "allowed: DELETE, GET" in answer.json()["detail"]


async def test_a_body_declared_larger_than_the_limit_is_413(
    make_client: Callable[..., Any], auth: dict[str, str]
) -> None:
    client = await make_client(max_body_bytes=1000)
    answer = await client.post(
        "/train", content=b"x" * 1001, headers={**auth, "Content-Type": "application/json"}
    )
    problem = assert_problem(answer, 413, "body_too_large")
    assert "1000 bytes" in problem["detail"]


async def test_a_streamed_body_without_content_length_is_cut_off_at_the_limit_with_413(
    make_client: Callable[..., Any], auth: dict[str, str]
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 300

    client = await make_client(max_body_bytes=1000)
    answer = await client.post(
        "/train", content=chunks(), headers={**auth, "Content-Type": "application/json"}
    )

    assert "content-length" not in answer.request.headers
    assert_problem(answer, 413, "body_too_large")


async def test_a_body_within_the_limit_reaches_the_route(
    make_client: Callable[..., Any], auth: dict[str, str], lr_find_body: dict[str, Any]
) -> None:
    client = await make_client(max_body_bytes=1000)
    assert (await client.post("/lr-find", json=lr_find_body, headers=auth)).status_code == 202


async def test_a_crash_is_a_500_problem_that_leaks_no_traceback(
    make_settings: Callable[..., Settings], session_factory: sessionmaker[Session], celery_app: Celery
) -> None:
    app = create_app(make_settings(), session_factory=session_factory, celery=celery_app)

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://clr.test") as client:
        answer = await client.get("/crash")

    problem = assert_problem(answer, 500, "internal_error")
    assert "secret" not in answer.text
    assert "Traceback" not in answer.text
    assert problem["instance"] == "/crash"
