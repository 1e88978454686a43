"""A run's or comparison's name, tags and metadata: their limits and their validated types, defined once."""

from __future__ import annotations

import json
import math
import unicodedata
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
