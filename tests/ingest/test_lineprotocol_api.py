"""POST /api/v2/write and /write on both backends: auth mapping, gzip, precision, the REST validation
rules, all-or-nothing batches with InfluxDB-shaped errors, idempotency."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from gridos.app import create_app
from gridos.config import Settings
from tests.support.tokens import Tokens


def _samples(database_url: str) -> list[tuple]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [
                tuple(r)
                for r in conn.execute(
                    text("SELECT device_id, measurement, ts, value, quality FROM samples ORDER BY 1, 2, 3")
                )
            ]
    finally:
        engine.dispose()


def _ns(dt: datetime) -> int:
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


@pytest.fixture
def app_client(make_settings, tokens: Tokens) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """No default credentials: each request carries the ones the test is about."""
    with TestClient(create_app(make_settings())) as c:
        for device in ("north/tx-1", "north/brk-1"):
            r = c.put(
                f"/api/v1/devices/{device}",
                json={"type": "meter", "site": "north"},
                headers=tokens.header("admin"),
            )
            assert r.status_code in (200, 201), r.text
        yield c


def _t0() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)


def test_v2_write_commits_every_point_and_a_retry_stores_nothing_twice(
    app_client: TestClient, tokens: Tokens, database_url: str
) -> None:
    t0 = _t0()
    body = "\n".join(
        [
            f"north/tx-1 voltage=11000.5,current=12i {_ns(t0)}",
            f"grid,device_id=north/tx-1,host=telegraf-7 frequency=50.01 {_ns(t0 + timedelta(seconds=1))}",
            f"north/brk-1,quality=questionable breaker_closed=false {_ns(t0)}",
        ]
    )
    headers = {"Authorization": f"Token {tokens.ingest}"}
    r = app_client.post("/api/v2/write?org=grid&bucket=scada", content=body, headers=headers)
    assert r.status_code == 204, r.text
    assert r.content == b""
    t0_us = _ns(t0) // 1000
    expected = [
        ("north/brk-1", "breaker_closed", t0_us, 0.0, 1),
        ("north/tx-1", "current", t0_us, 12.0, 0),
        ("north/tx-1", "frequency", t0_us + 1_000_000, 50.01, 0),
        ("north/tx-1", "voltage", t0_us, 11000.5, 0),
    ]
    assert _samples(database_url) == expected
    # The client library retries a write whose answer it did not get: nothing is stored twice.
    r = app_client.post("/api/v2/write?org=grid&bucket=scada", content=body, headers=headers)
    assert r.status_code == 204
    assert _samples(database_url) == expected
    metrics = app_client.get("/metrics").text
    assert 'gridos_samples_ingested_total{source="line_protocol"} 4.0' in metrics
    assert 'gridos_samples_duplicate_total{source="line_protocol"} 4.0' in metrics
    # The REST API reads them back like any other sample.
    latest = app_client.get("/api/v1/devices/north/tx-1/latest", headers=tokens.header("viewer")).json()
    assert latest["measurements"]["voltage"]["value"] == 11000.5


def test_credentials_of_both_influxdb_versions_map_to_gridos_roles(
    app_client: TestClient, tokens: Tokens, database_url: str
) -> None:
    ts = _ns(_t0())
    line = f"north/tx-1 voltage=230 {ts}"
    basic = base64.b64encode(f"telegraf:{tokens.ingest}".encode()).decode()
    accepted = [
        ("/api/v2/write?bucket=b", {"Authorization": f"Token {tokens.ingest}"}),
        ("/api/v2/write?bucket=b", {"Authorization": f"Bearer {tokens.admin}"}),
        (f"/write?db=scada&u=telegraf&p={tokens.ingest}", {}),
        ("/write?db=scada", {"Authorization": f"Basic {basic}"}),
        ("/write?db=scada", {"Authorization": f"Token {tokens.ingest}"}),
    ]
    for url, headers in accepted:
        r = app_client.post(url, content=line, headers=headers)
        assert r.status_code == 204, (url, r.text)

    r = app_client.post("/api/v2/write?bucket=b", content=line)
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"
    assert "Authorization: Token <token>" in r.json()["message"]
    r = app_client.post("/api/v2/write?bucket=b", content=line, headers={"Authorization": "Token nope"})
    assert (r.status_code, r.json()) == (401, {"code": "unauthorized", "message": "unknown token"})
    # u/p are InfluxDB 1.x credentials: the v2 endpoint does not read them.
    r = app_client.post(f"/api/v2/write?bucket=b&u=x&p={tokens.ingest}", content=line)
    assert r.status_code == 401
    # A viewer may read but not write, whatever the credential form.
    r = app_client.post(f"/write?db=scada&u=v&p={tokens.viewer}", content=line)
    assert r.status_code == 403
    assert "may not do this" in r.json()["error"]
    assert r.headers["X-Influxdb-Error"] == r.json()["error"]
    r = app_client.post("/write?db=scada", content=line)
    assert r.status_code == 401
    assert "?u=<any>&p=<token>" in r.json()["error"]
    r = app_client.post("/write?db=scada", content=line, headers={"Authorization": "Basic !!"})
    assert r.status_code == 401
    # Authentication comes first: an unknown client learns nothing about the request.
    r = app_client.post("/api/v2/write?precision=xx", content="garbage")
    assert r.status_code == 401
    assert len(_samples(database_url)) == 1


def test_gzip_bodies_are_inflated_within_the_body_limit(
    make_settings, tokens: Tokens, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    t0 = _t0()
    body = "\n".join(f"north/tx-1 voltage={230 + i} {_ns(t0 + timedelta(seconds=i))}" for i in range(200))
    headers = {"Authorization": f"Token {tokens.ingest}", "Content-Encoding": "gzip"}
    with TestClient(create_app(make_settings(unknown_device="auto_register", max_body_bytes=16384))) as c:
        r = c.post("/api/v2/write?bucket=b", content=gzip.compress(body.encode()), headers=headers)
        assert r.status_code == 204, r.text
        assert len(_samples(database_url)) == 200
        # 1 MB of line protocol compresses to a few kB: the limit applies to what it inflates to.
        bomb = gzip.compress(("north/tx-1 voltage=1 " + "0" * 1_000_000).encode())
        assert len(bomb) < 16384
        r = c.post("/api/v2/write?bucket=b", content=bomb, headers=headers)
        assert r.status_code == 413
        assert r.json()["code"] == "request too large"
        assert "exceeds 16384 bytes" in r.json()["message"]
        r = c.post(
            "/api/v2/write?bucket=b",
            content=body.encode() * 2,
            headers={"Authorization": headers["Authorization"]},
        )
        assert r.status_code == 413
        assert r.json() == {
            "code": "request too large",
            "message": "body exceeds 16384 bytes",
            "maxLength": 16384,
        }
        r = c.post("/api/v2/write?bucket=b", content=b"not gzip at all", headers=headers)
        assert (r.status_code, r.json()["code"]) == (400, "invalid")
        assert "not valid gzip" in r.json()["message"]
        r = c.post("/api/v2/write?bucket=b", content=gzip.compress(body.encode())[:-20], headers=headers)
        assert r.status_code == 400
        r = c.post("/api/v2/write?bucket=b", content=body, headers=headers | {"Content-Encoding": "br"})
        assert r.status_code == 415
        assert "unsupported Content-Encoding 'br'" in r.json()["message"]
    assert len(_samples(database_url)) == 200


def test_every_precision_lands_on_the_same_instant(
    app_client: TestClient, tokens: Tokens, database_url: str
) -> None:
    t0 = _t0()
    s = int(t0.timestamp())
    auth = {"Authorization": f"Token {tokens.ingest}"}
    writes = [
        ("/api/v2/write?bucket=b", f"{s * 10**9 + 999}"),  # default ns; sub-microsecond part floored
        ("/api/v2/write?bucket=b&precision=ns", f"{s * 10**9}"),
        ("/api/v2/write?bucket=b&precision=us", f"{s * 10**6}"),
        ("/api/v2/write?bucket=b&precision=ms", f"{s * 10**3}"),
        ("/api/v2/write?bucket=b&precision=s", f"{s}"),
        ("/write?db=d&precision=n", f"{s * 10**9}"),
        ("/write?db=d&precision=u", f"{s * 10**6}"),
        ("/write?db=d&precision=ms", f"{s * 10**3}"),
        ("/write?db=d&precision=s", f"{s}"),
    ]
    for url, ts in writes:
        r = app_client.post(url, content=f"north/tx-1 voltage=230 {ts}", headers=auth)
        assert r.status_code == 204, (url, r.text)
    assert _samples(database_url) == [("north/tx-1", "voltage", s * 10**6, 230.0, 0)]
    # A point without a timestamp is stamped with the server's clock, as InfluxDB does.
    r = app_client.post("/api/v2/write?bucket=b", content="north/tx-1 current=3", headers=auth)
    assert r.status_code == 204
    stamped = [row for row in _samples(database_url) if row[1] == "current"]
    assert abs(stamped[0][2] / 1e6 - datetime.now(UTC).timestamp()) < 60
    for url in ("/api/v2/write?bucket=b&precision=n", "/write?db=d&precision=xs"):
        r = app_client.post(url, content="north/tx-1 voltage=1", headers=auth)
        assert r.status_code == 400
        assert "invalid precision" in r.text


def test_a_bad_line_refuses_the_whole_batch_naming_every_bad_line(
    app_client: TestClient, tokens: Tokens, database_url: str
) -> None:
    ts = _ns(_t0())
    body = "\n".join(
        [
            f"north/tx-1 voltage=230 {ts}",  # line 1: good
            f"north/tx-1 voltage=231 {ts + 10**9}",  # line 2: good
            "north/tx-1 voltage=",  # line 3: syntax
            f"north/tx-1 voltage=-5 {ts}",  # line 4: below the physical bound, like REST
            f"north/tx-1 colour=3 {ts}",  # line 5: not in the catalogue
            f"north/tx-1 breaker_closed=1i {ts}",  # line 6: a boolean measurement needs a boolean
            f"bad..id! voltage=1 {ts}",  # line 7: not a valid device id
            f"north/tx-1,quality=great voltage=1 {ts}",  # line 8
            f'north/tx-1 voltage="230" {ts}',  # line 9: a string
        ]
    )
    r = app_client.post(
        "/api/v2/write?bucket=b", content=body, headers={"Authorization": f"Token {tokens.ingest}"}
    )
    assert r.status_code == 400
    problem = r.json()
    assert problem["code"] == "invalid"
    assert problem["line"] == 3
    assert problem["message"].startswith("line 3: field 'voltage' has no value (and 6 more bad line(s))")
    assert problem["message"].endswith("nothing was written")
    by_line = {e["line"]: e["message"] for e in problem["errors"]}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9]
    assert "greater than or equal to 0" in by_line[4]
    assert "'colour' is not a GridOS measurement (known: voltage, current" in by_line[5]
    assert "valid boolean" in by_line[6]
    assert "device id 'bad..id!'" in by_line[7]
    assert by_line[8].startswith("quality tag:")
    assert "valid number" in by_line[9]
    # GridOS does not do InfluxDB 1.x's partial writes: a 4xx means nothing was stored.
    assert _samples(database_url) == []
    # The 1.x endpoint says the same in 1.x's shape.
    r = app_client.post(f"/write?db=d&p={tokens.ingest}", content=body)
    assert r.status_code == 400
    assert set(r.json()) == {"error", "line", "errors"}
    assert r.json()["error"] == problem["message"]
    assert r.headers["X-Influxdb-Error"].startswith("line 3: ")
    assert _samples(database_url) == []
    assert 'gridos_ingest_rejected_total{reason="invalid"} 2.0' in app_client.get("/metrics").text
    # The header carries printable ASCII only; the body keeps the exact text.
    r = app_client.post(f"/write?db=d&p={tokens.ingest}", content="nörth/tx-1 voltage=1".encode())
    assert r.status_code == 400
    assert "'nörth/tx-1'" in r.json()["error"]
    assert "'n?rth/tx-1'" in r.headers["X-Influxdb-Error"]


def test_clock_registry_and_size_rules_are_the_rest_ones(
    make_settings, tokens: Tokens, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    auth = {"Authorization": f"Token {tokens.ingest}"}
    now = datetime.now(UTC)
    with TestClient(create_app(make_settings(max_batch_samples=3, retention_days=2))) as c:
        r = c.put(
            "/api/v1/devices/north/tx-1",
            json={"type": "meter", "site": "north"},
            headers=tokens.header("admin"),
        )
        assert r.status_code in (200, 201)
        body = "\n".join(
            [
                f"north/tx-1 voltage=1 {_ns(now)}",
                f"north/tx-1 voltage=1 {_ns(now + timedelta(hours=1))}",
                f"north/tx-1 voltage=1 {_ns(now - timedelta(days=3))}",
            ]
        )
        r = c.post("/api/v2/write?bucket=b", content=body, headers=auth)
        assert r.status_code == 400
        lines = {e["line"]: e["message"] for e in r.json()["errors"]}
        assert lines == {
            2: "timestamp: more than the allowed 300 s in the future",
            3: "timestamp: older than the retention window of 2 days",
        }
        r = c.post("/api/v2/write?bucket=b", content=f"north/tx-9 voltage=1 {_ns(now)}", headers=auth)
        assert r.status_code == 400
        assert r.json()["errors"] == [{"line": 1, "message": "device_id: unknown device 'north/tx-9'"}]
        r = c.post(
            "/api/v2/write?bucket=b",
            content="north/tx-1 voltage=1,current=2,frequency=50,temperature=9",
            headers=auth,
        )
        assert r.status_code == 413
        assert "limit is 3" in r.json()["message"]
        r = c.post("/api/v2/write?bucket=b", content="north/tx-1 voltage=1\n" * 4, headers=auth)
        assert r.status_code == 413
        assert r.json()["message"] == "the body holds more than 3 points; the limit is 3 samples per request"
        r = c.post("/api/v2/write?bucket=b", content="# only a comment\n\n", headers=auth)
        assert (r.status_code, r.json()["message"]) == (400, "writing requires points (the body holds none)")
        r = c.post("/api/v2/write?org=o", content="north/tx-1 voltage=1", headers=auth)
        assert (r.status_code, r.json()["message"]) == (400, "bucket is required")
        r = c.post("/write", content="north/tx-1 voltage=1", headers=auth)
        assert (r.status_code, r.json()["error"]) == (400, "database is required")
        r = c.post("/api/v2/write?bucket=b", content=b"north/tx-1 voltage=1 \xff", headers=auth)
        assert r.status_code == 400
        assert "not UTF-8" in r.json()["message"]
    assert _samples(database_url) == []


@pytest.mark.postgres
def test_database_outage_answers_503_and_acknowledges_nothing(postgres, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    name = postgres.create_database(template=postgres.template)
    settings = Settings(
        database_url=postgres.url(name),
        api_tokens=f"ingest:{tokens.ingest}",
        unknown_device="auto_register",
        log_json=False,
    )
    line = f"north/tx-1 voltage=230 {_ns(_t0())}"
    with TestClient(create_app(settings)) as c:
        r = c.post(
            "/api/v2/write?bucket=b", content=line, headers={"Authorization": f"Token {tokens.ingest}"}
        )
        assert r.status_code == 204
        postgres.drop_database(name)  # the database goes away under the running app
        r = c.post(
            "/api/v2/write?bucket=b", content=line, headers={"Authorization": f"Token {tokens.ingest}"}
        )
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "5"
        assert r.json() == {"code": "unavailable", "message": "the database is unavailable; retry later"}
        r = c.post(f"/write?db=d&p={tokens.ingest}", content=line)
        assert (r.status_code, r.json()) == (503, {"error": "the database is unavailable; retry later"})


def test_line_protocol_samples_raise_alarms_like_rest_ones(make_settings, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    """The commit is the REST one, observers included: a limit crossing raises the alarm."""
    with TestClient(create_app(make_settings()), headers=tokens.header("admin")) as c:
        c.put(
            "/api/v1/devices/north/tx-1",
            json={"type": "transformer", "site": "north", "nominal_voltage": 11000, "nominal_frequency": 50},
        ).raise_for_status()
        t0 = datetime.now(UTC) - timedelta(seconds=60)
        body = (
            f"north/tx-1 voltage=11000 {_ns(t0)}\nnorth/tx-1 voltage=11700 {_ns(t0 + timedelta(seconds=1))}"
        )
        r = c.post(
            "/api/v2/write?bucket=b", content=body, headers={"Authorization": f"Token {tokens.ingest}"}
        )
        assert r.status_code == 204, r.text
        items = c.get("/api/v1/alarms").json()["items"]
        assert [(a["device_id"], a["condition"], a["value"]) for a in items] == [("north/tx-1", "h", 11700)]
