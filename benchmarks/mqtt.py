"""MQTT ingest benchmark: samples/s end to end (publish -> committed in PostgreSQL) through a real
Mosquitto broker and GridOS's MQTT connector, next to the REST batch path, in one run on one GridOS process.

Everything is real and durable: PostgreSQL with fsync on, Mosquitto with persistence on, QoS 1 on both
hops, GridOS acknowledging each message only after its samples are committed. Two MQTT shapes: one JSON
object per message (a device publishing its own reading: 5 samples) and batches of 100 objects per message
(a gateway: 500 samples). The clock starts at the first publish and stops when GridOS's
`gridos_samples_ingested_total{source="mqtt"}` reaches the total; the REST path is timed the same way.

    uv run python -m benchmarks.mqtt [--samples 300000] [--batch-objects 100] [--publishers 2] [--clients 2]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from benchmarks.common import migrated_database, workdir
from benchmarks.ingest import MEASUREMENTS, make_batches, run_api
from gridos.simulator.mqtt import topic_for
from tests.support.metrics import metric
from tests.support.mosquitto import running_mosquitto
from tests.support.postgres import running_postgres
from tests.support.servers import start_gridos
from tests.support.wait import eventually


def committed(url: str, source: str) -> float:
    with httpx.Client(base_url=url, timeout=10) as client:
        return metric(client, "gridos_samples_ingested_total", source=source)


def wait_committed(url: str, source: str, target: float, timeout: float = 1800) -> None:
    eventually(lambda: committed(url, source) >= target, timeout, f"{target:.0f} {source} samples committed")


def run_mqtt(
    host: str, port: int, url: str, messages: list[tuple[str, bytes]], publishers: int, target: float
) -> float:
    """Publish every message (QoS 1) from `publishers` clients; seconds until all samples are committed."""
    clients = []
    for _ in range(publishers):
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"bench-{secrets.token_hex(3)}", protocol=mqtt.MQTTv5
        )
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        c.connect(host, port)
        c.loop_start()
        clients.append(c)
    chunks = [messages[i::publishers] for i in range(publishers)]

    def publish(client: mqtt.Client, chunk: list[tuple[str, bytes]]) -> None:
        for topic, payload in chunk:
            client.publish(topic, payload, qos=1)

    started = time.perf_counter()
    threads = [threading.Thread(target=publish, args=(c, ch)) for c, ch in zip(clients, chunks, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_committed(url, "mqtt", target)
    elapsed = time.perf_counter() - started
    for c in clients:
        c.disconnect()
        c.loop_stop()
    return elapsed


def to_messages(batches: list[list[dict[str, Any]]], objects_per_message: int) -> list[tuple[str, bytes]]:
    items = [item for batch in batches for item in batch]
    if objects_per_message == 1:
        return [(topic_for(it["device_id"]), orjson.dumps(it)) for it in items]
    return [
        (topic_for(items[i]["device_id"]), orjson.dumps(items[i : i + objects_per_message]))
        for i in range(0, len(items), objects_per_message)
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=300_000, help="per path (REST, MQTT single, MQTT batched)")
    ap.add_argument("--batch", type=int, default=5000, help="REST samples per request")
    ap.add_argument("--batch-objects", type=int, default=100, help="objects per batched MQTT message")
    ap.add_argument("--clients", type=int, default=2, help="REST client threads")
    ap.add_argument("--publishers", type=int, default=2, help="MQTT publisher connections")
    args = ap.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    # Three disjoint time ranges, so no path ever hits another's rows (no duplicates anywhere).
    rest = make_batches(args.samples, args.batch, now - timedelta(hours=20))
    single = make_batches(args.samples, args.batch, now - timedelta(hours=14))
    batched = make_batches(args.samples, args.batch, now - timedelta(hours=8))
    total = sum(len(b) for b in rest) * len(MEASUREMENTS)
    work = workdir("mqtt")
    with (
        running_postgres(fsync=True) as pg,
        running_mosquitto(work / f"mosquitto-{secrets.token_hex(3)}") as broker,
    ):
        db = migrated_database(pg)
        server = start_gridos(
            work,
            {
                "GRIDOS_DATABASE_URL": pg.url(db),
                "GRIDOS_UNKNOWN_DEVICE": "auto_register",
                "GRIDOS_LOG_LEVEL": "WARNING",
                "GRIDOS_MQTT_ENABLED": "true",
                "GRIDOS_MQTT_HOST": broker.host,
                "GRIDOS_MQTT_PORT": str(broker.port),
                "GRIDOS_MQTT_CLIENT_ID": "gridos-bench",
            },
            start=False,
        ).start(timeout=120)
        try:
            # Warm-up: registers the devices, opens the connections.
            run_api(server.url, server.ingest_token, [orjson.dumps(b[:50]) for b in rest[:2]], 1)
            warm = committed(server.url, "http")
            rest_s = run_api(server.url, server.ingest_token, [orjson.dumps(b) for b in rest], args.clients)
            rest_total = committed(server.url, "http") - warm
            single_s = run_mqtt(
                broker.host, broker.port, server.url, to_messages(single, 1), args.publishers, total
            )
            batched_s = run_mqtt(
                broker.host,
                broker.port,
                server.url,
                to_messages(batched, args.batch_objects),
                args.publishers,
                2 * total,
            )
        finally:
            server.stop()
    result = {
        "samples_per_path": total,
        "rest_batch_samples": args.batch,
        "rest_clients": args.clients,
        "rest_samples_per_s": round(rest_total / rest_s),
        "mqtt_single_object_messages": len(to_messages(single, 1)),
        "mqtt_single_samples_per_s": round(total / single_s),
        "mqtt_single_messages_per_s": round(len(to_messages(single, 1)) / single_s),
        "mqtt_batched_objects_per_message": args.batch_objects,
        "mqtt_batched_samples_per_s": round(total / batched_s),
        "mqtt_publishers": args.publishers,
        "gridos_workers": 1,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
