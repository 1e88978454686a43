"""Run labels, list filters, strict query strings and deletion through a live service, client and CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from client import ClrClient, ClrError
from tests.e2e.conftest import Service, wait_for_status

pytestmark = pytest.mark.e2e


def test_a_named_tagged_run_is_found_by_its_tags_and_deleted_with_its_weights(service: Service) -> None:
    env = {"CLR_URL": service.base_url, "CLR_API_KEY": service.key}
    runner = CliRunner()
    args = ["train", "--epochs", "1", "--batch-size", "64", "--policy", "constant", "--wait", "--json"]
    labels = ["--name", "nightly digits", "--tag", "nightly", "--tag", "e2e-labels"]

    trained = runner.invoke(app, [*args, *labels], env=env)

    assert trained.exit_code == 0, trained.output
    run = json.loads(trained.stdout)
    assert (run["status"], run["name"], run["tags"]) == (
        "succeeded",
        "nightly digits",
        ["nightly", "e2e-labels"],
    )
    weights = service.home / "artifacts" / run["id"] / "model.pt"
    assert weights.is_file()
    listed = runner.invoke(app, ["runs", "--tag", "e2e-labels", "--status", "succeeded", "--json"], env=env)
    assert json.loads(listed.stdout) == {"items": [json.loads(trained.stdout)], "next_cursor": None}
    with ClrClient(service.base_url, service.key) as client:
        found = list(client.runs(tag=["nightly", "e2e-labels"], status=["failed", "succeeded"], limit=1))
        assert [(r.id, r.name) for r in found] == [(run["id"], "nightly digits")]
        assert list(client.runs(tag="e2e-labels", status="failed")) == []

        client.delete_run(run["id"])

        with pytest.raises(ClrError) as gone:
            client.get_run(run["id"])
    assert gone.value.code == "not_found"
    assert not weights.parent.exists()


def test_a_running_run_cannot_be_deleted_until_it_ended(service: Service) -> None:
    body: dict[str, Any] = {
        "model": {"name": "vanilla_cnn"},
        "dataset": {"name": "digits"},
        "num_iter": 100_000,
        "tags": ["e2e-busy"],
    }
    with ClrClient(service.base_url, service.key) as client, service.client() as http:
        run = client.lr_find(**body)
        wait_for_status(http, run.id, {"running"})
        with pytest.raises(ClrError) as busy:
            client.delete_run(run.id)
        client.cancel(run.id)
        client.wait(run.id, timeout=60, interval=0.3)
        client.delete_run(run.id)
        left = list(client.runs(tag="e2e-busy"))

    assert (busy.value.status, busy.value.code) == (409, "run_active")
    assert left == []


def test_the_live_service_refuses_unknown_parameters_and_huge_integers(service: Service) -> None:
    with service.client() as http:
        unknown = http.get("/runs", params={"tags": "nightly"})
        repeated = http.get("/runs?limit=1&limit=2")
        huge = http.get("/runs", params={"limit": str(2**64)})

    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_query_parameter")
    assert unknown.json()["errors"][0]["loc"] == ["query", "tags"]
    assert (repeated.status_code, repeated.json()["code"]) == (422, "repeated_query_parameter")
    assert (huge.status_code, huge.json()["errors"][0]["loc"]) == (422, ["query", "limit"])
