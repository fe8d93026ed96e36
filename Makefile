# GridOS: the two commands a newcomer needs are `make demo` and `make test`.
# Feature areas add their own targets in mk/*.mk and register them in CHECK_TARGETS.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# uv from PATH when there is one (GitHub's setup-uv); otherwise `python3 -m uv`, which works right after
# `pip install uv`, before any shell or pyenv shim knows the command.
UV ?= $(if $(shell command -v uv 2>/dev/null),uv,python3 -m uv)
PY := .venv/bin/python
CHECK_TARGETS :=
# Check targets run the tests of their own area with $(CHECK_PYTEST). `make test` runs the whole suite
# afterwards anyway, so it turns this off instead of running those tests twice.
CHECK_PYTEST = $(UV) run --frozen pytest -q -p no:cacheprovider
BENCH_TARGETS := bench-ingest bench-query

include $(sort $(wildcard mk/*.mk))

.PHONY: help deps system-deps uv venv demo serve test pytest lint check bench bench-ingest bench-query
help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

system-deps: ## apt packages the tests need (PostgreSQL, Prometheus, Alertmanager, Mosquitto, wrk)
	@bash scripts/install-system-deps.sh

uv:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet 'uv==0.13.9'

venv: uv ## Python environment from the lock file (uv.lock): runtime, dev tools and gridctl's tooling
	@$(UV) sync --frozen --quiet

deps: system-deps venv

# The demo and serve need only GridOS's runtime dependencies (what the image has), not the dev toolchain:
# `uv run --no-dev` installs just those. PORT=8001 picks another port (default: GRIDOS_PORT, else 8000).
PORT ?=
demo: uv ## run GridOS on http://127.0.0.1:8000 (PORT=...) with embedded SQLite in ./data and a simulated fleet
	@$(UV) run --frozen --no-dev gridos demo $(if $(PORT),--port $(PORT))

serve: uv ## run GridOS (configuration from GRIDOS_* environment variables; PORT=... overrides the port)
	@$(UV) run --frozen --no-dev gridos serve $(if $(PORT),--port $(PORT))

test: deps ## everything: static checks, then the test suite (SQLite and a real PostgreSQL)
	@$(MAKE) --no-print-directory check CHECK_PYTEST=true
	@$(UV) run --frozen pytest $(PYTEST_ARGS)

pytest: venv ## only the pytest suite (PYTEST_ARGS="-k ..." to select)
	@$(UV) run --frozen pytest $(PYTEST_ARGS)

lint: venv ## ruff and mypy
	@$(UV) run --frozen ruff check src tests benchmarks
	@$(UV) run --frozen ruff format --check src tests benchmarks
	@$(UV) run --frozen mypy

check: lint $(CHECK_TARGETS) ## every static check: lint plus the platform checks of mk/*.mk

bench: $(BENCH_TARGETS) ## every benchmark (results are recorded in docs/benchmarks.md with their command)

bench-ingest: deps ## REST ingest vs raw COPY into PostgreSQL
	@$(UV) run --frozen python -m benchmarks.ingest $(BENCH_ARGS)

bench-query: deps ## 24 h history of one device over a 10M-sample store
	@$(UV) run --frozen python -m benchmarks.query $(BENCH_ARGS)
