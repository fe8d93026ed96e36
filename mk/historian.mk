# Historian: the peer benchmark, GridOS next to InfluxDB 1.6 in one run (results and command in
# docs/benchmarks.md).
.PHONY: bench-peer
BENCH_TARGETS += bench-peer

bench-peer: deps ## GridOS (REST and line protocol) next to InfluxDB 1.6: samples/s, bytes/sample hot and old (compacted TSM vs archived Parquet)
	@$(UV) run --frozen python -m benchmarks.peer $(BENCH_ARGS)
