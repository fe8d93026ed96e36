"""Small pure functions: durations, timestamps, token parsing, the measurement catalogue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridos.config import Role, Settings, hash_token
from gridos.errors import InvalidInput
from gridos.telemetry.catalogue import build_catalogue
from gridos.telemetry.store import from_us, to_us
from gridos.telemetry.views import parse_step


@pytest.mark.parametrize(
    ("raw", "seconds"), [("60", 60), ("30s", 30), ("5m", 300), ("1h", 3600), ("2d", 172800)]
)
def test_parse_step(raw: str, seconds: int) -> None:
    assert parse_step(raw) == seconds


@pytest.mark.parametrize("raw", ["0", "-5m", "5 parsecs", "100ms", "1.5h"])
def test_parse_step_rejects(raw: str) -> None:
    with pytest.raises(InvalidInput):
        parse_step(raw)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_microsecond_timestamps_round_trip_exactly(dt: datetime) -> None:
    assert from_us(to_us(dt)) == dt


def test_to_us_honours_offsets() -> None:
    from datetime import timezone

    utc = datetime.now(UTC).replace(microsecond=0)
    cet = utc.astimezone(timezone(timedelta(hours=1)))
    assert cet.hour != utc.hour or cet.day != utc.day
    assert to_us(cet) == to_us(utc)


def test_tokens_are_hashed_and_roles_checked() -> None:
    s = Settings(api_tokens=f"admin:plain-token, ingest:sha256:{hash_token('pre-hashed')}")
    assert s.token_roles == {hash_token("plain-token"): Role.admin, hash_token("pre-hashed"): Role.ingest}
    assert "plain-token" not in repr(s)
    with pytest.raises(ValueError, match="unknown role"):
        _ = Settings(api_tokens="root:x").token_roles
    with pytest.raises(ValueError, match="role:token"):
        _ = Settings(api_tokens="justatoken").token_roles


def test_catalogue_is_extendable() -> None:
    cat = build_catalogue("thd_voltage:%, tap_position:")
    assert cat["thd_voltage"].unit == "%" and "voltage" in cat
    with pytest.raises(ValueError):
        build_catalogue("device_id:x")
