"""Image references by digest and the kustomize `images:` entry of an overlay that carries them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from gridctl.delivery.errors import DeliveryError
from gridctl.delivery.yamlfile import YamlDocument, same_style

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


def read_overlay_image(path: Path, name: str = IMAGE_NAME) -> ImageReference | None:
    """The image an overlay deploys, or None if the entry has no digest yet."""
    entry = _image_entry(YamlDocument(path), name)
    new_name, digest = entry.get("newName"), entry.get("digest")
    if not new_name or not digest:
        return None
    return ImageReference.parse(f"{new_name}@{digest}")


def set_overlay_image(path: Path, image: ImageReference, name: str = IMAGE_NAME) -> bool:
    """Point the overlay's `images:` entry `name` at `image` (newName + digest; any newTag goes, since a
    digest wins over it anyway). Only those values change: comments, order and indentation are kept.
    Returns False when the overlay already carried exactly this image."""
    doc = YamlDocument(path)
    entry = _image_entry(doc, name)
    if entry.get("newName") == image.name and entry.get("digest") == image.digest and "newTag" not in entry:
        return False
    entry["newName"] = same_style(entry.get("newName"), image.name)
    if "newTag" in entry:
        del entry["newTag"]
    entry["digest"] = same_style(entry.get("digest"), image.digest)
    doc.save()
    return True
