#!/usr/bin/env bash
# The long reliability runs (README, "Guarantees"): the chaos scenarios of
# internal/chaos at full size, against a ClickHouse server of their own (the
# crash, outage and rebalance scenarios start their own; replay and shutdown
# use the test server this script starts). Sizes can be overridden:
#   JOURNEYS_CHAOS_EVENTS (crash, 1,000,000)   JOURNEYS_CHAOS_KILLS (20)
#   JOURNEYS_CHAOS_OUTAGE_EVENTS, JOURNEYS_CHAOS_REBALANCE_EVENTS,
#   JOURNEYS_CHAOS_REPLAY_EVENTS, JOURNEYS_CHAOS_SHUTDOWN_EVENTS
# The last line is the sum over the scenarios:
#   produced=N valid=N landed=N lost=N duplicates=N dead_lettered=N
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/fetch-clickhouse.sh
bash scripts/test-servers.sh start
trap 'bash scripts/test-servers.sh stop' EXIT
set -a
# shellcheck disable=SC1091
. .data/test-servers.env
set +a

export JOURNEYS_CHAOS_EVENTS=${JOURNEYS_CHAOS_EVENTS:-1000000}
export JOURNEYS_CHAOS_KILLS=${JOURNEYS_CHAOS_KILLS:-20}
export JOURNEYS_CHAOS_OUTAGE_EVENTS=${JOURNEYS_CHAOS_OUTAGE_EVENTS:-300000}
export JOURNEYS_CHAOS_REBALANCE_EVENTS=${JOURNEYS_CHAOS_REBALANCE_EVENTS:-300000}
export JOURNEYS_CHAOS_REPLAY_EVENTS=${JOURNEYS_CHAOS_REPLAY_EVENTS:-300000}
export JOURNEYS_CHAOS_SHUTDOWN_EVENTS=${JOURNEYS_CHAOS_SHUTDOWN_EVENTS:-100000}

mkdir -p .data
log=.data/chaos.log
status=0
go test -count=1 -timeout 90m -v ./internal/chaos/ 2>&1 | tee "$log" || status=$?
# Stopped here, not by the trap, so that the figures are the last lines.
bash scripts/test-servers.sh stop
trap - EXIT
grep '^chaos Test' "$log" || true
awk '/^chaos Test/ {
	for (i = 3; i <= NF; i++) { split($i, kv, "="); sum[kv[1]] += kv[2]; order[i] = kv[1] }
	n = NF
}
END {
	if (n == 0) { print "produced=0 valid=0 landed=0 lost=0 duplicates=0 dead_lettered=0"; exit }
	line = ""
	for (i = 3; i <= n; i++) line = line (i > 3 ? " " : "") order[i] "=" sum[order[i]]
	print line
}' "$log"
exit "$status"
