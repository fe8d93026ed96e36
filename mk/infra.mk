# Infrastructure: the Terraform tree under infra/terraform, checked offline here (no terraform binary, no
# provider downloads); terraform fmt/validate/plan, TFLint and Infracost run in .github/workflows/infra-test.yml.
INFRA := infra/terraform
CHECKOV ?= .venv-checkov/bin/checkov

.PHONY: check-infra infra-docs
CHECK_TARGETS += check-infra

check-infra: ## Terraform: parse, structure, module READMEs, no secrets (gridctl infra check), checkov, tests/infra
	@$(UV) run --frozen gridctl infra check --root $(INFRA)
	@test -x $(CHECKOV) || { echo "check-infra: $(CHECKOV) missing (run: make system-deps)" >&2; exit 1; }
	@$(CHECKOV) -d $(INFRA) --framework terraform --quiet --compact --skip-download
	@$(CHECK_PYTEST) tests/infra

infra-docs: ## regenerate the Inputs/Outputs tables of the Terraform module READMEs
	@$(UV) run --frozen gridctl infra docs --write --root $(INFRA)
