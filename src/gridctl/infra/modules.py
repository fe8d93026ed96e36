"""Module calls across module boundaries, as `terraform validate` would check them: the source is a module of
the tree, every argument is a variable it declares, every required variable is passed, and every
module.<name>.<output> reference names an output the module has."""

from __future__ import annotations

from gridctl.infra.hcl import Block, HclFile
from gridctl.infra.tree import Config, Finding, TerraformTree

MODULE_META_ARGUMENTS = frozenset({"source", "version", "providers", "depends_on", "count", "for_each"})


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


def check_module_calls(tree: TerraformTree, config: Config) -> list[Finding]:
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


def check_module_reference(
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
