# Alarms: the latency benchmark (results and command in docs/benchmarks.md).
.PHONY: bench-alarms
BENCH_TARGETS += bench-alarms

bench-alarms: deps ## alarm latency p50/p99 (sample -> API and SSE) under half the ingest-benchmark rate
	@$(UV) run --frozen python -m benchmarks.alarms $(BENCH_ARGS)

.PHONY: check-alarms
CHECK_TARGETS += check-alarms

check-alarms: ## validate the example alarm rules file
	@$(UV) run --frozen python -m gridos.alarms check-rules src/gridos/alarms/examples/rules.yaml
