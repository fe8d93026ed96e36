"""Image references by digest and the kustomize `images:` entry of an overlay that carries them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from gridctl.delivery.errors import DeliveryError
from gridctl.delivery.yamlfile import YamlDocument

ENVIRONMENTS = ("dev", "staging", "prod")
IMAGE_NAME = "gridos"

_REGISTRY = (
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]+)?"
)
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DIGEST = r"sha256:[a-f0-9]{64}"
_REFERENCE = re.compile(
    rf"^(?P<name>(?P<registry>{_REGISTRY})/(?P<path>{_COMPONENT}(?:/{_COMPONENT})*))@(?P<digest>{_DIGEST})$"
)
DIGEST = re.compile(rf"^{_DIGEST}$")


@dataclass(frozen=True)
class ImageReference:
    """`<registry>/<repository>@sha256:<64 hex>`: a registry host is required and tags are refused, so what
    is deployed is always one immutable image."""

    name: str
    digest: str

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        m = _REFERENCE.match(text.strip())
        if m is None:
            raise DeliveryError(f"malformed image reference {text!r}: {_why_malformed(text.strip())}")
        registry = m.group("registry")
        if "." not in registry and ":" not in registry and registry != "localhost":
            raise DeliveryError(
                f"malformed image reference {text!r}: {registry!r} is not a registry host "
                "(expected e.g. myacr.azurecr.io/gridos@sha256:<64 hex>)"
            )
        return cls(name=m.group("name"), digest=m.group("digest"))

    @property
    def short(self) -> str:
        return self.digest.removeprefix("sha256:")[:12]

    def __str__(self) -> str:
        return f"{self.name}@{self.digest}"


def _why_malformed(text: str) -> str:
    name, sep, digest = text.partition("@")
    if not sep:
        return "no @sha256:<digest> (tags are not deployable, pin the digest)"
    if not DIGEST.match(digest):
        return f"digest {digest!r} is not sha256: followed by 64 lowercase hex digits"
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return "a tag and a digest together; give only <registry>/<repository>@sha256:<digest>"
    if "/" not in name:
        return "no registry host (expected <registry>/<repository>@sha256:<digest>)"
    return "the repository must be lowercase letters, digits and . _ - separators"


def check_environment(env: str) -> str:
    if env not in ENVIRONMENTS:
        raise DeliveryError(f"unknown environment {env!r} (expected one of {', '.join(ENVIRONMENTS)})")
    return env


def overlay_path(repo: Path, env: str) -> Path:
    return repo / "deploy" / "k8s" / "overlays" / check_environment(env) / "kustomization.yaml"


def _image_entry(doc: YamlDocument, name: str) -> CommentedMap:
    data = doc.data
    images = data.get("images") if isinstance(data, CommentedMap) else None
    if not isinstance(images, CommentedSeq):
        raise DeliveryError(f"{doc.path}: no kustomize images: list")
    for entry in images:
        if isinstance(entry, CommentedMap) and entry.get("name") == name:
            return entry
    raise DeliveryError(f"{doc.path}: no images: entry with name: {name}")


def overlay_image_name(path: Path, name: str = IMAGE_NAME) -> str | None:
    """The registry/repository an overlay pulls `name` from (its newName), digest or not."""
    value = _image_entry(YamlDocument(path), name).get("newName")
    return str(value) if value else None


def read_overlay_image(path: Path, name: str = IMAGE_NAME) -> ImageReference | None:
    """The image an overlay deploys, or None if the entry has no digest yet."""
    entry = _image_entry(YamlDocument(path), name)
    new_name, digest = entry.get("newName"), entry.get("digest")
    if not new_name or not digest:
        return None
    return ImageReference.parse(f"{new_name}@{digest}")


def set_overlay_image(path: Path, image: ImageReference, name: str = IMAGE_NAME) -> bool:
    """Point the overlay's `images:` entry `name` at `image` (newName + digest; any newTag goes, since a
    digest wins over it anyway). The edit is made on the lines of those keys only, found through the
    round-trip parser's positions, so every other byte of the file (comments, indentation, quoting, even
    mixed indentation a re-dump would normalise) stays as it was. Returns False when nothing changed."""
    doc = YamlDocument(path)
    entry = _image_entry(doc, name)
    if entry.get("newName") == image.name and entry.get("digest") == image.digest and "newTag" not in entry:
        return False
    if entry.fa.flow_style():
        raise DeliveryError(f"{path}: the images: entry {name} is in flow style; write it as a block mapping")
    lines = path.read_text().splitlines(keepends=True)
    key_line, key_col = entry.lc.key("name")
    inserts: list[tuple[int, str]] = []
    deletes: list[int] = []
    anchor = key_line
    for key, value in (("newName", image.name), ("digest", image.digest)):
        if key in entry:
            line, col = entry.lc.value(key)
            lines[line] = _replace_scalar(lines[line], col, value, path)
            anchor = max(anchor, line)
        else:
            inserts.append((anchor, f"{' ' * key_col}{key}: {value}\n"))
    if "newTag" in entry:
        tag_line, _ = entry.lc.key("newTag")
        deletes.append(tag_line)
    for line, text in sorted(inserts, reverse=True):
        lines.insert(line + 1, text)
    for line in sorted(deletes, reverse=True):
        shift = sum(1 for at, _ in inserts if at < line)
        del lines[line + shift]
    path.write_text("".join(lines))
    if read_overlay_image(path, name) != image:
        raise DeliveryError(f"{path}: the edit did not produce {image}; the file was left as written")
    return True


_SCALAR = re.compile(r"""("[^"\\]*"|'[^']*'|[^\s#]+)""")


def _replace_scalar(line: str, col: int, value: str, path: Path) -> str:
    """Replace the one-line scalar starting at `col`, keeping its quote style and whatever follows it."""
    m = _SCALAR.match(line, col)
    if m is None:
        raise DeliveryError(f"{path}: cannot edit the value in {line.strip()!r} (multi-line scalar?)")
    old = m.group(1)
    quote = old[0] if old[0] in "\"'" else ""
    return f"{line[:col]}{quote}{value}{quote}{line[m.end() :]}"
