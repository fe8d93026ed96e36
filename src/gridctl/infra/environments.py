"""The environments of the Terraform tree: they share their configuration word for word and differ only in
data (terraform.tfvars, backend.tf), each has its own state key, and every required variable is either in
terraform.tfvars or set by the pipeline."""

from __future__ import annotations

from pathlib import Path

from gridctl.infra.hcl import HclFile
from gridctl.infra.tree import ENVIRONMENTS, Config, Finding, TerraformTree

# Files that must be identical in every environment: environments differ only in data.
SHARED_ENVIRONMENT_FILES = ("main.tf", "variables.tf", "outputs.tf", "providers.tf", "versions.tf")


def check_tfvars(env: Config, tfvars: HclFile) -> list[Finding]:
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


def check_environment_drift(tree: TerraformTree) -> list[Finding]:
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
