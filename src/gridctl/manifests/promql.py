"""Names of the series a PromQL expression selects, without a PromQL parser: enough to check that every
metric a query reads is one GridOS exports. Argo Rollouts `{{args.x}}` placeholders are tolerated."""

from __future__ import annotations

import re

_AGGREGATION_CLAUSES = ("by", "without", "on", "ignoring", "group_left", "group_right")
_OPERATOR_WORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"})
_TOKEN = re.compile(
    r"""(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
      |(?P<placeholder>\{\{.*?\}\})
      |(?P<open>[{\[(])|(?P<close>[}\])])
      |(?P<number>(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)[a-zA-Z]*)
      |(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
      |(?P<other>\S)""",
    re.VERBOSE | re.DOTALL,
)


def metric_names(expr: str) -> set[str]:
    """Identifiers in selector position: outside label matchers `{...}`, range brackets `[...]` and grouping
    clauses `by (...)`, and not called as functions."""
    tokens = [(m.lastgroup or "", m.group()) for m in _TOKEN.finditer(expr)]
    names: set[str] = set()
    depth: list[str] = []  # open brackets that hide identifiers ('{', '[', or 'g' for a grouping clause)
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
        if kind == "open":
            if text == "(" and i > 0 and tokens[i - 1] == ("ident", tokens[i - 1][1]):
                prev = tokens[i - 1][1].lower()
                depth.append("g" if prev in _AGGREGATION_CLAUSES else "(")
            else:
                depth.append(text)
        elif kind == "close":
            if depth:
                depth.pop()
        elif kind == "ident" and not any(d in "{[g" for d in depth):
            # `sum(...)`, and `sum by (le) (...)` whose clause comes first.
            called = nxt == ("open", "(") or (nxt[0] == "ident" and nxt[1].lower() in ("by", "without"))
            if (
                not called
                and text.lower() not in _OPERATOR_WORDS
                and text.lower() not in _AGGREGATION_CLAUSES
            ):
                names.add(text)
        i += 1
    return names
