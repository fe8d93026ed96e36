"""InfluxDB-compatible write API: `POST /api/v2/write` (InfluxDB 2.x) and `POST /write` (1.x), so that
Telegraf, Node-RED and the InfluxDB client libraries send to GridOS unchanged.

The body (line protocol, optionally gzip-compressed) becomes items of the REST ingest model and goes
through the same TelemetryService steps as `POST /api/v1/scada/data`: the same validation rules, the
same idempotent store, the same observers (alarms). A 204 means every point is committed; any error means
none is (GridOS does not do InfluxDB 1.x's partial writes: see docs/ingest.md). Errors use InfluxDB's JSON
shapes (v2: {"code", "message", "line"}; v1: {"error"}) so clients report them, plus an `errors` list
naming every bad line.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.requests import Request as StarletteRequest

from gridos.deps import telemetry
from gridos.errors import GridosError, InvalidInput, PayloadTooLarge
from gridos.http import fault_injection
from gridos.security import INGEST, require
from gridos.telemetry import lineprotocol as lp
from gridos.telemetry.catalogue import RESERVED_FIELDS
from gridos.telemetry.schemas import list_adapter
from gridos.telemetry.service import TelemetryService

F = TypeVar("F", bound=Callable[..., Any])

# Not an api_router (GuardedRoute): that guard authenticates with `Authorization: Bearer` only, and these
# routes take InfluxDB's credential forms (Token, Basic, u/p). They keep its order themselves: credentials
# are checked (_authorize) before the body is read, and the body is bounded while it streams (_read_body).
router = APIRouter(tags=["line protocol"], dependencies=[Depends(fault_injection)])
SOURCE = "line_protocol"
MAX_ERRORS = 50  # listed in a response; the count covers them all
_require_ingest = require(INGEST)
# Errors in InfluxDB's own JSON shapes (what its clients parse), not problem+json: the OpenAPI says so, and
# `x-error-format` tells the generic problem documentation (gridos.identity.openapi, gridos.app) to keep out.
ERROR_FORMAT = {"x-error-format": "influxdb"}
_LINES = {"line": {"type": "integer"}, "errors": {"type": "array", "items": {"type": "object"}}}
_V2_ERROR = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "maxLength": {"type": "integer"},
    }
    | _LINES,
}
_V1_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}} | _LINES}


def _responses(error: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    content = {"application/json": {"schema": error}}
    return {
        204: {"description": "every point committed"},
        "4XX": {"description": "nothing was written: bad input, credentials or size", "content": content},
        "5XX": {
            "description": "nothing was written: a dependency is unavailable (retry)",
            "content": content,
        },
    }


class WriteError(Exception):
    """A refused write, rendered in the InfluxDB shape of the endpoint it came to."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        max_length: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []
        self.headers = headers or {}
        self.max_length = max_length


_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    413: "request too large",
    415: "invalid",
    503: "unavailable",
}


def _render(exc: WriteError, v1: bool) -> JSONResponse:
    body: dict[str, Any]
    headers = dict(exc.headers)
    if v1:
        body = {"error": exc.message}
        # A header value must be printable ASCII; the body keeps the exact message.
        headers["X-Influxdb-Error"] = "".join(c if " " <= c < "\x7f" else "?" for c in exc.message[:500])
    else:
        body = {"code": exc.code, "message": exc.message}
        if exc.max_length is not None:
            body["maxLength"] = exc.max_length  # InfluxDB 2.x's LineProtocolLengthError
    if exc.errors:
        body["line"] = exc.errors[0]["line"]
        body["errors"] = exc.errors[:MAX_ERRORS]
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Token realm="GridOS"' if not v1 else 'Basic realm="GridOS"'
    return JSONResponse(body, status_code=exc.status, headers=headers)


# -- authentication: InfluxDB credentials -> GridOS's bearer-token check ------------------------------


def _credential(request: Request, v1: bool) -> str | None:
    """The token a client presents: `Token` or `Bearer` (v2 libraries send `Token`); for 1.x also Basic
    auth or the `u`/`p` query parameters, where the password is the token and the user name is ignored."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme in ("token", "bearer") and value:
        return value
    if v1 and scheme == "basic" and value:
        try:
            _user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise WriteError(401, "unauthorized", "malformed Basic credentials") from None
        return password or None
    if v1 and request.query_params.get("p"):
        return request.query_params["p"]
    return None


def _authorize(request: Request, v1: bool) -> None:
    """Present the token to gridos.security exactly as a REST client would (Authorization: Bearer), so
    the roles, digests and whatever else security.require checks apply unchanged."""
    token = _credential(request, v1)
    if token is None:
        forms = "Authorization: Token <token> (or Bearer <token>)"
        if v1:
            forms += ", Basic auth with the token as password, or ?u=<any>&p=<token>"
        raise WriteError(401, "unauthorized", f"missing credentials: {forms}")
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
    headers.append((b"authorization", f"Bearer {token}".encode("latin-1", "replace")))
    # The scope's `state` dict is shared, so security's request.state.role reaches the real request.
    shim = StarletteRequest({**request.scope, "headers": headers})
    try:
        _require_ingest(shim)
    except GridosError as exc:
        raise WriteError(exc.status, _CODES.get(exc.status, "unauthorized"), exc.detail) from None


# -- body ------------------------------------------------------------------------------------------


def _decode(body: bytes, encoding: str, limit: int) -> str:
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        # Bounded inflate: a small gzip body must not expand past the limit (a "zip bomb").
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise WriteError(400, "invalid", f"body is not valid gzip: {exc}") from None
        if len(body) > limit or inflater.unconsumed_tail:
            raise _too_large(f"decompressed body exceeds {limit} bytes", limit)
        if not inflater.eof:
            raise WriteError(400, "invalid", "gzip body is truncated")
    elif encoding not in ("", "identity"):
        raise WriteError(415, "invalid", f"unsupported Content-Encoding {encoding!r} (gzip or identity)")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WriteError(400, "invalid", f"body is not UTF-8: {exc}") from None


def _too_large(message: str, limit: int) -> WriteError:
    return WriteError(413, "request too large", message, max_length=limit)


def _line_errors(errors: list[lp.LineProtocolError]) -> list[dict[str, Any]]:
    return [{"line": e.line, "message": e.message} for e in sorted(errors, key=lambda e: e.line)]


def _refuse(errors: list[dict[str, Any]]) -> WriteError:
    first = errors[0]
    more = f" (and {len(errors) - 1} more bad line(s))" if len(errors) > 1 else ""
    return WriteError(
        400,
        "invalid",
        f"line {first['line']}: {first['message']}{more}; nothing was written",
        errors=errors,
    )


def _validation_errors(exc: ValidationError, lines: list[int], known: str) -> list[lp.LineProtocolError]:
    out: list[lp.LineProtocolError] = []
    for err in exc.errors(include_url=False):
        loc = list(err["loc"])
        first = loc.pop(0) if loc else 0
        index = first if isinstance(first, int) else 0
        name = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            message = f"field {name!r} is not a GridOS measurement (known: {known})"
        elif name == "device_id":
            message = (
                f"device id {err.get('input')!r} (the device_id tag, else the measurement): {err['msg']}"
            )
        elif name == "quality":
            message = f"quality tag: {err['msg']}"
        else:
            message = f"field {name!r}: {err['msg']}"
        out.append(lp.LineProtocolError(lines[index], message))
    return out


def write_lines(svc: TelemetryService, body: str, precision: str) -> int:
    """Parse, validate and commit a line-protocol body: all of it, or nothing. Returns samples stored."""
    limit = svc.settings.max_batch_samples
    try:
        # Every point carries at least one sample: past the batch limit the answer is 413 whatever the
        # rest holds, so stop before building it all.
        points, errors = lp.parse(body, max_points=limit)
    except lp.TooManyPoints as exc:
        svc.metrics.ingest_rejected.labels(reason="too_large").inc()
        raise _too_large(f"{exc}; the limit is {limit} samples per request", limit) from None
    mapped = lp.to_items(points, precision, RESERVED_FIELDS)
    errors += mapped.errors
    if mapped.items:
        try:
            items = list_adapter(svc.sample_model).validate_python(mapped.items)
        except ValidationError as exc:
            errors += _validation_errors(exc, mapped.lines, ", ".join(svc.catalogue))
    if errors:
        svc.metrics.ingest_rejected.labels(reason="invalid").inc()
        raise _refuse(_line_errors(errors))
    if not mapped.items:
        svc.metrics.ingest_rejected.labels(reason="invalid").inc()
        raise WriteError(400, "invalid", "writing requires points (the body holds none)")
    try:
        rows = svc.to_rows(items)
    except PayloadTooLarge as exc:
        raise _too_large(exc.detail, limit) from None
    except InvalidInput as exc:
        # The clock and registry rules (future/retention window, unknown device) name items: -> lines.
        listed = exc.extensions.get("errors") or []
        line_errors = [
            {
                "line": mapped.lines[e["item"]] if isinstance(e.get("item"), int) else None,
                "message": (f"{e['field']}: " if e.get("field") else "") + str(e.get("message")),
            }
            for e in listed
        ]
        if not line_errors:
            raise WriteError(400, "invalid", exc.detail) from None
        raise _refuse(line_errors) from None
    return svc.commit(rows, SOURCE).stored


async def _write(
    request: Request, svc: TelemetryService, v1: bool, target: str | None, precision: str | None
) -> Response:
    """Authenticate first (like InfluxDB, nothing else is said to an unknown client), then the query."""
    try:
        _authorize(request, v1)
        if not target:
            raise WriteError(400, "invalid", "database is required" if v1 else "bucket is required")
        unit = _precision(precision, lp.PRECISION_V1 if v1 else lp.PRECISION_V2)
        limit = svc.settings.max_body_bytes
        raw = await _read_body(request, limit, svc)
        encoding = request.headers.get("content-encoding", "")

        def inflate_and_write() -> int:
            return write_lines(svc, _decode(raw, encoding, limit), unit)

        # Inflating and parsing a large batch is CPU work: keep it off the event loop with the commit.
        await run_in_threadpool(inflate_and_write)
    except WriteError as exc:
        return _render(exc, v1)
    except (OperationalError, DBAPIError) as exc:
        if not exc.connection_invalidated and not isinstance(exc, OperationalError):
            raise
        # Nothing was acknowledged: the client (Telegraf, the client libraries) retries on 503.
        return _render(
            WriteError(
                503, "unavailable", "the database is unavailable; retry later", headers={"Retry-After": "5"}
            ),
            v1,
        )
    return Response(status_code=204)


async def _read_body(request: Request, limit: int, svc: TelemetryService) -> bytes:
    """The body, refused with 413 as soon as it passes the limit (never buffered whole beyond it)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            svc.metrics.ingest_rejected.labels(reason="too_large").inc()
            raise _too_large(f"body exceeds {limit} bytes", limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _precision(raw: str | None, table: dict[str, str]) -> str:
    if not raw:
        return "ns"
    value = table.get(raw)
    if value is None:
        raise WriteError(400, "invalid", f"invalid precision {raw!r}; one of {', '.join(table)}")
    return value


def _write_route(path: str, api: str, error: dict[str, Any]) -> Callable[[F], F]:
    """POST `path`: a line protocol body, 204 once every point is committed, InfluxDB `api` errors."""
    return router.post(
        path,
        status_code=204,
        responses=_responses(error),
        summary=f"Write InfluxDB line protocol (InfluxDB {api} API); 204 means every point is committed",
        openapi_extra={
            "requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}
        }
        | ERROR_FORMAT,
    )


@_write_route("/api/v2/write", "2.x", _V2_ERROR)
async def write_v2(
    request: Request,
    svc: Annotated[TelemetryService, Depends(telemetry)],
    bucket: Annotated[str | None, Query(description="required like InfluxDB's; not interpreted")] = None,
    org: Annotated[str | None, Query(description="accepted, not interpreted")] = None,
    precision: Annotated[str | None, Query(description="ns (default), us, ms or s")] = None,
) -> Response:
    return await _write(request, svc, False, bucket, precision)


@_write_route("/write", "1.x", _V1_ERROR)
async def write_v1(
    request: Request,
    svc: Annotated[TelemetryService, Depends(telemetry)],
    db: Annotated[str | None, Query(description="required like InfluxDB's; not interpreted")] = None,
    precision: Annotated[str | None, Query(description="n/ns (default), u/us, ms, s, m, h")] = None,
    rp: Annotated[str | None, Query(description="accepted, not interpreted")] = None,
) -> Response:
    return await _write(request, svc, True, db, precision)
