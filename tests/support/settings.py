"""Settings for an in-process app from GRIDOS_* names: the same dict configures a `gridos serve` subprocess
(as its environment) and, through `settings_values`, the Settings object of an app built in the test
process, which never touches os.environ."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gridos.config import settings_sections


def settings_values(env: Mapping[str, str]) -> dict[str, Any]:
    """Settings keyword values for `env`: core values by field name, each section's values as a dict."""
    sections = sorted(
        settings_sections().items(), key=lambda item: -len(str(item[1].model_config.get("env_prefix", "")))
    )
    values: dict[str, Any] = {}
    for name, value in env.items():
        for section, cls in sections:
            prefix = str(cls.model_config.get("env_prefix", ""))
            field = name.removeprefix(prefix).lower()
            if name.startswith(prefix) and field in cls.model_fields:
                if section == "core":
                    values[field] = value
                else:
                    values.setdefault(section, {})[field] = value
                break
        else:
            raise KeyError(f"{name} is not a GridOS setting")
    return values
