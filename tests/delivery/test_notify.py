"""gridctl notify against a real HTTP server standing in for Slack's incoming webhook."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.delivery.gitops import gridctl, image
from tests.support.postgres import free_port
from tests.support.recorder import RecordingServer


@pytest.fixture
def webhook() -> Iterator[RecordingServer]:
    with RecordingServer(body=b"ok") as hook:
        yield hook


def slack_url(hook: RecordingServer) -> str:
    return f"{hook.url}/services/T000/B000/XXX"


def test_notification_carries_environment_image_commit_and_duration(webhook: RecordingServer) -> None:
    args = ["--env", "prod", "--image", image("n"), "--commit", "abcdef1234567890", "--duration", "754"]
    result = gridctl(
        "notify", "--status", "success", *args, "--action", "promote", "--webhook", slack_url(webhook)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "notification sent to Slack"
    (message,) = [r.json() for r in webhook.requests]
    assert message["text"] == "GridOS promote to prod: success"
    fields = [f["text"] for f in message["blocks"][1]["fields"]]
    assert fields == [
        "*Environment*\nprod",
        f"*Image*\n`{image('n')}`",
        "*Commit*\n`abcdef123456`",
        "*Duration*\n12m 34s",
    ]


def test_without_a_webhook_the_notification_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    result = gridctl("notify", "--status", "failure", "--env", "dev")
    assert result.returncode == 0
    assert "notification skipped" in result.stdout


def test_a_refused_or_unreachable_webhook_is_one_line_and_non_zero(webhook: RecordingServer) -> None:
    webhook.status, webhook.body = 403, b"invalid_token"
    result = gridctl("notify", "--status", "failure", "--env", "dev", "--webhook", slack_url(webhook))
    assert result.returncode == 1
    assert result.stderr.strip() == "gridctl notify: Slack webhook answered HTTP 403: invalid_token"
    down = gridctl(
        "notify", "--status", "success", "--env", "dev", "--webhook", f"http://127.0.0.1:{free_port()}/x"
    )
    assert (
        down.returncode == 1
        and down.stderr.strip() == "gridctl notify: Slack webhook unreachable: ConnectError"
    )
    bad = gridctl("notify", "--status", "green", "--env", "dev")
    assert bad.returncode == 2
