"""The official InfluxDB client library (influxdb-client, unchanged) writing to a real `gridos serve`
process on a free port, on SQLite and on the harness's PostgreSQL: plain and gzip bodies, precisions,
the batching writer most applications use, and a bad line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS, WriteOptions
from influxdb_client.rest import ApiException

from tests.support.postgres import PostgresServer
from tests.support.servers import GridosServer, start_gridos


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GridosServer]:
    """One process per backend for the module (starting one takes seconds); tests use their own devices."""
    tmp_path = tmp_path_factory.mktemp(f"lineprotocol-{request.param}")
    env = {"GRIDOS_UNKNOWN_DEVICE": "auto_register", "GRIDOS_LOG_LEVEL": "WARNING"}
    if request.param == "postgres":
        pg: PostgresServer = request.getfixturevalue("postgres")
        env["GRIDOS_DATABASE_URL"] = pg.url(pg.create_database(template=pg.template))  # type: ignore[attr-defined]
    with start_gridos(tmp_path, env) as s:
        yield s


def _points(server: GridosServer, device: str, measurement: str, start: datetime) -> list[tuple[str, float]]:
    with server.client() as c:
        r = c.get(
            "/api/v1/scada/data",
            params={
                "device_id": device,
                "measurement": measurement,
                "from": start.isoformat(),
                "to": (start + timedelta(hours=1)).isoformat(),
            },
        )
        r.raise_for_status()
        return [(p["ts"], p["value"]) for p in r.json()["points"]]


def test_official_client_writes_with_every_precision_plain_and_gzip(server: GridosServer) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    for gzip in (False, True):
        with InfluxDBClient(
            url=server.url, token=server.ingest_token, org="grid", enable_gzip=gzip
        ) as client:
            write = client.write_api(write_options=SYNCHRONOUS)
            for i, precision in enumerate(
                (WritePrecision.NS, WritePrecision.US, WritePrecision.MS, WritePrecision.S)
            ):
                ts = t0 + timedelta(seconds=10 * i + (5 if gzip else 0))
                write.write(
                    bucket="scada",
                    record=[
                        Point("feeder")
                        .tag("device_id", "north/fdr-1")
                        .tag("host", "edge-gw")
                        .field("voltage", 11000.0 + i)
                        .field("current", 400 + i)  # an int: sent as 400i
                        .time(ts, precision),
                        Point("north/brk-1").field("breaker_closed", i % 2 == 0).time(ts, precision),
                    ],
                    write_precision=precision,
                )
    expected_ts = [t0 + timedelta(seconds=s) for s in (0, 5, 10, 15, 20, 25, 30, 35)]
    voltages = _points(server, "north/fdr-1", "voltage", t0)
    assert [datetime.fromisoformat(ts) for ts, _ in voltages] == expected_ts
    assert [v for _, v in voltages] == [11000.0 + k // 2 for k in range(8)]
    assert [v for _, v in _points(server, "north/fdr-1", "current", t0)] == [400.0 + k // 2 for k in range(8)]
    assert [v for _, v in _points(server, "north/brk-1", "breaker_closed", t0)] == [1.0, 1.0, 0.0, 0.0] * 2


def test_official_client_batching_writer_delivers_everything(server: GridosServer) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=50)
    options = WriteOptions(batch_size=250, flush_interval=200)
    with (
        InfluxDBClient(url=server.url, token=server.ingest_token, org="grid", enable_gzip=True) as client,
        client.write_api(write_options=options) as write,
    ):
        for i in range(1000):
            write.write(
                bucket="scada",
                record=f"east/tx-{i % 4} voltage={230 + i % 7},frequency=50.0{i % 10} "
                f"{int((t0 + timedelta(seconds=i // 4)).timestamp())}",
                write_precision=WritePrecision.S,
            )
    # Leaving the block flushes; then every reading is committed.
    for d in range(4):
        assert len(_points(server, f"east/tx-{d}", "voltage", t0)) == 250
        assert len(_points(server, f"east/tx-{d}", "frequency", t0)) == 250


def test_official_client_reports_the_bad_line(server: GridosServer) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=40)
    ts = int(t0.timestamp())
    with InfluxDBClient(url=server.url, token=server.ingest_token, org="grid") as client:
        write = client.write_api(write_options=SYNCHRONOUS)
        with pytest.raises(ApiException) as caught:
            write.write(
                bucket="scada",
                record=[f"south/tx-1 voltage=230 {ts}", f"south/tx-1 voltage=2e {ts + 1}"],
                write_precision=WritePrecision.S,
            )
        assert caught.value.status == 400
        body = json.loads(caught.value.body)
        assert body["code"] == "invalid"
        assert body["line"] == 2
        assert body["message"].startswith("line 2: invalid field value '2e'")
        # The client shows InfluxDB's message to its user.
        assert "line 2: invalid field value" in str(caught.value)
        # Nothing of the refused batch was stored (not even the device was auto-registered), so
        # resending it fixed is safe.
        with server.client() as c:
            assert c.get("/api/v1/devices/south/tx-1").status_code == 404
        write.write(bucket="scada", record=[f"south/tx-1 voltage=230 {ts}"], write_precision=WritePrecision.S)
        assert [v for _, v in _points(server, "south/tx-1", "voltage", t0)] == [230.0]
    with InfluxDBClient(url=server.url, token="not-a-token", org="grid") as client:
        with pytest.raises(ApiException) as caught:
            client.write_api(write_options=SYNCHRONOUS).write(bucket="scada", record="south/tx-2 voltage=1")
        assert caught.value.status == 401
