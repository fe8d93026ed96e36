"""Starting GridOS as a user would (real `gridos` processes): bind first, one process per embedded
database, the CLI's options and warnings, clean logs."""

from __future__ import annotations

import json
import logging
import re
import secrets
import socket
from pathlib import Path

from tests.support.postgres import free_port
from tests.support.servers import GridosServer, gridos_env, run_gridos, start_gridos


def test_a_taken_port_stops_the_demo_before_it_touches_any_database(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        r = run_gridos("demo", "--port", str(port), "--interval", "0.2", env=gridos_env(), cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in r.stderr
    # Neither a database nor connectors' output: the other demo's data is safe.
    assert [p.name for p in tmp_path.rglob("*") if p.suffix == ".db"] == []


def test_demo_takes_its_port_from_gridos_port(tmp_path: Path) -> None:
    """GRIDOS_PORT=<taken> gridos demo must try that port (and stop there), not 8000."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        r = run_gridos("demo", env=gridos_env(GRIDOS_PORT=str(port)), cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr


def embedded(tmp_path: Path, data: Path) -> GridosServer:
    """GridOS on its default embedded database, in `data`."""
    server = start_gridos(tmp_path, {"GRIDOS_DATA_DIR": str(data)}, start=False)
    del server.env["GRIDOS_DATABASE_URL"]
    return server.start()


def test_two_processes_never_share_an_embedded_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = embedded(tmp_path, data)
    with server:
        # The default database lives in the explicit data directory, and the log says where.
        assert (data / "gridos.db").exists()
        started = [
            json.loads(line) for line in server.log_path.read_text().splitlines() if "starting" in line
        ]
        assert started and started[0]["data_dir"] == str(data.resolve())
        second = run_gridos(
            "serve", env=server.env | {"GRIDOS_PORT": str(free_port())}, cwd=tmp_path, timeout=60
        )
        assert second.returncode == 3, second.stderr
        assert "is in use by another GridOS process" in second.stderr
        assert f"pid {server.proc.pid if server.proc else '?'}" in second.stderr
        # The first one is untouched.
        with server.client() as c:
            assert c.get("/api/v1/devices").status_code == 200
    # The lock dies with its process: a restart takes it again.
    with embedded(tmp_path, data) as again:
        assert again.proc is not None and again.proc.poll() is None


def test_version_and_serve_options() -> None:
    r = run_gridos("--version", env=gridos_env())
    assert r.returncode == 0 and re.fullmatch(r"gridos \d+\.\d+\.\d+\S*\n", r.stdout)
    r = run_gridos("serve", "--help", env=gridos_env(COLUMNS="200"))
    for option in ("--host", "--port", "--workers"):
        assert option in r.stdout
    r = run_gridos("demo", "--help", env=gridos_env(COLUMNS="200"))
    assert "GRIDOS_PORT" in r.stdout


def test_serve_options_override_the_environment(tmp_path: Path) -> None:
    """--port/--host win over GRIDOS_PORT/GRIDOS_HOST: a taken --port stops the process, a free
    GRIDOS_PORT does not rescue it (and nothing starts)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        env = gridos_env(GRIDOS_PORT=str(free_port()), GRIDOS_HOST="0.0.0.0", GRIDOS_DATA_DIR=str(tmp_path))
        r = run_gridos("serve", "--port", str(taken), "--host", "127.0.0.1", env=env)
    assert r.returncode == 3, r.stderr
    assert f"cannot listen on 127.0.0.1:{taken}" in r.stderr


def test_config_shows_every_section_with_secrets_masked() -> None:
    mqtt_password = secrets.token_urlsafe(12)
    env = gridos_env(
        GRIDOS_MQTT_PASSWORD=mqtt_password,
        GRIDOS_MQTT_HOST="broker.example",
        GRIDOS_ALARMS_FLOOD_THRESHOLD="25",
        GRIDOS_API_TOKENS="admin:very-secret-token",
    )
    r = run_gridos("config", env=env)
    assert r.returncode == 0, r.stderr
    assert mqtt_password not in r.stdout and "very-secret-token" not in r.stdout
    cfg = json.loads(r.stdout)
    assert cfg["mqtt"]["host"] == "broker.example" and cfg["mqtt"]["password"] == "***"
    assert cfg["modbus"]["enabled"] is False
    assert cfg["alarms"]["flood_threshold"] == 25
    assert cfg["api_tokens"] == "***" and cfg["port"] == 8000
    assert r.stderr == ""


def test_unknown_variables_are_named_with_the_closest_valid_one() -> None:
    r = run_gridos("config", env=gridos_env(GRIDOS_PROT="8005", GRIDOS_MQTT_HOTS="x", GRIDOS_ZZZ="1"))
    assert r.returncode == 0
    lines = r.stderr.splitlines()
    assert "unknown setting GRIDOS_PROT is ignored; did you mean GRIDOS_PORT?" in lines[1]
    assert "unknown setting GRIDOS_MQTT_HOTS is ignored; did you mean GRIDOS_MQTT_HOST?" in lines[0]
    assert lines[2].endswith("unknown setting GRIDOS_ZZZ is ignored")


def test_serve_says_at_start_when_it_has_no_tokens(tmp_path: Path) -> None:
    with socket.socket() as holder:  # a taken port: the process stops right after its start-up checks
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        env = gridos_env(
            GRIDOS_PORT=str(holder.getsockname()[1]),
            GRIDOS_DATA_DIR=str(tmp_path),
            GRIDOS_LOG_JSON="false",
            GRIDOS_PROT="1",
        )
        r = run_gridos("serve", env=env)
    assert r.returncode == 3
    assert "no API tokens configured (GRIDOS_API_TOKENS is empty)" in r.stderr
    assert "did you mean GRIDOS_PORT?" in r.stderr


def _log_entries(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_json_logs_have_no_colour_codes_and_no_line_per_request_by_default(tmp_path: Path) -> None:
    server = start_gridos(tmp_path)
    with server, server.client() as c:
        for _ in range(5):
            assert c.get("/api/v1/devices").status_code == 200
    text = server.log_path.read_text()
    assert "\x1b[" not in text and "\\u001b" not in text
    entries = _log_entries(server.log_path)
    assert any(e["msg"] == "Application startup complete." for e in entries)
    assert [e for e in entries if e["msg"] == "request"] == []
    # Every line is one JSON object.
    assert len(entries) == len([line for line in text.splitlines() if line.strip()])


def test_the_access_log_is_off_unless_asked_for() -> None:
    from gridos.observability.logging import ACCESS_LOGGER, configure_logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("INFO", json_logs=True)
        assert not logging.getLogger(ACCESS_LOGGER).isEnabledFor(logging.INFO)
        configure_logging("INFO", json_logs=True, access_log=True)
        assert logging.getLogger(ACCESS_LOGGER).isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], root.level = handlers, level
        logging.getLogger(ACCESS_LOGGER).setLevel(logging.NOTSET)
