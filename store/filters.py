"""What `GET /runs` and `GET /comparisons` keep, and the SQL conditions each filter becomes.

Every condition can use an index: tags through the tag tables' (owner, tag) index, a name prefix as a range
of the (owner, name) index, a creation-time range also as a range of the time-ordered ids.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import ColumnElement, select

from store.ids import ID_PATTERN, id_prefix
from store.labels import MAX_TAGS, Name, Tag
from store.models import Comparison, ComparisonTag, Run, RunKind, RunStatus, RunTag

LAST_CODE_POINT = 0x10FFFF
SURROGATES = range(0xD800, 0xE000)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken as UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


Instant = Annotated[datetime, AfterValidator(as_utc)]
RowId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


class LabelFilter(BaseModel):
    """Which runs or comparisons a list keeps: every given condition holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tag: list[Tag] = Field(
        default_factory=list,
        max_length=MAX_TAGS,
        description="Only those carrying this tag; repeat it to keep those carrying every one given",
    )
    name_prefix: Name | None = Field(
        None, description="Only those whose name starts with this (case-sensitive)"
    )
    created_after: Instant | None = Field(
        None, description="Only those created at or after this instant (ISO 8601; UTC without an offset)"
    )
    created_before: Instant | None = Field(
        None, description="Only those created before this instant (ISO 8601; UTC without an offset)"
    )


class RunFilter(LabelFilter):
    """Which runs `GET /runs` keeps."""

    kind: RunKind | None = Field(None, description="Only runs of this kind")
    status: list[RunStatus] = Field(
        default_factory=list, description="Only runs in this status; repeat it to keep runs in any one given"
    )
    comparison_id: RowId | None = Field(None, description="Only the runs of this comparison")


def run_conditions(*, owner: str, where: RunFilter) -> list[ColumnElement[bool]]:
    """The owner's runs that pass `where`."""
    conditions = [Run.owner == owner]
    if where.kind is not None:
        conditions.append(Run.kind == where.kind)
    if where.status:
        conditions.append(Run.status.in_([status.value for status in where.status]))
    if where.comparison_id is not None:
        conditions.append(Run.comparison_id == where.comparison_id)
    conditions.extend(
        Run.id.in_(select(RunTag.run_id).where(RunTag.owner == owner, RunTag.tag == tag)) for tag in where.tag
    )
    return conditions + _common(Run, where)


def comparison_conditions(*, owner: str, where: LabelFilter) -> list[ColumnElement[bool]]:
    """The owner's comparisons that pass `where`."""
    conditions = [Comparison.owner == owner]
    conditions.extend(
        Comparison.id.in_(
            select(ComparisonTag.comparison_id).where(ComparisonTag.owner == owner, ComparisonTag.tag == tag)
        )
        for tag in where.tag
    )
    return conditions + _common(Comparison, where)


def _common(table: type[Run] | type[Comparison], where: LabelFilter) -> list[ColumnElement[bool]]:
    """Name prefix and creation time: the ids carry the creation millisecond (`store.ids.new_id`)."""
    conditions: list[ColumnElement[bool]] = []
    if where.name_prefix is not None:
        conditions.append(table.name >= where.name_prefix)
        upper = prefix_upper_bound(where.name_prefix)
        if upper is not None:
            conditions.append(table.name < upper)
    if where.created_after is not None:
        conditions += [table.created_at >= where.created_after, table.id >= id_prefix(where.created_after)]
    if where.created_before is not None:
        upper_id = id_prefix(where.created_before, later_ms=1)
        conditions += [table.created_at < where.created_before, table.id < upper_id]
    return conditions


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix`, in code point order; None if none."""
    chars = list(prefix)
    while chars:
        following = ord(chars.pop()) + 1
        if following in SURROGATES:
            following = SURROGATES.stop
        if following <= LAST_CODE_POINT:
            return "".join(chars) + chr(following)
    return None
