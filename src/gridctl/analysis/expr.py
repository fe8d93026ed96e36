"""A safe evaluator for the subset of expr-lang (github.com/expr-lang/expr) that Argo Rollouts conditions use.

Argo evaluates `successCondition` / `failureCondition` with expr-lang against an environment holding
`result` and a few helpers (`isNaN`, `isInf`, `asInt`, `asFloat`, `default`, `isNil`). We parse the
expression into a small tree and interpret it: no Python `eval`, no attribute access on Python objects,
so a template cannot run code on the machine that evaluates it.

Supported: number/string/bool/nil literals, arrays, `result[0]` (negative indexes count from the end),
`a.b` on maps, arithmetic `+ - * / % **`, comparisons, `== !=`, `&& || !` and `and or not`, `in`,
`cond ? a : b`, `??`, and the builtins len, abs, min, max, sum, mean, isNaN, isInf, asInt, asFloat,
default, isNil, int, float, all, any, none, one, filter, map, count (predicates as `{# < 1}` or `# < 1`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


class ExprError(Exception):
    """The expression does not parse, or fails at run time (as expr-lang would: index out of range...)."""


@dataclass(frozen=True)
class Token:
    kind: str  # num, str, name, op, eof
    value: Any
    pos: int


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d[\d_]*)?\.\d[\d_]*(?:[eE][+-]?\d+)?|\d[\d_]*(?:[eE][+-]?\d+)?)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>\*\*|==|!=|<=|>=|&&|\|\||\?\?|\?\.|[-+*/%^<>!()\[\]{},.?:\#])
    """,
    re.VERBOSE,
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if not m:
            raise ExprError(f"unexpected character {source[pos]!r} at {pos}")
        kind = m.lastgroup or ""
        text = m.group()
        if kind == "num":
            clean = text.replace("_", "")
            value: Any = float(clean) if any(c in clean for c in ".eE") else int(clean)
            tokens.append(Token("num", value, pos))
        elif kind == "str":
            tokens.append(Token("str", _unquote(text), pos))
        elif kind in ("name", "op"):
            tokens.append(Token(kind, text, pos))
        pos = m.end()
    tokens.append(Token("eof", None, pos))
    return tokens


# AST: tuples keep the interpreter short; the first element names the node.
Node = tuple[Any, ...]

_PREDICATE_BUILTINS = {"all", "any", "none", "one", "filter", "map", "count"}


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.i = 0

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, *ops: str) -> bool:
        tok = self.peek()
        return tok.kind in ("op", "name") and tok.value in ops

    def expect(self, op: str) -> None:
        tok = self.take()
        if tok.value != op or tok.kind not in ("op", "name"):
            raise ExprError(f"expected {op!r} at {tok.pos}, found {tok.value!r}")

    def parse(self) -> Node:
        node = self.ternary()
        if self.peek().kind != "eof":
            tok = self.peek()
            raise ExprError(f"unexpected {tok.value!r} at {tok.pos}")
        return node

    def ternary(self) -> Node:
        cond = self.coalesce()
        if self.at("?"):
            self.take()
            yes = self.ternary()
            self.expect(":")
            no = self.ternary()
            return ("if", cond, yes, no)
        return cond

    def left_assoc(self, operand: Callable[[], Node], node_type: str, *ops: str) -> Node:
        """`operand (op operand)*`, folded to the left into (node_type, left, right) nodes."""
        node = operand()
        while self.at(*ops):
            self.take()
            node = (node_type, node, operand())
        return node

    def coalesce(self) -> Node:
        return self.left_assoc(self.logic_or, "??", "??")

    def logic_or(self) -> Node:
        return self.left_assoc(self.logic_and, "or", "||", "or")

    def logic_and(self) -> Node:
        return self.left_assoc(self.comparison, "and", "&&", "and")

    def comparison(self) -> Node:
        node = self.additive()
        while True:
            if self.at("==", "!=", "<", "<=", ">", ">=", "in"):
                op = self.take().value
                node = ("cmp", op, node, self.additive())
            elif self.at("not") and self.peek(1).value == "in":
                self.take()
                self.take()
                node = ("not", ("cmp", "in", node, self.additive()))
            else:
                return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.at("+", "-"):
            op = self.take().value
            node = ("arith", op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.at("*", "/", "%"):
            op = self.take().value
            node = ("arith", op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at("!", "not"):
            self.take()
            return ("not", self.unary())
        if self.at("-", "+"):
            op = self.take().value
            return ("neg", self.unary()) if op == "-" else ("pos", self.unary())
        return self.power()

    def power(self) -> Node:
        node = self.postfix()
        if self.at("**", "^"):
            self.take()
            return ("arith", "**", node, self.unary())
        return node

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            if self.at("["):
                self.take()
                index = self.ternary()
                self.expect("]")
                node = ("index", node, index)
            elif self.at(".", "?."):
                self.take()
                tok = self.take()
                if tok.kind != "name":
                    raise ExprError(f"expected a field name at {tok.pos}")
                node = ("index", node, ("lit", tok.value))
            else:
                return node

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind in ("num", "str"):
            return ("lit", tok.value)
        if tok.kind == "op" and tok.value == "(":
            node = self.ternary()
            self.expect(")")
            return node
        if tok.kind == "op" and tok.value == "[":
            items: list[Node] = []
            while not self.at("]"):
                items.append(self.ternary())
                if not self.at("]"):
                    self.expect(",")
            self.take()
            return ("list", items)
        if tok.kind == "op" and tok.value == "#":
            return ("pointer",)
        if tok.kind == "name":
            if tok.value in ("true", "false"):
                return ("lit", tok.value == "true")
            if tok.value == "nil":
                return ("lit", None)
            if self.at("("):
                self.take()
                return self.call(tok.value)
            return ("var", tok.value)
        raise ExprError(f"unexpected {tok.value!r} at {tok.pos}")

    def call(self, name: str) -> Node:
        args: list[Node] = []
        while not self.at(")"):
            if name in _PREDICATE_BUILTINS and len(args) == 1:
                if self.at("{"):
                    self.take()
                    body = self.ternary()
                    self.expect("}")
                else:
                    body = self.ternary()
                args.append(("closure", body))
            else:
                args.append(self.ternary())
            if not self.at(")"):
                self.expect(",")
        self.take()
        return ("call", name, args)


def parse(source: str) -> Node:
    """Parse an expression; raises ExprError with the position of the first problem."""
    if not source.strip():
        raise ExprError("empty expression")
    return _Parser(source).parse()


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _type(v: object) -> str:
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list | tuple):
        return "array"
    if isinstance(v, dict):
        return "map"
    return type(v).__name__


def _as_float(v: object) -> float:
    if _is_number(v):
        return float(v)  # type: ignore[arg-type]
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            raise ExprError(f"asFloat: cannot convert {v!r}") from None
    raise ExprError(f"asFloat: cannot convert {_type(v)}")


def _as_int(v: object) -> int:
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            raise ExprError(f"asInt: cannot convert {v!r}") from None
    if _is_number(v):
        f = float(v)  # type: ignore[arg-type]
        if math.isnan(f) or math.isinf(f):
            raise ExprError("asInt: cannot convert NaN or Inf")
        return int(f)
    raise ExprError(f"asInt: cannot convert {_type(v)}")


def _numbers(name: str, args: Sequence[object]) -> list[float]:
    values: list[object] = (
        list(args[0]) if len(args) == 1 and isinstance(args[0], list | tuple) else list(args)
    )
    for v in values:
        if not _is_number(v):
            raise ExprError(f"{name}: expected numbers, got {_type(v)}")
    return values  # type: ignore[return-value]


def _len(v: object) -> int:
    if isinstance(v, list | tuple | str | dict):
        return len(v)
    raise ExprError(f"len: invalid argument of type {_type(v)}")


def _is_nan(v: object) -> bool:
    if not _is_number(v):
        raise ExprError(f"isNaN: expected a number, got {_type(v)}")
    return math.isnan(v)  # type: ignore[arg-type]


def _is_inf(v: object) -> bool:
    if not _is_number(v):
        raise ExprError(f"isInf: expected a number, got {_type(v)}")
    return math.isinf(v)  # type: ignore[arg-type]


def _min_max(fn: Callable[..., float], name: str) -> Callable[..., object]:
    def inner(*args: object) -> object:
        nums = _numbers(name, args)
        if not nums:
            raise ExprError(f"{name}: no values")
        return fn(nums)

    return inner


def _mean(*args: object) -> float:
    nums = _numbers("mean", args)
    return sum(nums) / len(nums) if nums else 0.0


_FUNCTIONS: dict[str, Callable[..., object]] = {
    "len": _len,
    "abs": lambda v: abs(_numbers("abs", [v])[0]),
    "min": _min_max(min, "min"),
    "max": _min_max(max, "max"),
    "sum": lambda v: sum(_numbers("sum", [v])),
    "mean": _mean,
    "isNaN": _is_nan,
    "isInf": _is_inf,
    "asFloat": _as_float,
    "float": _as_float,
    "asInt": _as_int,
    "int": _as_int,
    "isNil": lambda v: v is None,
    "default": lambda v, d: d if v is None or v == "" else v,
}


class _Interpreter:
    def __init__(self, env: dict[str, object]) -> None:
        self.env = env
        self.pointers: list[object] = []

    def truth(self, node: Node, op: str) -> bool:
        value = self.eval(node)
        if not isinstance(value, bool):
            raise ExprError(f"invalid operation: {op} on {_type(value)} (expected bool)")
        return value

    def eval(self, node: Node) -> object:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "var":
            if node[1] not in self.env:
                raise ExprError(f"unknown name {node[1]}")
            return self.env[node[1]]
        if kind == "pointer":
            if not self.pointers:
                raise ExprError("# is only valid inside a predicate")
            return self.pointers[-1]
        if kind == "list":
            return [self.eval(item) for item in node[1]]
        if kind == "and":
            return self.truth(node[1], "&&") and self.truth(node[2], "&&")
        if kind == "or":
            return self.truth(node[1], "||") or self.truth(node[2], "||")
        if kind == "not":
            return not self.truth(node[1], "!")
        if kind == "if":
            return self.eval(node[2]) if self.truth(node[1], "?:") else self.eval(node[3])
        if kind == "??":
            left = self.eval(node[1])
            return self.eval(node[2]) if left is None else left
        if kind == "neg":
            v = self.eval(node[1])
            if not _is_number(v):
                raise ExprError(f"invalid operation: - on {_type(v)}")
            return -v  # type: ignore[operator]
        if kind == "pos":
            return self.eval(node[1])
        if kind == "index":
            return self.index(self.eval(node[1]), self.eval(node[2]))
        if kind == "cmp":
            return self.compare(node[1], self.eval(node[2]), self.eval(node[3]))
        if kind == "arith":
            return self.arith(node[1], self.eval(node[2]), self.eval(node[3]))
        if kind == "call":
            return self.call(node[1], node[2])
        raise ExprError(f"unsupported node {kind}")

    def index(self, container: object, key: object) -> object:
        if isinstance(container, list | tuple | str):
            if not isinstance(key, int) or isinstance(key, bool):
                raise ExprError(f"invalid index type {_type(key)}")
            n = len(container)
            idx = key + n if key < 0 else key
            if not 0 <= idx < n:
                raise ExprError(f"index out of range: {key} (array length is {n})")
            return container[idx]
        if isinstance(container, dict):
            return container.get(key)
        raise ExprError(f"cannot index {_type(container)}")

    def compare(self, op: str, a: object, b: object) -> bool:
        if op == "==":
            if _is_number(a) and _is_number(b):
                return a == b
            return _type(a) == _type(b) and a == b
        if op == "!=":
            return not self.compare("==", a, b)
        if op == "in":
            if isinstance(b, list | tuple):
                return a in b
            if isinstance(b, dict):
                return a in b
            if isinstance(b, str) and isinstance(a, str):
                return a in b
            raise ExprError(f"invalid operation: in {_type(b)}")
        if not ((_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str))):
            raise ExprError(f"invalid operation: {_type(a)} {op} {_type(b)}")
        if op == "<":
            return a < b  # type: ignore[operator]
        if op == "<=":
            return a <= b  # type: ignore[operator]
        if op == ">":
            return a > b  # type: ignore[operator]
        return a >= b  # type: ignore[operator]

    def arith(self, op: str, a: object, b: object) -> object:
        if op == "+" and isinstance(a, str) and isinstance(b, str):
            return a + b
        if op == "+" and isinstance(a, list) and isinstance(b, list):
            return a + b
        if not (_is_number(a) and _is_number(b)):
            raise ExprError(f"invalid operation: {_type(a)} {op} {_type(b)}")
        x, y = a, b
        if op == "+":
            return x + y  # type: ignore[operator]
        if op == "-":
            return x - y  # type: ignore[operator]
        if op == "*":
            return x * y  # type: ignore[operator]
        if op == "/":
            # expr-lang divides as float64: 1/0 is +Inf, 0/0 is NaN, never a Python exception.
            fx, fy = float(x), float(y)  # type: ignore[arg-type]
            if fy == 0:
                return math.nan if fx == 0 or math.isnan(fx) else math.copysign(math.inf, fx)
            return fx / fy
        if op == "%":
            if not (isinstance(x, int) and isinstance(y, int)):
                raise ExprError("invalid operation: % needs integers")
            if y == 0:
                raise ExprError("integer divide by zero")
            return int(math.fmod(x, y))
        try:
            return float(x) ** float(y)  # type: ignore[arg-type]
        except (OverflowError, ZeroDivisionError):
            return math.inf

    def call(self, name: str, arg_nodes: list[Node]) -> object:
        if name in _PREDICATE_BUILTINS:
            if len(arg_nodes) != 2 or arg_nodes[1][0] != "closure":
                raise ExprError(f"{name} expects (array, predicate)")
            items = self.eval(arg_nodes[0])
            if not isinstance(items, list | tuple):
                raise ExprError(f"{name}: expected an array, got {_type(items)}")
            body = arg_nodes[1][1]
            outputs = []
            for item in items:
                self.pointers.append(item)
                try:
                    outputs.append(self.eval(body) if name == "map" else self.truth(body, name))
                finally:
                    self.pointers.pop()
            if name == "map":
                return outputs
            if name == "filter":
                return [item for item, keep in zip(items, outputs, strict=True) if keep]
            if name == "count":
                return sum(1 for keep in outputs if keep)
            if name == "all":
                return all(outputs)
            if name == "any":
                return any(outputs)
            if name == "none":
                return not any(outputs)
            return sum(1 for keep in outputs if keep) == 1
        fn = self.env.get(name) if callable(self.env.get(name)) else _FUNCTIONS.get(name)
        if fn is None:
            raise ExprError(f"unknown function {name}")
        args = [self.eval(a) for a in arg_nodes]
        try:
            return fn(*args)  # type: ignore[operator]
        except TypeError as exc:
            raise ExprError(f"{name}: {exc}") from None


def evaluate(source: str | Node, env: dict[str, object]) -> object:
    """Evaluate an expression (source text or a tree from `parse`) against `env`."""
    tree = parse(source) if isinstance(source, str) else source
    try:
        return _Interpreter(env).eval(tree)
    except RecursionError:
        raise ExprError("expression nests too deeply") from None


def evaluate_condition(source: str, result: object) -> bool:
    """Evaluate an Argo condition on a measurement `result`; the outcome must be a bool, as in Argo."""
    value = evaluate(source, {"result": result})
    if not isinstance(value, bool):
        raise ExprError(f"expected bool, but got {_type(value)}")
    return value
