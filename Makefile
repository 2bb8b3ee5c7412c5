# The two commands a newcomer needs: `make demo` and `make test`.
# Both install what they need (the ClickHouse library via npm, Go modules).

GO ?= go
BIN := bin/journeys

.PHONY: setup build demo test chaos fuzz vet clean bench

setup:
	bash scripts/fetch-clickhouse.sh
	$(GO) mod download

build:
	$(GO) build -o $(BIN) ./cmd/journeys

# Runs the whole pipeline on this machine: embedded Kafka-protocol broker,
# local ClickHouse, generated journeys, and prints the journey report.
demo: setup build
	$(BIN) demo

# Events per collector CPU-second, latency, state size and the floor, on this
# machine (see `journeys bench --help`). BENCHFLAGS=--quick for a short run.
bench: setup build
	$(BIN) bench $(BENCHFLAGS)

# Formatting, vet, the race-enabled test suite against real servers, and
# short fuzz runs. Exits non-zero on any failure.
test:
	bash scripts/test.sh

# The long reliability runs: 1,000,000 events and 20 SIGKILLs, a ClickHouse
# outage, rebalances, replay and graceful shutdown (internal/chaos). The last
# line is produced=N valid=N landed=N lost=N duplicates=N dead_lettered=N.
chaos:
	bash scripts/chaos.sh

fuzz:
	FUZZTIME=60s bash scripts/fuzz.sh

vet:
	$(GO) vet ./...

clean:
	rm -rf bin .data
