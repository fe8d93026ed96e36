"""A small fleet with a week of history relative to now, and the set of history queries whose answers
the cold-tier and restore tests compare before and after (archiving, backup + restore)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

DEVICES = {"north/feeder-1": "north", "north/meter-2": "north", "south/feeder-1": "south"}
MEASUREMENTS = ("voltage", "current")
STEP_S = 600


class Http(Protocol):
    def get(self, url: str, **kw: Any) -> Any: ...
    def put(self, url: str, **kw: Any) -> Any: ...
    def post(self, url: str, **kw: Any) -> Any: ...


def midnight(days_ago: int) -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago)


def seed(http: Http, first_day_ago: int = 11, last_day_ago: int = 5) -> int:
    """Devices on two sites and a sample every 10 min for whole UTC days; values are multiples of 0.25 so
    sums are exact whatever order an engine adds them in. Returns the number of samples stored."""
    for device_id, site in DEVICES.items():
        r = http.put(
            f"/api/v1/devices/{device_id}",
            json={"type": "feeder", "site": site, "nominal_voltage": 11000, "expected_interval_s": 86400},
        )
        assert r.status_code in (200, 201), r.text
    start, end = midnight(first_day_ago), midnight(last_day_ago)
    items = []
    i = 0
    t = start
    while t < end:
        for n, device_id in enumerate(DEVICES):
            items.append(
                {
                    "device_id": device_id,
                    "timestamp": t.isoformat(),
                    "voltage": 11000 + ((i * 7 + n) % 41) * 0.25,
                    "current": 100 + ((i * 3 + n) % 13) * 0.5,
                    **({"quality": "invalid"} if i % 97 == 5 else {}),
                }
            )
        i += 1
        t += timedelta(seconds=STEP_S)
    stored = 0
    for k in range(0, len(items), 2000):
        r = http.post("/api/v1/scada/data", json=items[k : k + 2000])
        assert r.status_code == 200, r.text
        stored += r.json()["stored"]
    return stored


def history_queries(first_day_ago: int = 11, last_day_ago: int = 5) -> list[dict[str, Any]]:
    start, end = midnight(first_day_ago), midnight(last_day_ago)
    boundary = midnight(7)  # archived days end here when GRIDOS_ARCHIVE_AFTER_DAYS=7
    q: list[dict[str, Any]] = []
    for device_id in DEVICES:
        for m in MEASUREMENTS:
            base = {"device_id": device_id, "measurement": m}
            q += [
                base | {"from": start.isoformat(), "to": end.isoformat(), "limit": 100_000},
                base | {"from": start.isoformat(), "to": end.isoformat(), "limit": 50},
                base | {"from": start.isoformat(), "to": end.isoformat(), "step": "1h"},
                base | {"from": start.isoformat(), "to": end.isoformat(), "step": "1d"},
            ]
        base = {"device_id": device_id, "measurement": "voltage"}
        q += [
            # A raw-sample aggregation (step not whole minutes) across the hot/cold boundary.
            base
            | {
                "from": (boundary - timedelta(minutes=50)).isoformat(),
                "to": (boundary + timedelta(minutes=50)).isoformat(),
                "step": "45s",
            },
            base
            | {
                "from": (boundary - timedelta(hours=3)).isoformat(),
                "to": (boundary + timedelta(hours=3)).isoformat(),
            },
        ]
    return q


def answers(http: Http, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for params in queries:
        r = http.get("/api/v1/scada/data", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        # `source` says which table answered; the data must not depend on it.
        body.pop("source", None)
        out.append(body)
    return out


def row_keys(table: Any) -> list[tuple[Any, Any, Any]]:
    """(device_id, measurement, ts) of every row of an archived or exported Parquet table, in file order."""
    return list(
        zip(
            table["device_id"].to_pylist(),
            table["measurement"].to_pylist(),
            table["ts"].to_pylist(),
            strict=True,
        )
    )
