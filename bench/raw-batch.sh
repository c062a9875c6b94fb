#!/bin/bash
# inbox.ingest_raw_many beside inbox.ingest_many, with the same bodies:
# batches of BATCH_SIZE events (default 1,000) of bench/payload.json, event
# ids in random order (md5), one batch per transaction, pgbench -c 1 -M
# prepared.  ingest_many gets the bodies cast to jsonb[] in the statement (the
# parse a caller's $n::jsonb[] costs); ingest_raw_many gets them as text[].
# New keys first, then the same batches again (all duplicates); ROUNDS
# rounds, the order of the two turning from round to round.  Prints events/s.
#
# Run in a cluster with the extension installed, e.g.
#   pg_virtualenv -o shared_preload_libraries=pg_inbox bench/raw-batch.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BATCH_SIZE=${BATCH_SIZE:-1000}
BATCHES=${BATCHES:-30}
ROUNDS=${ROUNDS:-3}
db=inbox_bench_raw
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dropdb --if-exists "$db" >/dev/null 2>&1
createdb "$db"
psql -qX -d "$db" -v ON_ERROR_STOP=1 -v batches="$BATCHES" -v size="$BATCH_SIZE" \
	-v rounds="$ROUNDS" -v body="$(tr -d '\n' <bench/payload.json)" <<'SQL'
CREATE EXTENSION pg_inbox;
-- BATCHES batches per round and contender, each with ids of its own
CREATE TABLE bb (n integer PRIMARY KEY, ids text[], bodies text[]);
INSERT INTO bb
SELECT b, array_agg(md5(b || '-' || i) ORDER BY i), array_fill(:'body'::text, ARRAY[:size])
FROM generate_series(1, :batches * :rounds) b, generate_series(1, :size) i
GROUP BY b;
CREATE SEQUENCE s_many;
CREATE SEQUENCE s_raw;
VACUUM ANALYZE;
SQL

cat >"$work/many.sql" <<'SQL'
SELECT nextval('s_many') AS n \gset
SELECT count(*) FROM inbox.ingest_many('bench-many', (SELECT ids FROM bb WHERE n = :n), (SELECT bodies FROM bb WHERE n = :n)::jsonb[]);
SQL
cat >"$work/raw.sql" <<'SQL'
SELECT nextval('s_raw') AS n \gset
SELECT count(*) FROM inbox.ingest_raw_many('bench-raw', (SELECT ids FROM bb WHERE n = :n), (SELECT bodies FROM bb WHERE n = :n));
SQL

run() {		# contender: events/s of BATCHES batches
	local tps
	tps=$(pgbench -n -M prepared -c 1 -t "$BATCHES" -f "$work/$1.sql" "$db" 2>/dev/null |
		sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
	awk -v t="$tps" -v s="$BATCH_SIZE" 'BEGIN { printf "%.0f", t * s }'
}

for workload in new duplicate; do
	psql -qX -d "$db" -c "SELECT setval('s_many', 1, false), setval('s_raw', 1, false)" >/dev/null
	psql -qX -d "$db" -c "CHECKPOINT" >/dev/null
	for round in $(seq 1 "$ROUNDS"); do
		if [ $((round % 2)) -eq 1 ]; then order="many raw"; else order="raw many"; fi
		for c in $order; do
			printf '%s\t%s\t%s\t%s\n' "$workload" "$round" "$c" "$(run "$c")"
		done
	done
done | awk -F'\t' '
	{ v[$1, $3] = v[$1, $3] " " $4; print }
	END {
		for (w = 1; w <= 2; w++) {
			wl = (w == 1 ? "new" : "duplicate")
			printf "%-10s ingest_many:%s events/s; ingest_raw_many:%s events/s\n", wl, v[wl, "many"], v[wl, "raw"]
		}
	}'
dropdb "$db"
