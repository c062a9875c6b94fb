--
-- The processing lifecycle: claim, complete, fail, extend_lease, replay,
-- purge, retry_delay.
--
CREATE FUNCTION lc_state() RETURNS TABLE (event_id text, state text, attempts int,
	held_by text, claimable_now boolean, has_error boolean, history int)
LANGUAGE sql AS $$
	SELECT event_id, state, attempts, locked_by, available_at <= now(),
		   last_error IS NOT NULL, coalesce(jsonb_array_length(errors), 0)
	FROM inbox.events WHERE source = 'lc' ORDER BY id
$$;
CREATE FUNCTION lc_id(e text) RETURNS bigint LANGUAGE sql AS $$
	SELECT id FROM inbox.events WHERE source = 'lc' AND event_id = e
$$;
CREATE FUNCTION lc_id_any(s text, e text) RETURNS bigint LANGUAGE sql AS $$
	SELECT id FROM inbox.events WHERE source = s AND event_id = e
$$;

-- start from an empty queue: earlier tests leave pending events behind
DELETE FROM inbox.events;
SELECT count(*) FROM generate_series(1, 5) g,
	inbox.ingest('lc', 'e' || g, jsonb_build_object('n', g));

-- claim: oldest first, marked processing for the consumer, attempt counted
SELECT event_id, attempt, locked_until > now() AS leased, payload
FROM inbox.claim('w1', 2);
SELECT * FROM lc_state();
-- held events are not handed out again while their lease runs
SELECT event_id, attempt FROM inbox.claim('w2', 10, '10 minutes');
SELECT count(*) FROM inbox.claim('w3');
-- only the sources asked for
SELECT count(*) FROM generate_series(1, 2) g, inbox.ingest('lc-other', 'o' || g, '{}');
SELECT source, event_id FROM inbox.claim('w3', 10, '1 minute', ARRAY['lc-other']);

-- complete: only by the holder, only once
SELECT inbox.complete(lc_id('e1'), 'w1') AS by_holder,
	   inbox.complete(lc_id('e1'), 'w1') AS again,
	   inbox.complete(lc_id('e2'), 'w2') AS by_other,
	   inbox.complete(lc_id('e3'), 'w2') AS w2_e3,
	   inbox.complete(-1, 'w1') AS unknown_id;
SELECT event_id, state, processed_at IS NOT NULL AS processed, locked_by
FROM inbox.events WHERE source = 'lc' AND event_id IN ('e1', 'e3') ORDER BY event_id;

-- extend_lease: the holder keeps its claim; others get NULL
SELECT inbox.extend_lease(lc_id('e2'), 'w1', '1 hour') > now() + interval '59 minutes' AS extended,
	   inbox.extend_lease(lc_id('e2'), 'w2') AS not_holder,
	   inbox.extend_lease(lc_id('e1'), 'w1') AS done_event;

-- fail: the error is kept, the event retried later; a wrong holder gets NULL
SELECT inbox.fail(lc_id('e2'), 'w1', 'connection refused') AS state,
	   inbox.fail(lc_id('e4'), 'w1', 'not mine') AS not_holder;
SELECT * FROM lc_state();
SELECT last_error, errors -> 0 ->> 'error' AS error, errors -> 0 ->> 'consumer' AS consumer,
	   (errors -> 0 ->> 'attempt')::int AS attempt,
	   available_at > now() + interval '4 seconds' AND available_at <= now() + interval '10 seconds' AS backoff_1
FROM inbox.events WHERE source = 'lc' AND event_id = 'e2';
-- an explicit retry_in wins over the backoff
SELECT inbox.fail(lc_id('e4'), 'w2', 'rate limited', '42 minutes');
SELECT available_at BETWEEN now() + interval '41 minutes' AND now() + interval '43 minutes' AS in_42_minutes
FROM inbox.events WHERE source = 'lc' AND event_id = 'e4';
-- retry_in => '0' means now: the event is claimable at once
SELECT count(*) FROM inbox.ingest('lc-now', 'n1', '{}');
SELECT inbox.fail(c.id, 'w3', 'retry at once', '0') AS state, c.event_id
FROM inbox.claim('w3', 1, '1 minute', ARRAY['lc-now']) c;
SELECT event_id, state, available_at <= now() AS claimable_now, attempts
FROM inbox.events WHERE source = 'lc-now';
SELECT inbox.complete(c.id, 'w3') AS done_on_second_attempt, c.attempt
FROM inbox.claim('w3', 1, '1 minute', ARRAY['lc-now']) c;
-- long errors are cut to 2000 characters
SELECT inbox.fail(lc_id('e5'), 'w2', repeat('é', 5000));
SELECT length(last_error), length(errors -> 0 ->> 'error')
FROM inbox.events WHERE source = 'lc' AND event_id = 'e5';

-- the attempt limit: pg_inbox.max_attempts, or inbox.sources.max_attempts
INSERT INTO inbox.sources (source, max_attempts) VALUES ('lc', 3);
UPDATE inbox.events SET available_at = now() WHERE source = 'lc' AND state = 'pending';
SELECT event_id, attempt FROM inbox.claim('w1', 10);
SELECT inbox.fail(lc_id('e2'), 'w1', 'second failure', '1 second');
UPDATE inbox.events SET available_at = now() WHERE source = 'lc' AND event_id = 'e2';
SELECT event_id, attempt FROM inbox.claim('w1', 1);
SELECT inbox.fail(lc_id('e2'), 'w1', 'third failure') AS at_limit;
SELECT event_id, state, attempts, processed_at IS NOT NULL AS processed,
	   jsonb_array_length(errors) AS history,
	   (SELECT array_agg((x ->> 'attempt')::int ORDER BY ord)
		FROM jsonb_array_elements(errors) WITH ORDINALITY AS t(x, ord)) AS attempts_seen
FROM inbox.events WHERE source = 'lc' AND event_id = 'e2';
-- the history keeps the last 10 failures
UPDATE inbox.sources SET max_attempts = 20 WHERE source = 'lc';
DO $$
BEGIN
	FOR i IN 1..12 LOOP
		UPDATE inbox.events SET available_at = now()
		WHERE source = 'lc' AND event_id = 'e5';
		PERFORM 1 FROM inbox.claim('w9', 10, '1 minute', ARRAY['lc']) c WHERE c.event_id = 'e5';
		PERFORM inbox.fail(lc_id('e5'), 'w9', 'failure ' || i);
	END LOOP;
END;
$$;
SELECT attempts, jsonb_array_length(errors) AS history,
	   errors -> 0 ->> 'error' AS oldest_kept, errors -> 9 ->> 'error' AS newest
FROM inbox.events WHERE source = 'lc' AND event_id = 'e5';

-- an expired lease: the event is claimed again, and the old holder is fenced off
SELECT event_id, attempt FROM inbox.claim('w1', 1, '1 minute', ARRAY['lc']);
UPDATE inbox.events SET available_at = now() - interval '1 second',
	locked_until = now() - interval '1 second'
WHERE source = 'lc' AND state = 'processing';
SELECT event_id, attempt FROM inbox.claim('w2', 10, '1 minute', ARRAY['lc']);
SELECT inbox.complete(id, 'w1') AS old_holder, inbox.complete(id, 'w2') AS new_holder
FROM inbox.events WHERE source = 'lc' AND event_id = 'e4';
-- a lease that expires on the last attempt makes the event dead, not claimed
UPDATE inbox.sources SET max_attempts = 1 WHERE source = 'lc';
SELECT inbox.replay(ARRAY[lc_id('e1')]) AS replayed;
SELECT event_id, attempt FROM inbox.claim('w3', 1, '1 minute', ARRAY['lc']);
UPDATE inbox.events SET available_at = now() - interval '1 second'
WHERE source = 'lc' AND event_id = 'e1';
SELECT count(*) AS handed_out FROM inbox.claim('w4', 10, '1 minute', ARRAY['lc']);
SELECT state, last_error FROM inbox.events WHERE source = 'lc' AND event_id = 'e1';

-- replay: done and dead events back to pending with a fresh budget
SELECT * FROM lc_state();
SELECT inbox.replay(ARRAY[lc_id('e1'), lc_id('e2'), lc_id('e3'), -1]) AS by_id;
SELECT * FROM lc_state();
SELECT inbox.replay('lc', now() - interval '1 hour', now() + interval '1 hour') AS dead_in_range;
SELECT inbox.replay('lc', now() + interval '1 hour', now() + interval '2 hours', ARRAY['done', 'dead']) AS none_in_range;

-- purge: done and dead events older than the given age, in bounded batches
SELECT inbox.complete(c.id, 'w5') FROM inbox.claim('w5', 100) c;
UPDATE inbox.events SET processed_at = now() - interval '10 days' WHERE source = 'lc';
SELECT inbox.purge('30 days') AS nothing_that_old;
SELECT inbox.purge('7 days', 2) AS first_batch, inbox.purge('7 days', 2) AS second_batch,
	   inbox.purge('7 days') AS rest;
SELECT count(*) AS left_over FROM inbox.events WHERE source IN ('lc', 'lc-other');
-- a purged key is new again
SELECT status FROM inbox.ingest('lc', 'e1', '{"n": 1}');

-- retry_delay: exponential, capped, with jitter between half and all of it
SELECT bool_and(inbox.retry_delay(1) BETWEEN interval '5 seconds' AND interval '10 seconds') AS first,
	   bool_and(inbox.retry_delay(3) BETWEEN interval '20 seconds' AND interval '40 seconds') AS third,
	   bool_and(inbox.retry_delay(100) BETWEEN interval '30 minutes' AND interval '1 hour') AS capped
FROM generate_series(1, 200);
SELECT count(DISTINCT inbox.retry_delay(4)) > 150 AS jittered FROM generate_series(1, 200);
SET pg_inbox.retry_base_delay = '1min';
SET pg_inbox.retry_max_delay = '2min';
SELECT inbox.retry_delay(1) BETWEEN interval '30 seconds' AND interval '1 minute' AS base,
	   inbox.retry_delay(5) BETWEEN interval '1 minute' AND interval '2 minutes' AS cap;
RESET pg_inbox.retry_base_delay;
RESET pg_inbox.retry_max_delay;

-- fenced leases: every claim hands out a new token, and complete, fail and
-- extend_lease given a token act only for the holder of that very claim,
-- even when a later claim came from a consumer with the same name
SELECT count(*) FROM inbox.ingest('lc-fence', 'f1', '{}');
CREATE TEMP TABLE lc_tokens (round int, id bigint, token bigint);
INSERT INTO lc_tokens SELECT 1, id, lease_token FROM inbox.claim('same', 1, '1 minute', ARRAY['lc-fence']);
SELECT token IS NOT NULL AS has_token FROM lc_tokens;
-- the lease runs out, and a process with the same consumer name claims again
UPDATE inbox.events SET available_at = now() - interval '1 second',
	locked_until = now() - interval '1 second' WHERE source = 'lc-fence';
INSERT INTO lc_tokens SELECT 2, id, lease_token FROM inbox.claim('same', 1, '1 minute', ARRAY['lc-fence']);
SELECT count(DISTINCT token) AS distinct_tokens FROM lc_tokens;
SELECT inbox.complete(t.id, 'same', t.token) AS stale_complete,
	   inbox.fail(t.id, 'same', 'stale', NULL, t.token) AS stale_fail,
	   inbox.extend_lease(t.id, 'same', '1 hour', t.token) AS stale_extend
FROM lc_tokens t WHERE round = 1;
SELECT state, attempts, locked_by, last_error, lease_token = (SELECT token FROM lc_tokens WHERE round = 2) AS second_token
FROM inbox.events WHERE source = 'lc-fence';
SELECT inbox.extend_lease(t.id, 'same', '1 hour', t.token) > now() + interval '59 minutes' AS extended,
	   inbox.fail(t.id, 'same', 'once', '0', t.token) AS failed,
	   inbox.complete(t.id, 'same', t.token) AS complete_after_fail
FROM lc_tokens t WHERE round = 2;
-- a replay in between: the event is claimed again, under yet another token
UPDATE inbox.events SET available_at = now() WHERE source = 'lc-fence';
INSERT INTO lc_tokens SELECT 3, id, lease_token FROM inbox.claim('same', 1, '1 minute', ARRAY['lc-fence']);
SELECT inbox.complete(t.id, 'same', t.token) FROM lc_tokens t WHERE round = 3;
SELECT inbox.replay(ARRAY[lc_id_any('lc-fence', 'f1')]) AS replayed;
INSERT INTO lc_tokens SELECT 4, id, lease_token FROM inbox.claim('same', 1, '1 minute', ARRAY['lc-fence']);
SELECT count(DISTINCT token) AS distinct_tokens, max(round) AS rounds FROM lc_tokens;
SELECT inbox.complete(t.id, 'same', t.token) AS before_replay FROM lc_tokens t WHERE round = 3;
SELECT inbox.complete(t.id, 'same', t.token) AS after_replay FROM lc_tokens t WHERE round = 4;
-- without a token, the consumer name alone decides, as before
INSERT INTO lc_tokens SELECT 5, c.id, c.lease_token FROM inbox.replay(ARRAY[lc_id_any('lc-fence', 'f1')]) r,
	LATERAL inbox.claim('same', 1, '1 minute', ARRAY['lc-fence']) c;
SELECT inbox.complete(t.id, 'same') AS unfenced FROM lc_tokens t WHERE round = 5;
DROP TABLE lc_tokens;
-- a NULL token is refused rather than taken as "no fence"
\set VERBOSITY terse
SELECT inbox.complete(1, 'w', NULL::bigint);
SELECT inbox.fail(1, 'w', 'e', NULL, NULL::bigint);
SELECT inbox.extend_lease(1, 'w', '1 minute', NULL::bigint);
\set VERBOSITY default

-- with triggers on inbox.events, the lifecycle writes through a prepared
-- UPDATE, so that UPDATE triggers fire (trigger functions run with the
-- functions' pinned search_path: qualify names)
CREATE TABLE lc_seen (event_id text, state text, token boolean);
CREATE FUNCTION lc_seen_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.lc_seen VALUES (NEW.event_id, NEW.state, NEW.lease_token IS NOT NULL);
	RETURN NEW;
END
$$;
CREATE TRIGGER lc_seen AFTER UPDATE ON inbox.events
	FOR EACH ROW EXECUTE FUNCTION lc_seen_trigger();
SELECT count(*) FROM generate_series(1, 3) g, inbox.ingest('lc-trig', 't' || g, '{}');
SELECT event_id, attempt, lease_token IS NOT NULL AS has_token
FROM inbox.claim('wt', 10, '1 minute', ARRAY['lc-trig']);
SELECT inbox.complete(lc_id_any('lc-trig', 't1'), 'wt') AS completed,
	   inbox.fail(lc_id_any('lc-trig', 't2'), 'wt', 'no', '0') AS failed,
	   inbox.extend_lease(lc_id_any('lc-trig', 't3'), 'wt', '1 hour') > now() AS extended,
	   inbox.complete(lc_id_any('lc-trig', 't3'), 'other') AS not_holder;
SELECT * FROM lc_seen ORDER BY event_id, state;
-- a BEFORE UPDATE trigger that skips the row: the event is not taken, nor
-- completed
CREATE FUNCTION lc_skip_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RETURN NULL;
END
$$;
CREATE TRIGGER lc_skip BEFORE UPDATE ON inbox.events
	FOR EACH ROW EXECUTE FUNCTION lc_skip_trigger();
SELECT count(*) AS taken FROM inbox.claim('wt', 10, '1 minute', ARRAY['lc-trig']);
SELECT inbox.complete(lc_id_any('lc-trig', 't3'), 'wt') AS skipped;
DROP TRIGGER lc_skip ON inbox.events;
DROP TRIGGER lc_seen ON inbox.events;
DROP FUNCTION lc_skip_trigger();
DROP FUNCTION lc_seen_trigger();
DROP TABLE lc_seen;
SELECT event_id, state, attempts FROM inbox.events WHERE source = 'lc-trig' ORDER BY event_id;
-- and directly again once they are gone
SELECT inbox.complete(lc_id_any('lc-trig', 't3'), 'wt') AS completed_directly;

-- bad arguments: a clear error each
\set VERBOSITY terse
SELECT * FROM inbox.claim(NULL);
SELECT * FROM inbox.claim('');
SELECT * FROM inbox.claim(repeat('w', 256));
SELECT * FROM inbox.claim('w', 0);
SELECT * FROM inbox.claim('w', NULL);
SELECT * FROM inbox.claim('w', 10001);
SELECT * FROM inbox.claim('w', 1, NULL);
SELECT * FROM inbox.claim('w', 1, '0 seconds');
SELECT * FROM inbox.claim('w', 1, '-5 minutes');
SELECT * FROM inbox.claim('w', 1, '2 years');
SELECT inbox.complete(1, NULL);
SELECT inbox.complete(NULL, 'w') AS null_id;
SELECT inbox.fail(1, 'w', 'e', '-1 second');
SELECT inbox.fail(1, 'w', 'e', '1 year 1 day');
SELECT inbox.fail(NULL, 'w', 'e') AS null_id;
SELECT inbox.extend_lease(1, 'w', NULL);
SELECT inbox.replay(NULL::bigint[]);
SELECT inbox.replay('lc', NULL, now());
SELECT inbox.replay('lc', now(), now(), ARRAY['pending']);
SELECT inbox.purge(NULL);
SELECT inbox.purge('-1 day');
SELECT inbox.purge('1 day', 0);
SELECT inbox.retry_delay(0);
SELECT inbox.retry_delay(NULL);
SET pg_inbox.max_attempts = 0;
INSERT INTO inbox.sources (source, max_attempts) VALUES ('lc-bad', 0);
\set VERBOSITY default

-- claim reads the partial index of claimable events, not the whole table
INSERT INTO inbox.events (source, event_id, payload_digest, state, processed_at, payload)
SELECT 'lc-done', 'd' || g, sha256(g::text::bytea), 'done', now(), '{}'
FROM generate_series(1, 20000) g;
ANALYZE inbox.events;
SELECT count(*) FROM generate_series(1, 3) g, inbox.ingest('lc-idx', 'i' || g, '{}');
EXPLAIN (COSTS OFF)
SELECT e.id FROM inbox.events e
WHERE e.state = ANY (ARRAY['pending', 'processing'])
  AND e.available_at <= now()
ORDER BY e.available_at, e.id
LIMIT 10
FOR UPDATE OF e SKIP LOCKED;
-- claim scans the index itself, whatever the statistics say: a source filter
-- reads events_claimable_source, no filter events_claimable (this
-- transaction's counters, so that nothing else is counted)
BEGIN;
SELECT pg_stat_get_xact_numscans('inbox.events_claimable_source'::regclass) AS src0,
	   pg_stat_get_xact_numscans('inbox.events_claimable'::regclass) AS all0 \gset
SELECT count(*) FROM inbox.claim('w-idx', 2, '1 minute', ARRAY['lc-idx']);
SELECT pg_stat_get_xact_numscans('inbox.events_claimable_source'::regclass) > :src0 AS filter_used_source_index,
	   pg_stat_get_xact_numscans('inbox.events_claimable'::regclass) = :all0 AS filter_left_the_other;
SELECT count(*) FROM inbox.claim('w-idx', 1, '1 minute');
SELECT pg_stat_get_xact_numscans('inbox.events_claimable'::regclass) > :all0 AS all_used_claimable_index;
COMMIT;
EXPLAIN (COSTS OFF)
SELECT f.id FROM inbox.events f
WHERE f.state = ANY (ARRAY['done', 'dead'])
  AND f.processed_at < now() - interval '1 day'
ORDER BY f.processed_at
LIMIT 10000;

DELETE FROM inbox.events WHERE source LIKE 'lc%';
DELETE FROM inbox.sources WHERE source LIKE 'lc%';
DROP FUNCTION lc_state();
DROP FUNCTION lc_id(text);
DROP FUNCTION lc_id_any(text, text);
