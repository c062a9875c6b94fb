#!/bin/bash
# Connection faults, client side: while "pg_inbox ingest" runs, and while
# two claimer.c loops (claim/complete on libpginbox) run, terminate one of
# the client's backends (pg_terminate_backend of a pid that
# pg_stat_activity shows under the client's application_name) every 50 to
# 500 ms, at most STRESS_FAULTS (default 40) times and for at most
# STRESS_FAULT_SECONDS (default 30) per run.
#
# The library reconnects and retries what is idempotent (ingest, complete),
# and an unsent claim; a claim lost after it was sent fails, and its events
# come back when their lease has run out.  So the command must complete
# (exit status 1, for the input's malformed and id-less lines) with every
# valid line answered once, every key of the input stored exactly once under
# the id it was told, and nothing new on a rerun; and the claimers must run
# out of events with every event done and none told held-and-done twice.
# The figures (terminations, the claimers' failed calls and reconnections,
# durations) are printed.  TAP.
set -euo pipefail
cd "$(dirname "$0")"
. ./cluster.sh
. ./client_loads.sh

lines=${STRESS_INGEST_LINES:-200000}
events=${STRESS_WORK_EVENTS:-10000}
max_faults=${STRESS_FAULTS:-40}
fault_seconds=${STRESS_FAULT_SECONDS:-30}
lease_ms=2000

# terminate APP OUT PID...: while any PID runs, every 50 to 500 ms, end one
# backend of application_name APP; the number ended goes to OUT
terminate() {
	local app=$1 out=$2 n=0 end=$((SECONDS + fault_seconds)) alive p
	shift 2
	while [ "$n" -lt "$max_faults" ] && [ "$SECONDS" -lt "$end" ]; do
		sleep "0.$(printf '%03d' $((50 + RANDOM % 451)))"
		alive=0
		for p in "$@"; do
			if kill -0 "$p" 2>/dev/null; then alive=1; fi
		done
		[ "$alive" = 1 ] || break
		n=$((n + $(q -c "SELECT count(*) FILTER (WHERE t) FROM (SELECT pg_terminate_backend(pid) AS t
		                  FROM (SELECT pid FROM pg_stat_activity WHERE application_name = '$app'
		                        ORDER BY random() LIMIT 1) s) x")))
	done
	echo "$n" >"$out"
}

cluster_init "fsync = off"
server_start
createdb client_faults
export PGDATABASE=client_faults
q -c "CREATE EXTENSION pg_inbox"
build_claimer
terminated_in_log() { grep -c 'terminating connection due to administrator command' "$dir/log" || true; }

# ------------------------------------------------------------------ ingest
make_input "$lines" "$dir/input"
valid=$(grep -c '"id": "e' "$dir/input")
start=$(date +%s.%N)
rc=0
PGAPPNAME=faults-ingest "$pg_inbox" ingest -s faults --jobs 2 --batch 200 \
	--answers "$dir/answers" "$dir/input" >"$dir/out" 2>"$dir/err" &
client=$!
terminate faults-ingest "$dir/terminated" "$client"
wait "$client" || rc=$?
note "ingest: $lines lines ($valid valid), --jobs 2 --batch 200: $(cat "$dir/terminated") backends" \
	"terminated (the server logged $(terminated_in_log)); exit status $rc after $(since "$start") s"
check "ingest: backends were terminated during the run" "t" \
	"$([ "$(cat "$dir/terminated")" -gt 0 ] && echo t || echo f)"
check "ingest: the run completed (exit status 1, for the malformed and id-less lines)" 1 "$rc"
[ "$rc" = 1 ] || sed 's/^/#   /' "$dir/err" | grep -v 'malformed\|no event id' | tail -20
check "ingest: every valid line was answered once" "$valid $valid" \
	"$(cut -f1 "$dir/answers" | sort -u | wc -l) $(wc -l <"$dir/answers")"
load_answers answers "$dir/answers"
note "ingest: answers $(q -c "SELECT string_agg(status || ' ' || n, ', ' ORDER BY status)
                              FROM (SELECT status, count(*) n FROM answers GROUP BY status) x")"
check_answers faults answers
check_complete faults "$dir/input"
check_rerun faults "$dir/input" answers

# ------------------------------------------------------------------ workers
# a database of their own: claim's index is not by source, and would read
# past the ingest part's pending events on every call
createdb client_faults_work
export PGDATABASE=client_faults_work
q -c "CREATE EXTENSION pg_inbox"
q -c "CREATE TABLE handled (id bigint PRIMARY KEY)"

# workers SOURCE [tx]: two claimers over $events events of SOURCE, under faults
workers() {
	local source=$1 mode=${2:-} logged start statuses s c
	q -c "SELECT count(*) FROM generate_series(1, $events) g,
	        inbox.ingest('$source', 'w' || g, jsonb_build_object('n', g))" >/dev/null
	q -c "ANALYZE inbox.events"
	logged=$(terminated_in_log)
	start=$(date +%s.%N)
	for c in 1 2; do
		# shellcheck disable=SC2086 # mode: no word or one
		PGAPPNAME=faults-worker "$dir/claimer" "worker-$c" "$source" "$lease_ms" 10 600 $mode \
			>"$dir/done.$source.$c" 2>"$dir/werr.$source.$c" &
		echo $! >"$dir/worker.$c"
	done
	terminate faults-worker "$dir/wterminated" "$(cat "$dir/worker.1")" "$(cat "$dir/worker.2")"
	statuses=
	for c in 1 2; do
		s=0
		wait "$(cat "$dir/worker.$c")" || s=$?
		statuses="$statuses$s "
	done
	note "$source: $events events, lease $lease_ms ms: $(cat "$dir/wterminated") backends terminated" \
		"(the server logged $(($(terminated_in_log) - logged))); $(since "$start") s"
	grep -h '^# ' "$dir"/werr."$source".* || true
	check "$source: backends were terminated during the run" "t" \
		"$([ "$(cat "$dir/wterminated")" -gt 0 ] && echo t || echo f)"
	check "$source: both claimers ran out of events (exit status 0)" "0 0 " "$statuses"
	[ "$statuses" = "0 0 " ] || grep -hv '^# ' "$dir"/werr."$source".* | sed 's/^/#   /' | tail -20
	check_worked "$source" "$events" "$dir"/done."$source".*
	note "$source: $(q -c "SELECT count(*) FROM inbox.events WHERE source = '$source' AND attempts > 1")" \
		"events were claimed more than once (a claim lost with its connection, or a lease run out)"
}

# claim, then complete in a call of its own
workers work
# claim, then INSERT INTO handled and complete in one pginbox_transaction
# (examples/worker.c): the table must hold exactly the done events
workers worktx tx
check "worktx: the handled table (written in the complete's transaction) holds exactly the done events" "0 0 $events" \
	"$(q -c "SELECT (SELECT count(*) FROM handled h LEFT JOIN inbox.events e USING (id)
	                 WHERE e.state IS DISTINCT FROM 'done' OR e.source <> 'worktx'),
	                (SELECT count(*) FROM inbox.events e WHERE e.source = 'worktx'
	                 AND e.state = 'done' AND NOT EXISTS (SELECT FROM handled h WHERE h.id = e.id)),
	                (SELECT count(*) FROM handled)" | tr '|' ' ')"
tap_done
