"""Version pinning of the Terraform tree (docs/infrastructure.md): environment roots pin Terraform and every
provider to a patch series or an exact version, modules take a bounded range, and every provider a resource
or data source uses is declared in required_providers."""

from __future__ import annotations

import re

from gridctl.infra.tree import Config, Finding

# Environment roots pin to a patch series (~> 1.11.4) or an exact version.
ROOT_PIN = re.compile(r"^\s*(~>\s*\d+\.\d+\.\d+|=?\s*\d+\.\d+\.\d+)\s*$")
# Modules take a bounded range: a lower bound and an upper bound (or ~>).
MODULE_PIN = re.compile(r"(~>\s*\d+\.\d+)|(>=?\s*\d+[\d.]*\s*,\s*<=?\s*\d+[\d.]*)")
BUILTIN_PROVIDERS = frozenset({"terraform"})


def check_versions(config: Config, *, root: bool) -> list[Finding]:
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
