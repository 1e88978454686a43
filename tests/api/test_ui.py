"""The dashboard's static files: served without a key, and nothing else under api/static."""

from __future__ import annotations

import re

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


@pytest.mark.parametrize("path", ["/ui", "/ui/app.js", "/ui/style.css"])
async def test_the_dashboard_forbids_inline_code_framing_sniffing_and_referrers(
    client: httpx.AsyncClient, path: str
) -> None:
    answer = await client.get(path)

    policy = answer.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"


async def test_the_dashboard_page_has_no_inline_script_or_style(client: httpx.AsyncClient) -> None:
    page = (await client.get("/ui")).text

    assert page.count("<script") == page.count("<script src=")
    assert "<style" not in page
    assert " style=" not in page
    assert re.search(r"\son[a-z]+=", page) is None  # no inline event handlers (onclick=...)
