-- pg_inbox: the documented role recipes, with real roles.
--
-- writer:   USAGE ON SCHEMA inbox;
--           EXECUTE ON inbox.ingest, inbox.ingest_raw, inbox.ingest_many,
--                      inbox.ingest_raw_many;
--           INSERT ON inbox.events.
-- worker:   USAGE ON SCHEMA inbox;
--           EXECUTE ON inbox.claim, inbox.complete, inbox.fail,
--                      inbox.extend_lease (with and without lease_token);
--           SELECT, UPDATE ON inbox.events.
-- operator: USAGE ON SCHEMA inbox;
--           EXECUTE ON inbox.replay (both forms), inbox.purge;
--           SELECT, UPDATE, DELETE ON inbox.events.
--
-- Each recipe is enough for its job and no more: the writer ingests but can
-- neither process nor read events; the worker runs the whole worker loop
-- (claim, fail, claim again, complete, extend_lease) but can neither ingest,
-- replay, purge nor delete; the operator replays and purges but can neither
-- ingest nor process.  A worker may narrow UPDATE to the lifecycle columns.
-- The worker needs neither SELECT ON inbox.sources (claim and fail read the
-- attempt limit, and nothing else of the table) nor EXECUTE ON
-- inbox.retry_delay; without UPDATE ON inbox.events a worker is denied, and
-- so are purge (FOR UPDATE) and replay for an operator.
--
-- The roles are created inside the transaction, so ROLLBACK removes them.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_inbox;

SELECT plan(81);

CREATE ROLE inbox_tap_wr_writer NOLOGIN;
CREATE ROLE inbox_tap_wr_worker NOLOGIN;
CREATE ROLE inbox_tap_wr_operator NOLOGIN;
CREATE ROLE inbox_tap_wr_worker_cols NOLOGIN;
CREATE ROLE inbox_tap_wr_no_sources NOLOGIN;
CREATE ROLE inbox_tap_wr_no_update NOLOGIN;
CREATE ROLE inbox_tap_wr_op_no_update NOLOGIN;

-- writer: the recipe
GRANT USAGE ON SCHEMA inbox TO inbox_tap_wr_writer;
GRANT EXECUTE ON FUNCTION inbox.ingest(text, text, jsonb, jsonb),
	inbox.ingest_raw(text, text, text, jsonb),
	inbox.ingest_many(text, text[], jsonb[]),
	inbox.ingest_raw_many(text, text[], text[], jsonb[]) TO inbox_tap_wr_writer;
GRANT INSERT ON inbox.events TO inbox_tap_wr_writer;

-- worker: the recipe
GRANT USAGE ON SCHEMA inbox TO inbox_tap_wr_worker;
GRANT EXECUTE ON FUNCTION inbox.claim(text, integer, interval, text[]),
	inbox.complete(bigint, text), inbox.complete(bigint, text, bigint),
	inbox.fail(bigint, text, text, interval), inbox.fail(bigint, text, text, interval, bigint),
	inbox.extend_lease(bigint, text, interval), inbox.extend_lease(bigint, text, interval, bigint) TO inbox_tap_wr_worker;
GRANT SELECT, UPDATE ON inbox.events TO inbox_tap_wr_worker;

-- operator: the recipe
GRANT USAGE ON SCHEMA inbox TO inbox_tap_wr_operator;
GRANT EXECUTE ON FUNCTION inbox.replay(bigint[]),
	inbox.replay(text, timestamptz, timestamptz, text[]),
	inbox.purge(interval, integer) TO inbox_tap_wr_operator;
GRANT SELECT, UPDATE, DELETE ON inbox.events TO inbox_tap_wr_operator;

-- a narrower worker: UPDATE on the lifecycle columns only
GRANT USAGE ON SCHEMA inbox TO inbox_tap_wr_worker_cols;
GRANT EXECUTE ON FUNCTION inbox.claim(text, integer, interval, text[]),
	inbox.complete(bigint, text), inbox.complete(bigint, text, bigint),
	inbox.fail(bigint, text, text, interval), inbox.fail(bigint, text, text, interval, bigint),
	inbox.extend_lease(bigint, text, interval), inbox.extend_lease(bigint, text, interval, bigint) TO inbox_tap_wr_worker_cols;
GRANT SELECT ON inbox.events TO inbox_tap_wr_worker_cols;
GRANT UPDATE (state, attempts, available_at, locked_by, locked_until,
			  processed_at, last_error, errors) ON inbox.events TO inbox_tap_wr_worker_cols;

-- the worker recipe again, for the probes of what it needs
GRANT USAGE ON SCHEMA inbox TO inbox_tap_wr_no_sources;
GRANT EXECUTE ON FUNCTION inbox.claim(text, integer, interval, text[]),
	inbox.complete(bigint, text), inbox.complete(bigint, text, bigint),
	inbox.fail(bigint, text, text, interval), inbox.fail(bigint, text, text, interval, bigint),
	inbox.extend_lease(bigint, text, interval), inbox.extend_lease(bigint, text, interval, bigint) TO inbox_tap_wr_no_sources;
GRANT SELECT, UPDATE ON inbox.events TO inbox_tap_wr_no_sources;

-- the worker recipe without UPDATE
GRANT USAGE ON SCHEMA inbox TO inbox_tap_wr_no_update;
GRANT EXECUTE ON FUNCTION inbox.claim(text, integer, interval, text[]),
	inbox.complete(bigint, text), inbox.complete(bigint, text, bigint),
	inbox.fail(bigint, text, text, interval), inbox.fail(bigint, text, text, interval, bigint),
	inbox.extend_lease(bigint, text, interval), inbox.extend_lease(bigint, text, interval, bigint) TO inbox_tap_wr_no_update;
GRANT SELECT ON inbox.events TO inbox_tap_wr_no_update;

-- the operator recipe without UPDATE
GRANT USAGE ON SCHEMA inbox TO inbox_tap_wr_op_no_update;
GRANT EXECUTE ON FUNCTION inbox.replay(bigint[]),
	inbox.replay(text, timestamptz, timestamptz, text[]),
	inbox.purge(interval, integer) TO inbox_tap_wr_op_no_update;
GRANT SELECT, DELETE ON inbox.events TO inbox_tap_wr_op_no_update;

-- what the roles were answered, for checking as superuser afterwards
CREATE TEMP TABLE claimed (
	seq				integer GENERATED ALWAYS AS IDENTITY,
	role			text,
	round			integer,
	id				bigint,
	source			text,
	event_id		text,
	attempt			integer,
	received_at		timestamptz,
	locked_until	timestamptz,
	headers			jsonb,
	payload			jsonb,
	lease_token		bigint
);
CREATE TEMP TABLE answers (
	seq			integer GENERATED ALWAYS AS IDENTITY,
	role		text,
	label		text,
	result		text
);
GRANT ALL ON claimed, answers TO PUBLIC;

-- the recipes hold exactly what they say, so that the checks below prove
-- something about them
SELECT ok(
	pg_catalog.has_schema_privilege('inbox_tap_wr_writer', 'inbox', 'USAGE')
	AND pg_catalog.has_table_privilege('inbox_tap_wr_writer', 'inbox.events', 'INSERT')
	AND NOT pg_catalog.has_table_privilege('inbox_tap_wr_writer', 'inbox.events', 'SELECT, UPDATE, DELETE, TRUNCATE')
	AND NOT pg_catalog.has_table_privilege('inbox_tap_wr_writer', 'inbox.sources', 'SELECT, INSERT, UPDATE, DELETE'),
	'writer: USAGE, INSERT on inbox.events, nothing else on the tables');
SELECT ok(
	pg_catalog.has_schema_privilege('inbox_tap_wr_worker', 'inbox', 'USAGE')
	AND pg_catalog.has_table_privilege('inbox_tap_wr_worker', 'inbox.events', 'SELECT')
	AND pg_catalog.has_table_privilege('inbox_tap_wr_worker', 'inbox.events', 'UPDATE')
	AND NOT pg_catalog.has_table_privilege('inbox_tap_wr_worker', 'inbox.events', 'INSERT, DELETE, TRUNCATE')
	AND NOT pg_catalog.has_table_privilege('inbox_tap_wr_worker', 'inbox.sources', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE'),
	'worker: USAGE, SELECT and UPDATE on inbox.events, nothing else on the tables');
SELECT ok(
	pg_catalog.has_schema_privilege('inbox_tap_wr_operator', 'inbox', 'USAGE')
	AND pg_catalog.has_table_privilege('inbox_tap_wr_operator', 'inbox.events', 'SELECT')
	AND pg_catalog.has_table_privilege('inbox_tap_wr_operator', 'inbox.events', 'UPDATE')
	AND pg_catalog.has_table_privilege('inbox_tap_wr_operator', 'inbox.events', 'DELETE')
	AND NOT pg_catalog.has_table_privilege('inbox_tap_wr_operator', 'inbox.events', 'INSERT, TRUNCATE')
	AND NOT pg_catalog.has_table_privilege('inbox_tap_wr_operator', 'inbox.sources', 'SELECT, INSERT, UPDATE, DELETE'),
	'operator: USAGE, SELECT, UPDATE and DELETE on inbox.events, nothing else on the tables');
SELECT results_eq(
	$$SELECT r.role, pg_catalog.string_agg(p.oid::pg_catalog.regprocedure::text, ' ' ORDER BY p.proname, p.pronargs)
	    FROM pg_catalog.unnest(ARRAY['inbox_tap_wr_writer', 'inbox_tap_wr_worker', 'inbox_tap_wr_operator']) r(role)
	    JOIN pg_catalog.pg_proc p ON p.pronamespace = pg_catalog.to_regnamespace('inbox')
	   WHERE pg_catalog.has_function_privilege(r.role, p.oid, 'EXECUTE')
	   GROUP BY r.role ORDER BY r.role$$,
	$$VALUES ('inbox_tap_wr_operator',
	          'inbox.purge(interval,integer) inbox.replay(bigint[]) inbox.replay(text,timestamp with time zone,timestamp with time zone,text[])'),
	         ('inbox_tap_wr_worker',
	          'inbox.claim(text,integer,interval,text[]) inbox.complete(bigint,text) inbox.complete(bigint,text,bigint) inbox.extend_lease(bigint,text,interval) inbox.extend_lease(bigint,text,interval,bigint) inbox.fail(bigint,text,text,interval) inbox.fail(bigint,text,text,interval,bigint)'),
	         ('inbox_tap_wr_writer',
	          'inbox.ingest(text,text,jsonb,jsonb) inbox.ingest_many(text,text[],jsonb[]) inbox.ingest_raw(text,text,text,jsonb) inbox.ingest_raw_many(text,text[],text[],jsonb[])')$$,
	'each recipe can execute exactly its own functions in schema inbox');

-- ------------------------------------------------------------------
-- writer: ingests; cannot process, replay, purge or read
-- ------------------------------------------------------------------
SET ROLE inbox_tap_wr_writer;

SELECT lives_ok(
	$$INSERT INTO answers (role, label, result)
	  SELECT 'writer', 'ingest e-1', status
	    FROM inbox.ingest('tap-wr', 'e-1', '{"n": 1}', '{"x-sig": "s1"}')$$,
	'writer: inbox.ingest runs');
SELECT lives_ok(
	$$INSERT INTO answers (role, label, result)
	  SELECT 'writer', 'ingest_raw e-2', status FROM inbox.ingest_raw('tap-wr', 'e-2', '{"n": 2}')$$,
	'writer: inbox.ingest_raw runs');
SELECT lives_ok(
	$$INSERT INTO answers (role, label, result)
	  SELECT 'writer', 'ingest_many e-' || (ord + 2), status
	    FROM inbox.ingest_many('tap-wr', ARRAY['e-3', 'e-4'], ARRAY['{"n": 3}', '{"n": 4}']::jsonb[])$$,
	'writer: inbox.ingest_many runs');
SELECT lives_ok(
	$$INSERT INTO answers (role, label, result)
	  SELECT 'writer', 'ingest_raw_many r-' || ord, status
	    FROM inbox.ingest_raw_many('tap-wr-raw', ARRAY['r-1', 'r-2'], ARRAY['{"n": 1}', '{"n": '])$$,
	'writer: inbox.ingest_raw_many runs');

SELECT throws_ok(
	$$SELECT * FROM inbox.claim('tap-writer', 10)$$,
	'42501', NULL, 'writer: inbox.claim is denied (42501)');
SELECT throws_ok(
	$$SELECT inbox.complete(1, 'tap-writer')$$,
	'42501', NULL, 'writer: inbox.complete is denied (42501)');
SELECT throws_ok(
	$$SELECT inbox.fail(1, 'tap-writer', 'no')$$,
	'42501', NULL, 'writer: inbox.fail is denied (42501)');
SELECT throws_ok(
	$$SELECT inbox.extend_lease(1, 'tap-writer')$$,
	'42501', NULL, 'writer: inbox.extend_lease is denied (42501)');
SELECT throws_ok(
	$$SELECT inbox.retry_delay(1)$$,
	'42501', NULL, 'writer: inbox.retry_delay is denied (42501)');
SELECT throws_ok(
	$$SELECT inbox.replay(ARRAY[1::bigint])$$,
	'42501', NULL, 'writer: inbox.replay(ids) is denied (42501)');
SELECT throws_ok(
	$$SELECT inbox.replay('tap-wr', now() - interval '1 day', now() + interval '1 day')$$,
	'42501', NULL, 'writer: inbox.replay(source, ...) is denied (42501)');
SELECT throws_ok(
	$$SELECT inbox.purge('0')$$,
	'42501', NULL, 'writer: inbox.purge is denied (42501)');
SELECT throws_ok(
	$$SELECT payload FROM inbox.events$$,
	'42501', NULL, 'writer: cannot read payloads (42501)');

RESET ROLE;

SELECT results_eq(
	$$SELECT label, result FROM answers WHERE role = 'writer' ORDER BY seq$$,
	$$VALUES ('ingest e-1', 'inserted'), ('ingest_raw e-2', 'inserted'),
	         ('ingest_many e-3', 'inserted'), ('ingest_many e-4', 'inserted'),
	         ('ingest_raw_many r-1', 'inserted'), ('ingest_raw_many r-2', 'rejected')$$,
	'writer: every ingest inserted, and a malformed body in a raw batch is rejected');

-- ------------------------------------------------------------------
-- worker: a full worker loop on the writer's events
-- ------------------------------------------------------------------
SET ROLE inbox_tap_wr_worker;

SELECT lives_ok(
	$$INSERT INTO claimed (role, round, id, source, event_id, attempt, received_at, locked_until, headers, payload, lease_token)
	  SELECT 'worker', 1, c.* FROM inbox.claim('tap-w1', 10, '5 minutes', ARRAY['tap-wr']) c$$,
	'worker: inbox.claim runs');
SELECT lives_ok(
	$$INSERT INTO answers (role, label, result)
	  SELECT 'worker', 'fail e-1', inbox.fail(id, 'tap-w1', 'e-1 failed') FROM claimed
	   WHERE role = 'worker' AND round = 1 AND event_id = 'e-1'$$,
	'worker: inbox.fail runs (default retry delay)');
SELECT lives_ok(
	$$INSERT INTO answers (role, label, result)
	  SELECT 'worker', 'extend_lease e-2',
	         (inbox.extend_lease(id, 'tap-w1', '10 minutes') = now() + interval '10 minutes')::text
	    FROM claimed WHERE role = 'worker' AND round = 1 AND event_id = 'e-2'$$,
	'worker: inbox.extend_lease runs');
SELECT lives_ok(
	$$INSERT INTO answers (role, label, result)
	  SELECT 'worker', 'complete ' || event_id, inbox.complete(id, 'tap-w1')::text FROM claimed
	   WHERE role = 'worker' AND round = 1 AND event_id IN ('e-2', 'e-3') ORDER BY event_id$$,
	'worker: inbox.complete runs');
SELECT lives_ok(
	$$INSERT INTO answers (role, label, result)
	  SELECT 'worker', 'fail e-4 in 1 hour', inbox.fail(id, 'tap-w1', 'e-4 failed', '1 hour') FROM claimed
	   WHERE role = 'worker' AND round = 1 AND event_id = 'e-4'$$,
	'worker: inbox.fail runs (given retry delay)');
SELECT throws_ok(
	$$SELECT inbox.retry_delay(3)$$,
	'42501', NULL, 'worker: needs no EXECUTE on inbox.retry_delay, and has none (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.sources$$,
	'42501', NULL, 'worker: needs no SELECT on inbox.sources, and has none (42501)');
SELECT lives_ok(
	$$INSERT INTO answers (role, label, result)
	  SELECT 'worker', 'claim again', pg_catalog.count(*)::text
	    FROM inbox.claim('tap-w1', 10, '5 minutes', ARRAY['tap-wr'])$$,
	'worker: inbox.claim runs again (nothing is due)');

-- ... and cannot ingest, replay, purge, delete or change the settings
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest('tap-wr', 'w-1', '{"n": 1}')$$,
	'42501', NULL, 'worker: inbox.ingest is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_raw('tap-wr', 'w-2', '{"n": 2}')$$,
	'42501', NULL, 'worker: inbox.ingest_raw is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_many('tap-wr', ARRAY['w-3'], ARRAY['{"n": 3}']::jsonb[])$$,
	'42501', NULL, 'worker: inbox.ingest_many is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_raw_many('tap-wr', ARRAY['w-5'], ARRAY['{"n": 5}'])$$,
	'42501', NULL, 'worker: inbox.ingest_raw_many is denied (42501)');
SELECT throws_ok(
	$$INSERT INTO inbox.events (source, event_id, payload_digest, payload)
	  VALUES ('tap-wr', 'w-4', pg_catalog.sha256('x'), '{}')$$,
	'42501', NULL, 'worker: INSERT into inbox.events is denied (42501)');
SELECT throws_ok(
	$$SELECT inbox.replay(ARRAY(SELECT id FROM inbox.events WHERE source = 'tap-wr'))$$,
	'42501', NULL, 'worker: inbox.replay(ids) is denied (42501)');
SELECT throws_ok(
	$$SELECT inbox.replay('tap-wr', now() - interval '1 day', now() + interval '1 day', ARRAY['done'])$$,
	'42501', NULL, 'worker: inbox.replay(source, ...) is denied (42501)');
SELECT throws_ok(
	$$SELECT inbox.purge('0')$$,
	'42501', NULL, 'worker: inbox.purge is denied (42501)');
SELECT throws_ok(
	$$DELETE FROM inbox.events WHERE source = 'tap-wr'$$,
	'42501', NULL, 'worker: DELETE from inbox.events is denied (42501)');
SELECT throws_ok(
	$$TRUNCATE inbox.events$$,
	'42501', NULL, 'worker: TRUNCATE of inbox.events is denied (42501)');
SELECT throws_ok(
	$$UPDATE inbox.sources SET max_attempts = 1000$$,
	'42501', NULL, 'worker: cannot raise attempt limits through inbox.sources (42501)');
SELECT throws_ok(
	$$INSERT INTO inbox.sources (source, max_attempts) VALUES ('tap-wr', 1000)$$,
	'42501', NULL, 'worker: cannot add a source with its own attempt limit (42501)');
SELECT throws_ok(
	$$SET pg_inbox.max_attempts = 1000$$,
	'42501', NULL, 'worker: SET pg_inbox.max_attempts is denied (42501)');

RESET ROLE;

-- time passes: e-1's retry delay is over (now() does not move in this transaction)
UPDATE inbox.events SET available_at = now() WHERE source = 'tap-wr' AND event_id = 'e-1';

SET ROLE inbox_tap_wr_worker;
SELECT lives_ok(
	$$INSERT INTO claimed (role, round, id, source, event_id, attempt, received_at, locked_until, headers, payload, lease_token)
	  SELECT 'worker', 2, c.* FROM inbox.claim('tap-w1', 10, '5 minutes', ARRAY['tap-wr']) c$$,
	'worker: inbox.claim of the retried event runs');
SELECT lives_ok(
	$$INSERT INTO answers (role, label, result)
	  SELECT 'worker', 'complete e-1 (attempt 2)', inbox.complete(id, 'tap-w1')::text FROM claimed
	   WHERE role = 'worker' AND round = 2 AND event_id = 'e-1'$$,
	'worker: inbox.complete of the retried event runs');
RESET ROLE;

SELECT results_eq(
	$$SELECT round, event_id, attempt, payload, headers, locked_until = now() + interval '5 minutes'
	    FROM claimed WHERE role = 'worker' ORDER BY round, event_id$$,
	$$VALUES (1, 'e-1', 1, '{"n": 1}'::jsonb, '{"x-sig": "s1"}'::jsonb, true),
	         (1, 'e-2', 1, '{"n": 2}'::jsonb, NULL::jsonb, true),
	         (1, 'e-3', 1, '{"n": 3}'::jsonb, NULL::jsonb, true),
	         (1, 'e-4', 1, '{"n": 4}'::jsonb, NULL::jsonb, true),
	         (2, 'e-1', 2, '{"n": 1}'::jsonb, '{"x-sig": "s1"}'::jsonb, true)$$,
	'worker: claim handed out the writer''s events with payload and headers, then the retried one as attempt 2');
SELECT results_eq(
	$$SELECT label, result FROM answers WHERE role = 'worker' ORDER BY seq$$,
	$$VALUES ('fail e-1', 'pending'),
	         ('extend_lease e-2', 'true'),
	         ('complete e-2', 'true'),
	         ('complete e-3', 'true'),
	         ('fail e-4 in 1 hour', 'pending'),
	         ('claim again', '0'),
	         ('complete e-1 (attempt 2)', 'true')$$,
	'worker: fail, extend_lease and complete answered as for a superuser');
SELECT results_eq(
	$$SELECT event_id::text COLLATE "default", state::text COLLATE "default", attempts,
	         locked_by, processed_at IS NOT NULL, last_error,
	         pg_catalog.jsonb_array_length(errors), errors -> 0 ->> 'consumer',
	         state <> 'pending' OR available_at = now() + interval '1 hour'
	    FROM inbox.events WHERE source = 'tap-wr' ORDER BY event_id$$,
	$$VALUES ('e-1', 'done', 2, NULL::text, true, 'e-1 failed', 1, 'tap-w1', true),
	         ('e-2', 'done', 1, NULL::text, true, NULL::text, NULL::integer, NULL::text, true),
	         ('e-3', 'done', 1, NULL::text, true, NULL::text, NULL::integer, NULL::text, true),
	         ('e-4', 'pending', 1, NULL::text, false, 'e-4 failed', 1, 'tap-w1', true)$$,
	'worker: the events ended as the worker said, with its failures recorded');

-- ------------------------------------------------------------------
-- a narrower worker: UPDATE only on the lifecycle columns is enough, and
-- keeps the worker from changing what was received
-- ------------------------------------------------------------------
SELECT is(
	(SELECT pg_catalog.count(*) FROM pg_catalog.unnest(ARRAY['c-1', 'c-2']) k,
	     inbox.ingest('tap-wr-cols', k, pg_catalog.jsonb_build_object('k', k)) r
	  WHERE r.status = 'inserted'),
	2::bigint,
	'superuser: stores two events for the narrow worker');

SET ROLE inbox_tap_wr_worker_cols;
SELECT lives_ok(
	$$INSERT INTO claimed (role, round, id, source, event_id, attempt, received_at, locked_until, headers, payload, lease_token)
	  SELECT 'cols', 1, c.* FROM inbox.claim('tap-c1', 10, '5 minutes', ARRAY['tap-wr-cols']) c$$,
	'narrow worker: inbox.claim runs');
SELECT lives_ok(
	$$INSERT INTO answers (role, label, result)
	  SELECT 'cols', 'fail c-1', inbox.fail(id, 'tap-c1', 'c-1 failed') FROM claimed
	   WHERE role = 'cols' AND event_id = 'c-1'$$,
	'narrow worker: inbox.fail runs');
SELECT lives_ok(
	$$INSERT INTO answers (role, label, result)
	  SELECT 'cols', 'extend_lease c-2', (inbox.extend_lease(id, 'tap-c1') IS NOT NULL)::text FROM claimed
	   WHERE role = 'cols' AND event_id = 'c-2'$$,
	'narrow worker: inbox.extend_lease runs');
SELECT lives_ok(
	$$INSERT INTO answers (role, label, result)
	  SELECT 'cols', 'complete c-2', inbox.complete(id, 'tap-c1')::text FROM claimed
	   WHERE role = 'cols' AND event_id = 'c-2'$$,
	'narrow worker: inbox.complete runs');
SELECT throws_ok(
	$$UPDATE inbox.events SET payload = '{"k": "forged"}' WHERE source = 'tap-wr-cols'$$,
	'42501', NULL, 'narrow worker: cannot change a payload (42501)');
SELECT throws_ok(
	$$UPDATE inbox.events SET event_id = 'c-9' WHERE source = 'tap-wr-cols'$$,
	'42501', NULL, 'narrow worker: cannot change an event id (42501)');
RESET ROLE;

UPDATE inbox.events SET available_at = now() WHERE source = 'tap-wr-cols' AND event_id = 'c-1';

SET ROLE inbox_tap_wr_worker_cols;
SELECT lives_ok(
	$$INSERT INTO answers (role, label, result)
	  SELECT 'cols', 'claim and complete ' || c.event_id || ' attempt ' || c.attempt,
	         inbox.complete(c.id, 'tap-c1')::text
	    FROM inbox.claim('tap-c1', 10, '5 minutes', ARRAY['tap-wr-cols']) c$$,
	'narrow worker: claims and completes the retried event');
RESET ROLE;

SELECT results_eq(
	$$SELECT label, result FROM answers WHERE role = 'cols' ORDER BY seq$$,
	$$VALUES ('fail c-1', 'pending'), ('extend_lease c-2', 'true'), ('complete c-2', 'true'),
	         ('claim and complete c-1 attempt 2', 'true')$$,
	'narrow worker: the worker loop answered as for the full recipe');
SELECT results_eq(
	$$SELECT event_id::text COLLATE "default", state::text COLLATE "default", attempts, payload
	    FROM inbox.events WHERE source = 'tap-wr-cols' ORDER BY event_id$$,
	$$VALUES ('c-1', 'done', 2, '{"k": "c-1"}'::jsonb), ('c-2', 'done', 1, '{"k": "c-2"}'::jsonb)$$,
	'narrow worker: both events done, payloads untouched');

-- ------------------------------------------------------------------
-- each of the worker's grants is needed
-- ------------------------------------------------------------------
-- events held by the consumers of the roles below, claimed on their behalf
INSERT INTO inbox.sources (source, max_attempts, max_payload_bytes)
VALUES ('tap-wr-need', 1, 777777);
SELECT is(
	(SELECT pg_catalog.count(*) FROM pg_catalog.unnest(ARRAY['n-1', 'n-2', 'n-3']) k,
	     inbox.ingest('tap-wr-need', k, pg_catalog.jsonb_build_object('k', k)) r
	  WHERE r.status = 'inserted'),
	3::bigint,
	'superuser: stores three events for the probes');
SELECT results_eq(
	$$SELECT c.event_id::text COLLATE "default", c.attempt
	    FROM pg_catalog.unnest(ARRAY['tap-ns', 'tap-nd']) WITH ORDINALITY AS w(consumer, n),
	         inbox.claim(w.consumer, 1, '5 minutes', ARRAY['tap-wr-need']) c
	   ORDER BY w.n$$,
	$$VALUES ('n-1', 1), ('n-2', 1)$$,
	'superuser: claims n-1 for consumer tap-ns and n-2 for consumer tap-nd');

-- the recipe, without SELECT ON inbox.sources: claim and fail read the
-- source's attempt limit (1 for tap-wr-need) and nothing else of its row
SET ROLE inbox_tap_wr_no_sources;
SELECT is(
	(SELECT inbox.fail(id, 'tap-ns', 'no') FROM inbox.events
	  WHERE source = 'tap-wr-need' AND event_id = 'n-1'),
	'dead',
	'worker without SELECT ON inbox.sources: inbox.fail applies the source''s attempt limit');
SELECT is(
	(SELECT pg_catalog.count(*) FROM inbox.claim('tap-ns', 10, '5 minutes', ARRAY['tap-wr-need'])),
	1::bigint,
	'worker without SELECT ON inbox.sources: inbox.claim runs');
SELECT throws_ok(
	$$SELECT max_payload_bytes FROM inbox.sources$$,
	'42501', NULL,
	'worker without SELECT ON inbox.sources: reading it is still denied (42501)');
RESET ROLE;

-- without UPDATE the worker's calls are denied
SET ROLE inbox_tap_wr_no_update;
SELECT throws_ok(
	$$SELECT * FROM inbox.claim('tap-nu', 10, '5 minutes', ARRAY['tap-wr-need'])$$,
	'42501', 'permission denied for table events',
	'worker without UPDATE ON inbox.events: inbox.claim is denied (42501)');
SELECT throws_ok(
	$$SELECT inbox.complete(id, 'tap-nd') FROM inbox.events
	   WHERE source = 'tap-wr-need' AND event_id = 'n-2'$$,
	'42501', 'permission denied for table events',
	'worker without UPDATE ON inbox.events: inbox.complete is denied (42501)');
SELECT throws_ok(
	$$SELECT inbox.fail(id, 'tap-nd', 'no', '1 hour') FROM inbox.events
	   WHERE source = 'tap-wr-need' AND event_id = 'n-2'$$,
	'42501', 'permission denied for table events',
	'worker without UPDATE ON inbox.events: inbox.fail is denied (42501)');
SELECT throws_ok(
	$$SELECT inbox.extend_lease(id, 'tap-nd') FROM inbox.events
	   WHERE source = 'tap-wr-need' AND event_id = 'n-2'$$,
	'42501', 'permission denied for table events',
	'worker without UPDATE ON inbox.events: inbox.extend_lease is denied (42501)');
RESET ROLE;

SELECT results_eq(
	$$SELECT event_id::text COLLATE "default", state::text COLLATE "default", attempts, locked_by
	    FROM inbox.events WHERE source = 'tap-wr-need' ORDER BY event_id$$,
	$$VALUES ('n-1', 'dead', 1, NULL::text), ('n-2', 'processing', 1, 'tap-nd'),
	         ('n-3', 'processing', 1, 'tap-ns')$$,
	'the denied calls changed nothing; the allowed calls went through');
-- of the source's row, only the attempt limit reached the worker: its other
-- settings appear in nothing the worker was answered or can read
SELECT is(
	(SELECT pg_catalog.count(*) FROM inbox.events e
	  WHERE e.source = 'tap-wr-need'
	    AND pg_catalog.strpos(pg_catalog.row_to_json(e)::text, '777777') > 0),
	0::bigint,
	'worker without SELECT ON inbox.sources: the source''s payload limit shows nowhere in its events');

-- ------------------------------------------------------------------
-- operator: replays and purges; cannot ingest or process
-- ------------------------------------------------------------------
SELECT is(
	(SELECT pg_catalog.count(*) FROM pg_catalog.unnest(ARRAY['o-1', 'o-2', 'o-3', 'o-4', 'o-5', 'o-6']) k,
	     inbox.ingest('tap-wr-op', k, pg_catalog.jsonb_build_object('k', k)) r
	  WHERE r.status = 'inserted'),
	6::bigint,
	'superuser: stores six events for the operator');
-- o-1, o-5 done and o-6 dead two days ago; o-2 dead and o-3 done just now;
-- o-4 pending
UPDATE inbox.events
SET state = CASE WHEN event_id IN ('o-2', 'o-6') THEN 'dead' ELSE 'done' END,
	attempts = 3,
	processed_at = CASE WHEN event_id IN ('o-2', 'o-3') THEN now() ELSE now() - interval '2 days' END
WHERE source = 'tap-wr-op' AND event_id <> 'o-4';

SET ROLE inbox_tap_wr_operator;
SELECT lives_ok(
	$$INSERT INTO answers (role, label, result)
	  SELECT 'operator', 'replay o-1 and o-4',
	         inbox.replay(ARRAY(SELECT id FROM inbox.events
	                             WHERE source = 'tap-wr-op' AND event_id IN ('o-1', 'o-4')))::text$$,
	'operator: inbox.replay(ids) runs');
SELECT lives_ok(
	$$INSERT INTO answers (role, label, result)
	  SELECT 'operator', 'purge older than 1 day', inbox.purge('1 day', 100)::text$$,
	'operator: inbox.purge runs');
SELECT lives_ok(
	$$INSERT INTO answers (role, label, result)
	  SELECT 'operator', 'replay dead received today',
	         inbox.replay('tap-wr-op', now() - interval '1 hour', now() + interval '1 hour')::text$$,
	'operator: inbox.replay(source, from, until) runs');

SELECT throws_ok(
	$$SELECT * FROM inbox.ingest('tap-wr-op', 'o-9', '{"n": 9}')$$,
	'42501', NULL, 'operator: inbox.ingest is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_raw('tap-wr-op', 'o-9', '{"n": 9}')$$,
	'42501', NULL, 'operator: inbox.ingest_raw is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_many('tap-wr-op', ARRAY['o-9'], ARRAY['{"n": 9}']::jsonb[])$$,
	'42501', NULL, 'operator: inbox.ingest_many is denied (42501)');
SELECT throws_ok(
	$$INSERT INTO inbox.events (source, event_id, payload_digest, payload)
	  VALUES ('tap-wr-op', 'o-9', pg_catalog.sha256('x'), '{}')$$,
	'42501', NULL, 'operator: INSERT into inbox.events is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.claim('tap-op', 10)$$,
	'42501', NULL, 'operator: inbox.claim is denied (42501)');
SELECT throws_ok(
	$$SELECT inbox.complete(1, 'tap-op')$$,
	'42501', NULL, 'operator: inbox.complete is denied (42501)');
SELECT throws_ok(
	$$SELECT inbox.fail(1, 'tap-op', 'no')$$,
	'42501', NULL, 'operator: inbox.fail is denied (42501)');
RESET ROLE;

SELECT results_eq(
	$$SELECT label, result FROM answers WHERE role = 'operator' ORDER BY seq$$,
	$$VALUES ('replay o-1 and o-4', '1'), ('purge older than 1 day', '2'),
	         ('replay dead received today', '1')$$,
	'operator: replayed the done o-1 (not the pending o-4), purged o-5 and o-6, replayed the dead o-2');
SELECT results_eq(
	$$SELECT event_id::text COLLATE "default", state::text COLLATE "default", attempts,
	         processed_at IS NOT NULL
	    FROM inbox.events WHERE source = 'tap-wr-op' ORDER BY event_id$$,
	$$VALUES ('o-1', 'pending', 0, false), ('o-2', 'pending', 0, false),
	         ('o-3', 'done', 3, true), ('o-4', 'pending', 0, false)$$,
	'operator: the replayed events are pending with a fresh budget; the purged ones are gone');

-- without UPDATE: purge locks its rows FOR UPDATE, replay updates them
SET ROLE inbox_tap_wr_op_no_update;
SELECT throws_ok(
	$$SELECT inbox.purge('0')$$,
	'42501', 'permission denied for table events',
	'operator without UPDATE ON inbox.events: inbox.purge is denied (42501)');
SELECT throws_ok(
	$$SELECT inbox.replay(ARRAY[1::bigint])$$,
	'42501', 'permission denied for table events',
	'operator without UPDATE ON inbox.events: inbox.replay(ids) is denied (42501)');
SELECT throws_ok(
	$$SELECT inbox.replay('tap-wr-op', now() - interval '1 hour', now() + interval '1 hour')$$,
	'42501', 'permission denied for table events',
	'operator without UPDATE ON inbox.events: inbox.replay(source, ...) is denied (42501)');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
