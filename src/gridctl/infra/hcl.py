"""A small, line-aware model of Terraform files, built on python-hcl2's Lark parse tree.

python-hcl2's dictionaries carry no line numbers, so the checks walk the parse tree instead: blocks,
attributes, object elements, string literals and traversal references (``module.x.y``, ``var.x``), each
with the line it starts on, so that every finding can name file and line.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from lark import Token, Tree
from lark.exceptions import UnexpectedInput


class HclSyntaxError(Exception):
    """A file that python-hcl2 cannot parse; carries the line of the error."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Reference:
    """A traversal such as ``module.network.subnet_ids``: its name parts and line."""

    parts: tuple[str, ...]
    line: int

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class StringLiteral:
    """A quoted string or heredoc; ``text`` is its literal text, ``interpolated`` if it holds ``${...}``."""

    text: str
    line: int
    interpolated: bool


@dataclass(frozen=True)
class ObjectElement:
    """``key = value`` inside an object constructor: its key, value expression and line."""

    key: str
    value: Expression
    line: int


@dataclass(frozen=True)
class Expression:
    """The expression on the right of an attribute or object element."""

    tree: Tree[Any]
    source: str
    line: int

    @property
    def text(self) -> str:
        """The expression's source text."""
        meta = self.tree.meta
        return self.source[meta.start_pos : meta.end_pos]

    def references(self) -> list[Reference]:
        found: list[Reference] = []
        _collect_references(self.tree, found)
        return found

    def strings(self) -> list[StringLiteral]:
        return [_string_literal(node) for node in _iter_trees(self.tree, ("string",))] + [
            StringLiteral(_heredoc_text(node), node.meta.line, "${" in _heredoc_text(node))
            for node in _iter_trees(self.tree, ("heredoc_template", "heredoc_template_trim"))
        ]

    def object_elements(self) -> list[ObjectElement]:
        elements: list[ObjectElement] = []
        for node in _iter_trees(self.tree, ("object_elem",)):
            key_node, value_node = node.children[0], node.children[-1]
            elements.append(
                ObjectElement(
                    _key_text(key_node, self.source),
                    Expression(value_node, self.source, value_node.meta.line),
                    node.meta.line,
                )
            )
        return elements

    def literal(self) -> str | None:
        """The value if the whole expression is one string without interpolation, else None."""
        node = self.tree
        while isinstance(node, Tree) and node.data == "expr_term" and len(node.children) == 1:
            node = node.children[0]
        if isinstance(node, Tree) and node.data == "string":
            value = _string_literal(node)
            return None if value.interpolated else value.text
        return None


@dataclass(frozen=True)
class Attribute:
    name: str
    line: int
    value: Expression


@dataclass
class Block:
    """``type "label" ... { body }``."""

    type: str
    labels: tuple[str, ...]
    line: int
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    @property
    def label(self) -> str:
        return ".".join(self.labels)

    def children(self, block_type: str) -> list[Block]:
        return [b for b in self.blocks if b.type == block_type]

    def walk(self) -> Iterator[Block]:
        yield self
        for child in self.blocks:
            yield from child.walk()


@dataclass
class HclFile:
    """One parsed .tf or .tfvars file: top-level blocks and attributes (tfvars assignments)."""

    path: Path
    text: str
    blocks: list[Block]
    attributes: dict[str, Attribute]

    def top(self, block_type: str) -> list[Block]:
        return [b for b in self.blocks if b.type == block_type]

    def all_attributes(self) -> Iterator[tuple[Block | None, Attribute]]:
        for attribute in self.attributes.values():
            yield None, attribute
        for top in self.blocks:
            for block in top.walk():
                for attribute in block.attributes.values():
                    yield block, attribute


def parse_file(path: Path) -> HclFile:
    text = path.read_text(encoding="utf-8")
    return parse_text(text, path)


def parse_text(text: str, path: Path) -> HclFile:
    try:
        attributes, blocks = _parse(text)
    except _ParseError as exc:
        raise HclSyntaxError(path, exc.line, exc.message) from None
    return HclFile(path, text, blocks, attributes)


class _ParseError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@functools.lru_cache(maxsize=1024)
def _parse(text: str) -> tuple[dict[str, Attribute], list[Block]]:
    """Parse once per distinct text: the model is read-only, so identical files share it."""
    try:
        tree = hcl2.parses_to_tree(text)
    except UnexpectedInput as exc:
        raise _ParseError(int(getattr(exc, "line", 0) or 0), str(exc).strip().splitlines()[0]) from None
    except Exception as exc:  # python-hcl2 raises plain exceptions for some lexer errors
        raise _ParseError(0, str(exc).strip().splitlines()[0]) from None
    return _body(_only_child(tree, "body"), text)


def _only_child(tree: Tree[Any], data: str) -> Tree[Any]:
    for child in tree.children:
        if isinstance(child, Tree) and child.data == data:
            return child
    raise ValueError(f"no {data} in {tree.data}")


def _body(body: Tree[Any], source: str) -> tuple[dict[str, Attribute], list[Block]]:
    attributes: dict[str, Attribute] = {}
    blocks: list[Block] = []
    for child in body.children:
        if not isinstance(child, Tree):
            continue
        if child.data == "attribute":
            name = _name(child.children[0])
            expression = child.children[-1]
            attributes[name] = Attribute(
                name, child.meta.line, Expression(expression, source, expression.meta.line)
            )
        elif child.data == "block":
            blocks.append(_block(child, source))
    return attributes, blocks


def _block(node: Tree[Any], source: str) -> Block:
    names: list[str] = []
    inner: Tree[Any] | None = None
    for child in node.children:
        if isinstance(child, Tree) and child.data == "body":
            inner = child
        elif isinstance(child, Tree) and child.data in ("identifier", "keyword", "literal_value"):
            names.append(_name(child))
        elif isinstance(child, Tree) and child.data == "string":
            names.append(_string_literal(child).text)
    block = Block(names[0], tuple(names[1:]), node.meta.line)
    if inner is not None:
        block.attributes, block.blocks = _body(inner, source)
    return block


def _name(node: Tree[Any] | Token) -> str:
    if isinstance(node, Token):
        return str(node)
    if node.data == "string":
        return _string_literal(node).text
    return "".join(str(token) for token in node.scan_values(lambda v: isinstance(v, Token)))


def _string_literal(node: Tree[Any]) -> StringLiteral:
    parts: list[str] = []
    interpolated = False
    for child in node.children:
        if isinstance(child, Tree) and child.data == "string_part":
            for part in child.children:
                if isinstance(part, Token):
                    parts.append(str(part))
                else:
                    interpolated = True
                    parts.append("${...}")
    return StringLiteral("".join(parts), node.meta.line, interpolated)


def _heredoc_text(node: Tree[Any]) -> str:
    raw = str(node.children[0])
    lines = raw.split("\n")
    return "\n".join(lines[1:-1])


def _key_text(node: Tree[Any], source: str) -> str:
    strings = list(_iter_trees(node, ("string",)))
    if strings:
        return _string_literal(strings[0]).text
    return source[node.meta.start_pos : node.meta.end_pos].strip()


def _iter_trees(node: Tree[Any], names: tuple[str, ...]) -> Iterator[Tree[Any]]:
    if not isinstance(node, Tree):
        return
    if node.data in names:
        yield node
    for child in node.children:
        if isinstance(child, Tree):
            yield from _iter_trees(child, names)


def _traversal(node: Tree[Any]) -> list[str] | None:
    """Flatten ``a.b.c`` (nested get_attr_expr_term) to its names; None if it is not a plain traversal."""
    if node.data == "expr_term" and len(node.children) == 1:
        child = node.children[0]
        if isinstance(child, Tree) and child.data == "identifier":
            return [_name(child)]
        if isinstance(child, Tree):
            return _traversal(child)
        return None
    if node.data == "get_attr_expr_term":
        receiver = _traversal(node.children[0])
        if receiver is None:
            return None
        attr = node.children[1]
        return [*receiver, _name(attr.children[-1])]
    return None


def _collect_references(node: Tree[Any], found: list[Reference]) -> None:
    if node.data == "get_attr_expr_term":
        parts = _traversal(node)
        if parts is not None:
            found.append(Reference(tuple(parts), node.meta.line))
            return
    for child in node.children:
        if isinstance(child, Tree):
            _collect_references(child, found)
