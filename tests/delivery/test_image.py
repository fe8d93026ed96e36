"""Image references and the overlay edit: only the image values change, everything else stays byte-equal."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

from gridctl.delivery import DeliveryError, ImageReference, set_overlay_image
from gridctl.delivery.image import read_overlay_image
from tests.delivery.gitops import FIXTURES, digest, gridctl, image

GOOD = digest("good")


@pytest.mark.parametrize(
    "text",
    [
        f"gridosacr.azurecr.io/gridos@{GOOD}",
        f"localhost:5000/platform/gridos@{GOOD}",
        f"ghcr.io/gridos-org/grid_os.api@{GOOD}",
    ],
)
def test_well_formed_references_parse(text: str) -> None:
    ref = ImageReference.parse(text)
    assert str(ref) == text
    assert ref.digest == GOOD


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("gridosacr.azurecr.io/gridos:1.2.3", "no @sha256"),
        (f"gridosacr.azurecr.io/gridos:1.2.3@{GOOD}", "a tag and a digest"),
        ("gridosacr.azurecr.io/gridos@sha256:abc", "64 lowercase hex"),
        (f"gridosacr.azurecr.io/gridos@{GOOD.upper()}", "64 lowercase hex"),
        (f"gridos@{GOOD}", "no registry host"),
        (f"library/gridos@{GOOD}", "not a registry host"),
        (f"gridosacr.azurecr.io/GridOS@{GOOD}", "lowercase"),
        ("", "no @sha256"),
    ],
)
def test_malformed_references_are_rejected_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(DeliveryError, match="malformed image reference") as info:
        ImageReference.parse(text)
    assert why in str(info.value)


def _overlay(tmp_path: Path, text: str | None = None) -> Path:
    path = tmp_path / "kustomization.yaml"
    path.write_text(
        text if text is not None else (FIXTURES / "kustomization.yaml").read_text().replace("{env}", "dev")
    )
    return path


def _changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_set_changes_only_the_digest_and_keeps_comments_and_formatting(tmp_path: Path) -> None:
    path = _overlay(tmp_path)
    before = path.read_text()
    ref = ImageReference.parse(image("v2").replace("gridosacr", "gridosdev"))
    assert set_overlay_image(path, ref)
    after = path.read_text()
    changed = _changed_lines(before, after)
    assert changed == [
        '-    digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000"  # placeholder',
        f'+    digest: "{ref.digest}"  # placeholder',
    ]
    assert read_overlay_image(path) == ref
    assert not set_overlay_image(path, ref), "a second identical edit is a no-op"
    assert path.read_text() == after


def test_set_replaces_registry_and_drops_a_tag_in_an_unindented_list(tmp_path: Path) -> None:
    path = _overlay(
        tmp_path,
        "# prod\nimages:\n- name: gridos # the service\n  newName: old.azurecr.io/gridos\n  newTag: v1\n"
        "resources:\n- ../../base   # base\n",
    )
    ref = ImageReference.parse(image("prod"))
    set_overlay_image(path, ref)
    assert path.read_text() == (
        "# prod\nimages:\n- name: gridos # the service\n"
        f"  newName: {ref.name}\n  digest: {ref.digest}\nresources:\n- ../../base   # base\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("resources: []\n", "no kustomize images: list"),
        ("images:\n  - name: other\n    newTag: '1'\n", "no images: entry with name: gridos"),
        ("images: [\n", "not valid YAML"),
    ],
)
def test_set_refuses_an_overlay_without_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = _overlay(tmp_path, text)
    with pytest.raises(DeliveryError, match=message):
        set_overlay_image(path, ImageReference.parse(image("x")))
    assert path.read_text() == text


def test_cli_image_set_json_and_one_line_errors(repo: Path) -> None:
    ok = gridctl("image", "set", "--env", "dev", "--image", image("cli"), "--json", cwd=repo, process=True)
    assert ok.returncode == 0, ok.stderr
    payload = json.loads(ok.stdout)
    assert payload["changed"] is True and payload["image"] == image("cli")
    overlay = repo / "deploy/k8s/overlays/dev/kustomization.yaml"
    assert digest("cli") in overlay.read_text()

    before = overlay.read_text()
    bad = gridctl(
        "image",
        "set",
        "--env",
        "dev",
        "--image",
        "gridosacr.azurecr.io/gridos:latest",
        cwd=repo,
        process=True,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith(
        "gridctl image set: malformed image reference"
    )
    assert overlay.read_text() == before

    env = gridctl("image", "set", "--env", "qa", "--image", image("cli"), cwd=repo)
    assert env.returncode != 0
    assert (
        env.stderr.strip()
        == "gridctl image set: unknown environment 'qa' (expected one of dev, staging, prod)"
    )


REAL_OVERLAYS = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "overlays"


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_set_on_a_copy_of_the_real_overlay_changes_only_the_image_lines(tmp_path: Path, env: str) -> None:
    source = REAL_OVERLAYS / env / "kustomization.yaml"
    if not source.exists():
        pytest.skip(f"{source} not written yet")
    path = tmp_path / "kustomization.yaml"
    before = source.read_text()
    path.write_text(before)
    ref = ImageReference.parse(f"crgridos{env}new.azurecr.io/gridos@{digest('real-' + env)}")
    assert set_overlay_image(path, ref)
    changed = _changed_lines(before, path.read_text())
    assert [line for line in changed if line.startswith("+")] == [
        f"+    newName: {ref.name}",
        f"+    digest: {ref.digest}",
    ]
    assert len(changed) == 4 and all("newName: " in c or "digest: " in c for c in changed), changed
    assert read_overlay_image(path) == ref
