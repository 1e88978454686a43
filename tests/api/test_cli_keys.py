"""Keys made and revoked with the `clr-service keys` command open and close the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from tests.api.conftest import MakeClient

pytestmark = pytest.mark.anyio


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLR_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=60)


async def test_a_key_created_by_the_cli_works_until_the_cli_revokes_it(
    make_client: MakeClient, database_url: str, owner: str
) -> None:
    created = cli(database_url, "keys", "create", "--owner", owner)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    client: httpx.AsyncClient = await make_client(key_cache_seconds=0)
    headers = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/runs", headers=headers)).status_code == 200
    listed = cli(database_url, "keys", "list", "--owner", owner)
    assert key[:12] in listed.stdout
    assert key not in listed.stdout  # only the prefix is ever shown again

    revoked = cli(database_url, "keys", "revoke", key)
    assert revoked.returncode == 0, revoked.stderr
    answer = await client.get("/runs", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_revoking_an_unknown_key_fails_with_a_message(database_url: str) -> None:
    revoked = cli(database_url, "keys", "revoke", "clr_doesnotexist")
    assert revoked.returncode == 1
    assert "no active key" in revoked.stderr


async def test_keys_commands_print_json_for_scripts(
    make_client: MakeClient, database_url: str, owner: str
) -> None:
    created = cli(database_url, "keys", "create", "--owner", owner, "--json")
    assert created.returncode == 0, created.stderr
    made = json.loads(created.stdout)
    assert (made["owner"], made["prefix"], made["revoked_at"]) == (owner, made["key"][:12], None)
    client: httpx.AsyncClient = await make_client(key_cache_seconds=0)
    headers = {"Authorization": f"Bearer {made['key']}"}
    assert (await client.get("/runs", headers=headers)).status_code == 200

    revoked = cli(database_url, "keys", "revoke", made["prefix"], "--json")
    listed = cli(database_url, "keys", "list", "--owner", owner, "--json")
    again = cli(database_url, "keys", "revoke", made["prefix"], "--json")

    assert json.loads(revoked.stdout) == {"prefix": made["prefix"], "revoked": 1}
    [row] = json.loads(listed.stdout)["items"]
    assert row.keys() == {"prefix", "owner", "created_at", "revoked_at"}
    assert (row["prefix"], row["owner"], row["created_at"]) == (made["prefix"], owner, made["created_at"])
    assert row["revoked_at"] >= row["created_at"]
    assert made["key"] not in listed.stdout
    assert (again.returncode, json.loads(again.stdout)["revoked"]) == (1, 0)
