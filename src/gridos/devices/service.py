"""Device registry logic. Keeps an in-process set of known ids so ingest checks need no query."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gridos.db.tables import devices, latest_samples
from gridos.devices.schemas import Device, DeviceCreate, DeviceFields, DevicePatch
from gridos.errors import Conflict, InvalidInput, NotFound

# Ratings used by ingest plausibility checks are cached this long: a rating changed through another
# replica is seen after at most this delay (changes through this process at once).
RATINGS_TTL_SECONDS = 10.0
RATING_COLUMNS = ("nominal_voltage", "rated_current", "rated_power")


def check_site(device_id: str, site: str) -> None:
    """An id with '/' names its site in its first part (north/tx-1 is in site north): a device registered
    in another site would be listed, alarmed and auto-registered inconsistently. Ids without '/' may be
    in any site."""
    prefix, sep, _ = device_id.partition("/")
    if sep and prefix != site:
        raise InvalidInput(
            f"device {device_id!r} names site {prefix!r} in its id but was given site {site!r}",
            errors=[{"field": "site", "message": f"must be {prefix!r}, the site named by the device id"}],
        )


MAX_TOPOLOGY_DEPTH = 64


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What alarm limits and supervision need of a device: its site, type, ratings and reporting interval."""

    id: str
    type: str
    site: str
    nominal_voltage: float | None = None
    rated_current: float | None = None
    nominal_frequency: float | None = None
    expected_interval_s: float = 10.0


class DeviceRegistry:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._known: set[str] = set()
        self._lock = threading.Lock()
        self._ratings: dict[str, dict[str, float]] = {}
        self._ratings_loaded = time.monotonic()

    def ratings(self, ids: set[str]) -> dict[str, dict[str, float]]:
        """Device id -> its set ratings (nominal_voltage, rated_current, rated_power), for registered ids."""
        now = time.monotonic()
        with self._lock:
            if now - self._ratings_loaded > RATINGS_TTL_SECONDS:
                self._ratings, self._ratings_loaded = {}, now
            missing = ids - self._ratings.keys()
        if missing:
            cols = [devices.c.id, *(devices.c[c] for c in RATING_COLUMNS)]
            with self.engine.connect() as conn:
                rows = conn.execute(select(*cols).where(devices.c.id.in_(missing))).all()
            found = {
                r[0]: {c: float(v) for c, v in zip(RATING_COLUMNS, r[1:], strict=True) if v} for r in rows
            }
            with self._lock:
                self._ratings.update(found)
        ratings = self._ratings
        return {i: ratings[i] for i in ids if i in ratings}

    def infos(self, device_id: str | None = None) -> list[DeviceInfo]:
        """Every registered device's DeviceInfo, or the one of `device_id` ([] if it is not registered)."""
        q = select(
            devices.c.id,
            devices.c.type,
            devices.c.site,
            devices.c.nominal_voltage,
            devices.c.rated_current,
            devices.c.nominal_frequency,
            devices.c.expected_interval_s,
        )
        if device_id is not None:
            q = q.where(devices.c.id == device_id)
        with self.engine.connect() as conn:
            return [DeviceInfo(*row) for row in conn.execute(q).all()]

    def _forget_ratings(self, device_id: str) -> None:
        with self._lock:
            self._ratings.pop(device_id, None)

    def _row_to_device(self, row: Any) -> Device:
        values = dict(row._mapping)
        values["upstream"] = values.get("upstream") or []
        return Device.model_validate(values)

    def list(
        self, site: str | None = None, type_: str | None = None, limit: int = 1000, offset: int = 0
    ) -> tuple[list[Device], int]:
        q = select(devices)
        count_q = select(func.count()).select_from(devices)
        if site:
            q, count_q = q.where(devices.c.site == site), count_q.where(devices.c.site == site)
        if type_:
            q, count_q = q.where(devices.c.type == type_), count_q.where(devices.c.type == type_)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(devices.c.id).limit(limit).offset(offset)).all()
            total = conn.execute(count_q).scalar_one()
        return [self._row_to_device(r) for r in rows], int(total)

    def get(self, device_id: str) -> Device:
        with self.engine.connect() as conn:
            row = conn.execute(select(devices).where(devices.c.id == device_id)).first()
        if row is None:
            raise NotFound(f"device {device_id!r} does not exist")
        return self._row_to_device(row)

    def create(self, spec: DeviceCreate) -> Device:
        check_site(spec.id, spec.site)
        now = datetime.now(UTC)
        values = spec.model_dump(mode="json") | {"created_at": now, "updated_at": now}
        with self.engine.begin() as conn:
            if conn.execute(select(devices.c.id).where(devices.c.id == spec.id)).first() is not None:
                raise Conflict(f"device {spec.id!r} already exists")
            _check_upstream(conn, spec.id, spec.site, spec.upstream)
            conn.execute(insert(devices).values(values))
        self._remember(spec.id)
        self._forget_ratings(spec.id)
        return self.get(spec.id)

    def put(self, device_id: str, spec: DeviceFields) -> tuple[Device, bool]:
        """Create or replace; returns (device, created)."""
        check_site(device_id, spec.site)
        now = datetime.now(UTC)
        values = spec.model_dump(mode="json")
        with self.engine.begin() as conn:
            exists = conn.execute(select(devices.c.id).where(devices.c.id == device_id)).first() is not None
            _check_upstream(conn, device_id, spec.site, spec.upstream)
            if exists:
                conn.execute(
                    update(devices).where(devices.c.id == device_id).values(values | {"updated_at": now})
                )
            else:
                conn.execute(
                    insert(devices).values(values | {"id": device_id, "created_at": now, "updated_at": now})
                )
        self._remember(device_id)
        self._forget_ratings(device_id)
        return self.get(device_id), not exists

    def patch(self, device_id: str, patch: DevicePatch) -> Device:
        changes = patch.model_dump(mode="json", exclude_unset=True)
        current = self.get(device_id)
        merged = DeviceFields.model_validate(
            current.model_dump(include=set(DeviceFields.model_fields)) | changes
        )
        check_site(device_id, merged.site)
        with self.engine.begin() as conn:
            _check_upstream(conn, device_id, merged.site, merged.upstream)
            conn.execute(
                update(devices)
                .where(devices.c.id == device_id)
                .values(merged.model_dump(mode="json") | {"updated_at": datetime.now(UTC)})
            )
        self._forget_ratings(device_id)
        return self.get(device_id)

    def delete(self, device_id: str) -> None:
        """Removes the device from the registry; its stored history is kept (nothing accepted is lost)."""
        with self.engine.begin() as conn:
            linked = conn.execute(
                select(devices.c.id, devices.c.upstream).where(devices.c.upstream.is_not(None))
            ).all()
            fed = sorted(r.id for r in linked if device_id in (r.upstream or []))
            if fed:
                raise Conflict(
                    f"device {device_id!r} is upstream of {', '.join(fed[:10])}: change their `upstream` first",
                    downstream=list(fed),
                )
            deleted = conn.execute(delete(devices).where(devices.c.id == device_id)).rowcount
            conn.execute(delete(latest_samples).where(latest_samples.c.device_id == device_id))
        if not deleted:
            raise NotFound(f"device {device_id!r} does not exist")
        with self._lock:
            self._known.discard(device_id)
            self._ratings.pop(device_id, None)

    def unknown(self, ids: set[str]) -> set[str]:
        """Which of `ids` are not registered. Misses are re-checked in the database, because another
        replica may have registered the device since this process last looked."""
        missing = ids - self._known
        if not missing:
            return set()
        with self.engine.connect() as conn:
            found = set(conn.execute(select(devices.c.id).where(devices.c.id.in_(missing))).scalars())
        with self._lock:
            self._known |= found
        return missing - found

    def auto_register(self, ids: set[str]) -> None:
        """Register unknown ids with defaults; safe when several replicas see the same new device."""
        now = datetime.now(UTC)
        rows = [
            {
                "id": i,
                "type": "meter",
                "site": i.split("/", 1)[0] if "/" in i else "default",
                "expected_interval_s": 10.0,
                "tags": {"auto_registered": "true"},
                "created_at": now,
                "updated_at": now,
            }
            for i in sorted(ids)
        ]
        dialect_insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        with self.engine.begin() as conn:
            conn.execute(dialect_insert(devices).on_conflict_do_nothing(index_elements=["id"]), rows)
        self._remember(*ids)

    def _remember(self, *ids: str) -> None:
        with self._lock:
            self._known.update(ids)


def _check_upstream(conn: Any, device_id: str, site: str, upstream: list[str]) -> None:
    """The topology stays acyclic inside one site: every upstream exists at the same site, and following
    upstreams from them never comes back to this device."""
    if not upstream:
        return

    def invalid(message: str) -> InvalidInput:
        return InvalidInput(
            f"upstream of {device_id!r}: {message}", errors=[{"field": "upstream", "message": message}]
        )

    if device_id in upstream:
        raise invalid("a device cannot be its own upstream")
    if len(set(upstream)) != len(upstream):
        raise invalid("a device is listed twice")
    rows = {
        r.id: r for r in conn.execute(select(devices.c.id, devices.c.site).where(devices.c.id.in_(upstream)))
    }
    for up in upstream:
        if up not in rows:
            raise invalid(f"device {up!r} is not registered")
        if rows[up].site != site:
            raise invalid(f"{up!r} is at site {rows[up].site!r}, not {site!r}")
    # Walk the site's graph from the new upstreams (one query: a site has tens to hundreds of devices).
    graph = {
        r.id: r.upstream or []
        for r in conn.execute(select(devices.c.id, devices.c.upstream).where(devices.c.site == site))
    }
    seen: set[str] = set()
    todo = list(upstream)
    while todo:
        current = todo.pop()
        if current == device_id:
            raise invalid(f"{device_id!r} would be its own upstream through {', '.join(upstream)} (a cycle)")
        if current not in seen:
            seen.add(current)
            todo.extend(graph.get(current, []))
