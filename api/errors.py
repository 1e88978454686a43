"""RFC 9457 problem+json for every error, each with a stable machine-readable `code`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from clr.fields import SpecError
from store.problems import Problem, ProblemCode

PROBLEM_JSON = "application/problem+json"
# What the framework itself raises; any other client error is bad_request, any server error internal_error.
METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
CODES_BY_STATUS = {404: ProblemCode.NOT_FOUND, 405: ProblemCode.METHOD_NOT_ALLOWED}


class ApiError(Exception):
    """An error the caller can act on: a stable code (which fixes the status) and a detail saying what."""

    def __init__(
        self,
        code: ProblemCode,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        assert code.status is not None, f"{code} is a run's error, not an answer"
        self.status, self.code, self.detail = code.status, code, detail
        self.headers, self.errors = headers, errors


def problem(
    status: int,
    code: ProblemCode,
    detail: str | None = None,
    *,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    body = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        code=code,
        instance=instance,
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_JSON,
    )


def _api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return problem(
        error.status,
        error.code,
        error.detail,
        instance=request.url.path,
        headers=error.headers,
        errors=error.errors,
    )


def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    fallback = ProblemCode.BAD_REQUEST if error.status_code < 500 else ProblemCode.INTERNAL_ERROR
    code = CODES_BY_STATUS.get(error.status_code, fallback)
    detail = error.detail if error.detail != HTTPStatus(error.status_code).phrase else None
    if error.status_code == 404 and detail is None:
        detail = f"no route matches {request.url.path}"
    headers = error.headers
    if error.status_code == 405:
        # Starlette names the methods of the first route of the path only (GET of /runs/{id}, not DELETE).
        allowed = ", ".join(allowed_methods(request))
        headers = {**(headers or {}), "Allow": allowed}
        detail = detail or f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}"
    return problem(error.status_code, code, detail, instance=request.url.path, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes on the request's path."""
    routes = request.app.router.routes
    return [
        method
        for method in METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


def validation_errors(errors: Sequence[Mapping[str, Any]], prefix: Sequence[str | int] = ()) -> ApiError:
    """A 422 `validation_error` listing pydantic's errors, each located at the field a spec check names."""
    items = [{"loc": [*prefix, *_located(e)], "msg": e["msg"], "type": e["type"]} for e in errors]
    detail = "; ".join(f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in items)
    return ApiError(ProblemCode.VALIDATION_ERROR, detail, errors=items)


def _located(error: Mapping[str, Any]) -> list[str | int]:
    """pydantic's location, extended by the field a SpecError raised in a spec's own checks names."""
    cause = (error.get("ctx") or {}).get("error")
    field = cause.field.split(".") if isinstance(cause, SpecError) else []
    return [*error["loc"], *field]


def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return _api_error(request, validation_errors(error.errors()))


def _internal_error(request: Request, error: Exception) -> JSONResponse:
    # Starlette re-raises the error after this response is sent, so the server logs its traceback.
    return problem(
        500, ProblemCode.INTERNAL_ERROR, "the server failed to handle this request", instance=request.url.path
    )


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error, including unknown routes and crashes, with problem+json."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _internal_error)
