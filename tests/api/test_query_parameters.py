"""Strict query strings on every route: unknown or repeated parameters and out-of-range integers are 422."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from api.app import create_app
from store.models import Run, RunKind, RunStatus
from store.series import MAX_STEP
from store.settings import Settings

pytestmark = pytest.mark.anyio

BEYOND_INT64 = [str(2**63), str(2**64), "1" + "0" * 30]
# Routes the OpenAPI document leaves out: the dashboard's.
UNDOCUMENTED = [("GET", "/"), ("GET", "/ui"), ("GET", "/ui/{name}")]


def every_route() -> list[tuple[str, str]]:
    """(method, path template) of every route of the app: the documented ones and the dashboard's."""
    paths = create_app(Settings(supervise=False)).openapi()["paths"]
    documented = [(method.upper(), path) for path, item in paths.items() for method in item]
    return sorted(documented) + UNDOCUMENTED


@pytest.fixture
def run(make_run: Callable[..., Run]) -> Run:
    return make_run(RunKind.LR_FIND, RunStatus.SUCCEEDED, result={})


def concrete(path: str, run: Run) -> str:
    values = {"run_id": run.id, "comparison_id": "c" * 32, "fmt": "png", "name": "app.js"}
    return re.sub(r"{(\w+)}", lambda match: values[match.group(1)], path)


@pytest.mark.parametrize(("method", "path"), every_route())
async def test_an_unknown_query_parameter_is_422_naming_it_on_every_route(
    client: httpx.AsyncClient, auth: dict[str, str], run: Run, method: str, path: str
) -> None:
    answer = await client.request(method, concrete(path, run), params={"bogus": "1"}, headers=auth)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "unknown_query_parameter"
    assert problem["errors"] == [
        {"loc": ["query", "bogus"], "msg": problem["detail"], "type": "unknown_query_parameter"}
    ]


async def test_the_refusal_lists_the_parameters_the_route_takes(
    client: httpx.AsyncClient, auth: dict[str, str], run: Run
) -> None:
    listed = await client.get("/runs", params={"tags": "x"}, headers=auth)
    read = await client.get(f"/runs/{run.id}", params={"verbose": "1"}, headers=auth)

    assert (
        "allowed: comparison_id, created_after, created_before, cursor, kind, limit"
        in listed.json()["detail"]
    )
    assert "(allowed: none)" in read.json()["detail"]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/runs", "limit=1&limit=2"),
        ("/runs", "kind=train&kind=lr_find"),
        ("/runs", "name_prefix=a&name_prefix=b"),
        ("/comparisons", "cursor=a&cursor=b"),
        ("/runs/{run_id}/curves", "max_points=10&max_points=20"),
    ],
)
async def test_a_single_valued_parameter_given_twice_is_422(
    client: httpx.AsyncClient, auth: dict[str, str], run: Run, path: str, query: str
) -> None:
    answer = await client.get(f"{concrete(path, run)}?{query}", headers=auth)

    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "repeated_query_parameter"
    assert answer.json()["errors"][0]["loc"] == ["query", query.split("=")[0]]


@pytest.mark.parametrize("query", ["run=" + "a" * 32, "comparison=" + "b" * 32])
async def test_the_dashboard_takes_the_run_or_comparison_its_script_opens(
    client: httpx.AsyncClient, query: str
) -> None:
    answer = await client.get(f"/ui?{query}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")


async def test_list_parameters_may_repeat(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    answer = await client.get("/runs?status=queued&status=failed&tag=a&tag=b", headers=auth)
    assert answer.status_code == 200, answer.text


INTEGERS: list[tuple[str, str, list[str]]] = [
    ("/runs", "limit", ["0", "-1", *BEYOND_INT64]),
    ("/comparisons", "limit", ["0", "-1", *BEYOND_INT64]),
    ("/runs/{run_id}/curves", "min_step", ["-1", str(MAX_STEP + 1), *BEYOND_INT64]),
    ("/runs/{run_id}/curves", "max_step", ["-1", str(MAX_STEP + 1), *BEYOND_INT64]),
    ("/runs/{run_id}/curves", "cursor", ["-2", str(MAX_STEP), *BEYOND_INT64]),
    ("/runs/{run_id}/curves", "limit", ["0", *BEYOND_INT64]),
    ("/runs/{run_id}/curves", "max_points", ["3", *BEYOND_INT64]),
]


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [(path, name, value) for path, name, values in INTEGERS for value in values],
)
async def test_integer_parameters_out_of_range_are_422_never_a_server_error(
    client: httpx.AsyncClient, auth: dict[str, str], run: Run, path: str, name: str, value: str
) -> None:
    answer = await client.get(concrete(path, run), params={name: value}, headers=auth)

    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "validation_error"
    assert answer.json()["errors"][0]["loc"] == ["query", name]


@pytest.mark.parametrize(
    "path",
    [
        "/runs/%00",
        "/runs/ab%00cd/curves",
        "/runs/%00/events",
        "/comparisons/%00",
        "/comparisons/%1b/plot.png",
    ],
)
async def test_malformed_ids_in_paths_are_404_before_any_query(
    client: httpx.AsyncClient, auth: dict[str, str], path: str
) -> None:
    answer = await client.get(path, headers=auth)

    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/runs", {"limit": str(2**63 - 1)}),
        ("/comparisons", {"limit": str(2**63 - 1)}),
        ("/runs/{run_id}/curves", {"min_step": str(MAX_STEP), "max_step": str(MAX_STEP)}),
        ("/runs/{run_id}/curves", {"cursor": str(MAX_STEP - 1), "limit": str(2**63 - 1)}),
        ("/runs/{run_id}/curves", {"min_step": str(MAX_STEP), "max_points": "100000"}),
        ("/runs/{run_id}/curves", {"min_step": "0", "max_step": str(MAX_STEP), "format": "npy"}),
    ],
)
async def test_the_largest_accepted_integers_are_answered(
    client: httpx.AsyncClient, auth: dict[str, str], run: Run, path: str, params: dict[str, Any]
) -> None:
    answer = await client.get(concrete(path, run), params=params, headers=auth)
    assert answer.status_code == 200, answer.text
