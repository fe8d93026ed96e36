"""Every settings class is a section of `gridos config` and of the known GRIDOS_* names: a feature that
adds its own BaseSettings without registering it in gridos.config.settings_sections would have its
variables reported as unknown and missing from `gridos config`."""

from __future__ import annotations

import importlib
import pkgutil

from pydantic_settings import BaseSettings

import gridos
from gridos.config import known_env_names, settings_sections, unknown_env_warnings


def _all_settings_classes() -> set[type[BaseSettings]]:
    for module in pkgutil.walk_packages(gridos.__path__, "gridos."):
        # __main__ runs the CLI and migrations/ are Alembic scripts: neither defines settings.
        if not module.name.endswith("__main__") and ".migrations" not in module.name:
            importlib.import_module(module.name)
    found: set[type[BaseSettings]] = set()
    pending = list(BaseSettings.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("gridos."):
            found.add(cls)
    return found


def test_every_settings_class_is_a_registered_section() -> None:
    assert _all_settings_classes() == set(settings_sections().values())


def test_unknown_names_get_the_closest_valid_one() -> None:
    env = {
        "GRIDOS_PORT": "1",
        "GRIDOS_ALARMS_FLOD_THRESHOLD": "3",
        "GRIDOS_NOTHING_LIKE_IT": "x",
        "HOME": "/",
    }
    assert unknown_env_warnings(env) == [
        "unknown setting GRIDOS_ALARMS_FLOD_THRESHOLD is ignored; did you mean GRIDOS_ALARMS_FLOOD_THRESHOLD?",
        "unknown setting GRIDOS_NOTHING_LIKE_IT is ignored",
    ]
    assert {"GRIDOS_MQTT_PASSWORD", "GRIDOS_MODBUS_REGISTER_MAP", "GRIDOS_DATA_DIR"} <= known_env_names()
