#!/usr/bin/env bash
# Second stage of the bootstrap (ADR 0005): Terraform made the cluster; this installs Argo CD once with Helm in
# HA mode, registers the cluster with its environment label, and applies the root Application. From then on
# Argo CD manages everything from Git. Idempotent: run it again and it changes nothing that exists.
#
#   deploy/argocd/bootstrap/install-argocd.sh dev|staging|prod
#
# The current kubectl context must point at that environment's AKS cluster
# (az aks get-credentials --resource-group rg-gridos-<env> --name gridos-<env>).
set -euo pipefail

readonly CHART_VERSION="8.0.17"
readonly NAMESPACE="argocd"
readonly RELEASE="argo-cd"
readonly REPO_URL="https://argoproj.github.io/argo-helm"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly here

usage() {
  echo "usage: $0 dev|staging|prod" >&2
  exit 2
}

log() {
  printf 'install-argocd: %s\n' "$*" >&2
}

[[ $# -eq 1 ]] || usage
environment="$1"
case "${environment}" in
  dev | staging | prod) ;;
  *) usage ;;
esac

for tool in kubectl helm; do
  command -v "${tool}" >/dev/null || {
    log "${tool} is required"
    exit 1
  }
done

context="$(kubectl config current-context)"
log "environment ${environment}, kubectl context ${context}"

kubectl create namespace "${NAMESPACE}" --dry-run=client -o yaml | kubectl apply -f -

if helm status "${RELEASE}" --namespace "${NAMESPACE}" >/dev/null 2>&1; then
  log "Argo CD is already installed (helm release ${RELEASE}); leaving it as it is"
else
  log "installing Argo CD (chart argo-cd ${CHART_VERSION}) in HA mode"
  helm upgrade --install "${RELEASE}" argo-cd \
    --repo "${REPO_URL}" \
    --version "${CHART_VERSION}" \
    --namespace "${NAMESPACE}" \
    --values "${here}/values-argocd.yaml" \
    --wait --timeout 10m
fi

# The cluster Argo CD runs in, declared as a cluster Secret with the label the ApplicationSets select on:
# gridos.io/environment=<env> turns into gridos-<env> and the platform applications of this cluster.
log "registering this cluster as environment ${environment}"
kubectl apply -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: in-cluster
  namespace: ${NAMESPACE}
  labels:
    argocd.argoproj.io/secret-type: cluster
    gridos.io/environment: ${environment}
type: Opaque
stringData:
  name: in-cluster
  server: https://kubernetes.default.svc
  config: '{"tlsClientConfig": {"insecure": false}}'
YAML

log "applying the root Application"
kubectl apply -f "${here}/root.yaml"
log "done: Argo CD now syncs deploy/argocd from Git"
