"""Structured JSON logs, one object per line, carrying the request id of the request being served."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# `color_message` is uvicorn's ANSI-coloured copy of its own message, meant for a terminal formatter.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}
# Terminal escape sequences (colour, bold) that a library may embed in a message or a field.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# One line per request, from gridos.http's middleware. Off unless GRIDOS_ACCESS_LOG is set: at INFO it is
# most of the log volume and repeats what the request metrics already count.
ACCESS_LOGGER = "gridos.access"


def _clean(value: object) -> object:
    return _ANSI.sub("", value) if isinstance(value, str) else value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _clean(record.getMessage()),
        }
        rid = request_id_var.get()
        if rid:
            entry["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = _clean(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str, json_logs: bool = True, access_log: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_logs else logging.Formatter("%(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Chatty libraries: the simulator's HTTP client and Alembic's per-check context lines.
    for name in ("httpx", "httpcore", "alembic.runtime.migration", "alembic.runtime.plugins"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # Access lines come from our middleware (with route template and request id), not uvicorn's.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.NOTSET if access_log else logging.WARNING)
