"""Spec fields that carry their own meaning and bounds, checked here and read by the service's schemas.

`param(...)` puts the description and bounds in the dataclass field's metadata under the keyword names
pydantic's `Field` takes (`description`, `ge`, `gt`, `le`, `lt`, `max_length`, `examples`), so the service
validates and documents a request with the very bounds `check_fields` enforces for a notebook user.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Collection
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

BOUNDS = ("ge", "gt", "le", "lt")


class SpecError(ValueError):
    """A spec value that is not allowed; `field` names it (dotted for nested specs)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def param(
    default: Any = dataclasses.MISSING,
    *,
    doc: str,
    default_factory: Any = dataclasses.MISSING,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    max_length: int | None = None,
    examples: list[Any] | None = None,
) -> Any:
    """A dataclass field with its description and bounds as metadata."""
    given = {"ge": ge, "gt": gt, "le": le, "lt": lt, "max_length": max_length, "examples": examples}
    metadata = {"description": doc, **{key: value for key, value in given.items() if value is not None}}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The class's resolved annotations, computed once per class."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _choices(hint: Any) -> tuple[Any, ...] | None:
    """The allowed values of a Literal (or Optional Literal) annotation."""
    if get_origin(hint) is Literal:
        return get_args(hint)
    literals = [arg for arg in get_args(hint) if get_origin(arg) is Literal]
    return tuple(value for arg in literals for value in get_args(arg)) or None


def _allows_none(hint: Any) -> bool:
    if hint is Any or hint is type(None):
        return True
    return get_origin(hint) in (Union, UnionType) and type(None) in get_args(hint)


def _check_number(name: str, value: Any, metadata: typing.Mapping[str, Any], hint: Any) -> None:
    integral = hint is int or int in get_args(hint)
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if not numeric or (integral and not isinstance(value, int)) or not math.isfinite(value):
        kind = "an integer" if integral else "a finite number"
        raise SpecError(name, f"{name} must be {kind}, got {value!r}")
    tests = {
        "ge": (value >= metadata.get("ge", -math.inf), ">="),
        "gt": (value > metadata.get("gt", -math.inf), ">"),
        "le": (value <= metadata.get("le", math.inf), "<="),
        "lt": (value < metadata.get("lt", math.inf), "<"),
    }
    failed = [f"{op} {metadata[key]:g}" for key, (ok, op) in tests.items() if key in metadata and not ok]
    if failed:
        raise SpecError(name, f"{name} must be {' and '.join(failed)}, got {value!r}")


def _check_text(name: str, value: str, metadata: typing.Mapping[str, Any]) -> None:
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise SpecError(name, f"{name} must not contain control characters, got {value!r}")
    limit = metadata.get("max_length")
    if limit is not None and len(value) > limit:
        raise SpecError(name, f"{name} must be at most {limit} characters, got {len(value)}")


def _check_type(name: str, value: Any, hint: Any) -> None:
    """Raise SpecError unless value is one of the hint's Literal choices or of its simple type."""
    choices = _choices(hint) or ()
    if any(value == choice and type(value) is type(choice) for choice in choices):
        return
    options = get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint,)
    simple = [arg for arg in options if arg in (bool, int, float, str)]
    if choices and not simple:
        raise SpecError(name, f"{name} must be one of {list(choices)}, got {value!r}")
    if not simple:
        return
    allowed = tuple(simple) + ((int,) if float in simple else ())
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in simple):
        kinds = " or ".join([t.__name__ for t in simple] + [repr(choice) for choice in choices])
        raise SpecError(name, f"{name} must be of type {kinds}, got {value!r}")


def check_unused(spec: Any, owner: type, used: Collection[str], *, by: str, key: str) -> None:
    """Raise SpecError for a field of `owner` outside `used` (and `key`, which chose them) not at its default.

    `owner` is the spec class whose fields `used` speaks of, so a subclass's own fields are left alone.
    """
    for field in dataclasses.fields(owner):
        if field.name in (key, *used) or field.default_factory is not dataclasses.MISSING:
            continue
        value = getattr(spec, field.name)
        if value != field.default:
            raise SpecError(
                field.name, f"{field.name} is not used by {by}, which takes {list(used)}; got {value!r}"
            )


def check_fields(spec: Any) -> None:
    """Raise SpecError unless every field of the dataclass `spec` has its type, choices and bounds."""
    hints = _hints(type(spec))
    for field in dataclasses.fields(spec):
        value, hint, metadata = getattr(spec, field.name), hints[field.name], field.metadata
        if value is None:
            if not _allows_none(hint):
                raise SpecError(field.name, f"{field.name} must not be null")
            continue
        _check_type(field.name, value, hint)
        if any(key in metadata for key in BOUNDS):
            _check_number(field.name, value, metadata, hint)
        if isinstance(value, str):
            _check_text(field.name, value, metadata)
