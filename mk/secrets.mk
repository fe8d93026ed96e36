# Secret scan (detect-secrets): every tracked file; findings that are not audited false positives in
# .secrets.baseline (key names of ExternalSecrets, planted secrets of the checks' own tests, example URLs)
# fail with file and line. After auditing a new false positive: `make secrets-baseline`, then
# `uv run detect-secrets audit .secrets.baseline`.
.PHONY: check-secrets secrets-baseline
CHECK_TARGETS += check-secrets

check-secrets: ## detect-secrets over every tracked file; findings not audited in .secrets.baseline fail
	@git ls-files -z | xargs -0 $(UV) run --frozen python scripts/check_secrets.py .secrets.baseline

secrets-baseline: ## rescan into .secrets.baseline (keeps the audit marks of known findings)
	@$(UV) run --frozen detect-secrets scan --baseline .secrets.baseline
