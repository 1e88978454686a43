"""What routes declare of their answers: problems by code, each with its headers, and response headers."""

from __future__ import annotations

from collections import defaultdict
from http import HTTPStatus
from typing import Any

from store.problems import Problem, ProblemCode

Responses = dict[int | str, dict[str, Any]]


def _header(description: str, kind: str = "string") -> dict[str, Any]:
    return {"description": description, "schema": {"type": kind}}


RETRY_AFTER = {"Retry-After": _header("Seconds to wait before trying again", "integer")}
LOCATION = {"Location": _header("The path of the run or comparison: poll it")}
NEXT_CURSOR = {
    "X-Next-Cursor": _header(
        "npy and csv pages: the `cursor` of the next page; absent on the last", "integer"
    )
}
PROBLEM_HEADERS: dict[ProblemCode, dict[str, Any]] = {
    ProblemCode.UNAUTHORIZED: {
        "WWW-Authenticate": _header(
            '`Bearer`, or `Bearer error="invalid_token"` for an unknown or revoked key'
        )
    },
    ProblemCode.METHOD_NOT_ALLOWED: {"Allow": _header("The methods the route takes")},
    ProblemCode.TOO_MANY_QUEUED: RETRY_AFTER,
    ProblemCode.TOO_MANY_STREAMS: RETRY_AFTER,
}
# What any route may answer: query strings are checked everywhere (api.queries); a crash is a problem too.
ANY_ROUTE = (
    ProblemCode.VALIDATION_ERROR,
    ProblemCode.UNKNOWN_QUERY_PARAMETER,
    ProblemCode.REPEATED_QUERY_PARAMETER,
    ProblemCode.INTERNAL_ERROR,
)
OWNED = (ProblemCode.UNAUTHORIZED, ProblemCode.NOT_FOUND)  # routes of a run or comparison of the caller's


def problems(*codes: ProblemCode) -> Responses:
    """One response per status for these codes and those of any route, with an example of each code."""
    by_status: dict[int, list[ProblemCode]] = defaultdict(list)
    for code in dict.fromkeys((*codes, *ANY_ROUTE)):
        assert code.status is not None, f"{code} is a run's error, not an answer"
        by_status[code.status].append(code)
    return {status: _problem_response(status, found) for status, found in sorted(by_status.items())}


def _problem_response(status: int, codes: list[ProblemCode]) -> dict[str, Any]:
    examples = {
        code.value: {
            "summary": code.meaning,
            "value": {
                "type": "about:blank",
                "title": HTTPStatus(status).phrase,
                "status": status,
                "code": code.value,
                "detail": code.meaning,
            },
        }
        for code in codes
    }
    response: dict[str, Any] = {
        "model": Problem,
        "description": "; ".join(f"`{code}`: {code.meaning}" for code in codes),
        # api.openapi serves every error as application/problem+json, as the handlers answer them
        "content": {"application/json": {"examples": examples}},
    }
    headers = {name: doc for code in codes for name, doc in PROBLEM_HEADERS.get(code, {}).items()}
    if headers:
        response["headers"] = headers
    return response
