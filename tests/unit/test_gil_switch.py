"""GRIDOS_GIL_SWITCH_INTERVAL_MS: every app (each worker process builds one) sets how long a thread may hold
the GIL while others wait, which bounds how long a request back from the database waits for a thread
validating a large batch (docs/benchmarks.md, alarm latency)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from gridos.app import create_app


@pytest.fixture
def restore_switch_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("restore_switch_interval")
def test_app_sets_the_switch_interval(make_settings) -> None:  # type: ignore[no-untyped-def]
    sys.setswitchinterval(0.005)
    create_app(make_settings())
    assert sys.getswitchinterval() == pytest.approx(0.001)
    create_app(make_settings({"GRIDOS_GIL_SWITCH_INTERVAL_MS": "2.5"}))
    assert sys.getswitchinterval() == pytest.approx(0.0025)
