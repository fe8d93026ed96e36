"""Every settings class is a section of `gridos config` and of the known GRIDOS_* names: a feature that
adds its own BaseSettings without registering it in gridos.config.settings_sections would have its
variables reported as unknown and missing from `gridos config`."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from pydantic import ValidationError
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
    assert {
        "GRIDOS_MQTT_PASSWORD",
        "GRIDOS_MODBUS_REGISTER_MAP",
        "GRIDOS_DATA_DIR",
        "GRIDOS_ROLLUP_INTERVAL_SECONDS",
    } <= known_env_names()


def test_one_settings_object_reads_every_section_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from gridos.config import Settings

    # The environment is the interface of `gridos serve`: this test is about reading it.
    monkeypatch.setenv("GRIDOS_ALARMS_FLOOD_THRESHOLD", "25")
    monkeypatch.setenv("GRIDOS_MQTT_PASSWORD", "s3cret")
    settings = Settings(port=8123)
    assert settings.alarms.flood_threshold == 25 and settings.port == 8123
    monkeypatch.setenv("GRIDOS_ALARMS_FLOOD_THRESHOLD", "99")
    changed = settings.replace(mqtt={"enabled": True, "port": 8883})
    # A copy with the given values; nothing read from the environment again.
    assert changed.alarms.flood_threshold == 25 and changed.mqtt.port == 8883 and changed.mqtt.enabled
    assert not settings.mqtt.enabled
    masked = changed.masked()
    assert masked["mqtt"]["password"] == "***" and masked["alarms"]["flood_threshold"] == 25
    assert list(masked)[-7:] == list(settings_sections())[1:]


def test_an_invalid_value_names_its_variable() -> None:
    from pydantic import ValidationError

    from gridos.config import Settings, invalid_setting

    for values, variable in (
        ({"mqtt": {"port": 70000}}, "GRIDOS_MQTT_PORT"),
        ({"alarms": {"flood_threshold": 0}}, "GRIDOS_ALARMS_FLOOD_THRESHOLD"),
        ({"identity": {"oidc_leeway_seconds": -1}}, "GRIDOS_OIDC_LEEWAY_SECONDS"),
        ({"fault_error_rate": 2}, "GRIDOS_FAULT_ERROR_RATE"),
    ):
        with pytest.raises(ValidationError) as refused:
            Settings(**values)  # type: ignore[arg-type]
        assert invalid_setting(refused.value).startswith(f"{variable}: ")


@pytest.mark.parametrize(
    ("values", "floor"),
    [
        ({"retention_days": 30, "rollup_retention_days": 29}, "GRIDOS_RETENTION_DAYS (raw samples) = 30"),
        (
            {"rollup_retention_days": 7, "archive": {"location": "/tmp/cold", "after_days": 7}},
            "GRIDOS_ARCHIVE_AFTER_DAYS + 1 (a day for the archiver) = 8",
        ),
    ],
)
def test_rollups_must_outlive_what_minute_steps_read_from_them(values: dict, floor: str) -> None:
    from gridos.config import Settings, invalid_setting

    with pytest.raises(ValidationError) as caught:
        Settings(**values)
    assert invalid_setting(caught.value) == (
        f"GRIDOS_ROLLUP_RETENTION_DAYS ({values['rollup_retention_days']}) is below {floor}: minute-step "
        "history of the days in between would come back empty"
    )
    # At the floor it is accepted.
    Settings(**(values | {"rollup_retention_days": int(floor.rsplit(" ", 1)[1])}))
