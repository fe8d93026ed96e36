"""The line-protocol parser, against the official InfluxDB client's serializer (influxdb-client's Point)
and against the syntax rules of InfluxDB's line-protocol reference."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from influxdb_client import Point

from gridos.telemetry.lineprotocol import (
    INT64_MAX,
    INT64_MIN,
    LinePoint,
    TooManyPoints,
    parse,
    to_items,
    to_microseconds,
)

# The client escapes ',', '=' and ' ' but not '\\' in names, and writes '\n' as the two characters
# backslash + n, so names with those characters do not survive its serializer (nor InfluxDB's parser):
# they are covered by the explicit cases below instead.
_NAME_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\\\n\r\t")
names = st.text(_NAME_CHARS, min_size=1, max_size=12)
measurements = names.filter(lambda s: not s.startswith("#"))
field_values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(INT64_MIN, INT64_MAX),
    st.booleans(),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),  # quotes, backslashes, newlines
)
points = st.builds(
    lambda m, tags, fields, ts: (m, tags, fields, ts),
    measurements,
    st.dictionaries(names, names, max_size=4),
    st.dictionaries(names, field_values, min_size=1, max_size=5),
    st.one_of(st.none(), st.integers(INT64_MIN, INT64_MAX)),
)


def _serialize(m: str, tags: dict[str, str], fields: dict[str, object], ts: int | None) -> str:
    p = Point(m)
    for k, v in tags.items():
        p.tag(k, v)
    for k, v in fields.items():
        p.field(k, v)
    if ts is not None:
        p.time(ts)
    return p.to_line_protocol()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(points, min_size=1, max_size=6))
def test_parses_what_the_official_client_serializes(batch: list[tuple]) -> None:
    lines = [_serialize(*p) for p in batch]
    parsed, errors = parse("\n".join(lines))
    assert errors == []
    assert len(parsed) == len(batch)
    lineno = 1
    for (m, tags, fields, ts), line, got in zip(batch, lines, parsed, strict=True):
        assert got == LinePoint(m, tags, fields, ts)
        # Types survive: the client writes ints as 12i, floats without a suffix, bools as true/false.
        for key, value in fields.items():
            assert type(got.fields[key]) is type(value)
        # Line numbers count physical lines: a string field may hold newlines.
        assert got.line == lineno
        lineno += line.count("\n") + 1


@settings(max_examples=200, deadline=None)
@given(st.lists(points, min_size=1, max_size=4))
def test_fast_path_and_scanner_agree(batch: list[tuple]) -> None:
    """Lines without a backslash or a quote take the split-based fast path; the same points with a string
    field take the character scanner: both must read them the same way."""
    plain = [
        (m, tags, {k: v for k, v in fields.items() if not isinstance(v, str)} or {"f": 1.0}, ts)
        for m, tags, fields, ts in batch
    ]
    body = "\n".join(_serialize(*p) for p in plain)
    fast, errors = parse(body)
    assert errors == []
    # The same points with a string field added go through the scanner (a '"' disables the fast path).
    slow, errors = parse("\n".join(_serialize(m, t, {**f, "zz_s": "x"}, ts) for m, t, f, ts in plain))
    assert errors == []
    for a, b in zip(fast, slow, strict=True):
        assert b.fields.pop("zz_s") == "x"
        assert a == b


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("cpu value=1", LinePoint("cpu", {}, {"value": 1.0}, None)),
        ("cpu,host=a value=1i 10", LinePoint("cpu", {"host": "a"}, {"value": 1}, 10)),
        ("cpu u=18446744073709551615u", LinePoint("cpu", {}, {"u": 2**64 - 1}, None)),
        (
            "c\\,p\\ u,t\\ k\\==t\\,v f\\=k=-1.5e-3",
            LinePoint("c,p u", {"t k=": "t,v"}, {"f=k": -0.0015}, None),
        ),
        ("c\\=x f=1", LinePoint("c\\=x", {}, {"f": 1.0}, None)),  # '=' is not escaped in a measurement
        ("a\\b f=1", LinePoint("a\\b", {}, {"f": 1.0}, None)),  # a lone backslash is literal
        ("a\\\\b f=1", LinePoint("a\\b", {}, {"f": 1.0}, None)),  # two backslashes: one
        ("a\\\\\\ b f=1", LinePoint("a\\ b", {}, {"f": 1.0}, None)),
        ('m s="a \\"q\\" \\\\ \\n"', LinePoint("m", {}, {"s": 'a "q" \\ \\n'}, None)),
        ('m s="x,y=z w"', LinePoint("m", {}, {"s": "x,y=z w"}, None)),
        (
            "m a=t,b=TRUE,c=False,d=f",
            LinePoint("m", {}, {"a": True, "b": True, "c": False, "d": False}, None),
        ),
        ("m f=.5,g=5.,h=-0", LinePoint("m", {}, {"f": 0.5, "g": 5.0, "h": 0.0}, None)),
        ("m f=1 -5", LinePoint("m", {}, {"f": 1.0}, -5)),
        ("   m f=1\r", LinePoint("m", {}, {"f": 1.0}, None)),
        ('m"x f=1', LinePoint('m"x', {}, {"f": 1.0}, None)),
    ],
)
def test_syntax(line: str, expected: LinePoint) -> None:
    parsed, errors = parse(line)
    assert errors == []
    assert parsed == [expected]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("cpu", "missing fields"),
        ("cpu ", "missing field key"),
        ("cpu,host value=1", "invalid tag 'host'"),
        ("cpu,host= value=1", "tag 'host' has no value"),
        ("cpu,a=b=c value=1", "unescaped '='"),
        ("cpu,a=1,a=2 value=1", "duplicate tag 'a'"),
        ("cpu value=1,value=2", "duplicate field 'value'"),
        ("cpu value=", "field 'value' has no value"),
        ("cpu value=abc", "invalid field value 'abc'"),
        ("cpu value=nan", "invalid field value 'nan'"),
        ("cpu value=1e999", "out of range"),
        ("cpu value=1.5i", "invalid integer"),
        ("cpu value=9223372036854775808i", "out of the signed 64-bit range"),
        ("cpu value=-1u", "invalid unsigned"),
        ('cpu value="open', "unterminated quoted string"),
        ("cpu value=1 12.5", "invalid timestamp '12.5'"),
        ("cpu value=1 1 2", "invalid timestamp '1 2'"),
        ("cpu value=1 99999999999999999999", "out of the signed 64-bit range"),
        (",host=a value=1", "missing measurement"),
        ("cpu value=1,", "empty field after ','"),
    ],
)
def test_bad_lines_name_the_problem(line: str, message: str) -> None:
    parsed, errors = parse(f"ok f=1\n{line}\nok f=2")
    assert [p.line for p in parsed] == [1, 3]
    assert len(errors) == 1
    assert errors[0].line == 2
    assert message in errors[0].message


def test_every_bad_line_is_reported_and_comments_and_blank_lines_are_skipped() -> None:
    body = "# a comment\n\nm f=1\nbad\n\t\nm f=x\r\nm f=2\n"
    parsed, errors = parse(body)
    assert [(p.line, p.fields) for p in parsed] == [(3, {"f": 1.0}), (7, {"f": 2.0})]
    assert [e.line for e in errors] == [4, 6]


@pytest.mark.parametrize(
    ("ts", "precision", "us"),
    [
        (1_700_000_000_123_456_789, "ns", 1_700_000_000_123_456),
        (-1_001, "ns", -2),  # floored, like every other timestamp, not rounded towards zero
        (1_700_000_000_123_456, "us", 1_700_000_000_123_456),
        (1_700_000_000_123, "ms", 1_700_000_000_123_000),
        (1_700_000_000, "s", 1_700_000_000_000_000),
        (28_333_333, "m", 1_699_999_980_000_000),
        (1, "h", 3_600_000_000),
    ],
)
def test_precision(ts: int, precision: str, us: int) -> None:
    assert to_microseconds(ts, precision) == us


def test_mapping_to_gridos_items() -> None:
    parsed, _ = parse(
        "north/tx-1 voltage=231.5,current=10i 1700000000\n"
        "power,device_id=north/fdr-2,host=telegraf,quality=questionable active_power=-5\n"
        "north/tx-1 quality=1\n"
        "north/tx-1 voltage=1 99999999999999999\n"
    )
    mapped = to_items(parsed, "s", frozenset({"device_id", "timestamp", "quality"}))
    first, second = mapped.items
    assert first["device_id"] == "north/tx-1"
    assert first["timestamp"].isoformat() == "2023-11-14T22:13:20+00:00"
    assert first["voltage"] == 231.5
    assert first["current"] == 10
    # The device_id tag wins over the measurement name; other tags (host) are not GridOS data.
    assert second == {"device_id": "north/fdr-2", "quality": "questionable", "active_power": -5.0}
    assert mapped.lines == [1, 2]
    assert [(e.line, e.message) for e in mapped.errors] == [
        (3, "field 'quality' is reserved: send it as a tag, not a field"),
        (4, "timestamp 99999999999999999 out of range"),
    ]


def test_bad_lines_are_reported_up_to_a_bound_and_points_up_to_a_limit() -> None:
    # A string left open runs to the end of the body (quotes escaped inside it do not close it).
    parsed, errors = parse('m f="x\n' + 'm f=\\"y\n' * 3 + "m f=1")
    assert [p.line for p in parsed] == [5]
    escaped_quote = '\\"y'
    assert [(e.line, e.message) for e in errors] == [(1, "unterminated quoted string")] + [
        (n, f"invalid field value {escaped_quote!r} (a number, 12i, 12u, a boolean or a quoted string)")
        for n in (2, 3, 4)
    ]
    _, errors = parse("bad\n" * 5000, max_errors=100)
    assert len(errors) == 101
    assert errors[-1].message == "stopped after 100 bad lines"
    with pytest.raises(TooManyPoints):
        parse("m f=1\n" * 11, max_points=10)
    assert len(parse("m f=1\n# c\n" * 10, max_points=10)[0]) == 10


_LP_CHARS = st.sampled_from(list('ab= ,"\\\n\r\t#.-+e1i0uTf'))


@settings(max_examples=500, deadline=None)
@given(st.text(_LP_CHARS, max_size=60) | st.text(max_size=30))
def test_any_text_parses_or_is_reported_line_by_line(body: str) -> None:
    """Arbitrary input never escapes as an exception other than the per-line errors, and every point or
    error names a line of the body."""
    parsed, errors = parse(body)
    physical_lines = body.count("\n") + 1
    for item in [*parsed, *errors]:
        assert 1 <= item.line <= physical_lines
    assert len({e.line for e in errors}) == len(errors)
