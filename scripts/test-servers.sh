#!/usr/bin/env bash
# Starts and stops the servers the integration tests run against: a real
# ClickHouse (`bin/journeys clickhouse run`, fresh data each start) on free
# loopback ports. Kafka needs nothing here: tests start their own broker
# in-process (internal/testenv).
#
#   scripts/test-servers.sh start   build, fetch the library, start, write .data/test-servers.env
#   scripts/test-servers.sh stop    stop what start started
#   scripts/test-servers.sh env     print the environment file (for eval or source)
#
# .data/test-servers.env exports JOURNEYS_TEST_CLICKHOUSE,
# JOURNEYS_TEST_CLICKHOUSE_HTTP and JOURNEYS_LIBCHDB.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
data=$repo/.data
dir=$data/test-clickhouse
log=$data/test-clickhouse.log
pidfile=$data/test-clickhouse.pid
envfile=$data/test-servers.env
lib=${JOURNEYS_CACHE:-$repo/.cache}/chdb/libchdb.so

say() { echo "test-servers: $*"; }
die() { echo "test-servers: ERROR: $*" >&2; exit 1; }

# alive: kill -0 also succeeds for a zombie, and an orphan's zombie can wait
# a while for init to reap it.
alive() {
	kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

running_pid() {
	[[ -f $pidfile ]] || return 1
	local pid
	pid=$(cat "$pidfile")
	alive "$pid" || return 1
	echo "$pid"
}

stop() {
	local pid
	if ! pid=$(running_pid); then
		rm -f "$pidfile"
		say "nothing running"
		return 0
	fi
	say "stopping clickhouse (pid $pid)"
	kill -TERM "$pid"
	# `clickhouse run` shuts the server down cleanly, then exits.
	for _ in $(seq 1 300); do
		alive "$pid" || { rm -f "$pidfile"; say "stopped"; return 0; }
		sleep 0.1
	done
	say "pid $pid still running after 30s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$pidfile"
}

start() {
	stop >/dev/null
	mkdir -p "$data" bin
	say "building bin/journeys"
	go build -o bin/journeys ./cmd/journeys
	bash scripts/fetch-clickhouse.sh
	rm -rf "$dir" "$envfile"
	say "starting clickhouse (data in $dir, log in $log)"
	# nohup: the server outlives this script and the terminal it ran in.
	nohup bin/journeys clickhouse run --data "$dir" --tcp-port 0 --http-port 0 --lib "$lib" \
		>"$log" 2>&1 </dev/null &
	local pid=$! line=""
	echo "$pid" >"$pidfile"
	# `clickhouse run` prints its addresses once /ping answers.
	for _ in $(seq 1 1500); do
		line=$(grep -m1 '^clickhouse native=' "$log" || true)
		[[ -n $line ]] && break
		alive "$pid" || { cat "$log" >&2; rm -f "$pidfile"; die "clickhouse exited during startup"; }
		sleep 0.1
	done
	[[ -n $line ]] || { stop; cat "$log" >&2; die "clickhouse did not start within 150s"; }
	local native http
	native=$(sed -E 's/.*native=([^ ]+).*/\1/' <<<"$line")
	http=$(sed -E 's/.*http=([^ ]+).*/\1/' <<<"$line")
	if command -v curl >/dev/null; then
		[[ $(curl -fsS "http://$http/ping") == "Ok." ]] || { stop; die "no answer on http://$http/ping"; }
	fi
	cat >"$envfile" <<ENV
export JOURNEYS_TEST_CLICKHOUSE=$native
export JOURNEYS_TEST_CLICKHOUSE_HTTP=$http
export JOURNEYS_LIBCHDB=$lib
export JOURNEYS_TEST_SERVERS_PID=$pid
ENV
	say "clickhouse native=$native http=$http pid=$pid; environment in $envfile"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env) [[ -f $envfile ]] || die "$envfile missing; run: $0 start"; cat "$envfile" ;;
*) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
