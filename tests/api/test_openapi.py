"""The live OpenAPI document is the contract: ids, typed answers, problem+json errors, codes and headers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api import examples
from store.models import Run, RunKind, RunStatus
from store.problems import ProblemCode

pytestmark = pytest.mark.anyio

OPERATION_IDS = {
    ("get", "/healthz"): "getHealth",
    ("get", "/readyz"): "getReadiness",
    ("get", "/metrics"): "getMetrics",
    ("post", "/lr-find"): "createLrFind",
    ("post", "/train"): "createTraining",
    ("get", "/runs"): "listRuns",
    ("get", "/runs/{run_id}"): "getRun",
    ("delete", "/runs/{run_id}"): "deleteRun",
    ("post", "/runs/{run_id}/cancel"): "cancelRun",
    ("get", "/runs/{run_id}/curves"): "getRunCurves",
    ("get", "/runs/{run_id}/events"): "streamRunEvents",
    ("get", "/runs/{run_id}/plot.{fmt}"): "getRunPlot",
    ("get", "/runs/{run_id}/artifacts/model.pt"): "getRunWeights",
    ("post", "/comparisons"): "createComparison",
    ("get", "/comparisons"): "listComparisons",
    ("get", "/comparisons/{comparison_id}"): "getComparison",
    ("delete", "/comparisons/{comparison_id}"): "deleteComparison",
    ("get", "/comparisons/{comparison_id}/curves"): "getComparisonCurves",
    ("post", "/comparisons/{comparison_id}/cancel"): "cancelComparison",
    ("get", "/comparisons/{comparison_id}/plot.{fmt}"): "getComparisonPlot",
    ("get", "/models"): "listModels",
    ("get", "/datasets"): "listDatasets",
    ("get", "/optimizers"): "listOptimizers",
    ("get", "/policies"): "listPolicies",
}


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/openapi.json")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


async def test_every_operation_has_its_stable_readable_id(document: dict[str, Any]) -> None:
    found = {(method, path): operation["operationId"] for method, path, operation in operations(document)}
    assert found == OPERATION_IDS


async def test_every_error_answer_is_declared_as_problem_json_with_the_problem_schema(
    document: dict[str, Any],
) -> None:
    for method, path, operation in operations(document):
        errors = {status: r for status, r in operation["responses"].items() if int(status) >= 400}
        assert {"422", "500"} <= set(errors), (method, path)
        for status, response in errors.items():
            assert set(response["content"]) == {"application/problem+json"}, (method, path, status)
            body = response["content"]["application/problem+json"]
            assert body["schema"] == {"$ref": "#/components/schemas/Problem"}
            for name, example in body["examples"].items():
                assert example["value"]["status"] == int(status) == ProblemCode[name.upper()].status


async def test_the_problem_code_is_an_enum_of_every_code_and_each_answered_code_is_declared(
    document: dict[str, Any],
) -> None:
    code = resolve(document, document["components"]["schemas"]["Problem"]["properties"]["code"])
    assert code["enum"] == [c.value for c in ProblemCode]
    declared = {
        name
        for _, _, operation in operations(document)
        for status, response in operation["responses"].items()
        if int(status) >= 400
        for name in response["content"]["application/problem+json"]["examples"]
    }
    answered = {c.value for c in ProblemCode if c.status is not None and c != ProblemCode.METHOD_NOT_ALLOWED}
    assert declared == answered


async def test_headers_are_declared_where_they_are_sent(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for path in ("/lr-find", "/train"):
        for status in ("202", "200"):
            assert "Location" in paths[path]["post"]["responses"][status]["headers"]
        assert "Retry-After" in paths[path]["post"]["responses"]["429"]["headers"]
    assert "Location" in paths["/comparisons"]["post"]["responses"]["202"]["headers"]
    assert "Retry-After" in paths["/runs/{run_id}/events"]["get"]["responses"]["429"]["headers"]
    assert "X-Next-Cursor" in paths["/runs/{run_id}/curves"]["get"]["responses"]["200"]["headers"]
    assert "WWW-Authenticate" in paths["/runs/{run_id}"]["get"]["responses"]["401"]["headers"]
    readiness = paths["/readyz"]["get"]["responses"]
    assert (
        resolve(document, readiness["200"]["content"]["application/json"]["schema"])["title"] == "Readiness"
    )
    assert "not_ready" in readiness["503"]["content"]["application/problem+json"]["examples"]


async def test_every_operation_takes_a_request_id_and_every_answer_declares_the_one_it_sends(
    client: httpx.AsyncClient, document: dict[str, Any], auth: dict[str, str]
) -> None:
    for method, path, operation in operations(document):
        taken = [p for p in operation["parameters"] if p["name"] == "X-Request-ID"]
        assert [(p["in"], p["required"]) for p in taken] == [("header", False)], (method, path)
        for status, response in operation["responses"].items():
            assert response["headers"]["X-Request-ID"]["required"] is True, (method, path, status)
    declared = document["paths"]["/runs/{run_id}"]["get"]["responses"]["404"]["headers"]["X-Request-ID"]
    pattern = re.compile(declared["schema"]["pattern"])
    unknown = "/runs/" + "0" * 32
    answers = [
        await client.get("/healthz"),
        await client.get(unknown),  # 401: no key
        await client.get(unknown, headers=auth),  # 404
        await client.post("/lr-find", json={"colour": "red"}, headers=auth),  # 422
        await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}),  # replaced
    ]
    assert [a.status_code for a in answers] == [200, 401, 404, 422, 200]
    for answer in answers:
        assert pattern.fullmatch(answer.headers["X-Request-ID"]), answer.headers
    assert answers[-1].headers["X-Request-ID"] != "bad id with spaces"
    echoed = await client.get(unknown, headers={**auth, "X-Request-ID": "platform-req-7"})
    assert echoed.headers["X-Request-ID"] == "platform-req-7"


async def test_results_errors_and_curves_are_typed(document: dict[str, Any]) -> None:
    run = document["components"]["schemas"]["RunOut"]["properties"]
    refs = {
        name: [c.get("$ref", "null") for c in run[name]["anyOf"]] for name in ("request", "result", "error")
    }
    assert refs == {
        "request": ["#/components/schemas/LRFindCreate", "#/components/schemas/TrainCreate"],
        "result": ["#/components/schemas/RangeTestSummary", "#/components/schemas/TrainSummary", "null"],
        "error": ["#/components/schemas/Problem", "null"],
    }
    summary = document["components"]["schemas"]["RangeTestSummary"]["properties"]
    assert summary["suggested_max_lr"]["description"]
    curves = document["paths"]["/runs/{run_id}/curves"]["get"]["responses"]["200"]["content"]
    assert [c["$ref"] for c in curves["application/json"]["schema"]["anyOf"]] == [
        "#/components/schemas/RangeCurves",
        "#/components/schemas/TrainCurves",
    ]
    assert {"application/x-npy", "text/csv; charset=utf-8; header=present"} <= set(curves)
    comparison = document["paths"]["/comparisons/{comparison_id}/curves"]["get"]["responses"]["200"][
        "content"
    ]
    assert comparison["application/json"]["schema"] == {"$ref": "#/components/schemas/ComparisonCurves"}


@pytest.mark.parametrize("path", ["/lr-find", "/train", "/comparisons"])
async def test_every_request_property_is_described(document: dict[str, Any], path: str) -> None:
    body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    missing: list[str] = []

    def walk(schema: dict[str, Any], where: str, seen: frozenset[str]) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(resolve(document, schema), where, seen | {name})
            return
        for key in ("oneOf", "anyOf", "allOf"):
            for choice in schema.get(key, []):
                walk(choice, where, seen)
        if "items" in schema:
            walk(schema["items"], f"{where}[]", seen)
        for name, field in schema.get("properties", {}).items():
            if not field.get("description"):
                missing.append(f"{where}.{name}")
            walk(field, f"{where}.{name}", seen)

    walk(body, path, frozenset())
    assert not missing
    assert len(body) == 1  # a $ref: the walk went through the components


async def test_every_parameter_of_every_operation_is_described(document: dict[str, Any]) -> None:
    undescribed = [
        (method, path, parameter["in"], parameter["name"])
        for method, path, operation in operations(document)
        for parameter in operation.get("parameters", [])
        if not parameter.get("description")
    ]
    assert not undescribed
    run = document["paths"]["/runs/{run_id}/plot.{fmt}"]["get"]["parameters"]
    assert {p["name"] for p in run if p["in"] == "path"} == {"run_id", "fmt"}


@pytest.fixture
def succeeded_lr_find(make_run: Callable[..., Run]) -> Run:
    return make_run(
        RunKind.LR_FIND,
        RunStatus.SUCCEEDED,
        result={"suggested_max_lr": 0.05, "suggested_base_lr": 0.005},
    )


@pytest.mark.parametrize(
    ("path", "given"),
    [("/lr-find", examples.LR_FIND), ("/train", examples.TRAIN), ("/comparisons", examples.COMPARISON)],
)
async def test_each_request_example_is_documented_and_accepted(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    document: dict[str, Any],
    succeeded_lr_find: Run,
    path: str,
    given: dict[str, Any],
) -> None:
    documented = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert documented.keys() == given.keys()
    for name, example in documented.items():
        body = example["value"]
        if "from_lr_find" in body.get("schedule", {}):
            body["schedule"]["from_lr_find"] = succeeded_lr_find.id
        body.pop("callback_url", None)  # its host would have to resolve, outside the network
        answer = await client.post(path, json=body, headers=auth)
        assert answer.status_code == 202, (name, answer.text)


def test_the_readme_lists_every_problem_code_with_its_status_and_every_operation_id() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for code in ProblemCode:
        assert f"| `{code}` | {code.status or 'run'} | {code.meaning} |" in readme, code
    for operation_id in OPERATION_IDS.values():
        assert f"`{operation_id}`" in readme, operation_id
