"""POST /train with schedule.from_lr_find: bounds come from a succeeded range test of the same owner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from store.models import Run, RunKind, RunStatus

pytestmark = pytest.mark.anyio


async def test_from_lr_find_fills_the_bounds_from_a_succeeded_range_test_and_keeps_its_id(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    train_body: dict[str, Any],
    make_run: Callable[..., Run],
    read_run: Callable[[str], Run | None],
) -> None:
    result = {"suggested_max_lr": 0.06, "suggested_base_lr": 0.01, "stop_reason": "end"}
    source = make_run(RunKind.LR_FIND, RunStatus.SUCCEEDED, result=result)
    body = {
        **train_body,
        "schedule": {"policy": "triangular", "from_lr_find": source.id, "step_size_iter": 10},
    }

    answer = await client.post("/train", json=body, headers=auth)

    assert answer.status_code == 202, answer.text
    stored = read_run(answer.json()["id"])
    assert stored is not None
    schedule = stored.request["schedule"]
    assert (schedule["base_lr"], schedule["max_lr"], schedule["from_lr_find"]) == (0.01, 0.06, source.id)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("unknown", "no such run"),
        ("other-owner", "no such run"),
        ("train-run", "not an lr_find run"),
        ("still-running", "status is running"),
        ("no-suggestion", "no suggested_max_lr"),
    ],
)
async def test_from_lr_find_naming_an_unusable_run_is_422_saying_why(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    train_body: dict[str, Any],
    make_run: Callable[..., Run],
    case: str,
    reason: str,
) -> None:
    source_id = {
        "unknown": lambda: "0" * 32,
        "other-owner": lambda: (
            make_run(
                RunKind.LR_FIND,
                RunStatus.SUCCEEDED,
                result={"suggested_max_lr": 0.1},
                run_owner="someone-else",
            ).id
        ),
        "train-run": lambda: (
            make_run(RunKind.TRAIN, RunStatus.SUCCEEDED, result={"suggested_max_lr": 0.1}).id
        ),
        "still-running": lambda: make_run(RunKind.LR_FIND, RunStatus.RUNNING).id,
        "no-suggestion": lambda: (
            make_run(RunKind.LR_FIND, RunStatus.SUCCEEDED, result={"suggested_max_lr": None}).id
        ),
    }[case]()
    body = {
        **train_body,
        "schedule": {"policy": "triangular", "from_lr_find": source_id, "step_size_iter": 10},
    }

    answer = await client.post("/train", json=body, headers=auth)

    assert answer.status_code == 422
    assert answer.json()["code"] == "lr_find_not_usable"
    assert reason in answer.json()["detail"]
