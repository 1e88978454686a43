"""Discovery says what the request checks accept: models, optimizers and policies with their fields."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from clr.specs import ScheduleSpec

pytestmark = pytest.mark.anyio

# A value other than the default for every optimizer and schedule field, to give where a field is not read.
OTHER_OPTIMIZER_VALUES: dict[str, Any] = {
    "lr": 0.2, "momentum": 0.5, "nesterov": True, "weight_decay": 0.1, "betas": [0.8, 0.9], "eps": 1e-6,
    "alpha": 0.9,
}  # fmt: skip
OTHER_SCHEDULE_VALUES: dict[str, Any] = {
    "base_lr": 0.001, "max_lr": 0.01, "step_size_iter": 7, "step_size_epochs": None, "gamma": 0.99,
    "bound_decay": "linear", "bound_decay_rate": 0.5, "cycle_momentum": True, "base_momentum": 0.8,
    "max_momentum": 0.9, "total_steps": 50, "pct_start": 0.4, "anneal_strategy": "linear",
    "final_div_factor": 100.0,
}  # fmt: skip


async def test_models_lists_the_bundled_plugins_with_their_parameters(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    answer = await client.get("/models", headers=auth)
    assert answer.status_code == 200, answer.text
    found = {item["name"]: item for item in answer.json()["items"]}
    assert {"vanilla_cnn", "resnet18", "resnet34"} <= set(found)
    cnn = found["vanilla_cnn"]["params"]["properties"]
    assert cnn["width"]["default"] == 32
    assert (cnn["dropout"]["minimum"], cnn["dropout"]["maximum"]) == (0.0, 0.95)
    assert set(found["resnet34"]["params"]["properties"]) == {"pretrained", "trainable", "dropout"}
    assert found["resnet34"]["source"] == "clr.bundled:RESNET34"


async def test_discovery_needs_a_key(client: httpx.AsyncClient) -> None:
    for path in ("/models", "/optimizers", "/policies"):
        assert (await client.get(path)).status_code == 401


async def test_every_optimizer_field_discovery_leaves_out_is_refused_for_that_optimizer(
    client: httpx.AsyncClient, auth: dict[str, str], train_body: dict[str, Any]
) -> None:
    listed = {
        item["name"]: item["params"]["properties"]
        for item in (await client.get("/optimizers", headers=auth)).json()["items"]
    }
    assert set(listed) == {"sgd", "sgd_momentum", "adagrad", "rmsprop", "adam", "adamw"}
    assert "betas" in listed["adam"]
    assert "betas" not in listed["sgd"]
    for name, fields in listed.items():
        for field, value in OTHER_OPTIMIZER_VALUES.items():
            body = {**train_body, "optimizer": {"name": name, field: value}}
            answer = await client.post("/train", json=body, headers=auth)
            if field in fields:
                assert "not used by" not in answer.text, (name, field, answer.text)
            else:
                assert answer.status_code == 422, (name, field, answer.text)
                assert answer.json()["errors"][0]["loc"] == ["body", "optimizer", field]


async def test_every_schedule_field_discovery_leaves_out_is_refused_for_that_policy(
    client: httpx.AsyncClient, auth: dict[str, str], train_body: dict[str, Any]
) -> None:
    listed = {item["name"]: item for item in (await client.get("/policies", headers=auth)).json()["items"]}
    assert {name for name, item in listed.items() if item["cyclic"]} == {
        "triangular", "triangular2", "exp_range", "cosine_restarts",
    }  # fmt: skip
    for name, item in listed.items():
        fields = item["params"]["properties"]
        for field, value in OTHER_SCHEDULE_VALUES.items():
            if field in fields or value is None:
                continue
            body = {**train_body, "schedule": {"policy": name, field: value}}
            answer = await client.post("/train", json=body, headers=auth)
            assert answer.status_code == 422, (name, field, answer.text)
            assert answer.json()["errors"][0]["loc"] == ["body", "schedule", field]
        ScheduleSpec(name, **{f: v for f, v in OTHER_SCHEDULE_VALUES.items() if f in fields})  # type: ignore[arg-type]
