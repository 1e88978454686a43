"""Cost limits at submit: data, batch, steps and stored points estimated from the dataset's facts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

DIGITS_TRAIN = 1797 - 359  # digits less its holdout (val_fraction 0.2)
# The issue's probe: about 650 GB of generated data and 13 GB per batch, answered 202 before.
HUGE_SHAPES: dict[str, Any] = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "shapes", "params": {"num_samples": 200_000, "image_size": 256}, "resize": 512},
    "batch_size": 4096,
    "epochs": 500,
    "schedule": {"policy": "triangular", "base_lr": 0.001, "max_lr": 0.01},
}


def limit_errors(answer: httpx.Response) -> dict[str, dict[str, Any]]:
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "limit_exceeded"
    return {error["msg"].split(" is ")[0]: error for error in problem["errors"]}


async def test_the_issues_huge_shapes_job_is_refused_with_each_estimate_and_its_limit(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    errors = limit_errors(await client.post("/train", json=HUGE_SHAPES, headers=auth))

    data, batch = errors["data memory (bytes)"], errors["batch memory (bytes)"]
    assert (data["estimate"], data["limit"]) == (200_000 * 3 * 256 * 256 * 4, 16 * 2**30)
    assert data["loc"] == ["body", "dataset"]
    assert (batch["estimate"], batch["limit"]) == (4096 * 3 * 512 * 512 * 4, 2 * 2**30)
    assert batch["loc"] == ["body", "batch_size"]


async def test_a_comparison_is_refused_like_its_runs(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    body = {key: value for key, value in HUGE_SHAPES.items() if key != "schedule"}
    body |= {"epochs": 1, "repeats": 1, "variants": [{"name": "sgd", "optimizer": {"name": "sgd"}}]}

    errors = limit_errors(await client.post("/comparisons", json=body, headers=auth))

    assert errors["data memory (bytes)"]["loc"] == ["body", "variants", 0, "dataset"]
    assert "batch memory (bytes)" in errors


@pytest.mark.parametrize(
    ("path", "change", "limits", "name", "estimate"),
    [
        (
            "/lr-find",
            {"dataset": {"name": "shapes", "params": {"num_samples": 1000}}},
            {"max_data_bytes": 10**6},
            "data memory (bytes)",
            1000 * 3 * 32 * 32 * 4,
        ),
        (
            "/lr-find",
            {"dataset": {"name": "digits", "resize": 32}},
            {"max_batch_bytes": 10**4},
            "batch memory (bytes)",
            16 * 32 * 32 * 4,
        ),
        (
            "/train",
            {"epochs": 3, "batch_size": 16},
            {"max_total_steps": 200},
            "total steps",
            3 * (DIGITS_TRAIN // 16),
        ),
        (
            "/train",
            {"epochs": 3, "batch_size": 16},
            {"max_stored_points": 200},
            "stored points",
            3 * (DIGITS_TRAIN // 16) + 3,
        ),
        ("/lr-find", {"num_iter": 100, "past_end_lr": True}, {"max_total_steps": 150}, "total steps", 200),
    ],
    ids=["data", "batch", "steps", "points", "past-end-lr"],
)
async def test_each_estimate_above_its_setting_is_422_with_the_estimate_and_the_limit(
    make_client: Callable[..., Any],
    auth: dict[str, str],
    lr_find_body: dict[str, Any],
    train_body: dict[str, Any],
    path: str,
    change: dict[str, Any],
    limits: dict[str, int],
    name: str,
    estimate: int,
) -> None:
    client = await make_client(**limits)
    body = {**(lr_find_body if path == "/lr-find" else train_body), **change}

    error = limit_errors(await client.post(path, json=body, headers=auth))[name]

    assert (error["estimate"], error["limit"]) == (estimate, next(iter(limits.values())))
    assert f"{name} is {estimate}, above the limit of {next(iter(limits.values()))}" == error["msg"]
    within = await make_client(**{key: estimate for key in limits})
    assert (await within.post(path, json=body, headers=auth)).status_code == 202


async def test_a_batch_above_the_training_samples_is_422_naming_how_many_there_are(
    client: httpx.AsyncClient, auth: dict[str, str], lr_find_body: dict[str, Any]
) -> None:
    answer = await client.post(
        "/lr-find", json={**lr_find_body, "batch_size": DIGITS_TRAIN + 1}, headers=auth
    )

    assert answer.status_code == 422, answer.text
    error = answer.json()["errors"][0]
    assert (answer.json()["code"], error["loc"]) == ("validation_error", ["body", "batch_size"])
    assert f"at most the {DIGITS_TRAIN} training samples" in error["msg"]
    ok = await client.post("/lr-find", json={**lr_find_body, "batch_size": DIGITS_TRAIN}, headers=auth)
    assert ok.status_code == 202
