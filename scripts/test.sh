#!/usr/bin/env bash
# The project's test command (README: `make test`). From a clean machine it
# fetches what the tests need, starts a real ClickHouse server, and runs every
# check; the Kafka-protocol broker runs inside the tests that need it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== setup"
# web/browser_test.go renders the journey map in headless Chromium (Debian's).
if ! command -v chromium >/dev/null; then
	ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 || apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi
# deploy/ and cmd/journeys tests run promtool, amtool and a Prometheus server.
if ! command -v promtool >/dev/null || ! command -v amtool >/dev/null; then
	ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 || apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus prometheus-alertmanager
fi
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
