-- pg_inbox: the privilege model, with real roles.
--
-- A writer needs exactly: USAGE ON SCHEMA inbox, EXECUTE on the ingest
-- functions and INSERT ON inbox.events.  No SELECT, no sequence privilege.
-- Missing any of the three gives SQLSTATE 42501, for every answer: a
-- duplicate or a conflict is not told to a role that could not insert.
-- None of the processing lifecycle (claim, complete, fail, extend_lease,
-- retry_delay, replay, purge) is open to a writer, nor to a role that has
-- the table privileges but no EXECUTE (the worker and operator recipes are
-- tested in worker_roles.sql).
--
-- The roles are created inside the transaction, so ROLLBACK removes them.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_inbox;

SELECT plan(98);

CREATE ROLE inbox_tap_stranger NOLOGIN;
CREATE ROLE inbox_tap_writer NOLOGIN;
CREATE ROLE inbox_tap_exec_only NOLOGIN;
CREATE ROLE inbox_tap_insert_only NOLOGIN;
CREATE ROLE inbox_tap_no_usage NOLOGIN;
CREATE ROLE inbox_tap_member NOLOGIN INHERIT IN ROLE inbox_tap_writer;

-- writer: exactly the documented grants
GRANT USAGE ON SCHEMA inbox TO inbox_tap_writer;
GRANT EXECUTE ON FUNCTION inbox.ingest(text, text, jsonb, jsonb),
	inbox.ingest_raw(text, text, text, jsonb),
	inbox.ingest_many(text, text[], jsonb[]),
	inbox.ingest_raw_many(text, text[], text[], jsonb[]) TO inbox_tap_writer;
GRANT INSERT ON inbox.events TO inbox_tap_writer;

-- everything but INSERT
GRANT USAGE ON SCHEMA inbox TO inbox_tap_exec_only;
GRANT EXECUTE ON FUNCTION inbox.ingest(text, text, jsonb, jsonb),
	inbox.ingest_raw(text, text, text, jsonb),
	inbox.ingest_many(text, text[], jsonb[]),
	inbox.ingest_raw_many(text, text[], text[], jsonb[]) TO inbox_tap_exec_only;

-- everything but EXECUTE
GRANT USAGE ON SCHEMA inbox TO inbox_tap_insert_only;
GRANT INSERT ON inbox.events TO inbox_tap_insert_only;

-- everything but USAGE on the schema
GRANT EXECUTE ON FUNCTION inbox.ingest(text, text, jsonb, jsonb),
	inbox.ingest_raw(text, text, text, jsonb),
	inbox.ingest_many(text, text[], jsonb[]),
	inbox.ingest_raw_many(text, text[], text[], jsonb[]) TO inbox_tap_no_usage;
GRANT INSERT ON inbox.events TO inbox_tap_no_usage;

-- what the roles were answered, for checking as superuser afterwards
CREATE TEMP TABLE got (
	seq			integer GENERATED ALWAYS AS IDENTITY,
	label		text,
	event_id	text,
	status		text,
	id			bigint,
	received_at	timestamptz,
	detail		text
);
CREATE TEMP TABLE got_many (
	ord			integer,
	status		text,
	id			bigint,
	received_at	timestamptz,
	detail		text
);
CREATE TEMP TABLE got_raw_many (LIKE got_many);
GRANT ALL ON got, got_many, got_raw_many TO PUBLIC;

-- ------------------------------------------------------------------
-- a stranger (no grants at all) can do nothing
-- ------------------------------------------------------------------
SET ROLE inbox_tap_stranger;

SELECT throws_ok(
	$$SELECT * FROM inbox.ingest('tap-priv', 's-1', '{"n": 1}')$$,
	'42501', NULL, 'stranger: inbox.ingest is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_raw('tap-priv', 's-1', '{"n": 1}')$$,
	'42501', NULL, 'stranger: inbox.ingest_raw is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_many('tap-priv', ARRAY['s-1'], ARRAY['{"n": 1}']::jsonb[])$$,
	'42501', NULL, 'stranger: inbox.ingest_many is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_raw_many('tap-priv', ARRAY['s-1'], ARRAY['{"n": 1}'])$$,
	'42501', NULL, 'stranger: inbox.ingest_raw_many is denied (42501)');
SELECT throws_ok(
	$$SELECT id FROM inbox.events$$,
	'42501', NULL, 'stranger: SELECT on inbox.events is denied (42501)');
SELECT throws_ok(
	$$INSERT INTO inbox.events (source, event_id, payload_digest, payload)
	  VALUES ('tap-priv', 's-2', pg_catalog.sha256('x'), '{}')$$,
	'42501', NULL, 'stranger: INSERT into inbox.events is denied (42501)');
SELECT throws_ok(
	$$SELECT source FROM inbox.sources$$,
	'42501', NULL, 'stranger: SELECT on inbox.sources is denied (42501)');

RESET ROLE;

-- ------------------------------------------------------------------
-- the writer ingests: inserted, duplicate, conflict, rejected
-- ------------------------------------------------------------------
SET ROLE inbox_tap_writer;

SELECT lives_ok(
	$$INSERT INTO got (label, event_id, status, id, received_at, detail)
	  SELECT 'ingest new', 'w-1', r.* FROM inbox.ingest('tap-priv', 'w-1', '{"n": 1, "m": [1, 2]}') r$$,
	'writer: inbox.ingest of a new key runs');
SELECT lives_ok(
	$$INSERT INTO got (label, event_id, status, id, received_at, detail)
	  SELECT 'ingest same payload', 'w-1', r.* FROM inbox.ingest('tap-priv', 'w-1', '{"m": [1, 2], "n": 1}') r$$,
	'writer: inbox.ingest of the same key and an equal payload runs');
SELECT lives_ok(
	$$INSERT INTO got (label, event_id, status, id, received_at, detail)
	  SELECT 'ingest other payload', 'w-1', r.* FROM inbox.ingest('tap-priv', 'w-1', '{"n": 2}') r$$,
	'writer: inbox.ingest of the same key and another payload runs');
SELECT lives_ok(
	$$INSERT INTO got (label, event_id, status, id, received_at, detail)
	  SELECT 'ingest empty event_id', '', r.* FROM inbox.ingest('tap-priv', '', '{"n": 1}') r$$,
	'writer: inbox.ingest of an empty event id runs');

SELECT lives_ok(
	$$INSERT INTO got (label, event_id, status, id, received_at, detail)
	  SELECT 'raw new', 'w-2', r.* FROM inbox.ingest_raw('tap-priv', 'w-2', '{"n": 2}',
	                                                     '{"content-type": "application/json"}') r$$,
	'writer: inbox.ingest_raw of a new key runs');
SELECT lives_ok(
	$$INSERT INTO got (label, event_id, status, id, received_at, detail)
	  SELECT 'raw same payload', 'w-2', r.* FROM inbox.ingest_raw('tap-priv', 'w-2', '{ "n" : 2 }') r$$,
	'writer: inbox.ingest_raw of the same key and an equal body runs');
SELECT lives_ok(
	$$INSERT INTO got (label, event_id, status, id, received_at, detail)
	  SELECT 'raw other payload', 'w-2', r.* FROM inbox.ingest_raw('tap-priv', 'w-2', '{"n": 3}') r$$,
	'writer: inbox.ingest_raw of the same key and another body runs');
SELECT lives_ok(
	$$INSERT INTO got (label, event_id, status, id, received_at, detail)
	  SELECT 'raw invalid json', 'w-9', r.* FROM inbox.ingest_raw('tap-priv', 'w-9', '{"n": ') r$$,
	'writer: inbox.ingest_raw of a body that is not JSON runs');

SELECT lives_ok(
	$$INSERT INTO got_many
	  SELECT * FROM inbox.ingest_many('tap-priv',
	      ARRAY['w-3', 'w-1', 'w-2', ''],
	      ARRAY['{"n": 3}', '{"n": 1, "m": [1, 2]}', '{"n": 99}', '{"n": 4}']::jsonb[])$$,
	'writer: inbox.ingest_many runs');
SELECT lives_ok(
	$$INSERT INTO got_raw_many
	  SELECT * FROM inbox.ingest_raw_many('tap-priv',
	      ARRAY['w-4', 'w-1', 'w-2', 'w-bad'],
	      ARRAY['{"n": 4}', '{"m": [1, 2], "n": 1}', '{"n": 99}', '{"n": '],
	      ARRAY['{"x-delivery": "4"}', 'null', NULL, NULL]::jsonb[])$$,
	'writer: inbox.ingest_raw_many runs');

-- ... but may not read, change or delete events, nor touch the settings
SELECT throws_ok(
	$$SELECT id FROM inbox.events$$,
	'42501', NULL, 'writer: SELECT on inbox.events is denied (42501)');
SELECT throws_ok(
	$$UPDATE inbox.events SET state = 'done'$$,
	'42501', NULL, 'writer: UPDATE of inbox.events is denied (42501)');
SELECT throws_ok(
	$$DELETE FROM inbox.events$$,
	'42501', NULL, 'writer: DELETE from inbox.events is denied (42501)');
SELECT throws_ok(
	$$TRUNCATE inbox.events$$,
	'42501', NULL, 'writer: TRUNCATE of inbox.events is denied (42501)');
SELECT throws_ok(
	$$SELECT pg_catalog.nextval('inbox.events_id_seq')$$,
	'42501', NULL, 'writer: has no privilege on the id sequence (and needs none)');
SELECT throws_ok(
	$$SELECT source FROM inbox.sources$$,
	'42501', NULL, 'writer: SELECT on inbox.sources is denied (42501)');
SELECT throws_ok(
	$$INSERT INTO inbox.sources (source, max_payload_bytes) VALUES ('tap-priv', 67108864)$$,
	'42501', NULL, 'writer: cannot raise its own payload limit through inbox.sources (42501)');

RESET ROLE;

-- what the writer was answered
SELECT results_eq(
	$$SELECT label, status FROM got ORDER BY seq$$,
	$$VALUES ('ingest new', 'inserted'),
	         ('ingest same payload', 'duplicate'),
	         ('ingest other payload', 'conflict'),
	         ('ingest empty event_id', 'rejected'),
	         ('raw new', 'inserted'),
	         ('raw same payload', 'duplicate'),
	         ('raw other payload', 'conflict'),
	         ('raw invalid json', 'rejected')$$,
	'writer: inbox.ingest and inbox.ingest_raw answer inserted, duplicate, conflict, rejected');
SELECT results_eq(
	$$SELECT ord, status FROM got_many ORDER BY ord$$,
	$$VALUES (1, 'inserted'), (2, 'duplicate'), (3, 'conflict'), (4, 'rejected')$$,
	'writer: inbox.ingest_many answers inserted, duplicate, conflict, rejected');
SELECT results_eq(
	$$SELECT ord, status FROM got_raw_many ORDER BY ord$$,
	$$VALUES (1, 'inserted'), (2, 'duplicate'), (3, 'conflict'), (4, 'rejected')$$,
	'writer: inbox.ingest_raw_many answers inserted, duplicate, conflict, rejected');

-- what was stored: the first payload of each key, with the headers given
SELECT results_eq(
	$$SELECT event_id::text COLLATE "default", payload, headers
	    FROM inbox.events WHERE source = 'tap-priv' ORDER BY event_id$$,
	$$VALUES ('w-1', '{"m": [1, 2], "n": 1}'::jsonb, NULL::jsonb),
	         ('w-2', '{"n": 2}'::jsonb, '{"content-type": "application/json"}'::jsonb),
	         ('w-3', '{"n": 3}'::jsonb, NULL::jsonb),
	         ('w-4', '{"n": 4}'::jsonb, '{"x-delivery": "4"}'::jsonb)$$,
	'the writer''s events are stored once, with the first payload');

-- the answers agree with the stored rows (all stored in this transaction)
SELECT results_eq(
	$$SELECT g.label, g.id = e.id, g.received_at = e.received_at,
	         g.received_at = pg_catalog.now()
	    FROM got g
	    LEFT JOIN inbox.events e ON e.source = 'tap-priv' AND e.event_id = g.event_id
	   WHERE g.status IS DISTINCT FROM 'rejected' ORDER BY g.seq$$,
	$$VALUES ('ingest new', true, true, true),
	         ('ingest same payload', true, true, true),
	         ('ingest other payload', true, true, true),
	         ('raw new', true, true, true),
	         ('raw same payload', true, true, true),
	         ('raw other payload', true, true, true)$$,
	'writer: inbox.ingest and inbox.ingest_raw return the id and received_at of the stored event');
SELECT results_eq(
	$$SELECT g.ord, g.id = e.id, g.received_at = e.received_at,
	         g.received_at = pg_catalog.now()
	    FROM got_many g
	    LEFT JOIN inbox.events e
	      ON e.source = 'tap-priv'
	     AND e.event_id = (ARRAY['w-3', 'w-1', 'w-2', ''])[g.ord]
	   WHERE g.status IS DISTINCT FROM 'rejected' ORDER BY g.ord$$,
	$$VALUES (1, true, true, true), (2, true, true, true), (3, true, true, true)$$,
	'writer: inbox.ingest_many returns the id and received_at of the stored event');
SELECT results_eq(
	$$SELECT label, id IS NULL, received_at IS NULL, detail IS NULL FROM got ORDER BY seq$$,
	$$VALUES ('ingest new', false, false, true),
	         ('ingest same payload', false, false, true),
	         ('ingest other payload', false, false, false),
	         ('ingest empty event_id', true, true, false),
	         ('raw new', false, false, true),
	         ('raw same payload', false, false, true),
	         ('raw other payload', false, false, false),
	         ('raw invalid json', true, true, false)$$,
	'writer: conflict and rejected say why; rejected has no id and no received_at');

-- ------------------------------------------------------------------
-- the writer cannot change pg_inbox.max_payload_bytes (PGC_SUSET)
-- ------------------------------------------------------------------
-- the library is loaded by now (preloaded, or by the calls above)
SELECT is(
	(SELECT context FROM pg_catalog.pg_settings WHERE name = 'pg_inbox.max_payload_bytes'),
	'superuser',
	'pg_inbox.max_payload_bytes is known and settable by superusers only');

SELECT lives_ok(
	$$SET pg_inbox.max_payload_bytes = 16$$,
	'superuser: may lower pg_inbox.max_payload_bytes');

SET ROLE inbox_tap_writer;
SELECT throws_ok(
	$$SET pg_inbox.max_payload_bytes = 67108864$$,
	'42501', NULL, 'writer: SET pg_inbox.max_payload_bytes is denied (42501)');
SELECT throws_ok(
	$$SET LOCAL pg_inbox.max_payload_bytes = 67108864$$,
	'42501', NULL, 'writer: SET LOCAL pg_inbox.max_payload_bytes is denied (42501)');
SELECT throws_ok(
	$$SELECT pg_catalog.set_config('pg_inbox.max_payload_bytes', '67108864', false)$$,
	'42501', NULL, 'writer: set_config(''pg_inbox.max_payload_bytes'', ...) is denied (42501)');
SELECT throws_ok(
	$$RESET pg_inbox.max_payload_bytes$$,
	'42501', NULL, 'writer: RESET pg_inbox.max_payload_bytes is denied (42501)');
SELECT throws_ok(
	$$ALTER ROLE CURRENT_USER SET pg_inbox.max_payload_bytes = 67108864$$,
	'42501', NULL, 'writer: ALTER ROLE ... SET pg_inbox.max_payload_bytes is denied (42501)');
SELECT is(
	pg_catalog.current_setting('pg_inbox.max_payload_bytes'),
	'16B',
	'writer: the setting is still the superuser''s');
SELECT lives_ok(
	$$INSERT INTO got (label, event_id, status, id, received_at, detail)
	  SELECT 'over the limit', 'w-4', r.*
	    FROM inbox.ingest('tap-priv', 'w-4', '{"text": "longer than sixteen bytes"}') r$$,
	'writer: inbox.ingest of a payload over the superuser''s limit runs');
RESET ROLE;

SELECT is(
	(SELECT status FROM got WHERE label = 'over the limit'),
	'rejected',
	'writer: a payload over the limit the writer could not lift is rejected');
RESET pg_inbox.max_payload_bytes;

-- ------------------------------------------------------------------
-- EXECUTE without INSERT: 42501 for every answer, even for a stored key
-- ------------------------------------------------------------------
-- a key that certainly exists, whatever the writer managed above
SELECT is(
	(SELECT status FROM inbox.ingest('tap-priv', 'su-1', '{"n": 1, "m": [1, 2]}')),
	'inserted',
	'superuser: stores the key the roles below are denied on');

SET ROLE inbox_tap_exec_only;

SELECT throws_ok(
	$$SELECT * FROM inbox.ingest('tap-priv', 'x-1', '{"n": 1}')$$,
	'42501', NULL, 'EXECUTE without INSERT: inbox.ingest of a new key is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest('tap-priv', 'su-1', '{"n": 1, "m": [1, 2]}')$$,
	'42501', NULL, 'EXECUTE without INSERT: inbox.ingest of a stored key and equal payload is denied, not answered duplicate');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest('tap-priv', 'su-1', '{"n": 5}')$$,
	'42501', NULL, 'EXECUTE without INSERT: inbox.ingest of a stored key and another payload is denied, not answered conflict');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest('tap-priv', '', '{"n": 1}')$$,
	'42501', NULL, 'EXECUTE without INSERT: inbox.ingest of invalid input is denied, not answered rejected');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_raw('tap-priv', 'su-1', '{"m": [1, 2], "n": 1}')$$,
	'42501', NULL, 'EXECUTE without INSERT: inbox.ingest_raw of a stored key is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_raw('tap-priv', 'x-2', '{"n": 2}')$$,
	'42501', NULL, 'EXECUTE without INSERT: inbox.ingest_raw of a new key is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_many('tap-priv', ARRAY['su-1'], ARRAY['{"n": 1, "m": [1, 2]}']::jsonb[])$$,
	'42501', NULL, 'EXECUTE without INSERT: inbox.ingest_many of a stored key is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_many('tap-priv', ARRAY['x-3'], ARRAY['{"n": 3}']::jsonb[])$$,
	'42501', NULL, 'EXECUTE without INSERT: inbox.ingest_many of a new key is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_raw_many('tap-priv', ARRAY['su-1'], ARRAY['{"n": 1, "m": [1, 2]}'])$$,
	'42501', NULL, 'EXECUTE without INSERT: inbox.ingest_raw_many of a stored key is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_raw_many('tap-priv', ARRAY['x-4', 'x-5'], ARRAY['{"n": 4}', '{"n": '])$$,
	'42501', NULL, 'EXECUTE without INSERT: inbox.ingest_raw_many of a new key and a malformed body is denied (42501)');

RESET ROLE;

-- ------------------------------------------------------------------
-- INSERT without EXECUTE, and everything but USAGE on the schema
-- ------------------------------------------------------------------
SET ROLE inbox_tap_insert_only;

SELECT throws_ok(
	$$SELECT * FROM inbox.ingest('tap-priv', 'y-1', '{"n": 1}')$$,
	'42501', NULL, 'INSERT without EXECUTE: inbox.ingest is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest('tap-priv', 'su-1', '{"n": 1, "m": [1, 2]}')$$,
	'42501', NULL, 'INSERT without EXECUTE: inbox.ingest of a stored key is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_raw('tap-priv', 'y-2', '{"n": 2}')$$,
	'42501', NULL, 'INSERT without EXECUTE: inbox.ingest_raw is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_many('tap-priv', ARRAY['y-3'], ARRAY['{"n": 3}']::jsonb[])$$,
	'42501', NULL, 'INSERT without EXECUTE: inbox.ingest_many is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_raw_many('tap-priv', ARRAY['y-4'], ARRAY['{"n": 4}'])$$,
	'42501', NULL, 'INSERT without EXECUTE: inbox.ingest_raw_many is denied (42501)');

RESET ROLE;
SET ROLE inbox_tap_no_usage;

SELECT throws_ok(
	$$SELECT * FROM inbox.ingest('tap-priv', 'z-1', '{"n": 1}')$$,
	'42501', NULL, 'no USAGE on schema inbox: inbox.ingest is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest('tap-priv', 'su-1', '{"n": 1, "m": [1, 2]}')$$,
	'42501', NULL, 'no USAGE on schema inbox: inbox.ingest of a stored key is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_raw('tap-priv', 'z-2', '{"n": 2}')$$,
	'42501', NULL, 'no USAGE on schema inbox: inbox.ingest_raw is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_many('tap-priv', ARRAY['z-3'], ARRAY['{"n": 3}']::jsonb[])$$,
	'42501', NULL, 'no USAGE on schema inbox: inbox.ingest_many is denied (42501)');
SELECT throws_ok(
	$$SELECT * FROM inbox.ingest_raw_many('tap-priv', ARRAY['z-4'], ARRAY['{"n": 4}'])$$,
	'42501', NULL, 'no USAGE on schema inbox: inbox.ingest_raw_many is denied (42501)');

RESET ROLE;

-- none of the denied calls stored anything
SELECT results_eq(
	$$SELECT event_id::text COLLATE "default" FROM inbox.events
	   WHERE source = 'tap-priv' ORDER BY event_id$$,
	ARRAY['su-1', 'w-1', 'w-2', 'w-3', 'w-4'],
	'only the superuser''s and the writer''s events were stored');

-- ------------------------------------------------------------------
-- the grants reach members of the writer role
-- ------------------------------------------------------------------
SET ROLE inbox_tap_member;
SELECT lives_ok(
	$$INSERT INTO got (label, event_id, status, id, received_at, detail)
	  SELECT 'member new', 'm-1', r.* FROM inbox.ingest('tap-priv', 'm-1', '{"n": 1}') r$$,
	'member of the writer role: inbox.ingest runs');
SELECT throws_ok(
	$$SELECT id FROM inbox.events$$,
	'42501', NULL, 'member of the writer role: SELECT on inbox.events is denied (42501)');
RESET ROLE;
SELECT is(
	(SELECT status FROM got WHERE label = 'member new'),
	'inserted',
	'member of the writer role: a new key is inserted');
SELECT is(
	(SELECT g.id = e.id FROM got g JOIN inbox.events e
	     ON e.source = 'tap-priv' AND e.event_id = 'm-1'
	  WHERE g.label = 'member new'),
	true,
	'member of the writer role: the answer carries the stored id');

-- ------------------------------------------------------------------
-- the processing lifecycle (0.2.0) is for none of them: not for a
-- stranger, not for the writer, and not for a role that holds every table
-- privilege a worker or an operator has but no EXECUTE; each call is denied
-- (42501) and changes nothing
-- ------------------------------------------------------------------
CREATE ROLE inbox_tap_tables_only NOLOGIN;
GRANT USAGE ON SCHEMA inbox TO inbox_tap_tables_only;
GRANT SELECT, UPDATE, DELETE ON inbox.events TO inbox_tap_tables_only;
GRANT SELECT ON inbox.sources TO inbox_tap_tables_only;

-- l-1 held by consumer tap-holder, l-2 done two days ago, l-3 pending
SELECT is(
	(SELECT pg_catalog.count(*) FROM pg_catalog.unnest(ARRAY['l-1', 'l-2', 'l-3']) k,
	     inbox.ingest('tap-priv-life', k, pg_catalog.jsonb_build_object('k', k)) r
	  WHERE r.status = 'inserted'),
	3::bigint,
	'superuser: stores three events for the lifecycle calls');
CREATE TEMP TABLE life AS
	SELECT c.id, c.event_id FROM inbox.claim('tap-holder', 2, '5 minutes', ARRAY['tap-priv-life']) c;
SELECT ok(inbox.complete(id, 'tap-holder'), 'superuser: completes l-2 for tap-holder')
  FROM life WHERE event_id = 'l-2';
UPDATE inbox.events SET processed_at = pg_catalog.now() - interval '2 days'
 WHERE source = 'tap-priv-life' AND event_id = 'l-2';
DROP TABLE life;
CREATE TEMP TABLE life AS
	SELECT e.* FROM inbox.events e WHERE e.source = 'tap-priv-life';
SELECT results_eq(
	$$SELECT event_id::text COLLATE "default", state::text COLLATE "default", locked_by
	    FROM life ORDER BY event_id$$,
	$$VALUES ('l-1', 'processing', 'tap-holder'), ('l-2', 'done', NULL), ('l-3', 'pending', NULL)$$,
	'superuser: l-1 is held by tap-holder, l-2 is done, l-3 is pending');
CREATE TEMP TABLE lifecycle_calls (n integer, label text, call text);
INSERT INTO lifecycle_calls VALUES
	(1, 'inbox.claim', $$SELECT * FROM inbox.claim('tap-holder', 10, '5 minutes', ARRAY['tap-priv-life'])$$),
	(2, 'inbox.complete of a held event',
	 $$SELECT inbox.complete((SELECT id FROM life WHERE event_id = 'l-1'), 'tap-holder')$$),
	(3, 'inbox.fail of a held event',
	 $$SELECT inbox.fail((SELECT id FROM life WHERE event_id = 'l-1'), 'tap-holder', 'no', '1 hour')$$),
	(4, 'inbox.extend_lease of a held event',
	 $$SELECT inbox.extend_lease((SELECT id FROM life WHERE event_id = 'l-1'), 'tap-holder', '1 hour')$$),
	(5, 'inbox.retry_delay', $$SELECT inbox.retry_delay(1)$$),
	(6, 'inbox.replay(ids) of a done event',
	 $$SELECT inbox.replay(ARRAY(SELECT id FROM life WHERE event_id = 'l-2'))$$),
	(7, 'inbox.replay(source, ...) of a done event',
	 $$SELECT inbox.replay('tap-priv-life', pg_catalog.now() - interval '1 day',
	                       pg_catalog.now() + interval '1 day', ARRAY['done', 'dead'])$$),
	(8, 'inbox.purge of an old done event', $$SELECT inbox.purge('1 day')$$);
GRANT SELECT ON life, lifecycle_calls TO PUBLIC;

SET ROLE inbox_tap_stranger;
SELECT throws_ok(c.call, '42501', NULL, 'stranger: ' || c.label || ' is denied (42501)')
  FROM lifecycle_calls c ORDER BY c.n;
RESET ROLE;

SET ROLE inbox_tap_writer;
SELECT throws_ok(c.call, '42501', NULL, 'writer: ' || c.label || ' is denied (42501)')
  FROM lifecycle_calls c ORDER BY c.n;
RESET ROLE;

SET ROLE inbox_tap_tables_only;
SELECT throws_ok(c.call, '42501', NULL,
                 'table privileges without EXECUTE: ' || c.label || ' is denied (42501)')
  FROM lifecycle_calls c ORDER BY c.n;
RESET ROLE;

SELECT results_eq(
	$$SELECT e.id, e.state::text COLLATE "default", e.attempts, e.available_at, e.locked_by,
	         e.locked_until, e.processed_at, e.last_error, e.errors
	    FROM inbox.events e WHERE e.source = 'tap-priv-life' ORDER BY e.id$$,
	$$SELECT l.id, l.state::text COLLATE "default", l.attempts, l.available_at, l.locked_by,
	         l.locked_until, l.processed_at, l.last_error, l.errors
	    FROM life l ORDER BY l.id$$,
	'the denied lifecycle calls changed nothing');
SELECT results_eq(
	$$SELECT p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p
	   WHERE p.pronamespace = pg_catalog.to_regnamespace('inbox')
	     AND pg_catalog.has_function_privilege('inbox_tap_writer', p.oid, 'EXECUTE')
	   ORDER BY 1$$,
	ARRAY['inbox.ingest(text,text,jsonb,jsonb)', 'inbox.ingest_many(text,text[],jsonb[])',
	      'inbox.ingest_raw(text,text,text,jsonb)', 'inbox.ingest_raw_many(text,text[],text[],jsonb[])'],
	'the writer can execute the four ingest functions and no other function in schema inbox');

-- the privilege checks above compared against these: make sure the writer
-- really holds no more than the documented grants
SELECT is_empty(
	$$SELECT p FROM pg_catalog.unnest(ARRAY['SELECT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
	   WHERE pg_catalog.has_table_privilege('inbox_tap_writer', 'inbox.events', p)$$,
	'the writer holds no table privilege on inbox.events but INSERT');
SELECT ok(
	pg_catalog.has_table_privilege('inbox_tap_writer', 'inbox.events', 'INSERT')
	AND pg_catalog.has_schema_privilege('inbox_tap_writer', 'inbox', 'USAGE')
	AND NOT pg_catalog.has_schema_privilege('inbox_tap_writer', 'inbox', 'CREATE')
	AND NOT pg_catalog.has_sequence_privilege('inbox_tap_writer', 'inbox.events_id_seq', 'USAGE, SELECT, UPDATE')
	AND NOT pg_catalog.has_any_column_privilege('inbox_tap_writer', 'inbox.sources', 'SELECT, INSERT, UPDATE, REFERENCES'),
	'the writer holds exactly USAGE on inbox, INSERT on inbox.events, nothing on the sequence or inbox.sources');

SELECT * FROM finish();
ROLLBACK;
