"""The baseline for api_load.py: a FastAPI app with the same paths that does no work."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI


def make_app() -> FastAPI:
    """For `uvicorn benchmarks.trivial_app:make_app --factory`, started like the service."""
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/runs/{run_id}")
    def get_run(run_id: str) -> dict[str, Any]:
        return {"id": run_id, "status": "queued"}

    @app.post("/lr-find", status_code=202)
    def lr_find(body: dict[str, Any]) -> dict[str, Any]:
        return {"id": "0", "status": "queued", "request": body}

    return app
