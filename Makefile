# The two commands a newcomer needs: `make demo` and `make test`.
# Both install what they need (the ClickHouse library via npm, Go modules).

GO ?= go
BIN := bin/journeys

.PHONY: setup build demo test fuzz vet clean

setup:
	bash scripts/fetch-clickhouse.sh
	$(GO) mod download

build:
	$(GO) build -o $(BIN) ./cmd/journeys

# Runs the whole pipeline on this machine: embedded Kafka-protocol broker,
# local ClickHouse, generated journeys, and prints the journey report.
demo: setup build
	$(BIN) demo

# Formatting, vet, the race-enabled test suite against real servers, and
# short fuzz runs. Exits non-zero on any failure.
test:
	bash scripts/test.sh

fuzz:
	FUZZTIME=60s bash scripts/fuzz.sh

vet:
	$(GO) vet ./...

clean:
	rm -rf bin .data
