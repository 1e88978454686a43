"""Query strings: unknown and repeated parameters are refused on every route, lists have query models."""

from __future__ import annotations

import types
from collections import Counter
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from api.errors import ApiError
from store.filters import LabelFilter, RowId, RunFilter
from store.problems import ProblemCode

# The largest integer both databases hold: a query integer above it is refused, never overflowed.
MAX_QUERY_INTEGER = 2**63 - 1
SEQUENCES = (list, tuple, set, frozenset)
Cursor = Annotated[RowId | None, Field(description="next_cursor of the previous page")]


def page_size(default: int) -> Any:
    """The `limit` field of a list, `default` items per page unless given."""
    return Field(
        default,
        ge=1,
        le=MAX_QUERY_INTEGER,
        description="Items per page, capped at the service's max_page_size",
    )


class RunQuery(RunFilter):
    """`GET /runs`: filters, then one page of what passes them."""

    cursor: Cursor = None
    limit: int = page_size(50)


class ComparisonQuery(LabelFilter):
    """`GET /comparisons`: filters, then one page of what passes them."""

    cursor: Cursor = None
    limit: int = page_size(20)


async def reject_unknown_query_parameters(request: Request) -> None:
    """422 for a query parameter the route does not declare, or one given twice that takes one value."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    declared = declared_query_parameters(route.dependant) if isinstance(route, APIRoute) else {}
    given = Counter(name for name, _ in request.query_params.multi_items())
    unknown = sorted(name for name in given if name not in declared)
    if unknown:
        allowed = ", ".join(sorted(declared)) or "none"
        raise _refusal(
            ProblemCode.UNKNOWN_QUERY_PARAMETER, unknown, f"is not a parameter here (allowed: {allowed})"
        )
    repeated = sorted(name for name, count in given.items() if count > 1 and not declared[name])
    if repeated:
        raise _refusal(
            ProblemCode.REPEATED_QUERY_PARAMETER, repeated, "takes one value but was given more than once"
        )


def declared_query_parameters(dependant: Dependant) -> dict[str, bool]:
    """A route's query parameters (its dependencies' and query models' too), and whether each may repeat."""
    declared: dict[str, bool] = {}
    for field in dependant.query_params:
        model = field.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            for name, info in model.model_fields.items():
                declared[info.alias or name] = repeatable(info.annotation)
        else:
            declared[field.alias] = repeatable(field.field_info.annotation)
    for dependency in dependant.dependencies:
        declared |= declared_query_parameters(dependency)
    return declared


def repeatable(annotation: Any) -> bool:
    """Whether a parameter of this type takes a list of values (`?status=a&status=b`)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return repeatable(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(repeatable(arg) for arg in get_args(annotation))
    return origin in SEQUENCES or annotation in SEQUENCES


def _refusal(code: ProblemCode, names: list[str], why: str) -> ApiError:
    messages = [f"{name!r} {why}" for name in names]
    errors: list[dict[str, Any]] = [
        {"loc": ["query", name], "msg": message, "type": code}
        for name, message in zip(names, messages, strict=True)
    ]
    return ApiError(code, "; ".join(messages), errors=errors)
