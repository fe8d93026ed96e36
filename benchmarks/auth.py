"""Authentication cost: p50/p95 of `GET /api/v1/me` and of a one-sample ingest per kind of credential, on a
real `gridos serve` (SQLite) trusting a real OpenID Provider (npm oidc-provider, tests/support/oidc.py).

What each request pays: a static token is a SHA-256 and a dict scan; an API key a SHA-256 and a cached row
(one SELECT per key every GRIDOS_AUTH_KEY_CACHE_SECONDS); a bearer JWT a signature check against the cached
JWKS; a browser session one SELECT by primary key (and an UPDATE of last_seen_at every 30 s).

    uv run python -m benchmarks.auth [--requests 500]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime

import httpx

from benchmarks.common import summary_ms, workdir
from tests.support.oidc import running_oidc_provider
from tests.support.servers import start_gridos


def timed(client: httpx.Client, n: int, method: str, url: str, **kwargs: object) -> dict[str, float]:
    samples: list[float] = []
    for _ in range(n):
        started = time.perf_counter()
        r = client.request(method, url, **kwargs)  # type: ignore[arg-type]
        samples.append(time.perf_counter() - started)
        r.raise_for_status()
    return summary_ms(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    tmp = workdir("auth")
    for old in tmp.glob("gridos.db*"):
        old.unlink()
    with (
        running_oidc_provider(tmp, "http://127.0.0.1/auth/callback") as idp,
        start_gridos(tmp, idp.env() | {"GRIDOS_LOG_LEVEL": "WARNING"}) as gridos,
    ):
        admin = {"Authorization": f"Bearer {gridos.admin_token}"}
        device = {"type": "meter", "site": "bench", "expected_interval_s": 1}
        httpx.put(f"{gridos.url}/api/v1/devices/bench/m-1", json=device, headers=admin).raise_for_status()
        key = httpx.post(
            f"{gridos.url}/api/v1/keys",
            json={"name": "bench", "scopes": ["ingest", "read"]},
            headers=admin,
        ).json()["token"]
        jwt = idp.access_token("root")["access_token"]
        # A browser session, made the way /auth/callback makes one (the sign-in itself is not measured).
        from sqlalchemy import create_engine

        from gridos.config import Role
        from gridos.identity.sessions import SessionStore

        engine = create_engine(gridos.env["GRIDOS_DATABASE_URL"])
        cookie, _ = SessionStore(engine, 1800, 43200).create("bench", "bench", Role.viewer, None)
        engine.dispose()
        credentials = {
            "static token": {"headers": {"Authorization": f"Bearer {gridos.admin_token}"}},
            "API key": {"headers": {"Authorization": f"Bearer {key}"}},
            "OIDC bearer JWT": {"headers": {"Authorization": f"Bearer {jwt}"}},
            "session cookie": {"cookies": {"gridos_session": cookie}},
        }
        results: dict[str, dict[str, object]] = {}
        for name, auth in credentials.items():
            with httpx.Client(base_url=gridos.url, timeout=30, **auth) as client:  # type: ignore[arg-type]
                timed(client, 20, "GET", "/api/v1/me")  # warm-up: caches, connections
                results[name] = {"GET /api/v1/me": timed(client, args.requests, "GET", "/api/v1/me")}
        for name in ("static token", "API key"):
            with httpx.Client(base_url=gridos.url, timeout=30, **credentials[name]) as client:  # type: ignore[arg-type]
                sample = {"device_id": "bench/m-1", "voltage": 230.0}
                results[name]["POST /api/v1/scada/data (1 sample)"] = timed(
                    client,
                    args.requests,
                    "POST",
                    "/api/v1/scada/data",
                    json=sample | {"timestamp": datetime.now(UTC).isoformat()},
                )
    load = os.getloadavg()[0]
    print(
        json.dumps(
            {"requests": args.requests, "load_average_1m": round(load, 2), "results": results}, indent=2
        )
    )


if __name__ == "__main__":
    main()
