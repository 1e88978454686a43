"""A typed client of the clr-service HTTP API, over httpx."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self

import httpx

from client.models import ClrError, Run, RunPage
from client.sse import Event, parse_events

DEFAULT_URL = "http://127.0.0.1:8000"


class ClrClient:
    """Runs, curves, events, plots and comparisons of the owner of `api_key`."""

    def __init__(self, base_url: str = DEFAULT_URL, api_key: str = "", *, timeout: float = 30.0) -> None:
        # No key, no header: the service's 401 problem says what is missing, where "Bearer " would not pass.
        headers = {"Authorization": f"Bearer {api_key.strip()}"} if api_key.strip() else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def lr_find(self, *, idempotency_key: str | None = None, **body: Any) -> Run:
        """Queue a range test with the body of `POST /lr-find`."""
        return Run.from_json(self._json("POST", "/lr-find", json=body, headers=_idempotency(idempotency_key)))

    def train(self, *, idempotency_key: str | None = None, **body: Any) -> Run:
        """Queue a training run with the body of `POST /train`."""
        return Run.from_json(self._json("POST", "/train", json=body, headers=_idempotency(idempotency_key)))

    def get_run(self, run_id: str) -> Run:
        return Run.from_json(self._json("GET", f"/runs/{run_id}"))

    def list_runs(
        self,
        *,
        kind: str | None = None,
        status: str | Sequence[str] | None = None,
        tag: str | Sequence[str] | None = None,
        name_prefix: str | None = None,
        comparison_id: str | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> RunPage:
        """One page of runs passing every filter (statuses: any one; tags: all), newest first."""
        params = _params(
            kind=kind,
            status=status,
            tag=tag,
            name_prefix=name_prefix,
            comparison_id=comparison_id,
            created_after=created_after,
            created_before=created_before,
            limit=limit,
            cursor=cursor,
        )
        body = self._json("GET", "/runs", params=params)
        return RunPage(items=[Run.from_json(item) for item in body["items"]], next_cursor=body["next_cursor"])

    def runs(self, **filters: Any) -> Iterator[Run]:
        """Every run passing the filters of `list_runs`, newest first, fetching page after page."""
        cursor = None
        while True:
            page = self.list_runs(**filters, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def delete_run(self, run_id: str) -> None:
        """Delete an ended run with its curves and files (409 `run_active` while it is queued or running)."""
        self._send("DELETE", f"/runs/{run_id}")

    def curves(self, run_id: str, *, max_points: int | None = None, **query: Any) -> dict[str, Any]:
        """The columns of `GET /runs/{id}/curves`."""
        body: dict[str, Any] = self._json(
            "GET", f"/runs/{run_id}/curves", params=_params(max_points=max_points, **query)
        )
        return body

    def cancel(self, run_id: str) -> Run:
        return Run.from_json(self._json("POST", f"/runs/{run_id}/cancel"))

    def wait(self, run_id: str, *, timeout: float = 600.0, interval: float = 1.0) -> Run:
        """The run once terminal; TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.get_run(run_id)
            if run.is_terminal:
                return run
            if time.monotonic() >= deadline:
                raise TimeoutError(f"run {run_id} still {run.status} after {timeout} s")
            time.sleep(interval)

    def events(self, run_id: str, *, last_event_id: str | None = None) -> Iterator[Event]:
        """The run's server-sent events until its terminal status (`status`, `points`, `epoch`)."""
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        timeout = httpx.Timeout(self._http.timeout.connect, read=60.0)
        with self._http.stream("GET", f"/runs/{run_id}/events", headers=headers, timeout=timeout) as answer:
            if answer.is_error:
                answer.read()
                raise _error(answer)
            yield from parse_events(answer.iter_lines())

    def plot(self, run_id: str, fmt: Literal["png", "svg"] = "png") -> bytes:
        """The run's plot image."""
        return self._send("GET", f"/runs/{run_id}/plot.{fmt}").content

    def compare(self, **body: Any) -> dict[str, Any]:
        """Queue a comparison with the body of `POST /comparisons`."""
        answer: dict[str, Any] = self._json("POST", "/comparisons", json=body)
        return answer

    def get_comparison(self, comparison_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._json("GET", f"/comparisons/{comparison_id}")
        return answer

    def list_comparisons(self, **query: Any) -> dict[str, Any]:
        """One page `{items, next_cursor}` of comparisons, by `list_runs`' tag, name and creation filters."""
        answer: dict[str, Any] = self._json("GET", "/comparisons", params=_params(**query))
        return answer

    def cancel_comparison(self, comparison_id: str) -> dict[str, Any]:
        """Cancel the comparison's unfinished runs; the comparison as it stands then."""
        answer: dict[str, Any] = self._json("POST", f"/comparisons/{comparison_id}/cancel")
        return answer

    def delete_comparison(self, comparison_id: str) -> None:
        """Delete a comparison whose runs all ended, with those runs (409 `comparison_active` otherwise)."""
        self._send("DELETE", f"/comparisons/{comparison_id}")

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send(method, path, **kwargs).json()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer = self._http.request(method, path, **kwargs)
        if answer.is_error:
            raise _error(answer)
        return answer


def _error(answer: httpx.Response) -> ClrError:
    """The answer's problem+json as a ClrError; a body that is not one still gives status and text."""
    try:
        problem = answer.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {"status": answer.status_code, "code": "http_error", "detail": answer.text[:500]}
    return ClrError(
        status=int(problem.get("status", answer.status_code)),
        code=str(problem.get("code", "http_error")),
        detail=problem.get("detail"),
        problem=problem,
    )


def _idempotency(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key} if key else {}


def _params(**values: Any) -> dict[str, Any]:
    """Query parameters: None left out, instants in ISO 8601, sequences repeated (`tag=a&tag=b`)."""
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in values.items()
        if value is not None
    }
