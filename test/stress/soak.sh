#!/bin/bash
# Soak: STRESS_CLIENTS connections (default 4; make stress: 16) ingest for
# STRESS_SECONDS (default 10; make stress: 60) over a key space with about
# 50% repeats and 5% changed payloads, while completers, failers and a
# worker that abandons its claims run beside them.  Afterwards:
#
#   - no error returned to any client (pgbench: 0 failed, none aborted),
#   - no transaction rolled back in the database (pg_stat_database),
#   - one row per key, and exactly one "inserted" per key across all clients,
#   - every answer right: duplicate when the payload equals the stored one,
#     conflict when it differs, never rejected,
#   - no event completed twice, every completed event still done, no done
#     event holding a lease or in the claimable index's range, and none
#     handed out by a final claim.
#
# Prints the figures (calls, rate, errors).  TAP.
set -euo pipefail
cd "$(dirname "$0")"
. ./cluster.sh

seconds=${STRESS_SECONDS:-10}
clients=${STRESS_CLIENTS:-4}
workers=${STRESS_WORKERS:-3}

cluster_init "synchronous_commit = off" "fsync = off"
server_start
createdb soak
export PGDATABASE=soak
q <<'SQL'
CREATE EXTENSION pg_inbox;
CREATE SEQUENCE soak_keys;
CREATE TABLE soak_answers (key text NOT NULL, variant integer NOT NULL, status text NOT NULL);
CREATE TABLE soak_done (id bigint NOT NULL, consumer text NOT NULL);
CREATE TABLE soak_failed (id bigint NOT NULL, state text);
SQL
# the first keys, so that repeats have something to draw from
q -c "SELECT count(*) FROM generate_series(1, 10) g, inbox.ingest('soak', 'k' || nextval('soak_keys'),
        jsonb_build_object('key', 'k' || g, 'variant', 1, 'type', 'payment_intent.succeeded', 'amount', 4200)) i" >/dev/null
q -c "INSERT INTO soak_answers SELECT event_id, 1, 'inserted' FROM inbox.events WHERE source = 'soak'"

rollbacks_before=$(q -c "SELECT xact_rollback FROM pg_stat_database WHERE datname = 'soak'")

"$bindir/pgbench" -n -M prepared -c "$clients" -j 2 -T "$seconds" \
	-f soak_ingest.sql >"$dir/ingest.out" 2>&1 &
ingest_pid=$!
"$bindir/pgbench" -n -M prepared -c "$workers" -j 1 -T "$seconds" \
	-f soak_complete.sql@6 -f soak_fail.sql@3 -f soak_abandon.sql@1 >"$dir/workers.out" 2>&1 &
workers_pid=$!
ingest_rc=0
wait "$ingest_pid" || ingest_rc=$?
workers_rc=0
wait "$workers_pid" || workers_rc=$?

figure() {		# figure file "pgbench label": the number after the label
	sed -n "s/^$2: *\([0-9.]*\).*/\1/p" "$1" | head -1
}
ingest_failed=$(figure "$dir/ingest.out" "number of failed transactions")
workers_failed=$(figure "$dir/workers.out" "number of failed transactions")
ingest_errors=$(grep -c 'error\|aborted' "$dir/ingest.out" || true)
workers_errors=$(grep -c 'error\|aborted' "$dir/workers.out" || true)
check "pgbench ingest clients ended normally" "0" "$ingest_rc"
check "pgbench workers ended normally" "0" "$workers_rc"
check "no ingest call failed" "0" "${ingest_failed:-missing}"
check "no worker call failed" "0" "${workers_failed:-missing}"
check "no error or aborted client in pgbench's output" "0 0" "$ingest_errors $workers_errors"
if [ "$ingest_rc$workers_rc" != 00 ] || [ "$ingest_errors$workers_errors" != 00 ]; then
	sed 's/^/#   ingest: /' "$dir/ingest.out" | tail -20
	sed 's/^/#   workers: /' "$dir/workers.out" | tail -20
fi

# backends flush their statistics when they exit
sleep 1
rollbacks_after=$(q -c "SELECT pg_stat_clear_snapshot(); SELECT xact_rollback FROM pg_stat_database WHERE datname = 'soak'" | tail -1)
check "no transaction rolled back in the database during the soak" \
	"0" "$((rollbacks_after - rollbacks_before))"

check "one row per key in inbox.events" "t" \
	"$(q -c "SELECT count(*) = count(DISTINCT event_id) FROM inbox.events WHERE source = 'soak'")"
check "exactly one inserted answer per stored key, across all clients" "" \
	"$(q -c "SELECT string_agg(key || ': ' || n, ', ') FROM (
	           SELECT e.event_id AS key, count(a.key) AS n FROM inbox.events e
	           LEFT JOIN soak_answers a ON a.key = e.event_id AND a.status = 'inserted'
	           WHERE e.source = 'soak' GROUP BY e.event_id HAVING count(a.key) <> 1) x")"
check "every key answered is stored" "0" \
	"$(q -c "SELECT count(DISTINCT a.key) FROM soak_answers a
	         WHERE NOT EXISTS (SELECT 1 FROM inbox.events e WHERE e.source = 'soak' AND e.event_id = a.key)")"
check "every answer is right: inserted or duplicate for the stored payload, conflict for the other" "" \
	"$(q -c "SELECT string_agg(DISTINCT a.status || ' for ' || CASE WHEN a.variant = (e.payload ->> 'variant')::int
	                                      THEN 'the stored payload' ELSE 'another payload' END, ', ')
	         FROM soak_answers a JOIN inbox.events e ON e.source = 'soak' AND e.event_id = a.key
	         WHERE NOT ((a.status IN ('inserted', 'duplicate') AND a.variant = (e.payload ->> 'variant')::int)
	                 OR (a.status = 'conflict' AND a.variant <> (e.payload ->> 'variant')::int))")"

check "no event completed twice" "0" \
	"$(q -c "SELECT count(*) FROM (SELECT id FROM soak_done GROUP BY id HAVING count(*) > 1) x")"
check "every completed event is still done" "0" \
	"$(q -c "SELECT count(*) FROM soak_done d JOIN inbox.events e USING (id) WHERE e.state <> 'done'")"
# done and claimable: a done event that still holds a lease or a claim time,
# lacks its processed_at, or that claim can hand out again
check "no done event holds a lease or lacks processed_at" "0" \
	"$(q -c "SELECT count(*) FROM inbox.events WHERE state = 'done'
	         AND (locked_by IS NOT NULL OR locked_until IS NOT NULL OR processed_at IS NULL)")"
states=$(q -c "SELECT string_agg(state || ' ' || n, ', ' ORDER BY state)
	FROM (SELECT state, count(*) AS n FROM inbox.events GROUP BY state) s")
check "a final claim of everything claimable hands out no done event" "0" \
	"$(q -c "SELECT count(*) FROM inbox.claim('final', 10000, '1 hour') c
	         JOIN soak_done d USING (id)")"

read -r calls keys inserted duplicate conflict rejected <<<"$(q -F ' ' -c "
	SELECT count(*), count(DISTINCT key), count(*) FILTER (WHERE status = 'inserted'),
	       count(*) FILTER (WHERE status = 'duplicate'), count(*) FILTER (WHERE status = 'conflict'),
	       count(*) FILTER (WHERE status = 'rejected')
	FROM soak_answers")"
read -r done failed <<<"$(q -F ' ' -c "
	SELECT (SELECT count(*) FROM soak_done), (SELECT count(*) FROM soak_failed)")"
check "no answer was rejected" "0" "$rejected"
note "soak: $clients ingest clients and $workers workers for $seconds s"
note "ingest calls: $(figure "$dir/ingest.out" "number of transactions actually processed")" \
	"($(sed -n 's/^tps = \([0-9]*\).*/\1/p' "$dir/ingest.out") calls/s), errors: ${ingest_failed:-?}"
note "answers logged: $calls (10 seed keys included), keys: $keys, inserted: $inserted, duplicate: $duplicate, conflict: $conflict," \
	"repeats: $(( (calls - keys) * 100 / (calls > 0 ? calls : 1) ))%"
note "worker transactions: $(figure "$dir/workers.out" "number of transactions actually processed")," \
	"completed: $done, failed: $failed, errors: ${workers_failed:-?}; events by state at the end: $states"
tap_done
