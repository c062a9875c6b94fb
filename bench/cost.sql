/*
 * pg_inbox benchmark: what one duplicate costs.
 *
 * Run by tools/run-bench with psql in a throw-away cluster, with
 *   -v tbl=...      the contender's table (inbox.events, bench.events, ...)
 *   -v tmpl=...     the contender's statement as a format() template:
 *                   %1$s is the key number, %2$L the payload
 *   -v payload=...  the payload, the same as was loaded
 *   -v calls=...    how many calls (keys 1..calls, all loaded beforehand)
 *
 * Every call is its own transaction: \gexec sends the generated statements
 * one by one and psql is in autocommit mode.  (A single statement such as
 * SELECT inbox.ingest(...) FROM generate_series(...) would be a single
 * transaction, and would hide the per-transaction costs.)
 *
 * Measured around the calls: WAL bytes (pg_current_wal_insert_lsn, so that
 * asynchronous commit does not hide WAL not yet written), transaction ids
 * (xmax of the current snapshot, which counts subtransaction ids too),
 * values drawn from the table's identity sequence, and dead tuples of the
 * table (n_dead_tup; this session's counts are flushed with
 * pg_stat_force_next_flush() first).  Autovacuum is off while this runs and
 * a CHECKPOINT comes first, so the WAL includes the full-page images of the
 * first change of each page after a checkpoint.
 *
 * Prints one line: calls|wal_bytes|xids|sequence_values|dead_tuples
 */
\set ON_ERROR_STOP 1
SET synchronous_commit = off;
CHECKPOINT;
SELECT pg_catalog.pg_stat_force_next_flush();
SELECT pg_catalog.pg_current_wal_insert_lsn() AS lsn0,
	   pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot()) AS xid0,
	   coalesce(pg_catalog.pg_sequence_last_value(
			pg_catalog.pg_get_serial_sequence(:'tbl', 'id')::regclass), 0) AS seq0,
	   pg_catalog.pg_stat_get_dead_tuples(:'tbl'::regclass) AS dead0
\gset
\o /dev/null
SELECT pg_catalog.format(:'tmpl', k, :'payload')
  FROM pg_catalog.generate_series(1, :calls) AS k
\gexec
\o
SELECT pg_catalog.pg_stat_force_next_flush();
SELECT :calls,
	   pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_insert_lsn(), :'lsn0'),
	   pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text::bigint
		 - :'xid0'::text::bigint,
	   coalesce(pg_catalog.pg_sequence_last_value(
			pg_catalog.pg_get_serial_sequence(:'tbl', 'id')::regclass), 0) - :seq0,
	   pg_catalog.pg_stat_get_dead_tuples(:'tbl'::regclass) - :dead0;
