"""What a transition notifies, and to whom: the sinks (webhooks, Alertmanagers), their payloads, and the
outbox rows written in the transaction that commits the transition (`gridos.alarms.outbox` delivers them).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, insert

from gridos.alarms.config import AlarmSettings
from gridos.alarms.tables import alarm_outbox

FIRING = {"active_unacked", "active_acked"}


class Notifier:
    def __init__(self, settings: AlarmSettings) -> None:
        self.external_url = settings.external_url
        self.sinks: list[tuple[str, str]] = [(u, "gridos") for u in settings.webhooks] + [
            (u, "alertmanager") for u in settings.alertmanagers
        ]
        # Set after a commit that queued notifications: the outbox worker delivers them at once.
        self.wakeup = threading.Event()

    def enqueue(self, conn: Connection, events: Sequence[dict[str, Any]], at: int) -> None:
        """One outbox row per committed transition (its event view) and sink, in the caller's transaction."""
        if not events or not self.sinks:
            return
        rows = [
            {
                "event_id": event["id"],
                "sink": url,
                "format": fmt,
                "payload": payload_for(fmt, event, self.external_url),
                "attempts": 0,
                "next_attempt_us": at,
                "created_us": at,
            }
            for event in events
            for url, fmt in self.sinks
        ]
        conn.execute(insert(alarm_outbox), rows)


def payload_for(fmt: str, event: dict[str, Any], external_url: str = "") -> str:
    if fmt == "alertmanager":
        return orjson.dumps(alertmanager_alerts(event, external_url)).decode()
    return orjson.dumps({"version": 1, "kind": "alarm_transition", "transition": event}).decode()


def alertmanager_alerts(event: dict[str, Any], external_url: str = "") -> list[dict[str, Any]]:
    """Alertmanager API v2 (POST /api/v2/alerts) alerts. An alarm fires while it annunciates (active,
    acknowledged or not); any other state resolves it (endsAt = the transition time). Alertmanager
    resolves a firing alert that is not re-sent by its endsAt: firing alerts carry endsAt 24 h ahead."""
    alarm = event.get("alarm") or {}
    at = event["at"]
    firing = event["to_state"] in FIRING
    ends = (
        (datetime.fromisoformat(at.replace("Z", "+00:00")) + timedelta(hours=24)).astimezone(UTC).isoformat()
        if firing
        else at
    )
    summary = f"{event['device_id']} {event['measurement']} {event['condition']} ({event['priority']})"
    alert: dict[str, Any] = {
        "labels": {
            "alertname": "GridOSAlarm",
            "alarm_id": str(event["alarm_id"]),
            "device_id": event["device_id"],
            "site": event["site"],
            "measurement": event["measurement"],
            "condition": event["condition"],
            "priority": event["priority"],
            "severity": event["priority"],
        },
        "annotations": {
            "summary": summary,
            "state": event["to_state"],
            "action": event["action"],
            "value": "" if event.get("value") is None else f"{event['value']:g}",
            "limit": "" if event.get("limit") is None else f"{event['limit']:g}",
            "description": alarm.get("message") or event.get("comment") or summary,
        },
        "startsAt": alarm.get("activated_at") or at,
        "endsAt": ends,
    }
    if external_url:
        alert["generatorURL"] = f"{external_url.rstrip('/')}/api/v1/alarms/{event['alarm_id']}"
    return [alert]
