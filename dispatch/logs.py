"""One log format for the API, the worker and the relay: text lines or JSON objects, with run and request ids.

The ids live in context variables: the API's request middleware sets the request id, a worker's task the run
id and the request id stored with the run, so every line logged meanwhile carries them.
"""

from __future__ import annotations

import json
import logging
import logging.config
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from store.settings import Settings

run_id_var: ContextVar[str | None] = ContextVar("run_id", default=None)
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
CONTEXT = {"run_id": run_id_var, "request_id": request_id_var}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Loggers that servers configure with handlers of their own: they go through the root's instead.
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "celery.task", "celery.worker")


@contextmanager
def log_context(*, run_id: str | None = None, request_id: str | None = None) -> Iterator[None]:
    """Lines logged inside carry these ids (those given; the others keep their values)."""
    tokens = [
        (var, var.set(value)) for var, value in ((run_id_var, run_id), (request_id_var, request_id)) if value
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Copies the context's run and request ids onto each record (a record's own extra ids win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in CONTEXT.items():
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, process, and the ids when known."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": self.process,
            "pid": record.process,
        }
        line |= {name: value for name in CONTEXT if (value := getattr(record, name, None)) is not None}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """The classic line, the ids appended in brackets when known."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{name}={value}" for name in CONTEXT if (value := getattr(record, name, None)))
        text = super().format(record)
        return f"{text} [{ids}]" if ids else text


def logging_config(settings: Settings, process: str, *, level: int | str | None = None) -> dict[str, Any]:
    """A `logging.config.dictConfig` dictionary: stderr in `settings.log_format` at `level` (default
    `settings.log_level`), servers' own loggers through the root's handler (also uvicorn's --log-config)."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter", "process": process}
        if settings.log_format == "json"
        else {"()": f"{__name__}.TextFormatter"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": f"{__name__}.ContextFilter"}},
        "formatters": {"service": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "service",
                "filters": ["context"],
            }
        },
        "root": {"level": level or settings.log_level.upper(), "handlers": ["stderr"]},
        "loggers": {name: {"handlers": [], "propagate": True} for name in SERVER_LOGGERS},
    }


def configure_logging(settings: Settings, process: str, *, level: int | str | None = None) -> None:
    """Log as `logging_config` says; Python's warnings too, so each line has the one format."""
    logging.config.dictConfig(logging_config(settings, process, level=level))
    logging.captureWarnings(True)
