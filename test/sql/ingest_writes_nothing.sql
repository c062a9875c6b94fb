--
-- A duplicate or conflict writes nothing: no transaction id, no WAL, no
-- dead tuple, no value drawn from the id sequence.
--
-- WAL is measured with EXPLAIN (ANALYZE, WAL), which counts what this backend
-- wrote while running the statement, so that background writers in the
-- cluster cannot disturb the figure.
CREATE FUNCTION wal_of(query text) RETURNS TABLE (records bigint, bytes bigint)
LANGUAGE plpgsql AS $$
DECLARE
	plan json;
BEGIN
	EXECUTE 'EXPLAIN (ANALYZE, WAL, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON) ' || query
		INTO plan;
	records := (plan -> 0 -> 'Plan' ->> 'WAL Records')::bigint;
	bytes := (plan -> 0 -> 'Plan' ->> 'WAL Bytes')::bigint;
	RETURN NEXT;
END;
$$;

-- 5,000 events, committed
SELECT count(*) FILTER (WHERE status = 'inserted') AS inserted
FROM generate_series(1, 5000) g,
     inbox.ingest('nowrite', 'e-' || g, jsonb_build_object('n', g, 'pad', repeat('x', 100)));
-- read them once, so that setting hint bits is not counted below
SELECT count(*) FROM inbox.events WHERE source = 'nowrite';
SELECT count(*) FILTER (WHERE status = 'duplicate') AS warm
FROM generate_series(1, 5000) g,
     inbox.ingest('nowrite', 'e-' || g, jsonb_build_object('n', g, 'pad', repeat('x', 100)));

SELECT last_value AS seq_before, log_cnt AS log_cnt_before FROM inbox.events_id_seq \gset

BEGIN;
-- tuple counters of this backend, pending or of this transaction
SELECT n_tup_ins AS ins0, n_tup_upd AS upd0, n_tup_del AS del0
FROM pg_stat_xact_user_tables WHERE relid = 'inbox.events'::regclass \gset
-- 5,000 duplicates: no WAL
SELECT * FROM wal_of($q$
	SELECT count(*) FROM generate_series(1, 5000) g,
		inbox.ingest('nowrite', 'e-' || g, jsonb_build_object('n', g, 'pad', repeat('x', 100))) r
	WHERE r.status = 'duplicate'
$q$);
-- 5,000 conflicts: no WAL
SELECT * FROM wal_of($q$
	SELECT count(*) FROM generate_series(1, 5000) g,
		inbox.ingest('nowrite', 'e-' || g, jsonb_build_object('n', -g)) r
	WHERE r.status = 'conflict'
$q$);
-- the same through ingest_raw and ingest_many
SELECT * FROM wal_of($q$
	SELECT count(*) FROM generate_series(1, 5000) g,
		inbox.ingest_raw('nowrite', 'e-' || g, jsonb_build_object('pad', repeat('x', 100), 'n', g)::text) r
	WHERE r.status = 'duplicate'
$q$);
SELECT * FROM wal_of($q$
	SELECT count(*) FROM inbox.ingest_many('nowrite',
		(SELECT array_agg('e-' || g ORDER BY g) FROM generate_series(1, 5000) g),
		(SELECT array_agg(jsonb_build_object('n', g, 'pad', repeat('x', 100)) ORDER BY g) FROM generate_series(1, 5000) g)) r
	WHERE r.status = 'duplicate'
$q$);
-- rejected input writes nothing either
SELECT * FROM wal_of($q$
	SELECT count(*) FROM generate_series(1, 1000) g, inbox.ingest_raw('nowrite', 'e-' || g, '{') r
	WHERE r.status = 'rejected'
$q$);
-- no transaction id was assigned
SELECT txid_current_if_assigned() IS NULL AS no_xid;
-- no tuple was inserted, updated or deleted, so none can be dead
SELECT n_tup_ins - :ins0 AS inserted, n_tup_upd - :upd0 AS updated, n_tup_del - :del0 AS deleted
FROM pg_stat_xact_user_tables WHERE relid = 'inbox.events'::regclass;
COMMIT;

-- no sequence value was drawn
SELECT last_value = :seq_before AS seq_unchanged, log_cnt = :log_cnt_before AS log_cnt_unchanged
FROM inbox.events_id_seq;

-- The test can fail: new events do write, and draw ids
BEGIN;
SELECT n_tup_ins AS ins0 FROM pg_stat_xact_user_tables WHERE relid = 'inbox.events'::regclass \gset
SELECT records > 0 AS wrote_wal, bytes > 0 AS wrote_bytes FROM wal_of($q$
	SELECT count(*) FROM generate_series(5001, 5100) g,
		inbox.ingest('nowrite', 'e-' || g, '{}') r
	WHERE r.status = 'inserted'
$q$);
SELECT txid_current_if_assigned() IS NOT NULL AS has_xid;
SELECT n_tup_ins - :ins0 AS inserted FROM pg_stat_xact_user_tables WHERE relid = 'inbox.events'::regclass;
COMMIT;
SELECT last_value - :seq_before AS ids_drawn FROM inbox.events_id_seq;

-- For comparison: the plain INSERT ... ON CONFLICT DO NOTHING on a table with
-- an identity column burns one id per duplicate, and WAL-logs the sequence.
CREATE TABLE plain_events (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	source text NOT NULL,
	event_id text NOT NULL,
	payload jsonb NOT NULL,
	UNIQUE (source, event_id)
);
INSERT INTO plain_events (source, event_id, payload)
SELECT 'plain', 'e-' || g, '{}' FROM generate_series(1, 1000) g;
SELECT last_value AS plain_before FROM plain_events_id_seq \gset
BEGIN;
SELECT records > 0 AS wrote_wal FROM wal_of($q$
	INSERT INTO plain_events (source, event_id, payload)
	SELECT 'plain', 'e-' || g, '{}' FROM generate_series(1, 1000) g
	ON CONFLICT (source, event_id) DO NOTHING
$q$);
SELECT txid_current_if_assigned() IS NOT NULL AS has_xid;
COMMIT;
SELECT last_value - :plain_before AS ids_burned FROM plain_events_id_seq;
DROP TABLE plain_events;

DROP FUNCTION wal_of(text);
DELETE FROM inbox.events WHERE source = 'nowrite';
