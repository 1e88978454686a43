"""A run's curves as JSON columns: filtered, then downsampled or paged, dumped without per-point models."""

from __future__ import annotations

import io
import json
from typing import Any, Literal, Self

import numpy as np
from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from api.queries import MAX_QUERY_INTEGER
from store import overview, series
from store.downsample import downsampled
from store.models import Run, RunKind
from store.series import MAX_STEP

MAX_PAGE_POINTS = 100_000
INTEGER_COLUMNS = frozenset({"step", "epoch"})
NPY_MEDIA_TYPE = "application/x-npy"


class CurveQuery(BaseModel):
    """Which points of a run's curve to return."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    min_step: int | None = Field(None, ge=0, le=MAX_STEP, description="Only points with step >= min_step")
    max_step: int | None = Field(None, ge=0, le=MAX_STEP, description="Only points with step <= max_step")
    min_lr: float | None = Field(None, gt=0.0, description="Only points with lr >= min_lr")
    max_lr: float | None = Field(None, gt=0.0, description="Only points with lr <= max_lr")
    max_points: int | None = Field(
        None,
        ge=4,
        le=MAX_PAGE_POINTS,
        description="Downsample the filtered points to at most this many, keeping the first, the last and "
        "the loss minimum (min/max buckets); not combined with cursor/limit",
    )
    cursor: int | None = Field(
        None,
        ge=-1,
        le=MAX_STEP - 1,  # the page starts at cursor + 1
        description="Page of the full series: points with step > cursor",
    )
    limit: int | None = Field(
        None, ge=1, le=MAX_QUERY_INTEGER, description=f"Points per page, at most {MAX_PAGE_POINTS}"
    )
    format: Literal["json", "npy"] = Field(
        "json",
        description="json: the columns below; npy: the per-step series alone as a NumPy structured array "
        "(`numpy.load`), NaN kept, the next page's cursor in the `X-Next-Cursor` header",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.min_step is not None and self.max_step is not None and self.min_step > self.max_step:
            raise ValueError(f"min_step ({self.min_step}) must not exceed max_step ({self.max_step})")
        if self.min_lr is not None and self.max_lr is not None and self.min_lr > self.max_lr:
            raise ValueError(f"min_lr ({self.min_lr}) must not exceed max_lr ({self.max_lr})")
        if self.max_points is not None and (self.cursor is not None or self.limit is not None):
            raise ValueError(
                "max_points downsamples, cursor/limit page through every point: give one or the other"
            )
        return self


def curves_response(*, session: Session, run: Run, query: CurveQuery) -> Response:
    """The run's curve in the asked format."""
    if query.format == "npy":
        body, next_cursor = curves_npy(session=session, run=run, query=query)
        headers = {"X-Next-Cursor": str(next_cursor)} if next_cursor is not None else None
        return Response(body, media_type=NPY_MEDIA_TYPE, headers=headers)
    return Response(curves_json(session=session, run=run, query=query), media_type="application/json")


def curves_npy(*, session: Session, run: Run, query: CurveQuery) -> tuple[bytes, int | None]:
    """The per-step series as an .npy structured array, and the next page's cursor.

    Paging through a long series in JSON is bound by float formatting and parsing on both sides;
    the stored float64 columns are copied out as they are instead.
    """
    name = "range" if run.kind == RunKind.LR_FIND else "batch"
    columns, next_cursor = select_points(session=session, run_id=run.id, series_name=name, query=query)
    table = np.empty(
        columns["step"].size, dtype=[(key, "<i8" if key in INTEGER_COLUMNS else "<f8") for key in columns]
    )
    for key, values in columns.items():
        table[key] = values
    buffer = io.BytesIO()
    np.save(buffer, table, allow_pickle=False)
    return buffer.getvalue(), next_cursor


def curves_json(*, session: Session, run: Run, query: CurveQuery) -> bytes:
    """The run's curve (partial while it runs) as JSON bytes."""
    name = "range" if run.kind == RunKind.LR_FIND else "batch"
    columns, next_cursor = select_points(session=session, run_id=run.id, series_name=name, query=query)
    body: dict[str, Any] = {
        "run_id": run.id,
        "kind": run.kind,
        "status": run.status,
        "points": int(columns["step"].size),
        "next_cursor": next_cursor,
    }
    encoded = {key: _encode(key, values) for key, values in columns.items()}
    if name == "range":
        body.update(encoded)
    else:
        epochs = series.read_epochs(session=session, run_id=run.id)
        body["batch"] = encoded
        body["epochs"] = {key: [_finite_or_none(v) for v in values] for key, values in epochs.items()}
    return json.dumps(body, allow_nan=False, separators=(",", ":")).encode()


def select_points(
    *, session: Session, run_id: str, series_name: str, query: CurveQuery
) -> tuple[dict[str, np.ndarray], int | None]:
    """Points left by the step and lr filters, downsampled or cut to one page; and the next page's cursor."""
    min_step = query.min_step
    if query.cursor is not None:
        min_step = max(query.cursor + 1, min_step or 0)
    limit = min(query.limit or MAX_PAGE_POINTS, MAX_PAGE_POINTS)
    lr_filtered = query.min_lr is not None or query.max_lr is not None
    if query.max_points is not None and not lr_filtered:
        reduced = overview.read_downsampled(
            session=session,
            run_id=run_id,
            series=series_name,
            max_points=query.max_points,
            min_step=min_step,
            max_step=query.max_step,
        )
        return reduced, None
    # One point past the page tells whether another follows; lr filters need every point in the step range.
    read_limit = None if lr_filtered or query.max_points is not None else limit + 1
    columns = series.read_series(
        session=session,
        run_id=run_id,
        series=series_name,
        min_step=min_step,
        max_step=query.max_step,
        limit=read_limit,
    )
    if lr_filtered:
        lr = columns["lr"]
        keep = np.ones(lr.size, dtype=bool)
        if query.min_lr is not None:
            keep &= lr >= query.min_lr
        if query.max_lr is not None:
            keep &= lr <= query.max_lr
        columns = {key: values[keep] for key, values in columns.items()}
    if query.max_points is not None:
        return downsampled(columns, series.DOWNSAMPLED_BY[series_name], query.max_points), None
    if columns["step"].size <= limit:
        return columns, None
    page = {key: values[:limit] for key, values in columns.items()}
    return page, int(page["step"][-1])


def _encode(key: str, values: np.ndarray) -> list[Any]:
    """A column as a JSON-ready list: integers for steps and epochs, null for NaN and infinities."""
    if key in INTEGER_COLUMNS:
        return values.astype(np.int64).tolist()  # type: ignore[no-any-return]
    finite = np.isfinite(values)
    if finite.all():
        return values.tolist()  # type: ignore[no-any-return]
    boxed = values.astype(object)
    boxed[~finite] = None
    return boxed.tolist()  # type: ignore[no-any-return]


def _finite_or_none(value: Any) -> Any:
    return None if isinstance(value, float) and not np.isfinite(value) else value
