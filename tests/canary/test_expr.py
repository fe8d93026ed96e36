"""The expr-lang subset that Argo conditions use, including the traps: empty results, NaN, wrong types."""

from __future__ import annotations

import math

import pytest

from gridctl.analysis import ExprError, evaluate, evaluate_condition

NAN = math.nan


@pytest.mark.parametrize(
    ("source", "result", "expected"),
    [
        ("result[0] < 0.01", [0.005], True),
        ("result[0] < 0.01", [0.02], False),
        ("result[0] <= 0.25 && result[0] >= 0", [0.25], True),
        ("result[0] > 1 || result[0] < 0", [0.5], False),
        ("len(result) == 0 || isNaN(result[0]) || result[0] < 0.01", [], True),
        ("len(result) == 0 || isNaN(result[0]) || result[0] < 0.01", [NAN], True),
        ("len(result) == 0 || isNaN(result[0]) || result[0] < 0.01", [0.5], False),
        ("len(result) > 0 and not isNaN(result[0]) and result[0] < 0.01", [0.001], True),
        ("!isInf(result[0])", [math.inf], False),
        ("isNaN(result[0])", [NAN], True),
        ("result[0] < 0.01", [NAN], False),  # NaN compares false, as in Go
        ("all(result, {# < 0.01})", [0.001, 0.002], True),
        ("all(result, # < 0.01)", [0.001, 0.2], False),
        ("any(result, {# > 0.5})", [0.1, 0.6], True),
        ("none(result, {# > 0.5})", [0.1, 0.6], False),
        ("count(result, {# > 0.5}) == 1", [0.1, 0.6], True),
        ("result[-1] == 3", [1, 2, 3], True),
        ("result == 4", 4.0, True),  # a scalar result
        ("asFloat(result) * 2 == 3", "1.5", True),
        ("asInt(result[0]) == 2", [2.9], True),
        ("max(result) - min(result) < 1", [0.2, 0.9], True),
        ("result[0] / 0 > 1e308", [1], True),
        ("(result[0] ?? 1) == 1 ? true : false", [None], True),
        ("'a' in ['a', 'b'] && 2 not in [1]", [], True),
        ("2 ** 3 == 8 && 7 % 3 == 1 && -result[0] == -1", [1], True),
    ],
)
def test_conditions(source: str, result: object, expected: bool) -> None:
    assert evaluate_condition(source, result) is expected


@pytest.mark.parametrize(
    ("source", "result", "message"),
    [
        ("result[0] < 0.01", [], "index out of range"),  # the guide's trap: guard with len(result) == 0
        ("result[0]", [0.5], "expected bool"),
        ("result[0] < 'x'", [0.5], "invalid operation"),
        ("result[0] && true", [1.0], "expected bool"),
        ("result[0] <", [1.0], "unexpected"),
        ("__import__('os')", [1.0], "unknown function"),
        ("result.__class__", [1.0], "invalid index type"),
        ("5.__class__", [1.0], "cannot index"),
        ("nosuch > 1", [1.0], "unknown name"),
        ("result[0] < 1 ;", [1.0], "unexpected character"),
        ("", [], "empty"),
    ],
)
def test_errors_are_expr_errors(source: str, result: object, message: str) -> None:
    with pytest.raises(ExprError, match=message):
        evaluate_condition(source, result)


def test_short_circuit_protects_the_index() -> None:
    # Without short-circuit evaluation the guarded form would raise on an empty vector.
    assert evaluate("len(result) == 0 || result[0] > 1", {"result": []}) is True
    assert evaluate("len(result) > 0 && result[0] > 1", {"result": []}) is False
