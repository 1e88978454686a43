"""A run's curves as JSON columns, npy or CSV: filtered, then downsampled or paged; no per-point models."""

from __future__ import annotations

import io
import json
from typing import Any, Literal, Self

import numpy as np
from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from api.queries import MAX_QUERY_INTEGER
from api.tables import csv_table, encode_column
from store import overview, series
from store.downsample import downsampled
from store.models import Run, RunKind
from store.series import INTEGER_COLUMNS, MAX_STEP

MAX_PAGE_POINTS = 100_000
NPY_MEDIA_TYPE = "application/x-npy"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8; header=present"
CurveFormat = Literal["json", "npy", "csv"]


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
    format: CurveFormat = Field(
        "json",
        description="json: the columns below; npy: the per-step series alone as a NumPy structured array "
        "(`numpy.load`), NaN kept; csv: the per-step series alone, a header row then a row per step, "
        "non-finite values as empty fields. npy and csv give the next page's cursor in `X-Next-Cursor`",
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
    if query.format == "json":
        return Response(curves_json(session=session, run=run, query=query), media_type="application/json")
    columns, next_cursor = select_points(
        session=session, run_id=run.id, series_name=series_of(run), query=query
    )
    headers = {"X-Next-Cursor": str(next_cursor)} if next_cursor is not None else None
    if query.format == "npy":
        return Response(npy_table(columns), media_type=NPY_MEDIA_TYPE, headers=headers)
    return Response(csv_table(columns), media_type=CSV_MEDIA_TYPE, headers=headers)


def series_of(run: Run) -> str:
    """The per-step series of a run."""
    return "range" if run.kind == RunKind.LR_FIND else "batch"


def npy_table(columns: dict[str, np.ndarray]) -> bytes:
    """The columns as an .npy structured array.

    Paging through a long series in JSON is bound by float formatting and parsing on both sides;
    the stored float64 columns are copied out as they are instead.
    """
    table = np.empty(
        columns["step"].size, dtype=[(key, "<i8" if key in INTEGER_COLUMNS else "<f8") for key in columns]
    )
    for key, values in columns.items():
        table[key] = values
    buffer = io.BytesIO()
    np.save(buffer, table, allow_pickle=False)
    return buffer.getvalue()


def curves_json(*, session: Session, run: Run, query: CurveQuery) -> bytes:
    """The run's curve (partial while it runs) as JSON bytes."""
    name = series_of(run)
    columns, next_cursor = select_points(session=session, run_id=run.id, series_name=name, query=query)
    body: dict[str, Any] = {
        "run_id": run.id,
        "kind": run.kind,
        "status": run.status,
        "points": int(columns["step"].size),
        "next_cursor": next_cursor,
    }
    encoded = {key: encode_column(key, values) for key, values in columns.items()}
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
    min_step, max_step = query.min_step, query.max_step
    if query.cursor is not None:
        min_step = max(query.cursor + 1, min_step or 0)
    limit = min(query.limit or MAX_PAGE_POINTS, MAX_PAGE_POINTS)
    lr_filtered = query.min_lr is not None or query.max_lr is not None
    if lr_filtered and series_name == "range":
        steps = overview.steps_within_lr(
            session=session, run_id=run_id, series=series_name, min_lr=query.min_lr, max_lr=query.max_lr
        )
        if steps is not None:
            if not steps:
                return {name: np.empty(0) for name in series.SERIES_COLUMNS[series_name]}, None
            min_step = max(min_step or 0, steps.start)
            max_step = steps.stop - 1 if max_step is None else min(max_step, steps.stop - 1)
            lr_filtered = False
    if not lr_filtered:
        if query.max_points is not None:
            reduced = overview.read_downsampled(
                session=session,
                run_id=run_id,
                series=series_name,
                max_points=query.max_points,
                min_step=min_step,
                max_step=max_step,
            )
            return reduced, None
        # One point past the page tells whether another follows.
        columns = series.read_series(
            session=session, run_id=run_id, series=series_name, min_step=min_step, max_step=max_step,
            limit=limit + 1,
        )  # fmt: skip
    elif query.max_points is not None:
        # An lr that rises and falls (training's cycles) leaves matches all over: every point is needed.
        every = series.read_series(
            session=session, run_id=run_id, series=series_name, min_step=min_step, max_step=max_step
        )
        return downsampled(_lr_kept(every, query), series.DOWNSAMPLED_BY[series_name], query.max_points), None
    else:
        columns = _lr_kept_page(
            session=session, run_id=run_id, series_name=series_name, min_step=min_step, max_step=max_step,
            count=limit + 1, query=query,
        )  # fmt: skip
    if columns["step"].size <= limit:
        return columns, None
    page = {key: values[:limit] for key, values in columns.items()}
    return page, int(page["step"][-1])


def _lr_kept(columns: series.Columns, query: CurveQuery) -> series.Columns:
    """The points of `columns` within the query's lr bounds."""
    lr = columns["lr"]
    keep = np.ones(lr.size, dtype=bool)
    if query.min_lr is not None:
        keep &= lr >= query.min_lr
    if query.max_lr is not None:
        keep &= lr <= query.max_lr
    return {key: values[keep] for key, values in columns.items()}


def _lr_kept_page(
    *,
    session: Session,
    run_id: str,
    series_name: str,
    min_step: int | None,
    max_step: int | None,
    count: int,
    query: CurveQuery,
) -> series.Columns:
    """The first `count` points within the lr bounds, read `count` points at a time until they are found."""
    parts = [{name: np.empty(0) for name in series.SERIES_COLUMNS[series_name]}]
    found = 0
    while found < count:
        block = series.read_series(
            session=session, run_id=run_id, series=series_name, min_step=min_step, max_step=max_step,
            limit=count,
        )  # fmt: skip
        if block["step"].size == 0:
            break
        parts.append(_lr_kept(block, query))
        found += parts[-1]["step"].size
        min_step = int(block["step"][-1]) + 1
    return {name: np.concatenate([part[name] for part in parts])[:count] for name in parts[0]}


def _finite_or_none(value: Any) -> Any:
    return None if isinstance(value, float) and not np.isfinite(value) else value
