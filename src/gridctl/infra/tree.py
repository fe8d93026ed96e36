"""The Terraform tree of the repository: modules and environments, loaded once for every check."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gridctl.infra.hcl import Attribute, Block, HclFile, HclSyntaxError, parse_file

MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
ENVIRONMENT_FILES = (
    "backend.tf",
    "versions.tf",
    "providers.tf",
    "main.tf",
    "variables.tf",
    "outputs.tf",
    "terraform.tfvars",
)
ENVIRONMENTS = ("dev", "staging", "prod")


@dataclass(frozen=True)
class Finding:
    """One problem: the file and line it is at, the check that found it and what is wrong."""

    path: Path
    line: int
    check: str
    message: str

    def render(self, root: Path) -> str:
        try:
            shown = self.path.relative_to(root)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.line}: [{self.check}] {self.message}"


@dataclass(frozen=True)
class Variable:
    name: str
    block: Block
    path: Path

    @property
    def required(self) -> bool:
        return "default" not in self.block.attributes

    @property
    def description(self) -> str | None:
        attribute = self.block.attributes.get("description")
        return attribute.value.literal() if attribute else None

    @property
    def type(self) -> Attribute | None:
        return self.block.attributes.get("type")


@dataclass(frozen=True)
class Output:
    name: str
    block: Block
    path: Path

    @property
    def description(self) -> str | None:
        attribute = self.block.attributes.get("description")
        return attribute.value.literal() if attribute else None


@dataclass
class Config:
    """A Terraform configuration directory (a module or an environment root)."""

    directory: Path
    files: list[HclFile] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.directory.name

    def blocks(self, block_type: str) -> list[tuple[HclFile, Block]]:
        return [(f, b) for f in self.files for b in f.top(block_type)]

    def variables(self) -> dict[str, Variable]:
        return {b.labels[0]: Variable(b.labels[0], b, f.path) for f, b in self.blocks("variable") if b.labels}

    def outputs(self) -> dict[str, Output]:
        return {b.labels[0]: Output(b.labels[0], b, f.path) for f, b in self.blocks("output") if b.labels}

    def file(self, name: str) -> HclFile | None:
        for parsed in self.files:
            if parsed.path.name == name:
                return parsed
        return None


@dataclass
class TerraformTree:
    root: Path
    modules: dict[str, Config]
    environments: dict[str, Config]
    tfvars: dict[str, HclFile]
    parse_errors: list[Finding]


def load(root: Path) -> TerraformTree:
    """Parse every .tf and .tfvars file below root/modules and root/environments."""
    errors: list[Finding] = []

    def config(directory: Path) -> Config:
        result = Config(directory)
        for path in sorted(directory.glob("*.tf")):
            try:
                result.files.append(parse_file(path))
            except HclSyntaxError as exc:
                errors.append(Finding(path, exc.line, "parse", f"does not parse: {exc.message}"))
        return result

    modules = {d.name: config(d) for d in _subdirectories(root / "modules")}
    environments = {d.name: config(d) for d in _subdirectories(root / "environments")}
    tfvars: dict[str, HclFile] = {}
    for name, env in environments.items():
        path = env.directory / "terraform.tfvars"
        if path.is_file():
            try:
                tfvars[name] = parse_file(path)
            except HclSyntaxError as exc:
                errors.append(Finding(path, exc.line, "parse", f"does not parse: {exc.message}"))
    return TerraformTree(root, modules, environments, tfvars, errors)


def _subdirectories(path: Path) -> list[Path]:
    return sorted(d for d in path.iterdir() if d.is_dir()) if path.is_dir() else []
