"""Round-trip YAML (ruamel.yaml) that keeps comments, key order, quoting and the file's own indentation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from gridctl.delivery.errors import DeliveryError


class YamlDocument:
    """One YAML file loaded for editing; `save()` writes it back with the indentation it was read with."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise DeliveryError(f"{path}: no such file") from None
        try:
            # Only for the indentation it guesses; the document itself is loaded with preserve_quotes.
            _, indent, block_seq_indent = load_yaml_guess_indent(text)
            self.yaml = YAML(typ="rt")
            self.yaml.preserve_quotes = True
            self.yaml.width = 4096
            indent = indent or 2
            offset = block_seq_indent or 0
            self.yaml.indent(mapping=indent, sequence=max(indent, offset + 2), offset=offset)
            self.data: Any = self.yaml.load(text)
        except YAMLError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DeliveryError(f"{path}: not valid YAML: {first}") from None

    def save(self) -> None:
        with self.path.open("w") as fh:
            self.yaml.dump(self.data, fh)
