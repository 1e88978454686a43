"""The dashboard: a static page whose script calls the API with the key the user gives it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, RedirectResponse

from api.errors import ApiError
from store.problems import ProblemCode

STATIC = Path(__file__).resolve().parent.parent / "static"
SCRIPT = "text/javascript; charset=utf-8"
STYLE = "text/css; charset=utf-8"
# The only files served, by name: their path under STATIC and their type; nothing else there is reachable.
FILES = {
    "app.js": ("app.js", SCRIPT),
    "api.js": ("api.js", SCRIPT),
    "dom.js": ("dom.js", SCRIPT),
    "charts.js": ("charts.js", SCRIPT),
    "runs.js": ("runs.js", SCRIPT),
    "range.js": ("range.js", SCRIPT),
    "training.js": ("training.js", SCRIPT),
    "comparison.js": ("comparison.js", SCRIPT),
    "overlay.js": ("overlay.js", SCRIPT),
    "live.js": ("live.js", SCRIPT),
    "style.css": ("style.css", STYLE),
    "uPlot.iife.min.js": ("vendor/uPlot.iife.min.js", SCRIPT),  # uPlot (MIT, vendor/uPlot.LICENSE)
    "uPlot.min.css": ("vendor/uPlot.min.css", STYLE),
}

# The page runs only its own script and style sheet (no inline code), talks only to this origin, shows the
# plots its script fetched (blob:), cannot be framed, and sends no Referer.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

router = APIRouter(tags=["ui"], include_in_schema=False)


@router.get("/")
def home() -> RedirectResponse:
    """The dashboard lives at /ui."""
    return RedirectResponse("/ui", status_code=307)


@router.get("/ui")
def dashboard(
    run: Annotated[str | None, Query(max_length=64, description="Open this run's page")] = None,
    comparison: Annotated[str | None, Query(max_length=64, description="Open this comparison's page")] = None,
    overlay: Annotated[
        str | None, Query(max_length=1000, description="Overlay these runs' curves (ids, comma-separated)")
    ] = None,
    kind: Annotated[str | None, Query(max_length=20, description="List runs of this kind")] = None,
    status: Annotated[str | None, Query(max_length=20, description="List runs in this status")] = None,
    tag: Annotated[str | None, Query(max_length=200, description="List runs carrying this tag")] = None,
) -> FileResponse:
    """The dashboard page; it asks for an API key and keeps it in the browser's localStorage."""
    # The page's script reads these; declared here, they are known query parameters (the script checks them).
    return FileResponse(
        STATIC / "index.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS
    )


@router.get("/ui/{name}")
def asset(name: str) -> FileResponse:
    """The dashboard's scripts and style sheets."""
    if name not in FILES:
        raise ApiError(ProblemCode.NOT_FOUND, f"no dashboard file {name!r}")
    path, media_type = FILES[name]
    return FileResponse(STATIC / path, media_type=media_type, headers=SECURITY_HEADERS)
