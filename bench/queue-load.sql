/*
 * pg_inbox benchmark: load the queues of the processing benchmark.
 *
 * Run by tools/run-bench with psql in a throw-away cluster, with
 *   -v n=...        how many pending events
 *   -v payload=...  their payload
 *
 * Empties inbox.events, bench.queue and bench.queue2, then loads n pending
 * events into each: into inbox.events with one inbox.ingest_many call (a
 * real digest per event), into the two plain tables with INSERT ... SELECT
 * (the constant digest of baseline.sql).  VACUUM ANALYZE and a CHECKPOINT
 * follow, so that every contender starts from the same state.
 *
 * Prints two lines: the events ingest_many inserted, and the rows of
 * bench.queue and bench.queue2 (n, and n|n).
 */
\set ON_ERROR_STOP 1
SET synchronous_commit = off;
TRUNCATE inbox.events, bench.queue, bench.queue2;
SELECT count(*) FILTER (WHERE r.status = 'inserted')
  FROM inbox.ingest_many('queue',
						 ARRAY(SELECT 'q_' || k FROM generate_series(1, :n) AS k),
						 array_fill(:'payload'::jsonb, ARRAY[:n])) AS r;
INSERT INTO bench.queue (source, event_id, payload_digest, payload)
SELECT 'queue', 'q_' || k, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea, :'payload'
  FROM generate_series(1, :n) AS k;
INSERT INTO bench.queue2 (source, event_id, payload_digest, payload)
SELECT 'queue', 'q_' || k, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea, :'payload'
  FROM generate_series(1, :n) AS k;
VACUUM ANALYZE inbox.events, bench.queue, bench.queue2;
CHECKPOINT;
SELECT (SELECT count(*) FROM bench.queue), (SELECT count(*) FROM bench.queue2);
