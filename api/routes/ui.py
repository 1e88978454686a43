"""The dashboard: a static page whose script calls the API with the key the user gives it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, RedirectResponse

from api.errors import ApiError
from store.problems import ProblemCode

STATIC = Path(__file__).resolve().parent.parent / "static"
# The only files served, with their types: nothing else under STATIC is reachable.
FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
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
) -> FileResponse:
    """The dashboard page; it asks for an API key and keeps it in the browser's localStorage."""
    # The page's script reads `run` and `comparison`; declared here, they are known query parameters.
    return FileResponse(
        STATIC / "index.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS
    )


@router.get("/ui/{name}")
def asset(name: str) -> FileResponse:
    """The dashboard's script and style sheet."""
    if name not in FILES:
        raise ApiError(ProblemCode.NOT_FOUND, f"no dashboard file {name!r}")
    return FileResponse(STATIC / name, media_type=FILES[name], headers=SECURITY_HEADERS)
