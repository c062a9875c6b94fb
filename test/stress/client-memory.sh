#!/bin/bash
# Client memory: the client's RSS does not grow with the events it handles.
# STRESS_CLIENT_EVENTS (default 100,000; make stress: 1,000,000) NDJSON
# lines, with repeats (ids come back), changed repeats, malformed lines and
# lines without an id, go through "pg_inbox ingest"; then as many events
# through the library in a loop (ingest_loop.c: pginbox_ingest_batch in
# batches of 1000).  Each process's VmRSS (/proc/PID/status) is sampled
# every 0.05 s; from the sample at 10% of the run (but never one of the first
# four, taken while the process starts: a short run's 10% sample would be
# the RSS of a process that has not loaded its libraries yet) to the end it
# must not grow by more than STRESS_RSS_BOUND_KB (default 8192).  Prints the figures: RSS
# at 10%, peak and at the end, the time and the rate.  TAP.
set -uo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
. ./cluster.sh

events=${STRESS_CLIENT_EVENTS:-100000}
bound=${STRESS_RSS_BOUND_KB:-8192}
pg_config=${PG_CONFIG:-pg_config}
pg_inbox=$root/client/pg_inbox

cluster_init "fsync = off" "synchronous_commit = off"
server_start
createdb client_memory
export PGDATABASE=client_memory
q -c "CREATE EXTENSION pg_inbox"

# the lines: ids evt_(i % 70% of the lines), one repeat in 50 changed, one
# line in 1000 malformed, one in 2000 without an id
awk -v n="$events" 'BEGIN {
	keys = int(n * 7 / 10)
	for (i = 0; i < n; i++) {
		if (i % 1000 == 999) { print "{\"id\": \"m" i "\", \"truncated\": [1, 2"; continue }
		if (i % 2000 == 1500) { print "{\"type\": \"ping\", \"n\": " i "}"; continue }
		k = i % keys
		printf "{\"id\": \"evt_%d\", \"type\": \"invoice.paid\", \"data\": {\"object\": {\"id\": \"in_%d\", \"amount\": %d}}}\n", \
			k, k, k * 100 + (i >= keys && i % 50 == 0)
	}
}' >"$dir/events.ndjson"

# sample PID: VmRSS in kB every 0.05 s while it runs, into $dir/rss.PID
sample() {
	local pid=$1 kb
	while kill -0 "$pid" 2>/dev/null; do
		kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
		[ -n "$kb" ] && echo "$kb"
		sleep 0.05
	done >"$dir/rss.$pid"
}

# judge WHAT PID: the checks and figures of one sampled run
judge() {
	local what=$1 pid=$2 n first base peak last growth
	n=$(wc -l <"$dir/rss.$pid")
	first=$(( n / 10 + 1 ))
	[ "$first" -lt 5 ] && first=5
	base=$(sed -n "${first}p" "$dir/rss.$pid")
	peak=$(sort -n "$dir/rss.$pid" | tail -1)
	last=$(tail -1 "$dir/rss.$pid")
	growth=$(awk -v f="$first" 'NR >= f { if (m == "" || $1 > m) m = $1 } END { print m }' "$dir/rss.$pid")
	growth=$(( ${growth:-0} - ${base:-0} ))
	check "$what: RSS sampled past start-up ($n samples)" "t" "$([ "$n" -ge 8 ] && echo t || echo f)"
	check "$what: RSS grew by at most $bound kB after the first 10% of the run" "t" \
		"$([ "$growth" -le "$bound" ] && echo t || echo "f ($growth kB)")"
	note "  $what: RSS $base kB at 10% of the run, peak $peak kB, $last kB at the end ($growth kB of growth after 10%); $n samples"
}

# 1. the command
start=$(date +%s.%N)
"$pg_inbox" ingest --source memory "$dir/events.ndjson" >"$dir/out" 2>"$dir/err" &
pid=$!
sample "$pid"
wait "$pid"
rc=$?
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
check "pg_inbox ingest of $events lines: exit status 1 (malformed and id-less lines)" "1" "$rc"
malformed=$(( events / 1000 ))
noid=$(( (events + 499) / 2000 ))
got=$(awk '$1 == "inserted" || $1 == "duplicate" || $1 == "conflict" || $1 == "malformed" {s = s $2 " "} $1 == "no" {s = s $3} END {print s}' "$dir/out")
expect_events=$(( events - malformed - noid ))
check "pg_inbox ingest: every line accounted for (events, malformed, no id)" \
	"$expect_events $malformed $noid" \
	"$(awk '$1 == "inserted" || $1 == "duplicate" || $1 == "conflict" {e += $2} $1 == "malformed" {m = $2} $1 == "no" {x = $3} END {print e, m, x}' "$dir/out")"
judge "pg_inbox ingest" "$pid"
note "  pg_inbox ingest: $events lines in $secs s ($(sed -n 's/.*(\([0-9]*\) events\/s).*/\1/p' "$dir/out") events/s); counts: $got"

# 2. the library in a loop
if cc -O2 -I"$root/client" -I"$("$pg_config" --includedir)" -o "$dir/ingest_loop" ingest_loop.c \
		"$root/client/libpginbox.a" -L"$("$pg_config" --libdir)" -lpq 2>"$dir/cc.log"; then
	start=$(date +%s.%N)
	"$dir/ingest_loop" "$events" 1000 $(( events * 7 / 10 )) >"$dir/loop.out" 2>"$dir/loop.err" &
	pid=$!
	sample "$pid"
	wait "$pid"
	rc=$?
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
	check "the library loop of $events events: exit status 0" "0" "$rc"
	[ "$rc" -eq 0 ] || sed 's/^/#   /' "$dir/loop.err"
	judge "library loop" "$pid"
	note "  library loop: $events events in $secs s ($(awk -v n="$events" -v s="$secs" 'BEGIN {printf "%.0f", n / s}') events/s); $(cat "$dir/loop.out")"
else
	check "ingest_loop.c builds against the library" "0" "1"
	sed 's/^/#   /' "$dir/cc.log"
fi
server_stop || true
tap_done
