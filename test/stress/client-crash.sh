#!/bin/bash
# Crash, client form: SIGKILL the postmaster while "pg_inbox ingest
# --answers" runs, and while claimer.c (a claim/complete loop on libpginbox)
# runs, restart the cluster at once, and check the end state.
#
# ingest: STRESS_INGEST_LINES (default 200000) lines, killed once a fifth of
# them were answered.  The command's library retries a lost batch for up to
# retry_total_ms (30 s): when the server is back within that, the run
# completes (exit status 1, for the input's malformed and id-less lines);
# otherwise it stops (exit status 2, "ingest failed", nothing after the
# failed batch sent) and a second run completes it.  No other outcome
# passes.  Either way: every line the --answers file says was answered is
# stored once, under the id it was told; the stored keys are the input's
# valid keys; the same input again answers duplicate or conflict for every
# line, under the same ids, and stores nothing new.
#
# workers: STRESS_WORK_EVENTS (default 10000) events, two claimers (lease
# 2 s, batches of 10), killed once a fifth were completed.  The claimers go
# on after the restart (claim is not retried after it was sent, so a lost
# claim's events wait for their lease; complete is retried) until nothing is
# left, even after a lease: every event ends done, none is told
# held-and-done twice, and no event stays processing past its lease: a third
# worker that claimed 50 events and is killed with the postmaster has its
# events claimed again and completed by the others.  TAP.
set -euo pipefail
cd "$(dirname "$0")"
. ./cluster.sh
. ./client_loads.sh

lines=${STRESS_INGEST_LINES:-200000}
events=${STRESS_WORK_EVENTS:-10000}
lease_ms=2000

cluster_init "fsync = off"
server_start
createdb client_crash
export PGDATABASE=client_crash
q -c "CREATE EXTENSION pg_inbox"
build_claimer

# ------------------------------------------------------------------ ingest
make_input "$lines" "$dir/input"
valid=$(grep -c '"id": "e' "$dir/input")
start=$(date +%s.%N)
: >"$dir/answers.1"
"$pg_inbox" ingest -s crash --answers "$dir/answers.1" "$dir/input" >"$dir/out.1" 2>"$dir/err.1" &
client=$!
while kill -0 "$client" 2>/dev/null &&
	[ "$(wc -l <"$dir/answers.1")" -lt $((valid / 5)) ]; do
	sleep 0.05
done
at_kill=$(wc -l <"$dir/answers.1")
killed=$(server_kill)
server_restart_after_crash
rc=0
wait "$client" || rc=$?
answered=$(wc -l <"$dir/answers.1")
note "ingest: $lines lines ($valid valid); killed postmaster $killed after $at_kill answers;" \
	"the run ended with exit status $rc after $answered answers, $(since "$start") s in all"
check "ingest: the kill came in the middle of the run" "t" \
	"$([ "$at_kill" -gt 0 ] && [ "$at_kill" -lt "$valid" ] && echo t || echo f)"
check "ingest: the server log shows the crash recovery" "t" \
	"$(grep -q 'database system was interrupted\|not properly shut down' "$dir/log" && echo t || echo f)"
case $rc in
	1)
		note "ingest: the library's retries carried the run over the restart"
		check "ingest: a completed run answered every valid line once" "$valid $valid" \
			"$(cut -f1 "$dir/answers.1" | sort -u | wc -l) $answered"
		;;
	2)
		note "ingest: the run stopped; a second run completes it"
		check "ingest: a stopped run says which batch was not stored" 1 \
			"$(grep -c 'The batch of lines .* was not stored' "$dir/err.1")"
		rc2=0
		"$pg_inbox" ingest -s crash --answers "$dir/answers.2" "$dir/input" >"$dir/out.2" 2>"$dir/err.2" || rc2=$?
		check "ingest: the second run completes (exit status 1)" 1 "$rc2"
		;;
	*)
		check "ingest: the run completed (exit status 1) or stopped (exit status 2)" "1 or 2" "$rc"
		sed 's/^/#   /' "$dir/err.1" | tail -20
		;;
esac
load_answers answers "$dir"/answers.*
check_answers crash answers
check_complete crash "$dir/input"
check_rerun crash "$dir/input" answers

# ------------------------------------------------------------------ workers
# a database of their own: claim's index is not by source, and would read
# past the ingest part's pending events on every call
createdb client_crash_work
export PGDATABASE=client_crash_work
q -c "CREATE EXTENSION pg_inbox"
q -c "SELECT count(*) FROM generate_series(1, $events) g,
        inbox.ingest('work', 'w' || g, jsonb_build_object('n', g))" >/dev/null
q -c "ANALYZE inbox.events"
start=$(date +%s.%N)
# a third worker claims a batch and holds it until it is killed with the
# postmaster: its events must come back once their lease has passed
PGAPPNAME=crash-worker "$dir/claimer" holder work "$lease_ms" 50 600 hold >"$dir/held" 2>"$dir/herr" &
holder=$!
while [ "$(grep -c HELD "$dir/held")" -lt 50 ] && kill -0 "$holder" 2>/dev/null; do
	sleep 0.05
done
for c in 1 2; do
	PGAPPNAME=crash-worker "$dir/claimer" "worker-$c" work "$lease_ms" 10 600 \
		>"$dir/done.$c" 2>"$dir/werr.$c" &
	echo $! >"$dir/worker.$c"
done
: >"$dir/done.1"
: >"$dir/done.2"
while [ "$(cat "$dir"/done.* | wc -l)" -lt $((events / 5)) ] &&
	{ kill -0 "$(cat "$dir/worker.1")" 2>/dev/null || kill -0 "$(cat "$dir/worker.2")" 2>/dev/null; }; do
	sleep 0.05
done
at_kill=$(cat "$dir"/done.* | wc -l)
kill -KILL "$holder"
wait "$holder" 2>/dev/null || true
killed=$(server_kill)
server_restart_after_crash
processing=$(q -c "SELECT count(*) FROM inbox.events WHERE source = 'work' AND state = 'processing'")
# the claimers run on: a claim that committed before this statement's
# snapshot began before clock_timestamp() here
check "workers: no processing event holds a lease longer than it asked for" "0" \
	"$(q -c "SELECT count(*) FROM inbox.events WHERE state = 'processing'
	         AND locked_until > clock_timestamp() + interval '$lease_ms milliseconds'")"
statuses=
for c in 1 2; do
	s=0
	wait "$(cat "$dir/worker.$c")" || s=$?
	statuses="$statuses$s "
done
note "workers: $events events; killed postmaster $killed after $at_kill completions;" \
	"$processing processing after the restart; $(since "$start") s in all"
grep -h '^# ' "$dir"/werr.* || true
check "workers: both claimers went on after the restart and ran out of events (exit status 0)" "0 0 " "$statuses"
check "workers: the kill came in the middle of the run" "t" \
	"$([ "$at_kill" -gt 0 ] && [ "$at_kill" -lt "$events" ] && echo t || echo f)"
check_worked work "$events" "$dir"/done.*
q -c "CREATE TABLE held (id bigint)"
awk '$1 == "HELD" {print $2}' "$dir/held" | q -c "COPY held FROM STDIN"
check "workers: the 50 events held by the killed worker were claimed again after their lease and completed" "50 50 50" \
	"$(q -c "SELECT count(*), count(*) FILTER (WHERE e.attempts >= 2 AND e.state = 'done'),
	         count(*) FILTER (WHERE EXISTS (SELECT FROM worked_work w WHERE w.id = h.id AND w.held = 't'))
	         FROM held h JOIN inbox.events e USING (id)" | tr '|' ' ')"
note "workers: $(q -c "SELECT count(*) FROM inbox.events WHERE source = 'work' AND attempts > 1") events were claimed more than once"
tap_done
