#!/usr/bin/env bash
# The project's test command (README: `make test`). From a clean machine it
# fetches what the tests need, starts a real ClickHouse server, and runs every
# check; the Kafka-protocol broker runs inside the tests that need it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== setup"
# Debian packages the tests drive for real: headless Chromium renders the web
# view (web/browser_test.go); promtool, amtool and a Prometheus server check the
# rules and scrape the collector (deploy/, cmd/journeys). Lists are refreshed
# first because a machine's package lists may be missing or stale.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v promtool >/dev/null || missing+=(prometheus)
command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
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
