# Read API under load on PostgreSQL (results and command in docs/benchmarks.md).
.PHONY: bench-read
BENCH_TARGETS += bench-read

bench-read: deps ## read API (status, 1 h history raw and bucketed) under wrk at 2/16/128 connections, PostgreSQL
	@$(UV) run --frozen python -m benchmarks.read_load $(BENCH_ARGS)
