#!/bin/bash
# Memory: one session makes STRESS_CALLS calls of inbox.ingest (default
# 20,000; make stress: 1,000,000) and as many of inbox.upsert, half of each
# from SQL over generate_series and half from a PL/pgSQL loop, in ten
# chunks, each chunk its own transaction.  New keys, duplicates and
# conflicts; inserts, updates and unchanged rows.  The session's memory
# (sum of total_bytes in pg_backend_memory_contexts) is taken after a
# warm-up and after every chunk; it must not grow by more than
# STRESS_MEMORY_BOUND bytes (default 1 MB) from the warm-up to the end.
# Prints the figures.  TAP.
set -euo pipefail
cd "$(dirname "$0")"
. ./cluster.sh

calls=${STRESS_CALLS:-20000}
bound=${STRESS_MEMORY_BOUND:-1048576}
chunk=$((calls / 10))

cluster_init "synchronous_commit = off" "fsync = off"
server_start
createdb memory
export PGDATABASE=memory
q -c "CREATE EXTENSION pg_inbox"

# everything below runs in this one session
q -v chunk="$chunk" -v calls="$calls" >"$dir/memory.out" <<'SQL'
CREATE TABLE mem_items (sku text PRIMARY KEY, qty integer, note text, doc jsonb,
                        updated_at timestamptz DEFAULT now());
CREATE TEMP TABLE mem (step text, calls bigint, bytes bigint, ord serial);
CREATE TEMP TABLE made (kind text, n bigint);
CREATE FUNCTION pg_temp.mem_bytes() RETURNS bigint LANGUAGE sql
AS $$ SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts $$;

-- the calls: key g % (calls / 4), so each key comes back several times; one
-- call in 50 with a changed payload (a conflict) or changed values (an update)
CREATE FUNCTION pg_temp.ingest_sql(lo bigint, hi bigint, keys bigint) RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM generate_series(lo, hi) g,
		inbox.ingest('mem', 'k' || (g % keys),
			jsonb_build_object('key', g % keys, 'v', (g % 50 = 0)::int, 'pad', 'memory test event')) i
$$;
CREATE FUNCTION pg_temp.ingest_loop(lo bigint, hi bigint, keys bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	r record;
	n bigint := 0;
BEGIN
	FOR g IN lo .. hi LOOP
		SELECT * INTO r FROM inbox.ingest('mem', 'k' || (g % keys),
			jsonb_build_object('key', g % keys, 'v', (g % 50 = 0)::int, 'pad', 'memory test event'));
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;
CREATE FUNCTION pg_temp.upsert_sql(lo bigint, hi bigint, keys bigint) RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM generate_series(lo, hi) g,
		inbox.upsert('mem_items', jsonb_build_object('sku', 's' || (g % keys), 'qty', (g % 50 = 0)::int,
			'note', 'memory test', 'doc', jsonb_build_object('g', g % keys))) u
$$;
CREATE FUNCTION pg_temp.upsert_loop(lo bigint, hi bigint, keys bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	r record;
	n bigint := 0;
BEGIN
	FOR g IN lo .. hi LOOP
		SELECT * INTO r FROM inbox.upsert('mem_items', jsonb_build_object('sku', 's' || (g % keys),
			'qty', (g % 50 = 0)::int, 'note', 'memory test', 'doc', jsonb_build_object('g', g % keys)));
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;

-- warm-up: every kind of call once in a while, caches filled
SELECT pg_temp.ingest_sql(1, 2000, 500) + pg_temp.ingest_loop(1, 2000, 500)
     + pg_temp.upsert_sql(1, 2000, 500) + pg_temp.upsert_loop(1, 2000, 500) AS warm_up \gset
INSERT INTO mem (step, calls, bytes) SELECT 'warm-up', 0, pg_temp.mem_bytes();

SELECT :calls / 4 AS keys \gset
-- each chunk: one statement of calls, then one that takes the measurement
-- (\gexec runs the cells of each row in order)
SELECT format('INSERT INTO made SELECT %L, pg_temp.%s(%s, %s, %s)',
	kind, fn || CASE WHEN c % 2 = 0 THEN '_sql' ELSE '_loop' END, c * :chunk + 1, (c + 1) * :chunk, :keys),
	format($f$INSERT INTO mem (step, calls, bytes)
	  SELECT %L, (SELECT sum(n) FROM made WHERE kind = %L), pg_temp.mem_bytes()$f$,
	kind || CASE WHEN c % 2 = 0 THEN ' sql' ELSE ' plpgsql' END, kind)
FROM (VALUES (1, 'ingest', 'ingest'), (2, 'upsert', 'upsert')) f(o, kind, fn),
	generate_series(0, 9) c
ORDER BY o, c \gexec

SELECT step || ' ' || calls || ' ' || bytes FROM mem ORDER BY ord;
SELECT 'events ' || count(*) || ' ' || count(*) FILTER (WHERE payload ->> 'v' = '1') FROM inbox.events;
SELECT 'items ' || count(*) FROM mem_items;
SQL

grep -q '^warm-up' "$dir/memory.out" || { cat "$dir/memory.out"; exit 1; }
warm=$(awk '$1 == "warm-up" {print $3}' "$dir/memory.out")
last_ingest=$(awk '$1 == "ingest" {b = $4} END {print b}' "$dir/memory.out")
last_upsert=$(awk '$1 == "upsert" {b = $4} END {print b}' "$dir/memory.out")
max=$(awk '$1 == "ingest" || $1 == "upsert" {if ($4 > m) m = $4} END {print m}' "$dir/memory.out")
ingest_calls=$(awk '$1 == "ingest" {c = $3} END {print c}' "$dir/memory.out")
upsert_calls=$(awk '$1 == "upsert" {c = $3} END {print c}' "$dir/memory.out")

check "all $calls ingest calls were made in the session" "$calls" "$ingest_calls"
check "all $calls upsert calls were made in the session" "$calls" "$upsert_calls"
check "memory after $calls ingest calls grew by at most $bound bytes over the warm-up" \
	"t" "$([ $((last_ingest - warm)) -le "$bound" ] && echo t || echo "f ($((last_ingest - warm)) bytes)")"
check "memory after $calls upsert calls grew by at most $bound bytes over the warm-up" \
	"t" "$([ $((last_upsert - warm)) -le "$bound" ] && echo t || echo "f ($((last_upsert - warm)) bytes)")"
check "memory never rose more than $bound bytes above the warm-up" \
	"t" "$([ $((max - warm)) -le "$bound" ] && echo t || echo "f ($((max - warm)) bytes)")"
note "memory of the session (sum of total_bytes in pg_backend_memory_contexts):"
while read -r step kind n bytes; do
	note "  $step $kind after $n calls: $bytes bytes ($((bytes - warm)) over the warm-up)"
done < <(grep -E '^(ingest|upsert) ' "$dir/memory.out")
note "  warm-up: $warm bytes; $(grep '^events' "$dir/memory.out" | awk '{print $2 " events, " $3 " of them with the changed payload"}'), $(grep '^items' "$dir/memory.out" | awk '{print $2 " upserted rows"}')"
tap_done
