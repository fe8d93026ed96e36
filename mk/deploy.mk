# Kubernetes delivery: render every overlay and component combination, then schemas, cross-checks against a
# running GridOS, Rego policies, checkov (gridctl validate); policy fixtures and planted-mistake tests;
# shellcheck of the Argo CD bootstrap. Needs kubectl (bundles kustomize) and .venv-checkov
# (scripts/install-system-deps.sh).
DEPLOY_SCRIPTS := $(wildcard deploy/argocd/bootstrap/*.sh)
CHECKOV ?= .venv-checkov/bin/checkov

.PHONY: check-deploy deploy-render
CHECK_TARGETS += check-deploy

check-deploy: ## gridctl validate (render, schemas, cross-checks, Rego, checkov), ledgers, deploy tests, shellcheck
	@$(UV) run --frozen gridctl ledger show --strict >/dev/null
	@command -v kubectl >/dev/null || { echo "check-deploy: kubectl (with kustomize) is required" >&2; exit 1; }
	@test -x $(CHECKOV) || { echo "check-deploy: $(CHECKOV) missing (run: make system-deps)" >&2; exit 1; }
	@CHECKOV=$(CHECKOV) $(UV) run --frozen python -m gridctl.cli validate
	@$(if $(DEPLOY_SCRIPTS),$(UV) run --frozen shellcheck --severity=style $(DEPLOY_SCRIPTS))
	@CHECKOV=$(CHECKOV) $(CHECK_PYTEST) tests/deploy

deploy-render: ## print the rendered manifests of one overlay: make deploy-render ENV=prod
	@kubectl kustomize deploy/k8s/overlays/$(or $(ENV),dev)
