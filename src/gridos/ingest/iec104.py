"""IEC 60870-5-104 client (controlling station): GridOS takes measured values and indications from RTUs.

A c104 client holds the connection to each RTU address. Each link (an RTU, gridos.ingest.iec104map) has a
supervising thread that connects to its primary address, fails over to its backup addresses in turn,
and backs off (doubling, from reconnect_min_s to reconnect_max_s) once every address has failed. On every
connection the link starts data transfer, synchronises the RTU's clock and sends a general interrogation; it
repeats both every interrogation_interval_s / clock_sync_interval_s when these are set.

Values arrive on c104's threads (interrogation responses and spontaneous changes alike): they are turned
into readings (gridos.ingest.iec104decode: the time tag, when there is one, is the sample's timestamp; the
quality descriptor maps to GridOS quality) and queued for the writer thread (gridos.ingest.iec104writer),
which commits them in batches and keeps them while the database is unavailable. A link with no open
connection left commits its points once more with quality "invalid" (last value) and raises the
comm-failure alarm of every device it feeds; the next connection clears it.

c104 calls back on its own threads: the callbacks only read what c104 hands them, on the thread that
hands it (see _unexpected), and the link threads only drive connections (start/stop, state, unmute,
interrogation, clock sync).

One replica talks to the RTUs: the holder of a PostgreSQL advisory lock (gridos.ingest.leader), the same
mechanism as the Modbus poller, with a key of its own.
"""

import functools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import c104

from gridos.ingest.connector import comm_alarm, report_gauges, stand_down
from gridos.ingest.iec104decode import Reading, reading_of
from gridos.ingest.iec104map import Iec104Link, Iec104Point, PointFamily
from gridos.ingest.iec104writer import PROTOCOL, ReadingWriter
from gridos.ingest.leader import LeaderLock
from gridos.observability.metrics import Metrics
from gridos.telemetry.service import TelemetryService

log = logging.getLogger("gridos.ingest.iec104")
# Unexpected-message causes after which c104 stops reading the message (see Iec104Client._unexpected)
_DROPPED_BY_C104 = frozenset({c104.Umc.MISMATCHED_TYPE_ID, c104.Umc.UNKNOWN_IOA})


def _open(conn: c104.Connection) -> bool:
    """Connected with data transfer started (STARTDT confirmed). A connection left muted is not: c104 can
    report OPEN_MUTED for a socket the RTU has already closed."""
    return bool(conn.state == c104.ConnectionState.OPEN)


@dataclass
class LinkState:
    link: Iec104Link
    clients: list[c104.Client] = field(default_factory=list)  # one per address, started to connect
    connections: list[c104.Connection] = field(default_factory=list)
    index: int = 0  # the address in use or tried next
    up: bool | None = None  # None until the first attempt
    consecutive_failures: int = 0
    connected_to: str | None = None
    connected_at: datetime | None = None
    last_error: str | None = None
    received: int = 0
    last_received_at: datetime | None = None
    # "device measurement" -> (time, value) of the newest reading: what a lost link carries as invalid
    last_values: dict[str, tuple[datetime, float | bool]] = field(default_factory=dict)


class Iec104Client:
    def __init__(
        self,
        links: list[Iec104Link],
        telemetry: TelemetryService,
        metrics: Metrics,
        alarms: Callable[[], Any] | None = None,
        leader: LeaderLock | None = None,
        leader_check_s: float = 5.0,
        max_batch_samples: int = 5000,
        max_pending_samples: int = 1_000_000,
    ) -> None:
        """`alarms`: a callable returning the comm-failure sink (services.alarms) or None. `leader`: the
        lock that makes one replica talk to the RTUs (None: this process always does)."""
        self.telemetry = telemetry
        self.metrics = metrics
        self._alarms = alarms or (lambda: None)
        self.leader = leader
        self.leader_check_s = leader_check_s
        self.active = threading.Event()  # set while this process owns the RTU links
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.writer = ReadingWriter(telemetry, metrics, self._stop, max_batch_samples, max_pending_samples)
        self._lock = threading.Lock()
        # One c104 client per connection: a c104 client routes incoming data by common address across
        # all its connections, and the addresses of a link (and of different RTUs) share one.
        self._clients: list[c104.Client] = []
        self.links = [self._build(link) for link in links]
        metrics.connector_up.labels(protocol=PROTOCOL).set(0)
        self._refresh_gauges()

    def _build(self, link: Iec104Link) -> LinkState:
        state = LinkState(link)
        by_ioa = {p.ioa: p for p in link.points}
        for address in link.addresses:
            client = c104.Client(tick_rate_ms=50, command_timeout_ms=5000)
            client.on_new_point(self._on_new_point)
            self._clients.append(client)
            state.clients.append(client)
            conn = client.add_connection(ip=address.host, port=address.port, init=c104.Init.NONE)
            assert conn is not None
            conn.on_unexpected_message(self._unexpected(state, by_ioa))
            station = conn.add_station(common_address=link.common_address)
            assert station is not None
            for point in link.points:
                p = station.add_point(io_address=point.ioa, type=getattr(c104.Type, point.type))
                assert p is not None
                p.on_receive(self._receiver(state, point))
            state.connections.append(conn)
        return state

    def _accept(self, state: LinkState, point: Iec104Point, info: Any, interrogated: bool) -> None:
        """One received value of a mapped point: remembered (for an outage's invalid marker) and queued."""
        key = f"{point.device_id} {point.measurement}"
        now = datetime.now(UTC)
        last = state.last_values.get(key)
        reading = reading_of(point, info, last[1] if last else None, now, interrogated)
        if last is None or reading.timestamp >= last[0]:  # a buffered old event is not the latest
            state.last_values[key] = (reading.timestamp, reading.value)
        state.received += 1
        state.last_received_at = now
        self.writer.enqueue(reading)

    def _receiver(self, state: LinkState, mapped: Iec104Point) -> Callable[..., c104.ResponseState]:
        # c104 checks the callback's signature, names and annotations included.
        def on_receive(
            point: c104.Point, previous_info: c104.Information, message: c104.IncomingMessage
        ) -> c104.ResponseState:
            try:
                self._accept(state, mapped, point.info, message.cot.name.startswith("INTERROGATED"))
            except Exception:  # never raise into c104's thread
                log.exception("iec104 value not understood", extra={"link": state.link.name})
            return c104.ResponseState.SUCCESS

        return on_receive

    def _unexpected(self, state: LinkState, by_ioa: dict[int, Iec104Point]) -> Callable[..., None]:
        """c104 hands a whole ASDU here when it stops decoding it: at an object whose type id differs from
        the point of that IOA (an RTU reporting M_ME_TF_1 for a point mapped as M_ME_NC_1) or whose IOA
        the point map does not mention. The objects before that one reached on_receive; c104 drops the
        rest. Of the rest, every object of a mapped IOA whose type is the mapped type or its other
        time-tag variant is taken; anything else is counted and ignored.

        Only these two causes are read. c104 (2.2.1) runs this callback later, on its client thread, with
        the same IncomingMessage its receive thread works on. After a mismatch or an unknown IOA the
        receive thread has dropped the message, so this callback is its only reader. After INVALID_COT (a
        time-tagged type in a GI answer, as c104's own server and many RTUs send it) the receive thread
        goes on walking the message and hands its objects to on_receive: walking it here at the same time
        moved the shared cursor and freed the decoded object under the other thread, which crashed the
        process now and then (ADR 0052). Those objects reach on_receive, or this callback again with
        MISMATCHED_TYPE_ID."""

        def on_unexpected_message(
            connection: c104.Connection, message: c104.IncomingMessage, cause: c104.Umc
        ) -> None:
            if cause == c104.Umc.INVALID_COT:
                return  # never touch this message: c104's receive thread is still reading it
            try:
                if cause not in _DROPPED_BY_C104 or message.number_of_objects == 0:
                    self.metrics.connector_errors.labels(protocol=PROTOCOL).inc()
                    return
                type_id = message.type.name
                interrogated = message.cot.name.startswith("INTERROGATED")
                dropped = False  # from the first object c104 did not deliver on
                message.first()
                while message.next():  # the first call moves to the first object
                    point = by_ioa.get(message.io_address)
                    if point is None or type_id != point.type:
                        dropped = True
                    if point is None or type_id not in point.types:
                        self.metrics.connector_errors.labels(protocol=PROTOCOL).inc()
                    elif dropped:
                        self._accept(state, point, message.info, interrogated)
            except Exception:
                log.exception("iec104 message not understood", extra={"link": state.link.name})

        return on_unexpected_message

    def _on_new_point(
        self, client: c104.Client, station: c104.Station, io_address: int, point_type: c104.Type
    ) -> None:
        """An IOA the point map does not mention: not added (a point map covers what GridOS keeps). c104
        then reports the message as UNKNOWN_IOA, where the IOA is counted and the mapped objects after it
        are taken."""

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self.leader is None:
            self.active.set()
        else:
            self._spawn(self._supervise, "iec104-leader")
        self._spawn(self.writer.run, "iec104-writer")
        for state in self.links:
            self._spawn(functools.partial(self._run_link, state), f"iec104-{state.link.name}")
        log.info("iec104 client started", extra={"links": len(self.links)})

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.writer.wake()
        for t in self._threads:
            t.join(timeout)
        for client in self._clients:
            client.stop()
        self.writer.flush()  # what arrived before the connections closed is committed, not lost
        stand_down(self.metrics, PROTOCOL, self.leader, self.active)

    def _supervise(self) -> None:
        assert self.leader is not None
        # Another replica may take the links over: _run_link then disconnects ours.
        self.leader.follow(self.active, self._stop, self.leader_check_s, self._refresh_gauges)

    # -- one link -------------------------------------------------------------------------------
    def _run_link(self, state: LinkState) -> None:
        link = state.link
        backoff = link.reconnect_min_s
        tried = 0  # addresses tried since the link was last up
        while not self._stop.is_set():
            if not self.active.is_set():  # standby: another replica owns this RTU
                for client in state.clients:
                    client.stop()
                state.up, state.connected_to = None, None
                self.active.wait(0.5)
                continue
            client, conn = state.clients[state.index], state.connections[state.index]
            address = link.addresses[state.index]
            if self._open_link(client, conn, link):
                tried, backoff = 0, link.reconnect_min_s
                self._on_up(state, str(address))
                self._while_connected(state, conn)
                client.stop()
                if self._stop.is_set() or not self.active.is_set():
                    continue
                error = f"{address}: connection lost"
            else:
                state_name = conn.state.name
                client.stop()
                if self._stop.is_set():
                    break
                error = f"{address}: not open within {link.connect_timeout_s:g} s ({state_name})"
            state.connected_to = None
            state.last_error = error
            tried += 1
            state.index = (state.index + 1) % len(state.connections)
            if tried < len(state.connections):
                log.warning("iec104 failing over", extra={"link": link.name, "error": error})
                continue  # a redundant address is left to try at once
            tried = 0
            self._on_down(state, error)
            self._stop.wait(backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, link.reconnect_max_s)

    def _open_link(self, client: c104.Client, conn: c104.Connection, link: Iec104Link) -> bool:
        """Connect, start data transfer, synchronise the clock and interrogate: True when the connection
        is open within connect_timeout_s. A started c104 client connects (and reconnects) by itself, and
        connect()/disconnect() on a started client can leave its state machine stuck: the link starts its
        client to connect and stops it to disconnect. STARTDT, clock sync and GI are sent here rather than
        through c104's Init.ALL, which now and then leaves a connection muted under load."""
        deadline = time.monotonic() + link.connect_timeout_s
        client.start()
        muted = (c104.ConnectionState.OPEN_MUTED, c104.ConnectionState.OPEN)
        while conn.state not in muted and time.monotonic() < deadline and not self._stop.is_set():
            self._stop.wait(0.02)
        if conn.state not in muted:
            return False
        conn.unmute()  # STARTDT
        while not _open(conn) and time.monotonic() < deadline and not self._stop.is_set():
            self._stop.wait(0.02)
        if not _open(conn):
            return False
        conn.clock_sync(common_address=link.common_address, wait_for_response=False)
        conn.interrogation(common_address=link.common_address, wait_for_response=False)
        return True

    def _while_connected(self, state: LinkState, conn: c104.Connection) -> None:
        link = state.link
        now = time.monotonic()
        next_gi = now + link.interrogation_interval_s if link.interrogation_interval_s else None
        next_cs = now + link.clock_sync_interval_s if link.clock_sync_interval_s else None
        while _open(conn) and not self._stop.is_set() and self.active.is_set():
            now = time.monotonic()
            if next_gi is not None and now >= next_gi:
                conn.interrogation(common_address=link.common_address, wait_for_response=False)
                next_gi = now + link.interrogation_interval_s
            if next_cs is not None and now >= next_cs:
                conn.clock_sync(common_address=link.common_address, wait_for_response=False)
                next_cs = now + link.clock_sync_interval_s
            self._stop.wait(0.1)

    def _on_up(self, state: LinkState, address: str) -> None:
        was = state.up
        state.up = True
        state.consecutive_failures = 0
        state.connected_to = address
        state.connected_at = datetime.now(UTC)
        state.last_error = None
        self.metrics.connector_polls.labels(protocol=PROTOCOL, result="ok").inc()
        log.info("iec104 link connected", extra={"link": state.link.name, "address": address})
        if was is not True:  # restored, or the first connection (clears an alarm left from before)
            for device_id in state.link.device_ids:
                self._alarm("comm_restored", device_id)
        self._refresh_gauges()

    def _on_down(self, state: LinkState, error: str) -> None:
        was = state.up
        state.up = False
        state.consecutive_failures += 1
        self.metrics.connector_polls.labels(protocol=PROTOCOL, result="failed").inc()
        self.metrics.connector_errors.labels(protocol=PROTOCOL).inc()
        if was is not False:
            log.warning("iec104 link failed", extra={"link": state.link.name, "error": error})
            # Nothing stale may look good: every point of the link is committed once more as invalid.
            now = datetime.now(UTC)
            for p in state.link.points:
                last = state.last_values.get(f"{p.device_id} {p.measurement}")
                value = last[1] if last is not None else (0.0 if p.family is PointFamily.measured else False)
                self.writer.enqueue(Reading(p.device_id, p.measurement, now, value, "invalid"))
            # Committed before the alarm is raised (as the Modbus poller does): a sample arriving after the
            # alarm is taken by the alarm service as "data received again".
            self.writer.wait_written(self.writer.enqueued, timeout=5.0)
            for device_id in state.link.device_ids:
                self._alarm("comm_failure", device_id, f"IEC 104 link {state.link.name}: {error}")
        self._refresh_gauges()

    def _alarm(self, method: str, device_id: str, *args: str) -> None:
        comm_alarm(self._alarms, log, method, device_id, *args)

    # -- operations -----------------------------------------------------------------------------
    def _refresh_gauges(self) -> None:
        with self._lock:
            failed = sum(len(s.link.device_ids) for s in self.links if s.up is False)
            ok = sum(len(s.link.device_ids) for s in self.links if s.up)
            owning = self.active.is_set() and not self._stop.is_set()
            up = bool(self._threads) and not self._stop.is_set() and all(s.up for s in self.links)
            report_gauges(self.metrics, PROTOCOL, ok, failed, owning, up)

    def health(self) -> dict[str, Any]:
        """A failing RTU is an alarm, not a reason to take GridOS out of service: the status stays healthy
        while the client runs; the details say which links fail."""
        running = bool(self._threads) and not self._stop.is_set()
        links = {
            s.link.name: {
                "addresses": [str(a) for a in s.link.addresses],
                "connected_to": s.connected_to,
                "state": "unknown" if s.up is None else ("ok" if s.up else "failed"),
                "consecutive_failures": s.consecutive_failures,
                "received": s.received,
                "last_received_at": s.last_received_at.isoformat() if s.last_received_at else None,
                "last_error": s.last_error,
            }
            for s in self.links
        }
        return {
            "status": "healthy" if running else "stopped",
            "role": "connected" if self.active.is_set() else "standby",
            "links_ok": sum(1 for s in self.links if s.up),
            "links_failed": sum(1 for s in self.links if s.up is False),
            "pending_samples": self.writer.pending,
            "dropped_samples": self.writer.dropped,
            "last_rejection": self.writer.last_rejection,
            "links": links,
        }
