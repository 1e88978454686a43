"""The dashboard's static files: served without a key, and nothing else under api/static."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def test_the_root_redirects_to_the_dashboard(client: httpx.AsyncClient) -> None:
    answer = await client.get("/")
    assert answer.status_code == 307
    assert answer.headers["location"] == "/ui"


async def test_the_dashboard_and_its_script_are_served_without_a_key(client: httpx.AsyncClient) -> None:
    page = await client.get("/ui")
    script = await client.get("/ui/app.js")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/ui/app.js">' in page.text
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")


@pytest.mark.parametrize("name", ["index.htm", "..%2Fapp.py", "missing.js"])
async def test_only_the_dashboards_own_files_are_served(client: httpx.AsyncClient, name: str) -> None:
    answer = await client.get(f"/ui/{name}")
    assert answer.status_code == 404
