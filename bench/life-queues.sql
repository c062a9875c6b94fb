/*
 * pg_inbox benchmark: what one event's whole life costs, three ways, on the
 * same payload, each step its own transaction (\gexec in autocommit mode):
 *
 *   inbox     inbox.ingest, inbox.claim(w, 1), inbox.complete
 *   sql       the same by hand on bench.life_sql (the shape and indexes of
 *             inbox.events, bench/baseline.sql): INSERT ... ON CONFLICT
 *             (source, event_id) DO NOTHING, a claim UPDATE ... WHERE id IN
 *             (SELECT ... FOR UPDATE SKIP LOCKED), a complete UPDATE
 *   pgmq      pgmq's send / read / archive written in plain SQL on tables
 *             of pgmq's shape (msg_id bigint identity primary key, read_ct,
 *             enqueued_at, vt with an index, message jsonb; an archive
 *             table with archived_at): INSERT, UPDATE ... SET vt WHERE
 *             msg_id IN (SELECT ... FOR UPDATE SKIP LOCKED), DELETE ...
 *             RETURNING into the archive.  No deduplication (pgmq has no
 *             key), which makes it cheaper to ingest.
 *
 * Needs bench/baseline.sql loaded and pg_inbox installed, an empty
 * inbox.events, autovacuum off.  psql -v payload=... -v events=...
 * Prints one line per contender: name|events|wal_bytes_per_life|dead_tuples_per_life
 */
\set ON_ERROR_STOP 1
SET synchronous_commit = off;
SET jit = off;
CREATE TABLE IF NOT EXISTS bench.life_sql (LIKE bench.events INCLUDING ALL) WITH (fillfactor = 80);
CREATE TABLE IF NOT EXISTS bench.pgmq_q (
	msg_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	read_ct		integer NOT NULL DEFAULT 0,
	enqueued_at	timestamptz NOT NULL DEFAULT now(),
	vt			timestamptz NOT NULL,
	message		jsonb
);
CREATE INDEX IF NOT EXISTS pgmq_q_vt_idx ON bench.pgmq_q (vt ASC);
CREATE TABLE IF NOT EXISTS bench.pgmq_a (
	msg_id		bigint PRIMARY KEY,
	read_ct		integer NOT NULL DEFAULT 0,
	enqueued_at	timestamptz NOT NULL DEFAULT now(),
	archived_at	timestamptz NOT NULL DEFAULT now(),
	vt			timestamptz NOT NULL,
	message		jsonb
);
CREATE INDEX IF NOT EXISTS pgmq_a_archived_at_idx ON bench.pgmq_a (archived_at);
TRUNCATE bench.life_sql, bench.pgmq_q, bench.pgmq_a;
CHECKPOINT;

-- inbox
SELECT pg_catalog.pg_stat_force_next_flush();
SELECT pg_catalog.pg_current_wal_insert_lsn() AS l0,
	   pg_catalog.pg_stat_get_dead_tuples('inbox.events'::regclass) AS d0 \gset
\o /dev/null
SELECT format('SELECT inbox.ingest(%L, %L, %L)', 'life', 'evt_' || k, :'payload') FROM generate_series(1, :events) k
\gexec
SELECT 'SELECT count(*) FROM inbox.claim(''w'', 1)' FROM generate_series(1, :events)
\gexec
SELECT format('SELECT inbox.complete(%s, %L)', e.id, 'w') FROM inbox.events e WHERE e.state = 'processing' ORDER BY e.id
\gexec
\o
SELECT pg_catalog.pg_stat_force_next_flush();
SELECT 'inbox', :events,
	   round(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_insert_lsn(), :'l0') / :events),
	   round((pg_catalog.pg_stat_get_dead_tuples('inbox.events'::regclass) - :d0)::numeric / :events, 2);

-- hand-written
CHECKPOINT;
SELECT pg_catalog.pg_current_wal_insert_lsn() AS l0,
	   pg_catalog.pg_stat_get_dead_tuples('bench.life_sql'::regclass) AS d0 \gset
\o /dev/null
SELECT format('INSERT INTO bench.life_sql (source, event_id, payload_digest, payload) VALUES (%L, %L, sha256(%L::text::bytea), %L) ON CONFLICT (source, event_id) DO NOTHING RETURNING id',
			  'life', 'evt_' || k, :'payload', :'payload') FROM generate_series(1, :events) k
\gexec
SELECT 'UPDATE bench.life_sql q SET state = ''processing'', attempts = q.attempts + 1, locked_by = ''w'', locked_until = now() + interval ''5 minutes'', available_at = now() + interval ''5 minutes'' WHERE q.id IN (SELECT id FROM bench.life_sql WHERE state IN (''pending'', ''processing'') AND available_at <= now() ORDER BY available_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING q.id, q.payload'
  FROM generate_series(1, :events)
\gexec
SELECT format('UPDATE bench.life_sql SET state = ''done'', processed_at = now(), locked_by = NULL, locked_until = NULL WHERE id = %s AND state = ''processing'' AND locked_by = ''w''', e.id)
  FROM bench.life_sql e WHERE e.state = 'processing' ORDER BY e.id
\gexec
\o
SELECT pg_catalog.pg_stat_force_next_flush();
SELECT 'sql', :events,
	   round(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_insert_lsn(), :'l0') / :events),
	   round((pg_catalog.pg_stat_get_dead_tuples('bench.life_sql'::regclass) - :d0)::numeric / :events, 2);

-- pgmq-style
CHECKPOINT;
SELECT pg_catalog.pg_current_wal_insert_lsn() AS l0,
	   pg_catalog.pg_stat_get_dead_tuples('bench.pgmq_q'::regclass)
	   + pg_catalog.pg_stat_get_dead_tuples('bench.pgmq_a'::regclass) AS d0 \gset
\o /dev/null
SELECT format('INSERT INTO bench.pgmq_q (vt, message) VALUES (now(), %L) RETURNING msg_id', :'payload') FROM generate_series(1, :events)
\gexec
SELECT 'UPDATE bench.pgmq_q q SET vt = now() + interval ''30 seconds'', read_ct = q.read_ct + 1 WHERE q.msg_id IN (SELECT msg_id FROM bench.pgmq_q WHERE vt <= now() ORDER BY msg_id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING q.msg_id, q.message'
  FROM generate_series(1, :events)
\gexec
SELECT format('WITH a AS (DELETE FROM bench.pgmq_q WHERE msg_id = %s RETURNING msg_id, vt, read_ct, enqueued_at, message) INSERT INTO bench.pgmq_a (msg_id, vt, read_ct, enqueued_at, message) SELECT msg_id, vt, read_ct, enqueued_at, message FROM a RETURNING msg_id', q.msg_id)
  FROM bench.pgmq_q q ORDER BY q.msg_id
\gexec
\o
SELECT pg_catalog.pg_stat_force_next_flush();
SELECT 'pgmq', :events,
	   round(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_insert_lsn(), :'l0') / :events),
	   round((pg_catalog.pg_stat_get_dead_tuples('bench.pgmq_q'::regclass)
			  + pg_catalog.pg_stat_get_dead_tuples('bench.pgmq_a'::regclass) - :d0)::numeric / :events, 2);
