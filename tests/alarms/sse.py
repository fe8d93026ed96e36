"""A minimal Server-Sent Events reader over a real HTTP connection (httpx), for the tests."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx

Event = tuple[str, str, dict[str, Any]]  # (id, event, data)


def read_stream(
    url: str,
    token: str,
    want: int,
    into: list[Event],
    connected: threading.Event | None = None,
    headers: dict[str, str] | None = None,
    only: str | None = "transition",
) -> None:
    """Read GET /api/v1/alarms/stream until `want` events (of kind `only`) arrived."""
    with (
        httpx.Client(base_url=url, timeout=60) as c,
        c.stream(
            "GET", "/api/v1/alarms/stream", headers={"Authorization": f"Bearer {token}", **(headers or {})}
        ) as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in r.iter_lines():
            if connected is not None:
                connected.set()
            if line == "":
                if "data" in fields and (only is None or fields.get("event") == only):
                    into.append((fields.get("id", ""), fields["event"], json.loads(fields["data"])))
                    if len(into) >= want:
                        return
                fields = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(": ")
                fields[key] = value
