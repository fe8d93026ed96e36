"""No loss on a crash: GridOS (a real process) is SIGKILLed while it holds received, uncommitted and
unacknowledged messages; restarted with the same client id it gets them again from its broker session."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.ingest.conftest import Publisher, item, mqtt_env
from tests.support.mosquitto import MosquittoBroker
from tests.support.servers import start_gridos
from tests.support.wait import eventually

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]


def test_sigkill_mid_stream_loses_and_duplicates_nothing(broker: MosquittoBroker, tmp_path: Path) -> None:
    total = 2000
    env = mqtt_env(broker, GRIDOS_UNKNOWN_DEVICE="auto_register", GRIDOS_MQTT_RECEIVE_MAXIMUM="100")
    server = start_gridos(tmp_path, env, start=False).start(timeout=120)
    engine = create_engine(env.get("GRIDOS_DATABASE_URL", f"sqlite:///{tmp_path / 'gridos.db'}"))

    def count() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM samples")).scalar_one())

    def distinct() -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM (SELECT DISTINCT device_id, measurement, ts FROM samples)")
                ).scalar_one()
            )

    try:
        pub = Publisher(broker)
        half = threading.Event()

        def stream() -> None:
            for i in range(total):
                pub.publish("gridos/west/meter-9/telemetry", item("west/meter-9", i))
                if i == total // 2:
                    half.set()
                time.sleep(0.0005)

        producer = threading.Thread(target=stream)
        producer.start()
        assert half.wait(60)
        server.kill()
        killed_at = count()
        producer.join()
        pub.wait_all_acked()  # the broker holds everything for GridOS's session now
        assert killed_at < total, "the crash must happen in the middle of the stream"
        server.start(timeout=120)
        eventually(lambda: count() >= total, timeout=120, what=f"{total} samples after the restart")
        time.sleep(1.0)
        assert count() == total
        assert distinct() == total
        pub.close()
    finally:
        server.stop()
        engine.dispose()
