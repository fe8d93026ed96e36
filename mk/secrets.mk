# Secret scan (detect-secrets): every tracked file against .secrets.baseline, whose entries are audited
# false positives (key names of ExternalSecrets, planted secrets of the checks' own tests, example URLs).
# A new finding fails; after auditing one: `make secrets-baseline`, then mark it with `detect-secrets audit`.
.PHONY: check-secrets secrets-baseline
CHECK_TARGETS += check-secrets

check-secrets: ## detect-secrets over every tracked file; findings not in .secrets.baseline fail
	@git ls-files -z | xargs -0 $(UV) run --frozen detect-secrets-hook --baseline .secrets.baseline

secrets-baseline: ## rescan into .secrets.baseline (keeps the audit marks of known findings)
	@$(UV) run --frozen detect-secrets scan --baseline .secrets.baseline
