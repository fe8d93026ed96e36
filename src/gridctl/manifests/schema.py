"""Schema validation of rendered objects. Built-in kinds: the Kubernetes OpenAPI schemas of a pinned version
(kubernetes-validate, strict: unknown fields are errors). Custom resources: the upstream CRD schemas vendored
in deploy/schemas/<group>/<kind>_<version>.json (provenance in deploy/schemas/README.md). Those schemas are
closed here: an object schema with `properties` rejects any other field unless it declares
`additionalProperties` or `x-kubernetes-preserve-unknown-fields` itself (strict field validation)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from kubernetes_validate import utils as kv_utils
from kubernetes_validate.utils import SchemaNotFoundError
from referencing import Registry, Resource

from gridctl.manifests.findings import Finding, ManifestObject

DEFAULT_KUBERNETES_VERSION = "1.34.0"
# Parts of custom resources that are standard Kubernetes shapes: validated against the built-in schema of
# the kind named here, so an unknown field in a Rollout's pod template is caught like one in a Deployment's.
_EMBEDDED: dict[tuple[str, str], list[tuple[tuple[str, ...], str, str, str]]] = {
    ("argoproj.io", "Rollout"): [(("spec", "template"), "v1", "PodTemplate", "template")],
    ("argoproj.io", "ApplicationSet"): [
        (("spec", "template", "spec"), "argoproj.io/v1alpha1", "Application", "spec")
    ],
}


_INLINE_FLAGS = re.compile(r"\(\?([aiLmsux]+)\)")


def _python_pattern(pattern: str) -> str:
    """CRD patterns are Go RE2, which allows inline flags anywhere (`^(?i)(abort|warn)?$`); Python wants
    global flags first."""
    flags = "".join(_INLINE_FLAGS.findall(pattern))
    return f"(?{flags}){_INLINE_FLAGS.sub('', pattern)}" if flags else pattern


_COMBINATORS = frozenset({"oneOf", "anyOf", "allOf", "not"})


def _close(schema: Any, open_: bool = False) -> Any:
    """Closes object schemas; branches of oneOf/anyOf/allOf/not stay open (a branch that only constrains
    `type` must not reject the object's other fields)."""
    if isinstance(schema, dict):
        out = {k: _close(v, open_ or k in _COMBINATORS) for k, v in schema.items()}
        if isinstance(out.get("pattern"), str):
            out["pattern"] = _python_pattern(out["pattern"])
        if (
            not open_
            and "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_close(v, open_) for v in schema]
    return schema


_METASCHEMA_CHECK_BELOW = 50_000


@cache
def _validator_for(digest: str, text: str) -> jsonschema.Draft202012Validator:
    closed: dict[str, Any] = _close(json.loads(text))
    # The metaschema check costs seconds on the large generated schemas; what can go wrong in those is a Go
    # pattern Python cannot compile, which _close already rewrote and re.compile proves below.
    if len(text) < _METASCHEMA_CHECK_BELOW:
        jsonschema.Draft202012Validator.check_schema(closed)
    _compile_patterns(closed)
    return jsonschema.Draft202012Validator(closed)


def _compile_patterns(schema: Any) -> None:
    if isinstance(schema, dict):
        if isinstance(schema.get("pattern"), str):
            re.compile(schema["pattern"])
        for value in schema.values():
            _compile_patterns(value)
    elif isinstance(schema, list):
        for value in schema:
            _compile_patterns(value)


def _repo_validator(path: Path) -> jsonschema.Draft202012Validator:
    """Keyed by content, not path: the upstream schemas are large (the ApplicationSet's is 2 MB) and copies of
    deploy/ (tests, previews) hold the same files."""
    text = path.read_text()
    return _validator_for(hashlib.sha256(text.encode()).hexdigest(), text)


def schema_path(schemas: Path, api_version: str, kind: str) -> Path:
    group, _, version = api_version.rpartition("/")
    return schemas / (group or "core") / f"{kind.lower()}_{version}.json"


def _where(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out.lstrip(".") or "(root)"


@cache
def _builtin_validator(api_version: str, kind: str, version: str) -> jsonschema.Draft202012Validator:
    """The strict built-in schema of kubernetes-validate, as a validator that reports every error (the
    package's own validate() stops at the first)."""
    resolved = [
        v for v in kv_utils.all_versions() if kv_utils.major_minor(v) <= kv_utils.major_minor(version)
    ]
    if not resolved:
        raise kv_utils.VersionNotSupportedError(version)
    schema_dir = f"v{resolved[-1]}-local-strict"
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv_utils.schema_contents(
            f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{api}.json", version
        )
    except FileNotFoundError:
        raise SchemaNotFoundError(version=version, kind=kind, api_version=api_version) from None
    definitions = kv_utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(definitions) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _format(path: Iterable[Any], message: str, prefix: str) -> str:
    where = _where(path)
    if prefix:
        where = prefix if where == "(root)" else f"{prefix}.{where}"
    return f"{where}: {message}"


def _builtin(doc: dict[str, Any], version: str, prefix: str = "") -> list[str]:
    validator = _builtin_validator(str(doc["apiVersion"]), str(doc["kind"]), version)
    errors = sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    return [_format(e.absolute_path, e.message, prefix) for e in errors]


def _messages(doc: dict[str, Any], schemas: Path, version: str, prefix: str = "") -> list[str]:
    """Schema errors of one document; raises SchemaNotFoundError when neither schema source knows it."""
    api_version, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
    repo = schema_path(schemas, api_version, kind)
    if not repo.is_file():
        return _builtin(doc, version, prefix)
    validator = _repo_validator(repo)
    errors = sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    messages = [_format(e.absolute_path, e.message, prefix) for e in errors]
    group = api_version.rpartition("/")[0]
    for path, emb_api, emb_kind, field in _EMBEDDED.get((group, kind), []):
        part: Any = doc
        for key in path:
            part = part.get(key) if isinstance(part, dict) else None
        if isinstance(part, dict):
            wrapped = {"apiVersion": emb_api, "kind": emb_kind, "metadata": {"name": "x"}, field: part}
            inner = ".".join(path[:-1]) if path[-1] == field else ".".join(path)
            messages += _messages(copy.deepcopy(wrapped), schemas, version, prefix=inner)
    return messages


def validate_object(
    obj: ManifestObject, schemas: Path, version: str = DEFAULT_KUBERNETES_VERSION
) -> list[Finding]:
    doc = obj.doc
    api_version, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
    if not api_version or not kind:
        return [Finding.of("schema", obj, "apiVersion and kind are required")]
    try:
        return [Finding.of("schema", obj, m) for m in _messages(doc, schemas, version)]
    except SchemaNotFoundError:
        return [
            Finding.of(
                "schema",
                obj,
                f"no schema for {api_version} {kind}: not a built-in kind of Kubernetes {version} and not "
                f"in {schemas.name}/ ({schema_path(schemas, api_version, kind).relative_to(schemas)})",
            )
        ]
