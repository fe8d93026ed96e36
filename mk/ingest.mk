# Field protocols (MQTT, Modbus TCP): register-map validation, connector tests on real peers, MQTT benchmark.
REGISTER_MAPS ?= $(wildcard src/gridos/ingest/examples/*.yaml)

.PHONY: check-ingest test-ingest bench-mqtt
CHECK_TARGETS += check-ingest
BENCH_TARGETS += bench-mqtt

check-ingest: ## validate the example Modbus register maps (python -m gridos.ingest.registermap FILE...)
	@$(UV) run --frozen python -m gridos.ingest.registermap $(REGISTER_MAPS)

test-ingest: ## connector tests: real Mosquitto broker and pymodbus TCP server (marker mqtt for the broker ones)
	@$(UV) run --frozen pytest tests/ingest $(PYTEST_ARGS)

bench-mqtt: deps ## MQTT end to end (publish -> committed) next to REST batches; real Mosquitto and PostgreSQL
	@$(UV) run --frozen python -m benchmarks.mqtt $(BENCH_ARGS)
