"""Issue 16, proof: schemathesis over the whole OpenAPI of a real GridOS process, on SQLite and on
PostgreSQL, with an admin token: generated requests per operation, then the stateful phase (sequences of
calls linked through the responses). 0 server errors, 0 responses that break their documented schema.

Bounded: a fixed number of examples per operation and of stateful runs, no shrinking: about 10 s per
backend on an idle machine (40 examples per operation; a one-off run with 100 found nothing more). The SSE stream is left out: it never ends by design, so a fuzzer
waiting for its body would wait forever (tests/alarms covers it)."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.postgres import PostgresServer
from tests.support.servers import GridosServer, start_gridos

pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
EXAMPLES_PER_OPERATION = 40
STATEFUL_RUNS = 15
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GridosServer]:
    env = {"GRIDOS_LOG_JSON": "false", "GRIDOS_LOG_LEVEL": "WARNING"}
    name = None
    if request.param == "postgres":
        pg: PostgresServer = request.getfixturevalue("postgres")
        name = pg.create_database(template=pg.template)  # type: ignore[attr-defined]
        env["GRIDOS_DATABASE_URL"] = pg.url(name)
    with start_gridos(tmp_path, env, start=False).start(timeout=120) as s:
        _seed(s)
        yield s
    if name is not None:
        pg.drop_database(name)


def _seed(server: GridosServer) -> None:
    """Something to find: devices, samples that raise an alarm, a rule."""
    with server.client() as c:
        c.put(
            "/api/v1/devices/north/tx-1",
            json={"type": "transformer", "site": "north", "nominal_voltage": 11000, "nominal_frequency": 50},
        ).raise_for_status()
        t0 = datetime.now(UTC) - timedelta(minutes=30)
        c.post(
            "/api/v1/scada/data",
            json=[
                {
                    "device_id": "north/tx-1",
                    "timestamp": (t0 + timedelta(seconds=i)).isoformat(),
                    "voltage": v,
                }
                for i, v in enumerate([11000, 12500, 11000, 11050])
            ],
        ).raise_for_status()
        c.post(
            "/api/v1/alarm-rules",
            json={
                "device_id": "north/tx-1",
                "measurement": "frequency",
                "limits": {"h": {"value": 50.2, "priority": "medium"}},
            },
        ).raise_for_status()


def _failures(fn: Any) -> list[str]:
    try:
        fn()
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises a BaseExceptionGroup of failures
        return ["".join(traceback.format_exception_only(exc))[:3000]]
    return []


def test_openapi_fuzz_and_stateful(server: GridosServer) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    # Server-Sent Events streams (the alarm stream, the console's live feed) never end by design: every
    # operation documented as text/event-stream is left out, whichever feature adds one.
    spec = httpx.get(f"{server.url}/openapi.json").json()
    for path, item in spec["paths"].items():
        if any("text/event-stream" in str(op.get("responses", {}).get("200")) for op in item.values()):
            schema = schema.exclude(path=path)
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    failures: dict[str, list[str]] = {}
    operations = 0

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @SETTINGS
        @given(case=operation.as_strategy())
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

        if errors := _failures(fuzz):
            failures[operation.label] = errors
    assert operations >= 30

    stateful_failures: list[str] = []
    steps: list[str] = []

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            steps.append(f"{case.method} {case.operation.path}")
            return {"headers": headers, "timeout": 30}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            try:
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:
                stateful_failures.append(f"{case.method} {case.formatted_path}: {exc}"[:3000])

    # Not derandomized: the server's state carries over from one run to the next, so a replayed sequence
    # can legitimately find different links; each failure is reported from the run that found it.
    stateful = hypothesis.settings(
        SETTINGS, max_examples=STATEFUL_RUNS, stateful_step_count=6, derandomize=False
    )

    def stateful_runs() -> None:
        # Every step's response feeds the next (links), and the server keeps what earlier runs created, so
        # the same choices can draw differently from one run to the next: Hypothesis then stops with
        # FlakyStrategyDefinition. That is the harness, not the API (a failed check is recorded above, never
        # raised); run again until enough steps were taken.
        for _ in range(5):
            with contextlib.suppress(hypothesis.errors.FlakyStrategyDefinition):
                Machine.run(settings=stateful)
            if len(steps) > STATEFUL_RUNS * 3:
                return

    if errors := _failures(stateful_runs) + stateful_failures:
        failures["stateful"] = errors
    # The stateful phase did follow links (e.g. a created device or rule read back by its id).
    assert len(steps) > STATEFUL_RUNS * 3 and len(set(steps)) > 5, steps
    # The process survived all of it.
    with server.client() as c:
        assert c.get("/api/v1/devices").status_code == 200
    assert not failures, "\n\n".join(f"{k}:\n" + "\n".join(v) for k, v in failures.items())
