"""Logging: one line per event, JSON or plain text, each tagged with the request it belongs to."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Literal

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("hero_request_id", default="-")
"""The id of the request being handled; the middleware sets it, every log record carries it."""


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id (and the exception)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, fmt: Literal["json", "text"]) -> None:
    """Route the root logger (and uvicorn's) to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    show_progress_bars(root.level <= logging.INFO)


def show_progress_bars(show: bool) -> None:
    """Model loading's progress bars (transformers' "Loading weights", the hub's downloads) write to
    stderr past the log level: show them only where INFO lines are shown too."""
    try:
        from transformers.utils import logging as hf_logging  # the server's dependency, not the client's
    except ImportError:
        return
    if show:
        hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
    else:
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]


def redact_url(url: str) -> str:
    """The URL without its password, for logs and /ready."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
