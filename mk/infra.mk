# Infrastructure: the Terraform tree under infra/terraform, checked offline here (no provider downloads):
# `terraform fmt -check` when a terraform binary is on PATH (the environments' required_version admits it),
# then gridctl's own checks and checkov; terraform validate/plan, TFLint and Infracost run in
# .github/workflows/infra-test.yml.
INFRA := infra/terraform
CHECKOV ?= .venv-checkov/bin/checkov
TERRAFORM ?= terraform

.PHONY: check-infra check-terraform-fmt infra-validate infra-lint infra-docs
CHECK_TARGETS += check-infra

check-terraform-fmt: ## terraform fmt -check of the tree (skipped, with a note, without a terraform binary)
	@if command -v $(TERRAFORM) >/dev/null; then \
	  TF_CLI_CONFIG_FILE=/dev/null $(TERRAFORM) fmt -check -recursive -diff $(INFRA) || { echo "check-infra: run terraform fmt -recursive $(INFRA)" >&2; exit 1; }; \
	else echo "check-infra: terraform not on PATH: skipping terraform fmt -check (CI runs it in infra-test.yml)" >&2; fi

check-infra: check-terraform-fmt ## Terraform: fmt, parse, structure, module READMEs, no secrets (gridctl infra check), checkov, tests/infra
	@$(UV) run --frozen gridctl infra check --root $(INFRA)
	@test -x $(CHECKOV) || { echo "check-infra: $(CHECKOV) missing (run: make system-deps)" >&2; exit 1; }
	@$(CHECKOV) -d $(INFRA) --framework terraform --quiet --compact --skip-download
	@$(CHECK_PYTEST) tests/infra

infra-docs: ## regenerate the Inputs/Outputs tables of the Terraform module READMEs
	@$(UV) run --frozen gridctl infra docs --write --root $(INFRA)

# These two download providers and TFLint's azurerm ruleset: infra-test.yml runs them, with the network.
infra-validate: ## terraform init -backend=false and validate of every environment (downloads providers)
	@for env in dev staging prod; do \
	  echo "terraform validate: $$env"; \
	  $(TERRAFORM) -chdir="$(INFRA)/environments/$$env" init -backend=false -no-color >/dev/null && \
	  $(TERRAFORM) -chdir="$(INFRA)/environments/$$env" validate -no-color || exit 1; \
	done

infra-lint: ## TFLint with the azurerm ruleset over the tree (downloads the ruleset)
	@tflint --init --config "$(CURDIR)/$(INFRA)/.tflint.hcl"
	@tflint --recursive --chdir "$(INFRA)" --config "$(CURDIR)/$(INFRA)/.tflint.hcl" --format compact
