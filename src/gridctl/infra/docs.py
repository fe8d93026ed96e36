"""Module READMEs: each lists exactly its module's inputs and outputs. `render` writes the tables from the
code (gridctl infra docs --write); `check_docs` verifies a README against the code."""

from __future__ import annotations

import re
from pathlib import Path

from gridctl.infra.tree import Config, Finding, TerraformTree

INPUTS_HEADING = "## Inputs"
OUTPUTS_HEADING = "## Outputs"
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def input_rows(module: Config) -> dict[str, str]:
    """The Inputs table row of each variable, required ones first."""
    rows: dict[str, str] = {}
    for variable in sorted(module.variables().values(), key=lambda v: (not v.required, v.name)):
        type_text = _cell(variable.type.value.text) if variable.type else ""
        default = variable.block.attributes.get("default")
        default_text = f"`{_cell(default.value.text)}`" if default else "required"
        rows[variable.name] = (
            f"| `{variable.name}` | `{type_text}` | {default_text} | {_cell(variable.description or '')} |"
        )
    return rows


def output_rows(module: Config) -> dict[str, str]:
    """The Outputs table row of each output."""
    return {
        output.name: f"| `{output.name}` | {_cell(output.description or '')} |"
        for output in sorted(module.outputs().values(), key=lambda o: o.name)
    }


def render_tables(module: Config) -> str:
    lines = [INPUTS_HEADING, "", "| Name | Type | Default | Description |", "| --- | --- | --- | --- |"]
    lines += input_rows(module).values()
    lines += ["", OUTPUTS_HEADING, "", "| Name | Description |", "| --- | --- |"]
    lines += output_rows(module).values()
    return "\n".join(lines) + "\n"


def _intro(module: Config) -> str:
    """The hand-written part of an existing README, or a first paragraph from main.tf's leading comment."""
    readme = module.directory / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
        head, sep, _ = text.partition(INPUTS_HEADING)
        if sep:
            return head.rstrip() + "\n\n"
    comment: list[str] = []
    main = module.directory / "main.tf"
    if main.is_file():
        for line in main.read_text(encoding="utf-8").splitlines():
            if not line.startswith("#"):
                break
            comment.append(line.lstrip("# ").rstrip())
    summary = " ".join(part for part in comment if part)
    return f"# Module `{module.name}`\n\n{summary}\n\n"


def render(module: Config) -> str:
    return _intro(module) + render_tables(module)


def write_readmes(tree: TerraformTree) -> list[Path]:
    """Regenerate the Inputs/Outputs tables of every module README; returns the files that changed."""
    changed: list[Path] = []
    for module in tree.modules.values():
        path = module.directory / "README.md"
        text = render(module)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def _listed(lines: list[str], heading: str) -> tuple[int, dict[str, int]]:
    """Line of the heading and the names its table lists, with their lines (1-based)."""
    start = next((i for i, line in enumerate(lines) if line.strip() == heading), None)
    if start is None:
        return 0, {}
    names: dict[str, int] = {}
    for number in range(start + 1, len(lines)):
        line = lines[number]
        if line.startswith("## "):
            break
        match = ROW.match(line)
        if match:
            names[match.group(1)] = number + 1
    return start + 1, names


def _doc(readme: Path, line: int, message: str) -> Finding:
    return Finding(readme, line, "docs", message)


def check_docs(tree: TerraformTree) -> list[Finding]:
    findings: list[Finding] = []
    for module in tree.modules.values():
        readme = module.directory / "README.md"
        if not readme.is_file():
            continue  # reported by the layout check
        lines = readme.read_text(encoding="utf-8").splitlines()
        for heading, declared, kind, expected_rows in (
            (INPUTS_HEADING, module.variables(), "input", input_rows(module)),
            (OUTPUTS_HEADING, module.outputs(), "output", output_rows(module)),
        ):
            heading_line, listed = _listed(lines, heading)
            if heading_line == 0:
                findings.append(_doc(readme, 1, f"no '{heading}' section (gridctl infra docs --write)"))
                continue
            findings += [
                _doc(
                    readme,
                    heading_line,
                    f"{kind} {name!r} ({item.path.name}:{item.block.line}) is not listed under '{heading}'",
                )
                for name, item in declared.items()
                if name not in listed
            ]
            for name, line in listed.items():
                if name not in declared:
                    findings.append(
                        _doc(
                            readme,
                            line,
                            f"lists {kind} {name!r}, which modules/{module.name} does not declare",
                        )
                    )
                elif lines[line - 1].strip() != expected_rows.get(name, "").strip():
                    message = (
                        f"the row of {kind} {name!r} is out of date with its type, default or description"
                    )
                    findings.append(_doc(readme, line, message + " (gridctl infra docs --write)"))
    return findings
