"""What the field connectors that write telemetry (Modbus poller, IEC 104 client) share: their comm-failure
alarms, their gauges and the end of their leadership when they stop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from gridos.ingest.leader import LeaderLock
from gridos.observability.metrics import Metrics


def comm_alarm(
    alarms: Callable[[], Any], log: logging.Logger, method: str, device_id: str, *args: str
) -> None:
    """Call `method` (comm_failure, ...) of the comm-failure sink `alarms()`, when there is one. Never raises:
    a failure is logged to the connector's `log`."""
    sink = alarms()
    if sink is None or not hasattr(sink, method):
        return
    try:
        getattr(sink, method)(device_id, *args)
    except Exception:
        log.exception("could not update the comm-failure alarm", extra={"device_id": device_id})


def report_gauges(metrics: Metrics, protocol: str, ok: int, failed: int, leading: bool, up: bool) -> None:
    """Devices ok and failed, whether this replica is the one talking to them, and whether all is well."""
    metrics.connector_devices.labels(protocol=protocol, state="ok").set(ok)
    metrics.connector_devices.labels(protocol=protocol, state="failed").set(failed)
    metrics.connector_leader.labels(protocol=protocol).set(1 if leading else 0)
    metrics.connector_up.labels(protocol=protocol).set(1 if up else 0)


def stand_down(metrics: Metrics, protocol: str, leader: LeaderLock | None, active: threading.Event) -> None:
    """After the connector's threads ended: give up the leader lock and report it down."""
    if leader is not None:
        leader.release()
    active.clear()
    metrics.connector_up.labels(protocol=protocol).set(0)
    metrics.connector_leader.labels(protocol=protocol).set(0)
