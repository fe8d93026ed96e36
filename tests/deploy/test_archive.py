"""The cold tier on Kubernetes (docs/archive.md): in dev, staging and prod the API pods read and the archive
CronJob writes the same GRIDOS_ARCHIVE_LOCATION, the storage account Terraform names for that environment;
only the CronJob archives; its ServiceAccount carries its own workload identity; the storage NetworkPolicy
lets both reach their environment's private endpoints. Previews have no archive."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gridctl.manifests.findings import ManifestObject
from gridctl.manifests.render import discover_targets, render
from tests.support.manifests import ROOT

ENVIRONMENTS = ("dev", "staging", "prod")
TERRAFORM = ROOT / "infra" / "terraform"
ZERO_ID = "00000000-0000-0000-0000-000000000000"
CLIENT_ID = "azure.workload.identity/client-id"


def _rendered(overlay: str) -> list[ManifestObject]:
    (target,) = [t for t in discover_targets(ROOT) if t.name == f"deploy/k8s/overlays/{overlay}"]
    return render(target, ROOT)


def _one(objects: list[ManifestObject], kind: str, name: str) -> dict[str, Any]:
    (doc,) = [o.doc for o in objects if o.kind == kind and o.name == name]
    return doc


def _tfvar(environment: str, key: str) -> str:
    text = (TERRAFORM / "environments" / environment / "terraform.tfvars").read_text()
    m = re.search(rf'^\s*{key}\s*=\s*"([^"]+)"', text, re.MULTILINE)
    assert m, f"{key} not in {environment}/terraform.tfvars"
    return m.group(1)


def _storage_default(variable: str) -> str:
    text = (TERRAFORM / "modules" / "storage" / "variables.tf").read_text()
    m = re.search(rf'variable "{variable}" \{{.*?default\s*=\s*"([^"]+)"', text, re.DOTALL)
    assert m, variable
    return m.group(1)


def _expected_location(environment: str) -> str:
    # The account name as infra/terraform/environments/<env>/main.tf builds it for module "storage".
    main = (TERRAFORM / "environments" / environment / "main.tf").read_text()
    m = re.search(r'module "storage" \{.*?name\s*=\s*"([^"]+)"', main, re.DOTALL)
    assert m
    account = m.group(1).replace("${var.environment}", _tfvar(environment, "environment"))
    account = account.replace("${var.global_name_suffix}", _tfvar(environment, "global_name_suffix"))
    assert re.fullmatch(r"[a-z0-9]{3,24}", account), f"{account} is not a valid storage account name"
    container, prefix = _storage_default("container_name"), _storage_default("archive_prefix")
    return f"abfs://{container}@{account}.dfs.core.windows.net/{prefix}"


def _pod_env(objects: list[ManifestObject], pod: dict[str, Any]) -> dict[str, str]:
    """The environment a pod's first container sees: envFrom ConfigMaps, then env (which wins)."""
    (container, *_) = pod["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            env |= _one(objects, "ConfigMap", source["configMapRef"]["name"]).get("data") or {}
    env |= {e["name"]: e["value"] for e in container.get("env") or [] if "value" in e}
    return env


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        assert expr["operator"] == "In", expr  # the only operator these policies use
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_api_pods_read_and_the_cronjob_writes_the_environments_archive(environment: str) -> None:
    objects = _rendered(environment)
    api = _one(objects, "Rollout", "gridos")["spec"]["template"]
    archiver = _one(objects, "CronJob", "gridos-archive")["spec"]["jobTemplate"]["spec"]["template"]
    api_env, archiver_env = _pod_env(objects, api), _pod_env(objects, archiver)

    location = _expected_location(environment)
    assert api_env["GRIDOS_ARCHIVE_LOCATION"] == location
    assert archiver_env["GRIDOS_ARCHIVE_LOCATION"] == location
    assert api_env["GRIDOS_ARCHIVE_SCHEDULE"] == "false"  # the CronJob archives, not every API pod

    # The API pods' archive cache is on a volume of its own, not in the small /tmp.
    cache = api_env["GRIDOS_ARCHIVE_CACHE_DIR"]
    mounts = {m["mountPath"]: m["name"] for m in api["spec"]["containers"][0]["volumeMounts"]}
    assert cache in mounts and mounts[cache] != mounts.get("/tmp")

    # The CronJob runs as gridos-archive with this environment's identity, not the API's and not the base's.
    assert archiver["spec"]["serviceAccountName"] == "gridos-archive"
    archive_id = _one(objects, "ServiceAccount", "gridos-archive")["metadata"]["annotations"][CLIENT_ID]
    api_id = _one(objects, "ServiceAccount", "gridos")["metadata"]["annotations"][CLIENT_ID]
    assert archive_id not in (ZERO_ID, api_id)

    # Both reach the storage account's private endpoints of this environment (Terraform's subnet).
    storage = _one(objects, "NetworkPolicy", "allow-storage")["spec"]
    assert _selects(storage["podSelector"], api["metadata"]["labels"])
    assert _selects(storage["podSelector"], archiver["metadata"]["labels"])
    assert storage["egress"][0]["to"][0]["ipBlock"]["cidr"] == _tfvar(environment, "private_endpoints")


def test_each_environment_has_its_own_archive_identity() -> None:
    ids = {
        e: _one(_rendered(e), "ServiceAccount", "gridos-archive")["metadata"]["annotations"][CLIENT_ID]
        for e in ENVIRONMENTS
    }
    assert len(set(ids.values())) == len(ENVIRONMENTS), ids


def test_previews_have_no_archive() -> None:
    objects = _rendered("preview")
    assert not [o for o in objects if o.kind == "CronJob" or o.name == "allow-storage"]
    api = _one(objects, "Rollout", "gridos")["spec"]["template"]
    assert not _pod_env(objects, api).get("GRIDOS_ARCHIVE_LOCATION", "").strip()
