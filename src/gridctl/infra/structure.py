"""Offline structural validation: what `terraform validate` would catch across module boundaries, and the
layout, documentation-in-code and version-pinning rules of docs/infrastructure.md, without a terraform
binary or provider downloads."""

from __future__ import annotations

import re
from pathlib import Path

from gridctl.infra.hcl import Block, HclFile
from gridctl.infra.tree import (
    ENVIRONMENT_FILES,
    ENVIRONMENTS,
    MODULE_FILES,
    Config,
    Finding,
    TerraformTree,
)

MODULE_META_ARGUMENTS = frozenset({"source", "version", "providers", "depends_on", "count", "for_each"})
# Files that must be identical in every environment: environments differ only in data.
SHARED_ENVIRONMENT_FILES = ("main.tf", "variables.tf", "outputs.tf", "providers.tf", "versions.tf")
# Environment roots pin to a patch series (~> 1.11.4) or an exact version.
ROOT_PIN = re.compile(r"^\s*(~>\s*\d+\.\d+\.\d+|=?\s*\d+\.\d+\.\d+)\s*$")
# Modules take a bounded range: a lower bound and an upper bound (or ~>).
MODULE_PIN = re.compile(r"(~>\s*\d+\.\d+)|(>=?\s*\d+[\d.]*\s*,\s*<=?\s*\d+[\d.]*)")
BUILTIN_PROVIDERS = frozenset({"terraform"})


def check_structure(tree: TerraformTree) -> list[Finding]:
    findings: list[Finding] = []
    findings += _layout(tree)
    for module in tree.modules.values():
        findings += _validations(module)
    for config in [*tree.modules.values(), *tree.environments.values()]:
        findings += _declarations(config)
        findings += _unused(config)
        findings += _references(tree, config)
        findings += _versions(config, root=config in tree.environments.values())
    for env in tree.environments.values():
        findings += _module_calls(tree, env)
    for name, tfvars in tree.tfvars.items():
        findings += _tfvars(tree.environments[name], tfvars)
    findings += _environment_drift(tree)
    return findings


def _layout(tree: TerraformTree) -> list[Finding]:
    findings: list[Finding] = []
    if not tree.modules:
        findings.append(Finding(tree.root / "modules", 0, "layout", "no modules found"))
    for module in tree.modules.values():
        for name in MODULE_FILES:
            if not (module.directory / name).is_file():
                findings.append(
                    Finding(module.directory / name, 0, "layout", f"module {module.name} has no {name}")
                )
    for expected in ENVIRONMENTS:
        if expected not in tree.environments:
            findings.append(
                Finding(
                    tree.root / "environments" / expected, 0, "layout", f"environment {expected} is missing"
                )
            )
    for env in tree.environments.values():
        for name in ENVIRONMENT_FILES:
            if not (env.directory / name).is_file():
                findings.append(
                    Finding(env.directory / name, 0, "layout", f"environment {env.name} has no {name}")
                )
    return findings


def _declarations(config: Config) -> list[Finding]:
    findings: list[Finding] = []
    for variable in config.variables().values():
        line = variable.block.line
        if variable.type is None:
            findings.append(
                Finding(variable.path, line, "variables", f"variable {variable.name!r} has no type")
            )
        if not variable.description:
            findings.append(
                Finding(variable.path, line, "variables", f"variable {variable.name!r} has no description")
            )
        if variable.path.name != "variables.tf":
            findings.append(
                Finding(
                    variable.path, line, "variables", f"variable {variable.name!r} belongs in variables.tf"
                )
            )
    for output in config.outputs().values():
        if not output.description:
            findings.append(
                Finding(
                    output.path, output.block.line, "outputs", f"output {output.name!r} has no description"
                )
            )
        if output.path.name != "outputs.tf":
            findings.append(
                Finding(
                    output.path, output.block.line, "outputs", f"output {output.name!r} belongs in outputs.tf"
                )
            )
    return findings


def _validations(module: Config) -> list[Finding]:
    """A module guards its inputs: at least one variable carries a validation block."""
    variables = module.variables()
    if not variables or any(v.block.children("validation") for v in variables.values()):
        return []
    path = module.directory / "variables.tf"
    return [Finding(path, 1, "variables", f"module {module.name} validates none of its variables")]


def _unused(config: Config) -> list[Finding]:
    """Variables and locals nobody references (TFLint's terraform_unused_declarations, offline)."""
    used = {
        ref.parts[:2]
        for parsed in config.files
        for _, attribute in parsed.all_attributes()
        for ref in attribute.value.references()
    }
    findings = [
        Finding(v.path, v.block.line, "variables", f"variable {v.name!r} is declared but never used")
        for v in config.variables().values()
        if ("var", v.name) not in used
    ]
    for parsed, block in config.blocks("locals"):
        for name, attribute in block.attributes.items():
            if ("local", name) not in used:
                findings.append(
                    Finding(parsed.path, attribute.line, "variables", f"local {name!r} is never used")
                )
    return findings


def _module_source(tree: TerraformTree, config: Config, call: Block) -> Config | None:
    source = call.attributes.get("source")
    value = source.value.literal() if source else None
    if value is None or not value.startswith((".", "/")):
        return None
    target = (config.directory / value).resolve()
    for module in tree.modules.values():
        if module.directory.resolve() == target:
            return module
    return None


def _module_calls(tree: TerraformTree, config: Config) -> list[Finding]:
    findings: list[Finding] = []
    for parsed, call in config.blocks("module"):
        name = call.labels[0] if call.labels else "?"
        source = call.attributes.get("source")
        if source is None:
            findings.append(Finding(parsed.path, call.line, "modules", f"module {name!r} has no source"))
            continue
        module = _module_source(tree, config, call)
        if module is None:
            findings.append(
                Finding(
                    parsed.path,
                    source.line,
                    "modules",
                    f"module {name!r}: source {source.value.text} is not a module under {tree.root / 'modules'}",
                )
            )
            continue
        declared = module.variables()
        for argument in call.attributes.values():
            if argument.name in MODULE_META_ARGUMENTS:
                continue
            if argument.name not in declared:
                findings.append(
                    Finding(
                        parsed.path,
                        argument.line,
                        "modules",
                        f"module {name!r} passes {argument.name!r}, which modules/{module.name} does not declare",
                    )
                )
        for variable in declared.values():
            if variable.required and variable.name not in call.attributes:
                findings.append(
                    Finding(
                        parsed.path,
                        call.line,
                        "modules",
                        f"module {name!r} does not pass required variable {variable.name!r} "
                        f"(modules/{module.name}/{variable.path.name}:{variable.block.line})",
                    )
                )
    return findings


def _references(tree: TerraformTree, config: Config) -> list[Finding]:
    findings: list[Finding] = []
    variables = config.variables()
    locals_ = {name for _, block in config.blocks("locals") for name in block.attributes}
    calls = {b.labels[0]: b for _, b in config.blocks("module") if b.labels}
    resources = {b.labels[:2] for _, b in config.blocks("resource")}
    data_sources = {b.labels[:2] for _, b in config.blocks("data")}
    providers = _declared_providers(config)
    iterators = {
        b.labels[0]
        for parsed in config.files
        for top in parsed.blocks
        for b in top.walk()
        if b.type == "dynamic" and b.labels
    }
    for parsed in config.files:
        for _, attribute in parsed.all_attributes():
            for ref in attribute.value.references():
                head = ref.parts[0]
                if head == "var" and ref.parts[1] not in variables:
                    findings.append(
                        Finding(
                            parsed.path, ref.line, "references", f"{ref.dotted}: no variable {ref.parts[1]!r}"
                        )
                    )
                elif head == "local" and ref.parts[1] not in locals_:
                    findings.append(
                        Finding(
                            parsed.path, ref.line, "references", f"{ref.dotted}: no local {ref.parts[1]!r}"
                        )
                    )
                elif head == "module":
                    findings += _module_reference(tree, config, calls, parsed, ref.parts, ref.line)
                elif head == "data" and len(ref.parts) >= 3 and ref.parts[1:3] not in data_sources:
                    findings.append(
                        Finding(
                            parsed.path,
                            ref.line,
                            "references",
                            f"{ref.dotted}: no data source {ref.parts[1]}.{ref.parts[2]}",
                        )
                    )
                elif (
                    head.split("_", 1)[0] in providers
                    and head not in iterators
                    and len(ref.parts) >= 2
                    and ref.parts[:2] not in resources
                ):
                    findings.append(
                        Finding(
                            parsed.path,
                            ref.line,
                            "references",
                            f"{ref.dotted}: no resource {head}.{ref.parts[1]}",
                        )
                    )
    return findings


def _declared_providers(config: Config) -> set[str]:
    versions = config.file("versions.tf")
    if versions is None:
        return set()
    return {
        attribute
        for terraform in versions.top("terraform")
        for providers in terraform.children("required_providers")
        for attribute in providers.attributes
    }


def _module_reference(
    tree: TerraformTree,
    config: Config,
    calls: dict[str, Block],
    parsed: HclFile,
    parts: tuple[str, ...],
    line: int,
) -> list[Finding]:
    dotted = ".".join(parts)
    call = calls.get(parts[1])
    if call is None:
        return [Finding(parsed.path, line, "references", f"{dotted}: no module {parts[1]!r} is called here")]
    module = _module_source(tree, config, call)
    if module is None or len(parts) < 3:
        return []
    if parts[2] not in module.outputs():
        return [
            Finding(
                parsed.path,
                line,
                "references",
                f"{dotted}: modules/{module.name} has no output {parts[2]!r}",
            )
        ]
    return []


def _versions(config: Config, *, root: bool) -> list[Finding]:
    findings: list[Finding] = []
    versions = config.file("versions.tf")
    if versions is None:
        return findings  # reported by the layout check
    terraform_blocks = versions.top("terraform")
    if not terraform_blocks:
        return [Finding(versions.path, 1, "versions", "versions.tf has no terraform block")]
    terraform = terraform_blocks[0]
    kind = "environment" if root else "module"
    rule = ROOT_PIN if root else MODULE_PIN
    expected = "~> x.y.z or an exact x.y.z" if root else "a bounded range such as '>= 4.42.0, < 5.0.0'"
    required_version = terraform.attributes.get("required_version")
    value = required_version.value.literal() if required_version else None
    if required_version is None or value is None:
        findings.append(
            Finding(versions.path, terraform.line, "versions", "terraform required_version is not set")
        )
    elif not rule.search(value):
        findings.append(
            Finding(
                versions.path,
                required_version.line,
                "versions",
                f"terraform required_version {value!r} is not pinned: an {kind} needs {expected}",
            )
        )
    declared: dict[str, int] = {}
    for providers in terraform.children("required_providers"):
        for attribute in providers.attributes.values():
            declared[attribute.name] = attribute.line
            elements = {e.key: e for e in attribute.value.object_elements()}
            source = elements["source"].value.literal() if "source" in elements else None
            version = elements["version"].value.literal() if "version" in elements else None
            if source is None:
                findings.append(
                    Finding(
                        versions.path,
                        attribute.line,
                        "versions",
                        f"provider {attribute.name!r} has no source",
                    )
                )
            if version is None:
                findings.append(
                    Finding(
                        versions.path,
                        attribute.line,
                        "versions",
                        f"provider {attribute.name!r} has no version",
                    )
                )
            elif not rule.search(version):
                findings.append(
                    Finding(
                        versions.path,
                        elements["version"].line,
                        "versions",
                        f"provider {attribute.name!r} version {version!r} is not pinned: an {kind} needs {expected}",
                    )
                )
    for parsed in config.files:
        for block_type in ("resource", "data"):
            for block in parsed.top(block_type):
                provider = block.labels[0].split("_", 1)[0] if block.labels else ""
                if provider and provider not in BUILTIN_PROVIDERS and provider not in declared:
                    findings.append(
                        Finding(
                            parsed.path,
                            block.line,
                            "versions",
                            f"{block_type} {block.label} uses provider {provider!r}, "
                            f"which {versions.path.name} does not declare in required_providers",
                        )
                    )
                    declared[provider] = 0  # report once
    return findings


def _tfvars(env: Config, tfvars: HclFile) -> list[Finding]:
    findings: list[Finding] = []
    variables = env.variables()
    for attribute in tfvars.attributes.values():
        if attribute.name not in variables:
            findings.append(
                Finding(
                    tfvars.path,
                    attribute.line,
                    "tfvars",
                    f"{attribute.name!r} is not a variable of environment {env.name}",
                )
            )
    return findings


def required_from_pipeline(env: Config, tfvars: HclFile | None) -> list[str]:
    """Required variables that terraform.tfvars leaves to the pipeline (TF_VAR_<name>)."""
    assigned = set(tfvars.attributes) if tfvars else set()
    return sorted(v.name for v in env.variables().values() if v.required and v.name not in assigned)


def check_pipeline_variables(tree: TerraformTree, workflow: Path) -> list[Finding]:
    """Every required variable missing from terraform.tfvars must be set as TF_VAR_<name> by the workflow."""
    if not workflow.is_file():
        return [Finding(workflow, 0, "tfvars", "workflow not found: required variables cannot be traced")]
    text = workflow.read_text(encoding="utf-8")
    findings: list[Finding] = []
    for name, env in tree.environments.items():
        tfvars = tree.tfvars.get(name)
        for variable_name in required_from_pipeline(env, tfvars):
            if f"TF_VAR_{variable_name}" not in text:
                variable = env.variables()[variable_name]
                findings.append(
                    Finding(
                        variable.path,
                        variable.block.line,
                        "tfvars",
                        f"required variable {variable_name!r} is neither in {name}/terraform.tfvars nor set as "
                        f"TF_VAR_{variable_name} by {workflow.name}",
                    )
                )
    return findings


def _environment_drift(tree: TerraformTree) -> list[Finding]:
    findings: list[Finding] = []
    envs = [tree.environments[name] for name in ENVIRONMENTS if name in tree.environments]
    if len(envs) < 2:
        return findings
    reference = envs[0]
    for env in envs[1:]:
        for name in SHARED_ENVIRONMENT_FILES:
            mine, theirs = env.directory / name, reference.directory / name
            if not (mine.is_file() and theirs.is_file()):
                continue
            a, b = mine.read_text().splitlines(), theirs.read_text().splitlines()
            if a == b:
                continue
            line = next(
                (i for i, (x, y) in enumerate(zip(a, b, strict=False), start=1) if x != y),
                min(len(a), len(b)) + 1,
            )
            findings.append(
                Finding(
                    mine,
                    line,
                    "environments",
                    f"differs from {reference.name}/{name} at line {line}: environments share {name} word for word "
                    "(staging and prod link to dev's) and differ only in terraform.tfvars and backend.tf",
                )
            )
    keys: dict[str, Path] = {}
    for env in envs:
        backend = env.file("backend.tf")
        if backend is None:
            continue
        for terraform in backend.top("terraform"):
            for block in terraform.children("backend"):
                key = block.attributes.get("key")
                value = key.value.literal() if key else None
                if value is None:
                    findings.append(
                        Finding(backend.path, block.line, "environments", "backend has no literal state key")
                    )
                elif value in keys:
                    findings.append(
                        Finding(
                            backend.path,
                            key.line if key else block.line,
                            "environments",
                            f"state key {value!r} is also used by {keys[value].parent.name}: environments would share state",
                        )
                    )
                else:
                    keys[value] = backend.path
    return findings
