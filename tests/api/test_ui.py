"""The dashboard's static files: served without a key, and nothing else under api/static."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from api.routes.ui import FILES, STATIC
from store.models import RunKind, RunStatus

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
    assert '<script type="module" src="/ui/app.js">' in page.text
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")


async def test_every_script_and_style_the_dashboard_loads_is_served(client: httpx.AsyncClient) -> None:
    page = (await client.get("/ui")).text
    loaded = set(re.findall(r'(?:src|href)="/ui/([^"]+)"', page))
    unread = {name for name in loaded if name.endswith(".js")}
    while unread:  # the modules imported, and theirs
        script = (await client.get(f"/ui/{unread.pop()}")).text
        imported = set(re.findall(r'from "\./([^"]+)"', script)) - loaded
        loaded |= imported
        unread |= imported
    answers = {name: (await client.get(f"/ui/{name}")).status_code for name in sorted(loaded)}

    assert {"app.js", "uPlot.iife.min.js", "uPlot.min.css", "charts.js", "live.js"} <= loaded
    assert answers == dict.fromkeys(answers, 200)
    assert answers.keys() == FILES.keys()  # nothing served that the page does not use


def test_the_run_list_filters_offer_every_kind_and_status_of_the_store() -> None:
    script = (STATIC / "runs.js").read_text()

    def listed(name: str) -> list[str]:
        found = re.search(rf"^const {name} = (\[.*\]);$", script, re.MULTILINE)
        assert found, name
        values: list[str] = json.loads(found[1])
        return values

    assert listed("KINDS") == ["", *RunKind]
    assert listed("STATUSES") == ["", *RunStatus]


def test_the_vendored_chart_library_keeps_its_licence() -> None:
    licence = (STATIC / "vendor" / "uPlot.LICENSE").read_text()
    assert "MIT License" in licence
    assert "Leon Sorokin" in licence


@pytest.mark.parametrize("name", ["index.htm", "..%2Fapp.py", "missing.js", "vendor%2FuPlot.LICENSE"])
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

    assert page.count("<script") == len(
        re.findall(r'<script (?:type="module" )?src="/ui/[^"]+"></script>', page)
    )
    assert "<style" not in page
    assert " style=" not in page
    assert re.search(r"\son[a-z]+=", page) is None  # no inline event handlers (onclick=...)
