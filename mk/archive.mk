# Long-term history (cold tier, export, backup and restore): tests against Azurite and a local directory,
# and the cold-tier benchmark (docs/benchmarks.md, "Cold tier").
.PHONY: test-archive bench-archive
BENCH_TARGETS += bench-archive

test-archive: ## cold tier: archive/query on Azurite and a directory, kill -9 + rerun, restore drill (SQLite and PostgreSQL)
	@$(UV) run --frozen pytest tests/archive $(PYTEST_ARGS)

bench-archive: deps ## archive speed and bytes/sample (PostgreSQL -> Parquet); 24 h and one-year queries over 500M cold samples
	@$(UV) run --frozen python -m benchmarks.archive $(BENCH_ARGS)
