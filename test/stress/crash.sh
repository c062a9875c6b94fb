#!/bin/bash
# Crash: SIGKILL the postmaster while clients ingest, restart, and check
# that every event a client was told was stored (its answer arrived, which
# psql shows only after the server's ReadyForQuery, i.e. after the commit)
# is there exactly once, under the id it was given, and that running the
# same input again stores nothing new; then SIGKILL it again while workers
# claim and complete (claim and complete in separate transactions, so that
# events are held), restart, and check that every completion a worker was
# told of is done, and that no event stays processing past its lease: once
# the lease has passed, claim hands out every held event again.
#
# STRESS_CRASH_SECONDS (default 3; make stress: 10) is how long the clients
# run before the kill.  The cluster runs with fsync off: a killed process
# loses nothing the kernel already has; synchronous_commit stays on, so an
# answer is sent only after the commit record was written.  TAP.
set -euo pipefail
cd "$(dirname "$0")"
. ./cluster.sh

run=${STRESS_CRASH_SECONDS:-3}
clients=4
per_client=200000		# more than any client gets through before the kill
lease=3

cluster_init "fsync = off"
server_start
createdb crash
export PGDATABASE=crash
q -c "CREATE EXTENSION pg_inbox"

# ------------------------------------------------------------------
# ingest: each client has an input file of one ingest per line; keys are
# drawn from a space shared by all clients, so some repeat within and
# across clients; a key's payload is always the same
# ------------------------------------------------------------------
for c in $(seq 1 "$clients"); do
	awk -v c="$c" -v n="$per_client" 'BEGIN {
		srand(c);
		for (i = 1; i <= n; i++) {
			k = (i * 4 + c) % int(n * 3);       # mostly new keys, some shared
			if (rand() < 0.3) k = int(rand() * i * 4);
			printf "SELECT %c%s%c, status, id FROM inbox.ingest(%ccrash%c, %ck%d%c, %c{\"key\": %d, \"type\": \"charge.succeeded\"}%c);\n",
				39, "ACK k" k, 39, 39, 39, 39, k, 39, 39, k, 39;
		}
	}' >"$dir/input.$c"
done
for c in $(seq 1 "$clients"); do
	psql -AtX -F ' ' -f "$dir/input.$c" >"$dir/acks.$c" 2>"$dir/errors.$c" &
	echo $! >"$dir/client.$c"
done
sleep "$run"
killed=$(server_kill)
for c in $(seq 1 "$clients"); do
	wait "$(cat "$dir/client.$c")" || true
done
server_restart_after_crash
cat "$dir"/acks.* | awk '$1 == "ACK"' >"$dir/acked"
acked=$(wc -l <"$dir/acked")
note "ingest: killed postmaster $killed after ${run} s; $acked answers had reached the clients"
check "the clients were told of stored events before the kill" "t" "$([ "$acked" -gt 0 ] && echo t || echo f)"
check "the clients lost their connection (the kill happened while they ran)" "$clients" \
	"$(grep -l 'connection\|terminat\|server closed' "$dir"/errors.* | wc -l)"

q -c "CREATE TABLE acked (key text, status text, id bigint)"
awk '{print $2 "\t" $3 "\t" $4}' "$dir/acked" | q -c "COPY acked FROM STDIN"
check "no answer before the kill was an error or rejected" "0" \
	"$(q -c "SELECT count(*) FROM acked WHERE status NOT IN ('inserted', 'duplicate')")"
check "every event a client was told was stored is there, under the id it was told" "0" \
	"$(q -c "SELECT count(*) FROM acked a LEFT JOIN inbox.events e ON e.source = 'crash' AND e.event_id = a.key
	         WHERE e.id IS DISTINCT FROM a.id")"
check "each of them exactly once" "0" \
	"$(q -c "SELECT count(*) FROM (SELECT event_id FROM inbox.events GROUP BY source, event_id HAVING count(*) > 1) x")"
check "one inserted answer per acknowledged key" "0" \
	"$(q -c "SELECT count(*) FROM (SELECT key FROM acked GROUP BY key
	         HAVING count(*) FILTER (WHERE status = 'inserted') > 1) x")"
before=$(q -c "SELECT count(*) FROM inbox.events")
# the same input again, as far as each client got
for c in $(seq 1 "$clients"); do
	head -n "$(awk '$1 == "ACK"' "$dir/acks.$c" | wc -l)" "$dir/input.$c"
done | psql -AtX -F ' ' -v ON_ERROR_STOP=1 >"$dir/rerun"
check "running the acknowledged input again answers duplicate for every call" \
	"$acked duplicate" "$(awk '$1 == "ACK" {n[$3]++} END {for (s in n) print n[s], s}' "$dir/rerun")"
check "and stores nothing new" "$before" "$(q -c "SELECT count(*) FROM inbox.events")"
check "the server log shows the crash recovery" "t" \
	"$(grep -q 'database system was interrupted\|not properly shut down' "$dir/log" && echo t || echo f)"

# ------------------------------------------------------------------
# workers: claim one event in one transaction, complete it in the next;
# the completions they were told of are logged
# ------------------------------------------------------------------
q -c "SELECT count(*) FROM generate_series(1, 100000) g,
        inbox.ingest('work', 'w' || g, jsonb_build_object('n', g))" >/dev/null
# before autovacuum gets to it, claim on a freshly loaded table is planned
# from no statistics and takes about 100 ms
q -c "ANALYZE inbox.events"
for c in $(seq 1 "$clients"); do
	awk -v c="$c" -v lease="$lease" 'BEGIN {
		for (i = 1; i <= 50000; i++) {
			printf "SELECT coalesce((SELECT id FROM inbox.claim(%cworker-%d%c, 1, %c%d seconds%c, ARRAY[%cwork%c])), 0) AS id \\gset\n",
				39, c, 39, 39, lease, 39, 39, 39;
			printf "SELECT %cDONE%c, :id, inbox.complete(:id, %cworker-%d%c);\n", 39, 39, 39, c, 39;
		}
	}' >"$dir/work.$c"
done
for c in $(seq 1 "$clients"); do
	psql -AtX -F ' ' -f "$dir/work.$c" >"$dir/done.$c" 2>"$dir/werrors.$c" &
	echo $! >"$dir/worker.$c"
done
sleep "$run"
killed=$(server_kill)
for c in $(seq 1 "$clients"); do
	wait "$(cat "$dir/worker.$c")" || true
done
server_restart_after_crash
cat "$dir"/done.* | awk '$1 == "DONE" && $3 == "t" {print $2}' >"$dir/completed"
completed=$(wc -l <"$dir/completed")
processing=$(q -c "SELECT count(*) FROM inbox.events WHERE source = 'work' AND state = 'processing'")
note "worker loop: killed postmaster $killed after ${run} s; $completed completions acknowledged," \
	"$processing events processing after the restart"
check "the workers completed events before the kill" "t" "$([ "$completed" -gt 0 ] && echo t || echo f)"
q -c "CREATE TABLE completed (id bigint)"
q -c "COPY completed FROM STDIN" <"$dir/completed"
check "every completion a worker was told of is done" "0" \
	"$(q -c "SELECT count(*) FROM completed c LEFT JOIN inbox.events e USING (id) WHERE e.state IS DISTINCT FROM 'done'")"
check "no processing event holds a lease longer than it asked for" "0" \
	"$(q -c "SELECT count(*) FROM inbox.events WHERE state = 'processing'
	         AND locked_until > now() + interval '$lease seconds'")"
# wait for the leases to end (the last claim was at most $lease s ago)
sleep $((lease + 1))
check "after the lease, no event is still held" "0" \
	"$(q -c "SELECT count(*) FROM inbox.events WHERE state = 'processing' AND locked_until > now()")"
# claim everything claimable, in batches, in one transaction
check "and claim hands out every event that was held at the crash" "$processing" \
	"$(q -c "CREATE TABLE held AS SELECT id FROM inbox.events WHERE state = 'processing';
	         CREATE TABLE reclaimed (id bigint);
	         DO \$\$ BEGIN
	           LOOP
	             INSERT INTO reclaimed SELECT id FROM inbox.claim('after-crash', 10000, '1 minute', ARRAY['work']);
	             EXIT WHEN NOT FOUND;
	           END LOOP;
	         END \$\$;
	         SELECT count(*) FROM reclaimed JOIN held USING (id)" | tail -1)"
check "with its attempt counted" "0" \
	"$(q -c "SELECT count(*) FROM held JOIN inbox.events e USING (id) WHERE e.attempts < 2 OR e.locked_by <> 'after-crash'")"
check "pending, processing and done events add up to all of them" "100000" \
	"$(q -c "SELECT count(*) FROM inbox.events WHERE source = 'work' AND state IN ('pending', 'processing', 'done')")"
tap_done
