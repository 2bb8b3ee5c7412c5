#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME (default 10s) each; a crash fails.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${FUZZTIME:-10s}
for target in "FuzzDecode ./schemas/" "FuzzFastPathAgrees ./schemas/" "FuzzCanonicalDateTime ./schemas/" "FuzzObjectReads ./schemas/" "FuzzParseMap ./enrich/" "FuzzRuleReadsAgree ./enrich/"; do
	set -- $target
	echo "fuzz $1 in $2 for $t"
	go test -run='^$' -fuzz="^$1\$" -fuzztime="$t" "$2"
done
