# Field protocols (MQTT, Modbus TCP, IEC 60870-5-104, OPC UA): map validation, connector tests on real
# peers, MQTT and IEC 104 benchmarks.
REGISTER_MAPS ?= $(filter-out %/iec104.yaml,$(wildcard src/gridos/ingest/examples/*.yaml))
IEC104_POINT_MAPS ?= src/gridos/ingest/examples/iec104.yaml

.PHONY: check-ingest test-ingest bench-mqtt bench-iec104
CHECK_TARGETS += check-ingest
BENCH_TARGETS += bench-mqtt bench-iec104

check-ingest: ## validate the example Modbus register maps and IEC 104 point maps
	@$(UV) run --frozen python -m gridos.ingest.registermap $(REGISTER_MAPS)
	@$(UV) run --frozen python -m gridos.ingest.iec104map $(IEC104_POINT_MAPS)

test-ingest: ## connector tests: real Mosquitto, pymodbus and c104 servers, asyncua client (marker mqtt for the broker ones)
	@$(UV) run --frozen pytest tests/ingest $(PYTEST_ARGS)

bench-mqtt: deps ## MQTT end to end (publish -> committed) next to REST batches; real Mosquitto and PostgreSQL
	@$(UV) run --frozen python -m benchmarks.mqtt $(BENCH_ARGS)

bench-iec104: deps ## IEC 104 points/s (RTU -> committed) from 1 and from 20 c104 outstations; real PostgreSQL
	@$(UV) run --frozen python -m benchmarks.iec104 $(BENCH_ARGS)
