"""GET /runs and GET /comparisons filters: tags, name prefix, statuses, kind, comparison, creation time."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import runs
from store.db import transaction
from store.filters import prefix_upper_bound
from store.models import RunStatus
from tests.api.conftest import COMPARISON_BODY

pytestmark = pytest.mark.anyio


class Lister:
    """Submits labelled train runs as the owner of `auth` and lists them back with filters."""

    def __init__(self, client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, Any]) -> None:
        self.client, self.auth, self.body = client, auth, body

    async def submit(self, **labels: Any) -> dict[str, Any]:
        answer = await self.client.post("/train", json={**self.body, **labels}, headers=self.auth)
        assert answer.status_code == 202, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def ids(self, path: str = "/runs", **params: Any) -> list[str]:
        answer = await self.client.get(path, params=params, headers=self.auth)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]


@pytest.fixture
def lister(client: httpx.AsyncClient, auth: dict[str, str], train_body: dict[str, Any]) -> Lister:
    return Lister(client, auth, train_body)


def finish(factory: sessionmaker[Session], run_id: str, to: RunStatus) -> None:
    with transaction(factory) as session:
        assert runs.start_run(session=session, run_id=run_id, worker="test")
        assert runs.transition(session=session, run_id=run_id, to=to)


async def test_tags_keep_the_runs_carrying_every_given_tag(lister: Lister) -> None:
    both = (await lister.submit(tags=["cifar", "baseline"]))["id"]
    cifar = (await lister.submit(tags=["cifar"]))["id"]
    baseline = (await lister.submit(tags=["baseline"]))["id"]
    await lister.submit()

    assert await lister.ids(tag="cifar") == [cifar, both]
    assert await lister.ids(tag=["cifar", "baseline"]) == [both]
    assert await lister.ids(tag="baseline") == [baseline, both]
    assert await lister.ids(tag="missing") == []


async def test_another_owners_tagged_runs_stay_unseen(
    lister: Lister, client: httpx.AsyncClient, other_auth: dict[str, str]
) -> None:
    mine = (await lister.submit(tags=["shared"]))["id"]
    await Lister(client, other_auth, lister.body).submit(tags=["shared"])

    assert await lister.ids(tag="shared") == [mine]


async def test_a_name_prefix_matches_case_sensitively_and_literally(lister: Lister) -> None:
    names = ["exp-1", "exp-2", "Exp-3", "ex%", "exp_", "expé", "ex", "éx", "\U0010ffff"]
    ids = {name: (await lister.submit(name=name))["id"] for name in names}
    await lister.submit()

    async def names_for(prefix: str) -> set[str]:
        found = set(await lister.ids(name_prefix=prefix))
        return {name for name, run_id in ids.items() if run_id in found}

    assert await names_for("exp") == {"exp-1", "exp-2", "exp_", "expé"}
    assert await names_for("ex%") == {"ex%"}
    assert await names_for("exp_") == {"exp_"}
    assert await names_for("E") == {"Exp-3"}
    assert await names_for("é") == {"éx"}
    assert await names_for("\U0010ffff") == {"\U0010ffff"}


def test_the_upper_bound_of_a_prefix_is_the_least_string_above_its_matches() -> None:
    assert prefix_upper_bound("abc") == "abd"
    assert prefix_upper_bound("a\ud7ff") == "a\ue000"  # skips the surrogates
    assert prefix_upper_bound("a\U0010ffff") == "b"
    assert prefix_upper_bound("\U0010ffff") is None


async def test_several_statuses_keep_runs_in_any_of_them(
    lister: Lister, session_factory: sessionmaker[Session]
) -> None:
    queued, succeeded, failed = [(await lister.submit())["id"] for _ in range(3)]
    finish(session_factory, succeeded, RunStatus.SUCCEEDED)
    finish(session_factory, failed, RunStatus.FAILED)

    assert await lister.ids(status=["queued", "succeeded"]) == [succeeded, queued]
    assert await lister.ids(status="failed") == [failed]
    assert await lister.ids(status=["failed", "succeeded"], kind="train") == [failed, succeeded]
    assert await lister.ids(status="queued", kind="lr_find") == []


async def test_a_comparison_filter_keeps_its_runs_only(
    lister: Lister, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    created = (await client.post("/comparisons", json={**COMPARISON_BODY, "repeats": 2}, headers=auth)).json()
    await lister.submit()

    children = [child["run"]["id"] for child in created["children"]]
    assert await lister.ids(comparison_id=created["id"]) == sorted(children, reverse=True)
    assert await lister.ids(comparison_id="f" * 32) == []


async def test_a_creation_range_is_half_open_and_reads_any_utc_offset(lister: Lister) -> None:
    made = []
    for _ in range(3):
        made.append(await lister.submit())
        time.sleep(0.005)
    first, second, third = (datetime.fromisoformat(run["created_at"]) for run in made)
    ids = [run["id"] for run in made]
    plus_two = timezone(timedelta(hours=2))

    assert await lister.ids(created_after=second.isoformat()) == [ids[2], ids[1]]
    assert await lister.ids(created_before=second.isoformat()) == [ids[0]]
    window = {"created_after": first.astimezone(plus_two).isoformat(), "created_before": third.isoformat()}
    assert await lister.ids(**window) == [ids[1], ids[0]]
    naive_utc = (first - timedelta(microseconds=1)).replace(tzinfo=None).isoformat()
    assert await lister.ids(created_after=naive_utc) == ids[::-1]
    assert await lister.ids(created_after=(third + timedelta(milliseconds=1)).isoformat()) == []
    assert await lister.ids(created_before="1900-01-01T00:00:00Z") == []
    assert await lister.ids(created_after="1900-01-01T00:00:00Z") == ids[::-1]
    assert await lister.ids(created_before="9999-12-31T23:59:59.999999Z") == ids[::-1]


async def test_the_cursor_pages_through_filtered_runs_exactly_once(lister: Lister) -> None:
    tagged = []
    for i in range(7):
        tagged.append((await lister.submit(tags=["paged"]))["id"])
        if i % 2:
            await lister.submit(tags=["other"])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"tag": "paged", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await lister.client.get("/runs", params=params, headers=lister.auth)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == tagged[::-1]


async def test_comparisons_are_filtered_by_tag_name_prefix_and_creation_time(
    lister: Lister, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    made = []
    for name, tags in [("sweep-a", ["nightly"]), ("sweep-b", []), ("other", ["nightly"])]:
        made.append(
            (
                await client.post(
                    "/comparisons", json={**COMPARISON_BODY, "name": name, "tags": tags}, headers=auth
                )
            ).json()
        )
    a, b, other = (comparison["id"] for comparison in made)

    assert await lister.ids("/comparisons", tag="nightly") == [other, a]
    assert await lister.ids("/comparisons", name_prefix="sweep-") == [b, a]
    assert await lister.ids("/comparisons", name_prefix="sweep-", tag="nightly") == [a]
    assert await lister.ids("/comparisons", created_after=made[1]["created_at"]) == [other, b]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/runs", {"created_after": "yesterday"}),
        ("/runs", {"created_before": "2026-13-01T00:00:00Z"}),
        ("/runs", {"tag": ""}),
        ("/runs", {"tag": "t" * 65}),
        ("/runs", {"tag": [f"t{i}" for i in range(17)]}),
        ("/runs", {"name_prefix": "a\x00"}),
        ("/runs", {"kind": "sweep"}),
        ("/runs", {"comparison_id": "c" * 65}),
        ("/comparisons", {"tag": "\x1b[31m"}),
        ("/comparisons", {"created_after": "soon"}),
        ("/runs", {"cursor": "\x00"}),
        ("/runs", {"cursor": "f" * 31}),
        ("/runs", {"comparison_id": "\x00"}),
        ("/comparisons", {"cursor": "a\x00b"}),
    ],
)
async def test_invalid_filter_and_cursor_values_are_422_naming_the_parameter(
    client: httpx.AsyncClient, auth: dict[str, str], path: str, params: dict[str, Any]
) -> None:
    answer = await client.get(path, params=params, headers=auth)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["loc"][:2] == ["query", next(iter(params))]
