"""Deployment notifications to a Slack incoming webhook (docs/delivery.md): environment, image, commit,
duration and outcome. Without a webhook the notification is skipped, not failed, so forks and fresh
repositories run the workflows unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from gridctl.delivery.errors import DeliveryError


@dataclass
class Deployment:
    status: str  # success | failure | cancelled
    environment: str
    image: str
    commit: str
    duration_seconds: float
    action: str = "deploy"
    run_url: str = ""

    def slack_message(self) -> dict[str, Any]:
        icon = {"success": ":white_check_mark:", "failure": ":x:"}.get(self.status, ":warning:")
        minutes, seconds = divmod(round(self.duration_seconds), 60)
        title = f"{icon} GridOS {self.action} to *{self.environment}*: {self.status}"
        fields = [
            f"*Environment*\n{self.environment}",
            f"*Image*\n`{self.image or 'n/a'}`",
            f"*Commit*\n`{self.commit[:12] or 'n/a'}`",
            f"*Duration*\n{minutes}m {seconds:02d}s",
        ]
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": title}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        ]
        if self.run_url:
            blocks.append(
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": f"<{self.run_url}|workflow run>"}],
                }
            )
        return {"text": f"GridOS {self.action} to {self.environment}: {self.status}", "blocks": blocks}


def notify_slack(webhook: str | None, deployment: Deployment, timeout: float = 10.0) -> bool:
    """Post the message; False when no webhook is configured (skipped), DeliveryError when Slack refuses."""
    if not webhook:
        return False
    try:
        response = httpx.post(webhook, json=deployment.slack_message(), timeout=timeout)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"Slack webhook unreachable: {type(exc).__name__}") from None
    if response.status_code // 100 != 2:
        raise DeliveryError(
            f"Slack webhook answered HTTP {response.status_code}: {response.text.strip()[:200]}"
        )
    return True
