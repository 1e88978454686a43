"""Name, tags and metadata on POST /lr-find, /train and /comparisons: kept, returned on reads, bounded."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.labels import MAX_TAGS, METADATA_MAX_BYTES, METADATA_MAX_DEPTH, NAME_MAX_LENGTH, TAG_MAX_LENGTH
from store.models import RunTag
from tests.api.conftest import COMPARISON_BODY

pytestmark = pytest.mark.anyio

LABELS: dict[str, Any] = {
    "name": "résumé sweep #3",
    "tags": ["baseline", "digits", "baseline"],
    "metadata": {"git": "abc123", "owner": {"team": "vision", "ids": [1, 2.5, None, True]}},
}
COMPARISON: dict[str, Any] = {**COMPARISON_BODY, "repeats": 2}


async def test_a_run_keeps_its_name_tags_and_metadata_on_every_read(
    client: httpx.AsyncClient, auth: dict[str, str], lr_find_body: dict[str, Any], train_body: dict[str, Any]
) -> None:
    created = await client.post("/lr-find", json={**lr_find_body, **LABELS}, headers=auth)
    trained = await client.post("/train", json={**train_body, **LABELS}, headers=auth)

    assert created.status_code == trained.status_code == 202, (created.text, trained.text)
    expected = {"name": LABELS["name"], "tags": ["baseline", "digits"], "metadata": LABELS["metadata"]}
    one = (await client.get(f"/runs/{created.json()['id']}", headers=auth)).json()
    listed = (await client.get("/runs", headers=auth)).json()["items"]
    for body in [created.json(), trained.json(), one, *listed]:
        assert {key: body[key] for key in expected} == expected
        assert not set(expected) & set(body["request"]), "labels live beside the job's request"
    assert len(listed) == 2


async def test_a_run_without_labels_reads_back_with_empty_ones(
    client: httpx.AsyncClient, auth: dict[str, str], lr_find_body: dict[str, Any]
) -> None:
    answer = await client.post("/lr-find", json=lr_find_body, headers=auth)

    assert answer.status_code == 202
    body = answer.json()
    assert (body["name"], body["tags"], body["metadata"]) == (None, [], {})


async def test_each_tag_is_stored_once_in_the_tag_table(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    lr_find_body: dict[str, Any],
    session_factory: sessionmaker[Session],
) -> None:
    answer = await client.post("/lr-find", json={**lr_find_body, **LABELS}, headers=auth)

    with session_factory() as session:
        rows = session.scalars(select(RunTag.tag).where(RunTag.run_id == answer.json()["id"])).all()
    assert sorted(rows) == ["baseline", "digits"]


async def test_a_comparison_and_each_of_its_runs_carry_its_labels(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    answer = await client.post("/comparisons", json={**COMPARISON, **LABELS}, headers=auth)

    assert answer.status_code == 202, answer.text
    comparison = answer.json()
    listed = (await client.get("/comparisons", headers=auth)).json()["items"]
    one = (await client.get(f"/comparisons/{comparison['id']}", headers=auth)).json()
    expected = {"name": LABELS["name"], "tags": ["baseline", "digits"], "metadata": LABELS["metadata"]}
    children = [child["run"] for child in one["children"]]
    assert len(children) == 2
    for body in [comparison, one, *listed, *children]:
        assert {key: body[key] for key in expected} == expected
    tagged = (await client.get("/runs", params={"tag": "digits"}, headers=auth)).json()["items"]
    assert {run["id"] for run in tagged} == {run["id"] for run in children}


def nested(lists: int) -> Any:
    """1 inside `lists` lists: with the object holding it, `lists + 1` levels deep."""
    value: Any = 1
    for _ in range(lists):
        value = [value]
    return value


INVALID: list[tuple[str, dict[str, Any]]] = [
    ("empty name", {"name": ""}),
    ("long name", {"name": "n" * (NAME_MAX_LENGTH + 1)}),
    ("newline in name", {"name": "two\nlines"}),
    ("NUL in name", {"name": "nul\x00"}),
    ("lone surrogate in name", {"name": "half \ud800"}),
    ("too many tags", {"tags": [f"t{i}" for i in range(MAX_TAGS + 1)]}),
    ("long tag", {"tags": ["t" * (TAG_MAX_LENGTH + 1)]}),
    ("empty tag", {"tags": [""]}),
    ("tab in tag", {"tags": ["a\tb"]}),
    ("tags not a list", {"tags": "baseline"}),
    ("metadata not an object", {"metadata": [1, 2]}),
    ("large metadata", {"metadata": {"blob": "x" * METADATA_MAX_BYTES}}),
    ("deep metadata", {"metadata": {"a": nested(METADATA_MAX_DEPTH)}}),
    ("control character in a metadata key", {"metadata": {"bell\x07": 1}}),
    ("control character in a metadata value", {"metadata": {"a": ["esc\x1b"]}}),
]


@pytest.mark.parametrize(("case", "labels"), INVALID, ids=[case for case, _ in INVALID])
@pytest.mark.parametrize("path", ["/lr-find", "/train", "/comparisons"])
async def test_labels_beyond_the_limits_are_422_naming_the_field(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    lr_find_body: dict[str, Any],
    train_body: dict[str, Any],
    path: str,
    case: str,
    labels: dict[str, Any],
) -> None:
    body = {"/lr-find": lr_find_body, "/train": train_body, "/comparisons": COMPARISON}[path]
    content = json.dumps({**body, **labels})  # ASCII, \u escapes: a lone surrogate arrives as sent
    answer = await client.post(path, content=content, headers={**auth, "content-type": "application/json"})

    assert answer.status_code == 422, (case, answer.text)
    problem = answer.json()
    assert problem["code"] == "validation_error"
    assert problem["errors"][0]["loc"][:2] == ["body", next(iter(labels))]
    assert (await client.get("/runs", headers=auth)).json()["items"] == []


async def test_metadata_at_the_depth_and_size_limits_is_accepted(
    client: httpx.AsyncClient, auth: dict[str, str], lr_find_body: dict[str, Any]
) -> None:
    deepest = nested(METADATA_MAX_DEPTH - 1)
    overhead = len(json.dumps({"a": deepest, "pad": ""}, separators=(",", ":")))
    metadata = {"a": deepest, "pad": "x" * (METADATA_MAX_BYTES - overhead)}

    answer = await client.post("/lr-find", json={**lr_find_body, "metadata": metadata}, headers=auth)

    assert answer.status_code == 202, answer.text
    assert answer.json()["metadata"] == metadata


async def test_non_finite_metadata_numbers_are_422(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    content = '{"model":{"name":"vanilla_cnn"},"dataset":{"name":"digits"},"metadata":{"loss":NaN}}'
    answer = await client.post(
        "/lr-find", content=content, headers={**auth, "content-type": "application/json"}
    )

    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"][:2] == ["body", "metadata"]


async def test_the_same_idempotency_key_with_another_name_is_422(
    client: httpx.AsyncClient, auth: dict[str, str], lr_find_body: dict[str, Any]
) -> None:
    headers = {**auth, "Idempotency-Key": "labels-1"}
    first = await client.post("/lr-find", json={**lr_find_body, "name": "a"}, headers=headers)
    again = await client.post("/lr-find", json={**lr_find_body, "name": "a"}, headers=headers)
    other = await client.post("/lr-find", json={**lr_find_body, "name": "b"}, headers=headers)

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
