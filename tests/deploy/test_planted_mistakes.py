"""Each case plants one mistake of the kind people really make in a copy of deploy/ and asserts that
`gridctl validate` fails with a message naming the file and the object at fault. The table is
planted_mistakes.yaml beside this file, one entry per mistake (one parametrized case each); the few cases that
need more than edits and one expected finding follow here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.support.manifests import Plant, Repo, only

BASE = "deploy/k8s/base"
ROLLOUT = f"{BASE}/rollout.yaml"


@dataclass(frozen=True)
class Mistake:
    id: str
    plants: tuple[Plant, ...]
    target: str
    check: str | None
    file: str
    obj: str
    words: tuple[str, ...]
    skip: tuple[str, ...] = ("checkov", "policies")
    # Other checks that must flag the same object (a policy and checkov agreeing with a cross-check).
    also: frozenset[str] = field(default_factory=frozenset)
    message_starts: str = ""


def load_mistakes(path: Path) -> list[Mistake]:
    """The table: one entry per mistake in planted_mistakes.yaml (its header says what each key means)."""
    mistakes = []
    for entry in yaml.safe_load(path.read_text()):
        optional = {key: tuple(entry[key]) for key in ("skip",) if key in entry}
        mistakes.append(
            Mistake(
                id=entry["id"],
                plants=tuple(Plant(**plant) for plant in entry["plant"]),
                target=entry["target"],
                check=entry["check"],
                file=entry["file"],
                obj=entry["object"],
                words=tuple(entry["words"]),
                also=frozenset(entry.get("also", ())),
                message_starts=entry.get("message_starts", ""),
                **optional,
            )
        )
    return mistakes


MISTAKES = load_mistakes(Path(__file__).with_name("planted_mistakes.yaml"))


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id.replace(" ", "-") for m in MISTAKES])
def test_planted_mistake_is_named(repo: Repo, mistake: Mistake) -> None:
    for plant in mistake.plants:
        repo.apply(plant)
    found = repo.validate(mistake.target, skip=mistake.skip).findings
    relevant = [f for f in found if mistake.check is None or f.check == mistake.check]
    finding = only(relevant, mistake.file, mistake.obj, *mistake.words)
    assert finding.message.startswith(mistake.message_starts), finding.message
    checks = {f.check for f in found if f.obj == mistake.obj and f.file == mistake.file}
    assert mistake.also <= checks, found


def test_clean_copy_has_no_findings(repo: Repo) -> None:
    assert repo.validate("prod", "dev", "preview").findings == []


def test_unknown_kind_has_no_schema(repo: Repo) -> None:
    (repo.root / BASE / "mystery.yaml").write_text(
        "apiVersion: example.org/v1\nkind: Mystery\nmetadata:\n  name: m\n"
    )
    repo.plant(f"{BASE}/kustomization.yaml", "  - pdb.yaml\n", "  - pdb.yaml\n  - mystery.yaml\n")
    only(repo.findings("dev", check="schema"), f"{BASE}/mystery.yaml", "Mystery/m", "no schema")


def test_missing_rollout_transformer_configuration(repo: Repo) -> None:
    repo.plant(f"{BASE}/kustomization.yaml", "configurations:\n  - kustomizeconfig/rollout.yaml\n", "")
    # kustomize itself refuses the overlay's `replicas:` for a kind it does not know...
    (render_error,) = repo.findings("staging", check="render")
    assert render_error.file == "deploy/k8s/overlays/staging/kustomization.yaml"
    assert "gridos" in render_error.message and "{{" not in render_error.message
    # ...and without that entry, the labels silently stop at the Rollout's metadata.
    repo.plant(
        "deploy/k8s/overlays/staging/kustomization.yaml", "replicas:\n  - name: gridos\n    count: 3\n", ""
    )
    only(
        repo.findings("staging"),
        ROLLOUT,
        "Rollout/gridos",
        "app.kubernetes.io/instance",
        "did not reach the pod",
    )


def test_broken_kustomization_names_the_target(repo: Repo) -> None:
    repo.plant("deploy/k8s/overlays/staging/kustomization.yaml", "  - ../../base\n", "  - ../../bsae\n")
    found = repo.findings("staging", check="render")
    assert [f.file for f in found] == ["deploy/k8s/overlays/staging/kustomization.yaml"], found


def test_chart_values_are_configuration(repo: Repo) -> None:
    """The cross-checks read the Argo Rollouts values from the path they are given, and name it."""
    moved = "deploy/argocd/values/rollouts-controller.yaml"
    (repo.root / "deploy/argocd/values/argo-rollouts.yaml").rename(repo.root / moved)
    repo.plant(moved, "- name: argoproj-labs/gatewayAPI", "- name: argoproj-labs/gatewayApi")
    found = repo.findings("prod", check="rollouts", rollouts_values=Path(moved))
    only(found, ROLLOUT, "Rollout/gridos", "'argoproj-labs/gatewayAPI'", "not registered", moved)
