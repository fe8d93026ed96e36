"""Offline structural validation: what `terraform validate` would catch across module boundaries, and the
layout, documentation-in-code and version-pinning rules of docs/infrastructure.md, without a terraform
binary or provider downloads. The checks of module calls, versions and environments have their own
modules; this one runs them all and holds the layout, declaration and reference checks."""

from __future__ import annotations

from gridctl.infra.environments import check_environment_drift, check_tfvars
from gridctl.infra.modules import check_module_calls, check_module_reference
from gridctl.infra.tree import (
    ENVIRONMENT_FILES,
    ENVIRONMENTS,
    MODULE_FILES,
    Config,
    Finding,
    TerraformTree,
)
from gridctl.infra.versions import check_versions


def check_structure(tree: TerraformTree) -> list[Finding]:
    findings: list[Finding] = []
    findings += _layout(tree)
    for module in tree.modules.values():
        findings += _validations(module)
    for config in [*tree.modules.values(), *tree.environments.values()]:
        findings += _declarations(config)
        findings += _unused(config)
        findings += _references(tree, config)
        findings += check_versions(config, root=config in tree.environments.values())
    for env in tree.environments.values():
        findings += check_module_calls(tree, env)
    for name, tfvars in tree.tfvars.items():
        findings += check_tfvars(tree.environments[name], tfvars)
    findings += check_environment_drift(tree)
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
                    findings += check_module_reference(tree, config, calls, parsed, ref.parts, ref.line)
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
