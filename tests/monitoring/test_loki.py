"""The Promtail pipeline reads the fields GridOS really writes (no promtail binary here: we check the contract)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ruamel.yaml import YAML

from gridos.observability.logging import JsonFormatter

PIPELINE = Path(__file__).resolve().parents[2] / "deploy" / "monitoring" / "loki" / "promtail.yaml"


def test_json_stage_fields_exist_in_gridos_log_lines() -> None:
    config = YAML(typ="safe").load(PIPELINE.read_text())
    stages = config["scrape_configs"][0]["pipeline_stages"]
    fields = next(s["json"]["expressions"] for s in stages if "json" in s)
    record = logging.makeLogRecord({"name": "gridos.app", "levelname": "INFO", "msg": "hello", "route": "/x"})
    line = json.loads(JsonFormatter().format(record))
    assert set(fields.values()) <= set(line), (fields, line)
    labels = next(s["labels"] for s in stages if "labels" in s)
    assert set(labels) <= {"level", "logger"}  # bounded values only: never request ids or routes as labels
