"""gridctl notify against a real HTTP server standing in for Slack's incoming webhook."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.delivery.gitops import gridctl, image
from tests.support.postgres import free_port


class Webhook:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append(json.loads(body))
                self.send_response(hook.status)
                self.end_headers()
                self.wfile.write(b"ok" if hook.status == 200 else b"invalid_token")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/XXX"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


def test_notification_carries_environment_image_commit_and_duration(webhook: Webhook) -> None:
    args = ["--env", "prod", "--image", image("n"), "--commit", "abcdef1234567890", "--duration", "754"]
    result = gridctl("notify", "--status", "success", *args, "--action", "promote", "--webhook", webhook.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "notification sent to Slack"
    (message,) = webhook.received
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


def test_a_refused_or_unreachable_webhook_is_one_line_and_non_zero(webhook: Webhook) -> None:
    webhook.status = 403
    result = gridctl("notify", "--status", "failure", "--env", "dev", "--webhook", webhook.url)
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
