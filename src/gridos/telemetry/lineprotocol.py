"""InfluxDB line protocol: parse a write body into points, and map points onto GridOS samples.

Syntax (InfluxDB 1.x/2.x, https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/):

    measurement[,tag=value...] field=value[,field=value...] [timestamp]

- measurement: `\\,`, `\\ ` and `\\\\` are escapes; tag keys, tag values and field keys also escape
  `\\=`. A backslash before any other character is a literal backslash (as InfluxDB 2.x documents it).
- field values: float (`1`, `-1.5`, `2e-3`), integer (`12i`), unsigned (`12u`), string (`"a \\"b\\""`, where
  only `\\"` and `\\\\` are escapes and a newline may appear inside the quotes), boolean (t, T, true, True,
  TRUE, f, F, false, False, FALSE).
- timestamp: a signed 64-bit integer in the request's precision; absent means "now" (server time).
- blank lines and lines starting with `#` are skipped; leading spaces/tabs and a trailing `\\r` are ignored.

Two paths give the same result: a fast one for lines with neither a backslash nor a double quote (what
Telegraf and the client libraries send for numeric fields, i.e. nearly every line), done with str.split,
and a character scanner for everything else and for every error, so error messages come from one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gridos.clock import from_us

FieldValue = float | int | bool | str

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1

_FLOAT = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INT = re.compile(r"-?\d+")
_UINT = re.compile(r"\d+")
_INFINITIES = (float("inf"), float("-inf"))
_BOOLS = {
    "t": True,
    "T": True,
    "true": True,
    "True": True,
    "TRUE": True,
    "f": False,
    "F": False,
    "false": False,
    "False": False,
    "FALSE": False,
}

# Microseconds per unit of each accepted precision (GridOS keeps microseconds). Nanoseconds are
# floored to the microsecond: see docs/ingest.md.
PRECISION_V2 = {"ns": "ns", "us": "us", "ms": "ms", "s": "s"}
PRECISION_V1 = {
    "n": "ns",
    "ns": "ns",
    "u": "us",
    "us": "us",
    "µ": "us",
    "ms": "ms",
    "s": "s",
    "m": "m",
    "h": "h",
}
_US_PER = {"us": 1, "ms": 1000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000}


class LineProtocolError(ValueError):
    """One bad line: its 1-based number in the body and what is wrong with it."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass(slots=True)
class LinePoint:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    timestamp: int | None
    line: int = field(default=0, compare=False)


class _Bad(Exception):
    """Internal: a syntax error inside one line (the caller adds the line number)."""


def parse_field_value(raw: str) -> FieldValue:
    """An unquoted field value: integer, unsigned, boolean or float (strings are handled by the scanner)."""
    last = raw[-1:] if raw else ""
    if last == "i":
        if not _INT.fullmatch(raw, 0, len(raw) - 1):
            raise _Bad(f"invalid integer {raw!r}")
        value = int(raw[:-1])
        if not INT64_MIN <= value <= INT64_MAX:
            raise _Bad(f"integer {raw!r} out of the signed 64-bit range")
        return value
    if last == "u":
        if not _UINT.fullmatch(raw, 0, len(raw) - 1):
            raise _Bad(f"invalid unsigned integer {raw!r}")
        value = int(raw[:-1])
        if value > UINT64_MAX:
            raise _Bad(f"unsigned integer {raw!r} out of the 64-bit range")
        return value
    b = _BOOLS.get(raw)
    if b is not None:
        return b
    if not _FLOAT.fullmatch(raw):
        raise _Bad(f"invalid field value {raw!r} (a number, 12i, 12u, a boolean or a quoted string)")
    number = float(raw)
    if number in _INFINITIES:
        raise _Bad(f"float {raw!r} out of range")
    return number


def _parse_timestamp(raw: str) -> int:
    if not _INT.fullmatch(raw):
        raise _Bad(f"invalid timestamp {raw!r} (an integer in the request's precision)")
    value = int(raw)
    if not INT64_MIN <= value <= INT64_MAX:
        raise _Bad(f"timestamp {raw!r} out of the signed 64-bit range")
    return value


def _fast(line: str) -> LinePoint | None:
    """A line with no backslash and no double quote: plain splits. None = let the scanner decide
    (which also produces the error message when the line is bad)."""
    parts = line.split(" ")
    if len(parts) == 2:
        series, fieldset = parts
        ts: int | None = None
    elif len(parts) == 3:
        series, fieldset, raw_ts = parts
        if not raw_ts:
            return None
        try:
            ts = _parse_timestamp(raw_ts)
        except _Bad:
            return None
    else:
        return None
    head = series.split(",")
    measurement = head[0]
    if not measurement or measurement[0] == "#":
        return None
    tags: dict[str, str] = {}
    for pair in head[1:]:
        key, _eq, value = pair.partition("=")
        if not key or not value or "=" in value or key in tags:
            return None
        tags[key] = value
    fields: dict[str, FieldValue] = {}
    is_float = _FLOAT.fullmatch
    for pair in fieldset.split(","):
        key, _eq, raw = pair.partition("=")
        if not key or key in fields:
            return None
        if is_float(raw):  # the common case first (a '=' in `raw` matches no value syntax)
            number = float(raw)
            if number in _INFINITIES:
                return None
            fields[key] = number
            continue
        try:
            fields[key] = parse_field_value(raw)
        except _Bad:
            return None
    return LinePoint(measurement, tags, fields, ts)


class _Scanner:
    """Character scanner over the whole body (a quoted string field may span lines)."""

    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos

    def _token(self, stops: str, escapes: str) -> str:
        """Read up to an unescaped char of `stops` (or end of line/body); `\\x` for x in escapes -> x."""
        text, n = self.text, len(self.text)
        out: list[str] = []
        i = self.pos
        while i < n:
            c = text[i]
            if c == "\\" and i + 1 < n and text[i + 1] in escapes:
                out.append(text[i + 1])
                i += 2
                continue
            if c in stops or c == "\n":
                break
            out.append(c)
            i += 1
        self.pos = i
        return "".join(out)

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else "\n"

    def _string(self) -> str:
        """A quoted field value; the opening quote is at self.pos."""
        text, n = self.text, len(self.text)
        i = self.pos + 1
        out: list[str] = []
        while i < n:
            c = text[i]
            if c == "\\" and i + 1 < n and text[i + 1] in '"\\':
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                self.pos = i + 1
                return "".join(out)
            out.append(c)
            i += 1
        raise _Bad("unterminated quoted string")

    def point(self) -> LinePoint:
        measurement = self._token(", ", ", \\")
        if not measurement:
            raise _Bad("missing measurement")
        tags: dict[str, str] = {}
        while self._peek() == ",":
            self.pos += 1
            key = self._token("=, ", ",= \\")
            if self._peek() != "=" or not key:
                raise _Bad(f"invalid tag {key!r}: expected key=value")
            self.pos += 1
            tag_value = self._token("=, ", ",= \\")
            if not tag_value:
                raise _Bad(f"tag {key!r} has no value")
            if self._peek() == "=":
                raise _Bad(f"tag {key!r}: unescaped '=' in its value")
            if key in tags:
                raise _Bad(f"duplicate tag {key!r}")
            tags[key] = tag_value
        if self._peek() != " ":
            raise _Bad("missing fields")
        self.pos += 1
        fields: dict[str, FieldValue] = {}
        while True:
            key = self._token("=, ", ",= \\")
            if not key:
                raise _Bad("missing field key" if not fields else "empty field after ','")
            if self._peek() != "=":
                raise _Bad(f"field {key!r} has no value")
            self.pos += 1
            if self._peek() == '"':
                value: FieldValue = self._string()
            else:
                start = self.pos
                text, n = self.text, len(self.text)
                while self.pos < n and text[self.pos] not in ", \r\n":
                    self.pos += 1
                raw = text[start : self.pos]
                if not raw:
                    raise _Bad(f"field {key!r} has no value")
                value = parse_field_value(raw)
            if key in fields:
                raise _Bad(f"duplicate field {key!r}")
            fields[key] = value
            nxt = self._peek()
            if nxt == ",":
                self.pos += 1
                continue
            break
        ts: int | None = None
        if self._peek() == " ":
            self.pos += 1
            start = self.pos
            text, n = self.text, len(self.text)
            while self.pos < n and text[self.pos] != "\n":
                self.pos += 1
            raw_ts = text[start : self.pos].rstrip("\r")
            if raw_ts:
                ts = _parse_timestamp(raw_ts)
        elif self._peek() not in "\n\r":
            raise _Bad(f"unexpected {self._peek()!r} after the fields")
        else:
            while self.pos < len(self.text) and self.text[self.pos] == "\r":
                self.pos += 1
            if self._peek() != "\n":
                raise _Bad("unexpected carriage return")
        return LinePoint(measurement, tags, fields, ts)


class TooManyPoints(ValueError):
    """The body holds more points than the caller accepts (each point is at least one sample)."""


def parse(
    text: str, max_errors: int = 1000, max_points: int | None = None
) -> tuple[list[LinePoint], list[LineProtocolError]]:
    """Every point of a body, and one error per bad line: every line is looked at, so that a client
    learns about all of them at once, up to `max_errors` bad lines (then parsing stops with a last error
    saying so). `errors` is empty only when the whole body is valid. More than `max_points` points raise
    TooManyPoints as soon as that is certain, before they are all built."""
    points: list[LinePoint] = []
    errors: list[LineProtocolError] = []
    pos, n, lineno = 0, len(text), 0
    while pos < n:
        lineno += 1
        end = text.find("\n", pos)
        if end < 0:
            end = n
        start = pos
        while start < end and text[start] in " \t":
            start += 1
        line = text[start:end]
        if line.endswith("\r"):
            line = line[:-1]
        if not line or line[0] == "#":
            pos = end + 1
            continue
        if max_points is not None and len(points) >= max_points:
            raise TooManyPoints(f"the body holds more than {max_points} points")
        if "\\" not in line and '"' not in line:
            fast = _fast(line)
            if fast is not None:
                fast.line = lineno
                points.append(fast)
                pos = end + 1
                continue
        scanner = _Scanner(text, start)
        try:
            point = scanner.point()
        except _Bad as exc:
            errors.append(LineProtocolError(lineno, str(exc)))
            if len(errors) >= max_errors:
                errors.append(LineProtocolError(lineno, f"stopped after {max_errors} bad lines"))
                break
            # Skip to the end of the physical line and carry on, to report every bad line.
            pos = end + 1
            continue
        point.line = lineno
        points.append(point)
        # A quoted string may have spanned lines: count them.
        lineno += text.count("\n", end, scanner.pos) if scanner.pos > end else 0
        pos = scanner.pos + 1
    return points, errors


def to_microseconds(ts: int, precision: str) -> int:
    """A timestamp in `precision` (a value of PRECISION_V1/V2) -> integer microseconds (ns are floored)."""
    if precision == "ns":
        return ts // 1000
    return ts * _US_PER[precision]


_DATETIME_MIN_US = -62_135_596_800_000_000  # 0001-01-01
_DATETIME_MAX_US = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999


@dataclass(slots=True)
class Mapped:
    """GridOS sample items (dicts for the ingest model) and, for each, the body line it came from."""

    items: list[dict[str, Any]]
    lines: list[int]
    errors: list[LineProtocolError]


# The tags GridOS reads; every other tag (Telegraf's `host`, ...) is ignored: devices carry their site
# and type in the device registry, not in each sample.
DEVICE_TAG = "device_id"
QUALITY_TAG = "quality"


def to_items(points: list[LinePoint], precision: str, reserved: frozenset[str]) -> Mapped:
    """Points -> items of the REST ingest model: device = the `device_id` tag, else the measurement name;
    quality = the `quality` tag (default good); each field is a catalogue measurement. The ingest model
    then applies exactly the REST validation rules (known measurement, type, physical bounds)."""
    items: list[dict[str, Any]] = []
    lines: list[int] = []
    errors: list[LineProtocolError] = []
    stamps: dict[int, datetime] = {}
    for p in points:
        bad = [k for k in p.fields if k in reserved]
        if bad:
            errors.append(
                LineProtocolError(p.line, f"field {bad[0]!r} is reserved: send it as a tag, not a field")
            )
            continue
        item: dict[str, Any] = dict(p.fields)
        item["device_id"] = p.tags.get(DEVICE_TAG, p.measurement)
        quality = p.tags.get(QUALITY_TAG)
        if quality is not None:
            item["quality"] = quality
        if p.timestamp is not None:
            stamp = stamps.get(p.timestamp)
            if stamp is None:
                us = to_microseconds(p.timestamp, precision)
                if not _DATETIME_MIN_US <= us <= _DATETIME_MAX_US:
                    errors.append(LineProtocolError(p.line, f"timestamp {p.timestamp} out of range"))
                    continue
                stamp = stamps[p.timestamp] = from_us(us)
            item["timestamp"] = stamp
        items.append(item)
        lines.append(p.line)
    return Mapped(items, lines, errors)
