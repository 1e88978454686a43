"""A run's or comparison's name, tags and metadata: their limits and their validated types, defined once."""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass, field, fields
from typing import Annotated, Any

from pydantic import AfterValidator, Field, JsonValue, StringConstraints

NAME_MAX_LENGTH = 200
TAG_MAX_LENGTH = 64
MAX_TAGS = 16
METADATA_MAX_BYTES = 4096  # as compact UTF-8 JSON
METADATA_MAX_DEPTH = 4  # {"a": {"b": [1]}} is 3 deep
# Cc (control) and Cs (lone surrogates, which PostgreSQL and UTF-8 refuse).
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs"})


def no_control_characters(text: str) -> str:
    """`text` unchanged, unless it holds a control character or a lone surrogate."""
    for position, char in enumerate(text):
        if unicodedata.category(char) in FORBIDDEN_CATEGORIES:
            raise ValueError(f"control character U+{ord(char):04X} at position {position} is not allowed")
    return text


def unique_tags(tags: list[str]) -> list[str]:
    """Each tag once, in the order first given."""
    return list(dict.fromkeys(tags))


def bounded_metadata(metadata: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """`metadata` unchanged if it is finite, free of control characters and within the depth and size."""
    _check_json(metadata, depth=1)
    size = len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())
    if size > METADATA_MAX_BYTES:
        raise ValueError(f"metadata is {size} bytes as compact JSON, above the limit of {METADATA_MAX_BYTES}")
    return metadata


def _check_json(value: Any, *, depth: int) -> None:
    if isinstance(value, dict | list) and depth > METADATA_MAX_DEPTH:
        raise ValueError(f"metadata nests deeper than {METADATA_MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            no_control_characters(key)
            _check_json(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth=depth + 1)
    elif isinstance(value, str):
        no_control_characters(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("metadata numbers must be finite")


Name = Annotated[
    str, StringConstraints(min_length=1, max_length=NAME_MAX_LENGTH), AfterValidator(no_control_characters)
]
Tag = Annotated[
    str, StringConstraints(min_length=1, max_length=TAG_MAX_LENGTH), AfterValidator(no_control_characters)
]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(unique_tags)]
Metadata = Annotated[dict[str, JsonValue], AfterValidator(bounded_metadata)]


@dataclass(frozen=True, kw_only=True)
class RunLabels:
    """What the caller files a run or comparison under: returned on every read, filtered on by lists.

    Labels live in columns of their own, never in the stored `request` (see `without_labels`).
    """

    name: Name | None = field(
        default=None,
        metadata={"description": f"A short name of 1 to {NAME_MAX_LENGTH} characters, no control characters"},
    )
    tags: Tags = field(
        default_factory=list,
        metadata={
            "description": f"At most {MAX_TAGS} tags of 1 to {TAG_MAX_LENGTH} characters; repeats kept once"
        },
    )
    metadata: Metadata = field(
        default_factory=dict,
        metadata={
            "description": f"A JSON object of at most {METADATA_MAX_BYTES} bytes (compact UTF-8) and "
            f"{METADATA_MAX_DEPTH} levels, finite numbers, no control characters"
        },
    )


LABELS = tuple(f.name for f in fields(RunLabels))


def without_labels(body: dict[str, Any]) -> dict[str, Any]:
    """A request body as JSON without its labels: what the job runs, stored as the run's `request`."""
    return {key: value for key, value in body.items() if key not in LABELS}
