/*
 * pg_inbox benchmark: what one event's whole life costs in inbox.events:
 * inbox.ingest, inbox.claim, inbox.complete, each its own transaction.
 *
 * Run by tools/run-bench with psql in a throw-away cluster, on an empty
 * inbox.events laid out as the layout under test, with
 *   -v payload=...  the payload
 *   -v events=...   how many events
 *
 * Three phases, each a statement per event and each statement its own
 * transaction (\gexec in autocommit mode): ingest the events (new keys),
 * claim them one at a time (inbox.claim('w', 1)), complete each by id.
 * Measured around each phase: WAL bytes (pg_current_wal_insert_lsn) and
 * full-page images (pg_stat_wal); at the end: updates, HOT updates and dead
 * tuples of inbox.events (this session's counts flushed with
 * pg_stat_force_next_flush() first), the sizes of heap, TOAST (table and
 * index) and indexes, and how many payloads are stored out of line (the
 * distinct chunk_ids of the TOAST table).  Autovacuum is off and a
 * CHECKPOINT comes first.  Timing is not measured here.
 *
 * Prints one line:
 * events|wal_ingest|wal_claim|wal_complete|fpi|updates|hot_updates|dead|
 *   heap_bytes|toast_bytes|index_bytes|out_of_line|done|avg_payload_bytes
 */
\set ON_ERROR_STOP 1
SET synchronous_commit = off;
-- what is measured here does not depend on JIT, and compiling a plan can
-- cost more than running it many times over
SET jit = off;
SELECT c.reltoastrelid::regclass AS toastrel
  FROM pg_catalog.pg_class c WHERE c.oid = 'inbox.events'::regclass
\gset
CHECKPOINT;
SELECT pg_catalog.pg_stat_force_next_flush();
SELECT pg_catalog.pg_current_wal_insert_lsn() AS lsn0,
	   (SELECT wal_fpi FROM pg_catalog.pg_stat_wal) AS fpi0,
	   pg_catalog.pg_stat_get_tuples_updated('inbox.events'::regclass) AS upd0,
	   pg_catalog.pg_stat_get_tuples_hot_updated('inbox.events'::regclass) AS hot0,
	   pg_catalog.pg_stat_get_dead_tuples('inbox.events'::regclass) AS dead0
\gset
\o /dev/null
SELECT pg_catalog.format('SELECT inbox.ingest(%L, %L, %L)', 'life', 'evt_' || k, :'payload')
  FROM pg_catalog.generate_series(1, :events) AS k
\gexec
\o
SELECT pg_catalog.pg_current_wal_insert_lsn() AS lsn1
\gset
\o /dev/null
SELECT 'SELECT count(*) FROM inbox.claim(''w'', 1)'
  FROM pg_catalog.generate_series(1, :events)
\gexec
\o
SELECT pg_catalog.pg_current_wal_insert_lsn() AS lsn2
\gset
\o /dev/null
SELECT pg_catalog.format('SELECT inbox.complete(%s, %L)', e.id, 'w')
  FROM inbox.events e WHERE e.state = 'processing' ORDER BY e.id
\gexec
\o
SELECT pg_catalog.pg_current_wal_insert_lsn() AS lsn3
\gset
SELECT pg_catalog.pg_stat_force_next_flush();
SELECT :events,
	   pg_catalog.pg_wal_lsn_diff(:'lsn1', :'lsn0'),
	   pg_catalog.pg_wal_lsn_diff(:'lsn2', :'lsn1'),
	   pg_catalog.pg_wal_lsn_diff(:'lsn3', :'lsn2'),
	   (SELECT wal_fpi FROM pg_catalog.pg_stat_wal) - :fpi0,
	   pg_catalog.pg_stat_get_tuples_updated('inbox.events'::regclass) - :upd0,
	   pg_catalog.pg_stat_get_tuples_hot_updated('inbox.events'::regclass) - :hot0,
	   pg_catalog.pg_stat_get_dead_tuples('inbox.events'::regclass) - :dead0,
	   pg_catalog.pg_relation_size('inbox.events'::regclass),
	   pg_catalog.pg_total_relation_size(:'toastrel'::regclass),
	   pg_catalog.pg_indexes_size('inbox.events'::regclass),
	   (SELECT count(DISTINCT t.chunk_id) FROM :toastrel t),
	   (SELECT count(*) FROM inbox.events e WHERE e.state = 'done'),
	   (SELECT round(avg(pg_catalog.pg_column_size(e.payload))) FROM inbox.events e);
