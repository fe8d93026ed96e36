# GridOS: the two commands a newcomer needs are `make demo` and `make test`.
# Feature areas add their own targets in mk/*.mk and register them in CHECK_TARGETS.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= uv
PY := .venv/bin/python
CHECK_TARGETS :=

include $(sort $(wildcard mk/*.mk))

.PHONY: help deps system-deps venv demo serve test test-fast lint check bench
help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

system-deps: ## apt packages the tests need (PostgreSQL, Prometheus, Alertmanager, Mosquitto, wrk)
	@bash scripts/install-system-deps.sh

venv: ## Python environment from the lock file (uv.lock)
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet 'uv==0.13.9'
	@$(UV) sync --frozen --quiet

deps: system-deps venv

demo: venv ## run GridOS on http://127.0.0.1:8000 with embedded SQLite and a simulated fleet
	@$(UV) run --frozen gridos demo

serve: venv ## run GridOS (configuration from GRIDOS_* environment variables)
	@$(UV) run --frozen gridos serve

test: deps ## the whole test suite (SQLite and a real PostgreSQL, plus platform checks)
	@$(UV) run --frozen pytest $(PYTEST_ARGS)

lint: venv ## ruff and mypy
	@$(UV) run --frozen ruff check src tests benchmarks
	@$(UV) run --frozen ruff format --check src tests benchmarks
	@$(UV) run --frozen mypy

check: lint $(CHECK_TARGETS) ## every static check: lint plus the platform checks of mk/*.mk

bench: deps ## benchmarks (results go to docs/benchmarks.md by hand, with the command)
	@$(UV) run --frozen python -m benchmarks.run $(BENCH_ARGS)
