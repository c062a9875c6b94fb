#!/bin/bash
# pg_inbox ingest --raw (inbox.ingest_raw_many, bodies as text[]) beside
# --no-raw (inbox.ingest_many, bodies as jsonb[]): LINES lines (default
# 200,000) of bench/payload.json with ids of their own, batches of 1,000,
# --jobs 1 and 2; first new events (each run its own source), then the same
# file again (all duplicates).  ROUNDS rounds, the order of the two turning
# from round to round; prints the events/s of every run and the median.
#
# Run in a cluster with the extension installed, e.g.
#   pg_virtualenv -o shared_preload_libraries=pg_inbox bench/command-raw.sh
set -euo pipefail
cd "$(dirname "$0")/.."

LINES=${LINES:-200000}
ROUNDS=${ROUNDS:-3}
db=inbox_bench_command
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dropdb --if-exists "$db" >/dev/null 2>&1
createdb "$db"
psql -qX -d "$db" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION pg_inbox'
# the payload with its top-level id made unique per line (the id comes first)
rest=$(tr -d '\n' <bench/payload.json | sed 's/^{"id":"[^"]*"//')
seq 1 "$LINES" | sed "s/.*/{\"id\":\"evt_&\"$rest/" >"$work/events.ndjson"

rate() {		# rate MODE JOBS SOURCE: events/s of one run
	client/pg_inbox ingest -q -d "$db" "--$1" --jobs "$2" -s "$3" "$work/events.ndjson" |
		sed -n 's/.*(\([0-9]*\) events\/s).*/\1/p'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '%-8s %-5s %-10s %s\n' jobs phase call "events/s (runs; median)"
for jobs in 1 2; do
	for mode in raw no-raw; do : >"$work/$mode-$jobs-new"; : >"$work/$mode-$jobs-dup"; done
	for round in $(seq "$ROUNDS"); do
		order="raw no-raw"
		[ $((round % 2)) = 0 ] && order="no-raw raw"
		for mode in $order; do
			src="$mode-$jobs-$round"
			rate "$mode" "$jobs" "$src" >>"$work/$mode-$jobs-new"
			rate "$mode" "$jobs" "$src" >>"$work/$mode-$jobs-dup"
		done
	done
	for phase in new dup; do
		for mode in raw no-raw; do
			printf '%-8s %-5s %-10s %s; %s\n' "$jobs" "$phase" "--$mode" \
				"$(paste -sd' ' "$work/$mode-$jobs-$phase")" "$(median <"$work/$mode-$jobs-$phase")"
		done
	done
done
