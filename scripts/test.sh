#!/usr/bin/env bash
# The project's test command (README: `make test`). From a clean machine it
# fetches what the tests need, starts a real ClickHouse server, and runs every
# check; the Kafka-protocol broker runs inside the tests that need it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== setup"
bash scripts/fetch-clickhouse.sh
go mod download

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== servers"
bash scripts/test-servers.sh start
trap 'bash scripts/test-servers.sh stop' EXIT
set -a
# shellcheck disable=SC1091
. .data/test-servers.env
set +a

echo "== go test -race"
go test -race -count=1 -timeout 25m ./...

echo "== fuzz (short)"
FUZZTIME=${FUZZTIME:-10s} bash scripts/fuzz.sh
