"""MQTT ingestion: a QoS 1 shared subscription whose messages are acknowledged only after commit.

Threads: paho's network loop receives PUBLISH packets and puts them on a queue; one committer thread
drains the queue, validates each message (the REST API's JSON schema), commits the good ones in one
transaction and only then sends the PUBACKs, in arrival order. A crash before the commit leaves the
messages unacknowledged in the broker's persistent session, which redelivers them; the store is
idempotent on (device, measurement, source timestamp), so a redelivered message is stored once.

A malformed message is counted, logged (rate-limited) and republished to the dead-letter topic with the
error in its MQTT 5 user properties, then acknowledged: it never blocks the messages behind it. A failing
commit (database down) is retried with backoff, holding the batch unacknowledged; the broker's receive
maximum bounds how much waits meanwhile.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError

from gridos.errors import InvalidInput, PayloadTooLarge
from gridos.ingest.config import ConnectorConfigError, MqttSettings
from gridos.observability.metrics import Metrics
from gridos.telemetry.samples import Sample
from gridos.telemetry.schemas import list_adapter
from gridos.telemetry.service import TelemetryService

log = logging.getLogger("gridos.ingest.mqtt")
PROTOCOL = "mqtt"
# The database rejecting the data itself (PostgreSQL's fast path raises psycopg's errors unwrapped).
DATA_ERRORS = (IntegrityError, DataError, psycopg.IntegrityError, psycopg.DataError)
QOS = 1


class RateLimitedLog:
    """At most `per_window` warnings per window; the rest are counted and summarised once."""

    def __init__(self, logger: logging.Logger, per_window: int = 10, window_s: float = 10.0) -> None:
        self.logger, self.per_window, self.window_s = logger, per_window, window_s
        self._start, self._count, self._suppressed = 0.0, 0, 0

    def warning(self, msg: str, extra: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self._start > self.window_s:
            if self._suppressed:
                self.logger.warning(
                    "malformed messages not logged individually", extra={"suppressed": self._suppressed}
                )
            self._start, self._count, self._suppressed = now, 0, 0
        if self._count < self.per_window:
            self._count += 1
            self.logger.warning(msg, extra=extra)
        else:
            self._suppressed += 1


class MqttConnector:
    def __init__(self, settings: MqttSettings, telemetry: TelemetryService, metrics: Metrics) -> None:
        self.settings = settings
        self.telemetry = telemetry
        self.metrics = metrics
        self.queue: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connected = False
        self.subscribed = False
        self.messages = 0
        self.malformed = 0
        self.commit_failures = 0
        self.last_commit_at: datetime | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._malformed_log = RateLimitedLog(log)
        self._items = list_adapter(telemetry.sample_model)
        self.client = self._build_client()
        metrics.connector_up.labels(protocol=PROTOCOL).set(0)

    # -- lifecycle ------------------------------------------------------------------------------
    def _build_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if s.username:
            client.username_pw_set(s.username, s.password.get_secret_value() if s.password else None)
        if s.tls:
            try:
                client.tls_set(
                    ca_certs=str(s.tls_ca_file) if s.tls_ca_file else None,
                    certfile=str(s.tls_cert_file) if s.tls_cert_file else None,
                    keyfile=str(s.tls_key_file) if s.tls_key_file else None,
                    cert_reqs=ssl.CERT_REQUIRED,
                )
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise ConnectorConfigError(f"GRIDOS_MQTT_TLS_*: cannot load the TLS files: {exc}") from None
        client.reconnect_delay_set(
            min_delay=max(1, round(s.reconnect_min_seconds)), max_delay=max(1, round(s.reconnect_max_seconds))
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_connect_fail = self._on_connect_fail
        return client

    def start(self) -> None:
        s = self.settings
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = s.session_expiry_seconds
        props.ReceiveMaximum = s.receive_maximum
        # clean_start=False: resume the broker's session with its subscription and unacknowledged messages.
        self.client.connect_async(
            s.host, s.port, keepalive=s.keepalive_seconds, clean_start=False, properties=props
        )
        self.client.loop_start()
        self._worker = threading.Thread(target=self._run, name="mqtt-committer", daemon=True)
        self._worker.start()
        log.info(
            "mqtt connector started",
            extra={"broker": f"{s.host}:{s.port}", "subscription": s.subscription, "client_id": s.client_id},
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Finish (commit and acknowledge) the batch in hand, then disconnect. Messages still queued are
        not acknowledged: the broker keeps them in this client's session and redelivers them."""
        self._stop.set()
        if self._worker:
            self._worker.join(timeout)
        self.client.disconnect()
        self.client.loop_stop()
        self.metrics.connector_up.labels(protocol=PROTOCOL).set(0)

    # -- paho callbacks (network thread) -------------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        if reason.is_failure:
            self.last_error = f"connect refused: {reason}"
            log.error("mqtt broker refused the connection", extra={"reason": str(reason)})
            return
        self.connected = True
        self.metrics.connector_up.labels(protocol=PROTOCOL).set(1)
        log.info("mqtt connected", extra={"session_present": bool(flags.session_present)})
        # Subscribing again on a resumed session is harmless and covers a session the broker lost.
        client.subscribe(self.settings.subscription, qos=QOS)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        s = self.settings
        # paho does not pass the exception: the TCP connection or the TLS handshake failed.
        self.last_error = (
            f"cannot connect to {s.host}:{s.port} (unreachable, refused, or TLS handshake failed"
            f"{': check GRIDOS_MQTT_TLS_CA_FILE' if s.tls else ''})"
        )

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode], properties: Any
    ) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        self.subscribed = not failed
        if failed:
            self.last_error = f"subscribe refused: {', '.join(failed)}"
            log.error("mqtt subscription refused", extra={"reasons": failed})

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        was_connected = self.connected
        self.connected = self.subscribed = False
        self.metrics.connector_up.labels(protocol=PROTOCOL).set(0)
        if not self._stop.is_set() and (was_connected or self.last_error is None):
            # A refused CONNECT is followed by a disconnect: keep the refusal, it says why.
            self.last_error = f"disconnected: {reason}"
            log.warning("mqtt disconnected; reconnecting with backoff", extra={"reason": str(reason)})

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.queue.put(message)

    # -- committer thread -----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                first = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < self.settings.max_batch_messages:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            self._handle(batch)

    def _handle(self, batch: list[mqtt.MQTTMessage]) -> None:
        backoff = 0.1
        dead: set[int] = set()  # indexes already dead-lettered: a retried batch does not send them twice
        while True:
            try:
                rows = self._rows(batch, dead)
                if rows:
                    self.telemetry.commit(rows, PROTOCOL)
                break
            except DATA_ERRORS as exc:
                # The database rejects the data itself, not the connection: retrying the same batch would
                # stall forever. Commit message by message and set aside the ones it rejects.
                log.warning("mqtt batch rejected by the database; committing messages one by one",
                            extra={"error": str(exc).splitlines()[0][:200]})  # fmt: skip
                if self._commit_one_by_one(batch, dead):
                    break
            except Exception as exc:  # database or registry unavailable: keep the batch, retry
                self.commit_failures += 1
                self.last_error = f"commit failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                self.metrics.connector_errors.labels(protocol=PROTOCOL).inc()
                log.warning("mqtt batch not committed; retrying", extra={"error": self.last_error})
                if self._stop.wait(backoff):
                    return  # shutting down: leave the batch unacknowledged for redelivery
                backoff = min(backoff * 2, self.settings.reconnect_max_seconds)
        self.last_commit_at = datetime.now(UTC)
        self.messages += len(batch)
        self.metrics.connector_messages.labels(protocol=PROTOCOL).inc(len(batch))
        for message in batch:  # PUBACKs in the order the PUBLISHes arrived
            self.client.ack(message.mid, message.qos)

    def _commit_one_by_one(self, batch: list[mqtt.MQTTMessage], dead: set[int]) -> bool:
        """True when every message is committed or dead-lettered; False (retry later) on any other error."""
        for index, message in enumerate(batch):
            if index in dead:
                continue
            try:
                rows = self._rows([message], set())
                if rows:
                    self.telemetry.commit(rows, PROTOCOL)
            except DATA_ERRORS as exc:
                self._dead_letter(message, f"rejected by the database: {str(exc).splitlines()[0][:300]}")
                dead.add(index)
            except Exception:
                return False
        return True

    def _rows(self, batch: list[mqtt.MQTTMessage], dead: set[int]) -> list[Sample]:
        received = datetime.now(UTC)
        parsed: list[tuple[int, list[Any]]] = []
        for index, message in enumerate(batch):
            if index in dead:
                continue
            content_type = "application/json"
            props = getattr(message, "properties", None)
            if props is not None and getattr(props, "ContentType", None):
                content_type = props.ContentType
            try:
                # Parsing is pure: whatever it raises is the message's fault, never a reason to retry.
                parsed.append((index, self._parse(bytes(message.payload), content_type)))
            except (InvalidInput, PayloadTooLarge) as exc:
                self._dead_letter(message, exc.detail)
                dead.add(index)
            except Exception as exc:
                self._dead_letter(message, f"unreadable payload: {type(exc).__name__}: {exc}")
                dead.add(index)
        # The rules that need the clock and the registry (time window, unknown devices, batch size) run
        # once over the whole batch; only when that fails is each message checked alone, to find the bad
        # ones. A batch-size rejection is not a message's fault: the rules then apply per message.
        everything = [item for _, items in parsed for item in items]
        if (
            everything
            and len(everything) * len(self.telemetry.catalogue) <= self.telemetry.settings.max_batch_samples
        ):
            try:
                return self.telemetry.to_rows(everything, received)
            except (InvalidInput, PayloadTooLarge):
                pass
        rows: list[Sample] = []
        for index, items in parsed:
            try:
                rows.extend(self.telemetry.to_rows(items, received))
            except (InvalidInput, PayloadTooLarge) as exc:
                self._dead_letter(batch[index], exc.detail)
                dead.add(index)
        return rows

    def _parse(self, payload: bytes, content_type: str) -> list[Any]:
        """Fast path for well-formed JSON; anything else goes through TelemetryService.parse, which gives
        the canonical error (the REST API's wording) and counts the rejection."""
        if content_type == "application/json" and len(payload) <= self.telemetry.settings.max_body_bytes:
            try:
                data = orjson.loads(payload)
                items = [data] if isinstance(data, dict) else data
                if isinstance(items, list) and items:
                    return self._items.validate_python(items)
            except (orjson.JSONDecodeError, ValidationError):
                pass
        return self.telemetry.parse(payload, content_type)

    def _dead_letter(self, message: mqtt.MQTTMessage, error: str) -> None:
        self.malformed += 1
        self.metrics.connector_errors.labels(protocol=PROTOCOL).inc()
        self.metrics.connector_dead_letters.labels(protocol=PROTOCOL).inc()
        self._malformed_log.warning(
            "malformed mqtt message sent to the dead-letter topic",
            extra={"topic": message.topic, "error": error[:300], "bytes": len(message.payload)},
        )
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("error", error[:1000]), ("topic", message.topic)]
        self.client.publish(self.settings.dead_letter_topic, message.payload, qos=QOS, properties=props)

    # -- operations -----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        s = self.settings
        ok = self.connected and self.subscribed
        status = "healthy" if ok or not s.required_for_ready else "unhealthy"
        return {
            "status": status,
            "connected": self.connected,
            "subscribed": self.subscribed,
            "broker": f"{s.host}:{s.port}",
            "subscription": s.subscription,
            "client_id": s.client_id,
            "messages": self.messages,
            "malformed": self.malformed,
            "queued": self.queue.qsize(),
            "last_commit_at": self.last_commit_at.isoformat() if self.last_commit_at else None,
            "last_error": self.last_error,
        }
