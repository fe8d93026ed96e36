# Monitoring: Prometheus rules, Alertmanager routing, dashboards' PromQL, and the end-to-end canary gate.
PROMTOOL ?= promtool
AMTOOL ?= amtool
MONITORING := deploy/monitoring
AM_CONFIG := $(MONITORING)/alertmanager/alertmanager.yml

.PHONY: check-monitoring canary-gate monitoring-generate
CHECK_TARGETS += check-monitoring

check-monitoring: ## promtool check/test rules, amtool check-config and routing tests, PromQL and generated files
	@$(PROMTOOL) check rules $(MONITORING)/rules/*.rules.yaml
	@$(PROMTOOL) test rules $(MONITORING)/rules/tests/*.test.yaml
	@$(AMTOOL) check-config $(AM_CONFIG)
	@bash $(MONITORING)/alertmanager/tests/routes-test.sh $(AMTOOL) $(AM_CONFIG)
	@$(CHECK_PYTEST) tests/monitoring

monitoring-generate: ## regenerate dashboards JSON and the Kubernetes observability component from deploy/monitoring
	@$(UV) run --frozen python $(MONITORING)/generate.py

canary-gate: ## end-to-end canary gate: real Prometheus, stable and canary GridOS, gridctl analyze (marker canary)
	@$(UV) run --frozen pytest -m canary -s tests/canary $(PYTEST_ARGS)
