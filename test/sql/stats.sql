--
-- Statistics: inbox.ingest_counters(), inbox.reset_stats() and the view
-- inbox.stats.  The suite runs with pg_inbox in shared_preload_libraries;
-- test/shell/stats_preload.sh covers a server without it, and a full table
-- of sources (pg_inbox.max_sources), which needs a server of its own.
--
-- The counters belong to the database, and the tests before this one have
-- counted in it: start from a reset, and use sources of this test only.
SELECT current_setting('pg_inbox.max_sources')::integer >= 1 AS max_sources_set;
SELECT clock_timestamp() AS before_reset \gset
SELECT inbox.reset_stats();

-- after a reset: only the row with source NULL, all zero, since the reset
SELECT source, inserted, duplicate, conflict, rejected,
       stats_reset >= :'before_reset' AND stats_reset <= clock_timestamp() AS reset_now
FROM inbox.ingest_counters();

-- a known sequence of answers for one source
SELECT status FROM inbox.ingest('stats-a', 'e1', '{"n": 1}');
SELECT status FROM inbox.ingest('stats-a', 'e1', '{"n": 1}');
SELECT status FROM inbox.ingest('stats-a', 'e1', '{"n": 2}');
SELECT status FROM inbox.ingest('stats-a', 'e2', '{"n": 2}');
SELECT status FROM inbox.ingest('stats-a', NULL, '{"n": 3}');
SELECT status FROM inbox.ingest('stats-a', 'e3', '"not an object"');
SELECT status FROM inbox.ingest_raw('stats-a', 'e3', '{"n": 3}');
SELECT status FROM inbox.ingest_raw('stats-a', 'e3', '{"n": 3}');
SELECT status FROM inbox.ingest_raw('stats-a', 'e4', '{"n": ');
SELECT ord, status
FROM inbox.ingest_many('stats-a', ARRAY['e4', 'e1', 'e2', NULL],
                       ARRAY['{"n": 4}', '{"n": 1}', '{"n": 0}', '{}']::jsonb[]);
-- an answer counts even when the transaction rolls back: the counters say
-- what ingest answered, not what is stored
BEGIN;
SELECT status FROM inbox.ingest('stats-a', 'rolled-back', '{}');
ROLLBACK;
-- an error is not an answer, and is not counted
\set SHOW_CONTEXT never
SELECT * FROM inbox.ingest_many('stats-a', ARRAY['e5', 'e6'], ARRAY['{}']::jsonb[]);
\set SHOW_CONTEXT errors
-- another source
SELECT status FROM inbox.ingest('stats-b', 'e1', '{}');

-- unusable sources are counted in the row with source NULL
SELECT status FROM inbox.ingest(NULL, 'e1', '{}');
SELECT status FROM inbox.ingest('', 'e1', '{}');
SELECT status FROM inbox.ingest(repeat('s', 64), 'e1', '{}');
SELECT status FROM inbox.ingest_raw(NULL, 'e1', '{}');
SELECT ord, status FROM inbox.ingest_many(NULL, ARRAY['e1', 'e2'], ARRAY['{}', '{}']::jsonb[]);

SELECT source, inserted, duplicate, conflict, rejected
FROM inbox.ingest_counters()
ORDER BY source COLLATE "C" NULLS LAST;
-- every row has the database's stats_reset
SELECT count(DISTINCT stats_reset) AS one_stats_reset FROM inbox.ingest_counters();

--
-- Counting writes nothing: a duplicate, a conflict and a rejection still
-- assign no transaction id and write no WAL, also for a source that is
-- counted for the first time.  VACUUM first, so that no page is left for
-- these reads to prune.
--
VACUUM inbox.events;
CREATE FUNCTION stats_wal_of(query text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	plan json;
BEGIN
	EXECUTE 'EXPLAIN (ANALYZE, WAL, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON) ' || query
		INTO plan;
	RETURN (plan -> 0 -> 'Plan' ->> 'WAL Records')::bigint;
END;
$$;
BEGIN;
SELECT stats_wal_of($q$SELECT * FROM inbox.ingest('stats-a', 'e1', '{"n": 1}')$q$) AS wal_duplicate;
SELECT stats_wal_of($q$SELECT * FROM inbox.ingest('stats-a', 'e1', '{"n": 9}')$q$) AS wal_conflict;
-- (a source that stores nothing gets no row of its own: its rejection is
-- counted in the database's row with source NULL)
SELECT stats_wal_of($q$SELECT * FROM inbox.ingest('stats-new', NULL, '{}')$q$) AS wal_new_source;
SELECT stats_wal_of($q$SELECT * FROM inbox.ingest(NULL, 'e1', '{}')$q$) AS wal_no_source;
SELECT txid_current_if_assigned() IS NULL AS no_xid;
COMMIT;
SELECT source, inserted, duplicate, conflict, rejected
FROM inbox.ingest_counters()
ORDER BY source COLLATE "C" NULLS LAST;

-- the view: events by state, from inbox.events, next to the counters
INSERT INTO inbox.sources (source, max_attempts) VALUES ('stats-a', 1);
SELECT event_id FROM inbox.claim('stats-worker', 1, '1 minute', ARRAY['stats-a']);
SELECT inbox.complete(id, 'stats-worker') FROM inbox.events
WHERE source = 'stats-a' AND event_id = 'e1';
SELECT event_id FROM inbox.claim('stats-worker', 1, '1 minute', ARRAY['stats-a']);
SELECT inbox.fail(id, 'stats-worker', 'boom') FROM inbox.events
WHERE source = 'stats-a' AND event_id = 'e2';
SELECT event_id FROM inbox.claim('stats-worker', 1, '1 minute', ARRAY['stats-a']);
SELECT source, pending, processing, done, dead,
       oldest_pending_age >= '0'::interval AS has_oldest_pending,
       inserted, duplicate, conflict, rejected,
       stats_reset >= :'before_reset' AS reset_since, counters_available
FROM inbox.stats
WHERE source LIKE 'stats-%' OR source IS NULL
ORDER BY source COLLATE "C" NULLS LAST;
-- oldest_pending_age is measured from received_at
SELECT s.oldest_pending_age = now() - e.received_at AS from_received_at
FROM inbox.stats s, inbox.events e
WHERE s.source = 'stats-a' AND e.source = 'stats-a' AND e.event_id = 'e4';

-- a source that has events but was not counted since the reset shows zeros
SELECT status FROM inbox.ingest('stats-c', 'e1', '{}');
SELECT inbox.reset_stats();
SELECT source, pending, inserted, duplicate, conflict, rejected, counters_available
FROM inbox.stats
WHERE source LIKE 'stats-%' OR source IS NULL
ORDER BY source COLLATE "C" NULLS LAST;
SELECT source, inserted, duplicate, conflict, rejected FROM inbox.ingest_counters();

--
-- Privileges: nothing is granted to PUBLIC.  A monitoring role needs
-- EXECUTE on inbox.ingest_counters(), SELECT on the view and SELECT on the
-- columns of inbox.events that the view reads (not the payloads).
--
CREATE ROLE stats_monitor;
GRANT USAGE ON SCHEMA inbox TO stats_monitor;
SET ROLE stats_monitor;
SELECT count(*) FROM inbox.stats;
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT count(*) FROM inbox.ingest_counters();
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT inbox.reset_stats();
\echo sqlstate :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT SELECT ON inbox.stats TO stats_monitor;
GRANT EXECUTE ON FUNCTION inbox.ingest_counters(), inbox.signature_counters() TO stats_monitor;
SET ROLE stats_monitor;
-- the view runs with the caller's rights on inbox.events
SELECT count(*) FROM inbox.stats;
\echo sqlstate :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT SELECT (source, state, received_at) ON inbox.events TO stats_monitor;
SET ROLE stats_monitor;
SELECT source, pending, inserted FROM inbox.stats WHERE source = 'stats-c';
SELECT payload FROM inbox.events LIMIT 1;
\echo sqlstate :LAST_ERROR_SQLSTATE
RESET ROLE;
REVOKE ALL ON inbox.events FROM stats_monitor;
REVOKE ALL ON inbox.stats FROM stats_monitor;
REVOKE ALL ON FUNCTION inbox.ingest_counters(), inbox.signature_counters() FROM stats_monitor;
REVOKE ALL ON SCHEMA inbox FROM stats_monitor;
DROP ROLE stats_monitor;

DROP FUNCTION stats_wal_of(text);
DELETE FROM inbox.events WHERE source LIKE 'stats-%';
DELETE FROM inbox.sources WHERE source LIKE 'stats-%';
SELECT inbox.reset_stats();
