"""The Alloy log pipeline (deploy/k8s/platform/logging/config.alloy) reads the fields GridOS really writes and
keeps Promtail's bounded label set. No alloy binary here: the test reads the blocks of the configuration it
checks (a small reader for the subset of the Alloy syntax used: blocks, attributes, object literals)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from gridos.observability.logging import JsonFormatter

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "platform" / "logging" / "config.alloy"
# The labels the Promtail pipeline attached (kept on the move to Alloy): dashboards and alerts query them.
PROMTAIL_LABELS = {"namespace", "pod", "container", "app", "rollouts_pod_template_hash"}


def _text() -> str:
    return "\n".join(line.split("//", 1)[0] for line in CONFIG.read_text().splitlines())


def _block(text: str, header: str) -> str:
    """The body of the first block whose header is `header` (e.g. 'stage.json' or 'loki.process "gridos"')."""
    start = text.index(header + " {") + len(header) + 2
    depth, i = 1, start
    while depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[start : i - 1]


def _object(body: str, attribute: str) -> dict[str, str]:
    inner = _block(body, f"{attribute} =")
    return dict(re.findall(r'(\w+)\s*=\s*"([^"]*)"', inner))


def test_braces_balance() -> None:
    text = _text()
    assert text.count("{") == text.count("}")


def test_json_stage_fields_exist_in_gridos_log_lines() -> None:
    process = _block(_text(), 'loki.process "gridos"')
    fields = _object(_block(process, "stage.json"), "expressions")
    record = logging.makeLogRecord({"name": "gridos.app", "levelname": "INFO", "msg": "hello", "route": "/x"})
    line = json.loads(JsonFormatter().format(record))
    assert fields and set(fields.values()) <= set(line), (fields, line)
    labels = _object(_block(process, "stage.labels"), "values")
    assert set(labels) == {"level", "logger"}  # bounded values only: never request ids or routes as labels
    timestamp = _block(process, "stage.timestamp")
    assert 'source = "ts"' in timestamp and "ts" in fields


def test_relabel_keeps_gridos_pods_and_promtails_labels() -> None:
    relabel = _block(_text(), 'discovery.relabel "gridos"')
    targets = set(re.findall(r'target_label\s*=\s*"(\w+)"', relabel))
    assert PROMTAIL_LABELS | {"__path__"} == targets
    assert re.search(r'regex\s*=\s*"gridos"\s*\n\s*action\s*=\s*"keep"', relabel)


def test_pipeline_is_wired_end_to_end() -> None:
    text = _text()
    for ref in re.findall(r"forward_to\s*=\s*\[([^\]]+)\]", text):
        component = ref.strip().rsplit(".receiver", 1)[0]
        kind, _, name = component.rpartition(".")
        assert f'{kind} "{name}"' in text, f"{ref} forwards to a component that is not defined"
    assert "loki.source.file" in text and "loki.write" in text
