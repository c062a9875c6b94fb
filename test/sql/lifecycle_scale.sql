--
-- claim on a large, freshly bulk-loaded queue that was never analyzed:
-- 1,000,000 pending events of 100 sources, interleaved by id.  claim plans
-- nothing, so statistics cannot lead it astray; a claim filtered to one
-- source reads that source's entries of events_claimable_source and the
-- events it returns, not the other sources' events ahead of them.
-- Counted are index entries and heap rows read (this transaction's
-- counters) and buffers (EXPLAIN (ANALYZE, BUFFERS)), never time.
--
TRUNCATE inbox.events;
INSERT INTO inbox.events (source, event_id, payload_digest, payload)
SELECT 'scale-' || (g % 100), 'e' || g, sha256(int8send(g)), '{}'
FROM generate_series(1, 1000000) g;

-- buffers touched by one statement, from its EXPLAIN (ANALYZE, BUFFERS)
CREATE FUNCTION scale_buffers(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	plan json;
BEGIN
	EXECUTE 'EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) ' || q INTO plan;
	RETURN (plan -> 0 -> 'Plan' ->> 'Shared Hit Blocks')::bigint
		 + (plan -> 0 -> 'Plan' ->> 'Shared Read Blocks')::bigint;
END;
$$;

BEGIN;
SELECT pg_stat_get_xact_tuples_returned('inbox.events_claimable_source'::regclass) AS idx0,
	   pg_stat_get_xact_tuples_fetched('inbox.events'::regclass) AS heap0 \gset
SELECT count(*) AS claimed, count(*) FILTER (WHERE source = 'scale-42') AS of_the_source,
	   min(event_id) AS first
FROM inbox.claim('w', 10, '1 minute', ARRAY['scale-42']);
SELECT pg_stat_get_xact_tuples_returned('inbox.events_claimable_source'::regclass) - :idx0
		   <= 10 + 5 AS index_entries_bounded,
	   pg_stat_get_xact_tuples_fetched('inbox.events'::regclass) - :heap0
		   <= 10 + 5 AS rows_read_bounded;
-- buffers: per claimed event, the heap page, the new version's page and one
-- descent of each of the five indexes; plus the scan's own descent
SELECT scale_buffers($$SELECT * FROM inbox.claim('w', 10, '1 minute', ARRAY['scale-43'])$$) < 300
	AS buffers_bounded_10;
SELECT scale_buffers($$SELECT * FROM inbox.claim('w', 1, '1 minute', ARRAY['scale-44'])$$) < 40
	AS buffers_bounded_1;
-- two sources: both scans merged in claim order
SELECT count(*) AS claimed, count(DISTINCT source) AS sources
FROM inbox.claim('w', 20, '1 minute', ARRAY['scale-45', 'scale-46', 'scale-45']);
-- unfiltered: the oldest events, whatever their source
SELECT pg_stat_get_xact_tuples_returned('inbox.events_claimable'::regclass) AS all0 \gset
SELECT count(*) AS claimed, count(DISTINCT source) AS sources
FROM inbox.claim('w', 10, '1 minute');
SELECT pg_stat_get_xact_tuples_returned('inbox.events_claimable'::regclass) - :all0
		   <= 10 + 5 AS unfiltered_bounded;
ROLLBACK;

-- the same claim without the source index reads past the other sources'
-- events (what the bound above rules out)
BEGIN;
DROP INDEX inbox.events_claimable_source;
SELECT pg_stat_get_xact_tuples_returned('inbox.events_claimable'::regclass) AS all0 \gset
SELECT count(*) AS claimed FROM inbox.claim('w', 10, '1 minute', ARRAY['scale-47']);
SELECT pg_stat_get_xact_tuples_returned('inbox.events_claimable'::regclass) - :all0
		   > 900 AS reads_past_other_sources;
ROLLBACK;

DROP FUNCTION scale_buffers(text);
TRUNCATE inbox.events;
