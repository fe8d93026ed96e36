# Operator console: the browser tests' screenshots for docs/operator-console.md, the vendored npm assets,
# and the "20 open consoles" benchmark (results and command in docs/benchmarks.md).
.PHONY: test-console console-screenshots vendor-web-assets bench-console
BENCH_TARGETS += bench-console

test-console: ## console tests: API, live stream, Playwright + Debian chromium against GridOS with the simulator
	@$(UV) run --frozen pytest tests/console $(PYTEST_ARGS)

console-screenshots: ## re-take docs/img/console-*.png from the browser tests
	@GRIDOS_UPDATE_SCREENSHOTS=1 $(UV) run --frozen pytest -q tests/console/test_browser.py $(PYTEST_ARGS)

vendor-web-assets: ## copy uPlot and Swagger UI from node_modules (npm ci) into the Python package
	@python3 scripts/vendor-web-assets.py

bench-console: deps ## ingest throughput with and without 20 open operator consoles (demo setup, SQLite)
	@$(UV) run --frozen python -m benchmarks.console $(BENCH_ARGS)
