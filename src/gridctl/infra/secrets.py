"""No-secrets check: no credential, key or password literal in .tf or .tfvars.

Two nets: a secret-looking *name* (attribute, object key or variable) bound to a non-empty literal, and
secret-looking *values* (private keys, storage account keys, connection strings with keys, tokens,
passwords in URLs) in any string literal, whatever they are called. Generated secrets (random_password)
are expressions, never literals, so they pass.
"""

from __future__ import annotations

import re
from pathlib import Path

from gridctl.infra.hcl import Expression, HclFile, HclSyntaxError, parse_file
from gridctl.infra.tree import Finding

SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "credential",
    "credentials",
    "connection_string",
    "access_key",
    "account_key",
    "api_key",
    "private_key",
    "primary_key",
    "secondary_key",
    "shared_key",
    "sas",
    "client_secret",
    "instrumentation_key",
)
# Names that talk about a secret without holding one.
NOT_A_VALUE_SUFFIXES = (
    "_id",
    "_ids",
    "_name",
    "_names",
    "_enabled",
    "_type",
    "_version",
    "_length",
    "_days",
    "_hours",
    "_interval",
    "_uri",
    "_url",
    "_roles",
    "_policy",
    "_provider",
    "_expiration",
)
SECRET_VALUES = (
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a PEM private key"),
    (re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])"), "an Azure storage account key"),
    (
        re.compile(r"(?i)(AccountKey|SharedAccessKey|SharedAccessSignature)=[^;\s]+"),
        "a connection string with a key",
    ),
    (re.compile(r"(?i)[?&]sig=[A-Za-z0-9%+/=]{20,}"), "a SAS token signature"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"), "a GitHub token"),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}\b"), "a GitHub token"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "an AWS access key"),
    (re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@${}]+:[^\s/@${}]+@"), "a password in a URL"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"), "a JSON Web Token"),
)


def secret_name(name: str) -> bool:
    """Whether an attribute or variable of this name would hold a secret value."""
    lowered = name.lower().replace("-", "_")
    if lowered.endswith(NOT_A_VALUE_SUFFIXES):
        return False
    words = lowered.split("_")
    for secret in SECRET_WORDS:
        parts = secret.split("_")
        for i in range(len(words) - len(parts) + 1):
            if words[i : i + len(parts)] == parts:
                return True
    return False


def _bound_literal(expression: Expression) -> str | None:
    value = expression.literal()
    return value if value else None


def check_file(parsed: HclFile) -> list[Finding]:
    findings: list[Finding] = []
    path = parsed.path
    tfvars = path.suffix == ".tfvars"
    for block, attribute in parsed.all_attributes():
        names = [attribute.name]
        # A variable's default is named after the variable.
        if block is not None and block.type == "variable" and attribute.name == "default" and block.labels:
            names.append(block.labels[0])
        literal = _bound_literal(attribute.value)
        if literal is not None and any(secret_name(n) for n in names):
            findings.append(
                Finding(
                    path,
                    attribute.line,
                    "secrets",
                    f"{'/'.join(names)} is set to a literal: secrets come from random_password into Key Vault "
                    "or from the pipeline, never from code",
                )
            )
        elif tfvars and secret_name(attribute.name) and attribute.value.strings():
            findings.append(
                Finding(path, attribute.line, "secrets", f"{attribute.name} holds a literal in {path.name}")
            )
        for element in attribute.value.object_elements():
            if secret_name(element.key) and _bound_literal(element.value) is not None:
                findings.append(
                    Finding(
                        path, element.line, "secrets", f"{attribute.name}.{element.key} is set to a literal"
                    )
                )
        for string in attribute.value.strings():
            for pattern, what in SECRET_VALUES:
                if pattern.search(string.text):
                    findings.append(Finding(path, string.line, "secrets", f"{attribute.name} holds {what}"))
                    break
    return _unique(findings)


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[Path, int, str]] = set()
    result: list[Finding] = []
    for finding in findings:
        key = (finding.path, finding.line, finding.message)
        if key not in seen:
            seen.add(key)
            result.append(finding)
    return result


def check_secrets(root: Path) -> list[Finding]:
    """Scan every .tf and .tfvars file below root (parse errors are the parse check's business)."""
    findings: list[Finding] = []
    for path in sorted([*root.rglob("*.tf"), *root.rglob("*.tfvars")]):
        if ".terraform" in path.parts:
            continue
        try:
            parsed = parse_file(path)
        except HclSyntaxError:
            continue
        findings += check_file(parsed)
    return findings
