-- pg_inbox: webhook signatures and privileges.  The signing secrets in
-- inbox.source_secrets can be read by the owner only: not by a writer
-- (which verifies against them through inbox.ingest_verified), a worker, a
-- monitor or a stranger; not through a table, a column, a function's answer,
-- an error message or inbox.stats.  Failed verifications are values: the
-- caller's transaction goes on.
--
-- writer:   USAGE ON SCHEMA inbox; EXECUTE ON inbox.ingest_verified (and the
--           other ingest functions); INSERT ON inbox.events.
-- worker:   the worker recipe (SELECT ON inbox.events, inbox.sources ...).
-- monitor:  SELECT ON inbox.stats; EXECUTE ON inbox.ingest_counters(),
--           inbox.signature_counters(); SELECT (source, state, received_at)
--           ON inbox.events.
--
-- The roles are created inside the transaction, so ROLLBACK removes them.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_inbox;
CREATE EXTENSION IF NOT EXISTS pgcrypto;

SELECT plan(40);

CREATE ROLE inbox_tap_sig_writer NOLOGIN;
CREATE ROLE inbox_tap_sig_worker NOLOGIN;
CREATE ROLE inbox_tap_sig_monitor NOLOGIN;
CREATE ROLE inbox_tap_sig_stranger NOLOGIN;
CREATE ROLE inbox_tap_sig_exec_only NOLOGIN;

GRANT USAGE ON SCHEMA inbox TO inbox_tap_sig_writer;
GRANT EXECUTE ON FUNCTION inbox.ingest_verified(text, text, jsonb),
	inbox.ingest_raw(text, text, text, jsonb) TO inbox_tap_sig_writer;
GRANT INSERT ON inbox.events TO inbox_tap_sig_writer;

GRANT USAGE ON SCHEMA inbox TO inbox_tap_sig_worker;
GRANT EXECUTE ON FUNCTION inbox.claim(text, integer, interval, text[]),
	inbox.complete(bigint, text), inbox.fail(bigint, text, text, interval),
	inbox.extend_lease(bigint, text, interval), inbox.retry_delay(integer) TO inbox_tap_sig_worker;
GRANT SELECT ON inbox.events, inbox.sources TO inbox_tap_sig_worker;
GRANT UPDATE (state, attempts, available_at, locked_by, locked_until,
			  processed_at, last_error, errors) ON inbox.events TO inbox_tap_sig_worker;

GRANT USAGE ON SCHEMA inbox TO inbox_tap_sig_monitor;
GRANT SELECT ON inbox.stats TO inbox_tap_sig_monitor;
GRANT EXECUTE ON FUNCTION inbox.ingest_counters(), inbox.signature_counters() TO inbox_tap_sig_monitor;
GRANT SELECT (source, state, received_at) ON inbox.events TO inbox_tap_sig_monitor;

-- EXECUTE without INSERT on inbox.events
GRANT USAGE ON SCHEMA inbox TO inbox_tap_sig_exec_only;
GRANT EXECUTE ON FUNCTION inbox.ingest_verified(text, text, jsonb) TO inbox_tap_sig_exec_only;

-- the owner declares a source and its secrets: a Standard Webhooks one, a
-- second one that is not base64 (unusable, named in no message), a GitHub one
INSERT INTO inbox.sources (source, signature_scheme) VALUES
	('tap-sig', 'standard'), ('tap-sig-bad', 'standard'), ('tap-sig-gh', 'github');
INSERT INTO inbox.source_secrets (source, key_id, secret) VALUES
	('tap-sig', 'k-2026', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'),
	('tap-sig-bad', 'k-bad', 'whsec_TOPSECRET not base64'),
	('tap-sig-gh', 'k-gh', 'TOPSECRET-github');

-- a valid delivery, signed here with pgcrypto
CREATE TEMP TABLE delivery AS
SELECT '{"n":1}'::text AS body,
	   jsonb_build_object('webhook-id', 'msg_tap_1', 'webhook-timestamp', ts::text,
						  'webhook-signature', 'v1,' || encode(public.hmac(convert_to('msg_tap_1.' || ts || '.{"n":1}', 'UTF8'),
								decode('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'), 'sha256'), 'base64')) AS headers
FROM (SELECT extract(epoch FROM clock_timestamp())::bigint AS ts) t;
CREATE TEMP TABLE answers (label text, answer text);
GRANT SELECT ON delivery TO PUBLIC;
GRANT SELECT, INSERT ON answers TO PUBLIC;

-- ---- the catalogs: the table is the owner's alone ----
SELECT is(
	(SELECT pg_catalog.array_agg(DISTINCT a.grantee::pg_catalog.regrole::text)
	   FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
	  WHERE c.oid = 'inbox.source_secrets'::pg_catalog.regclass),
	ARRAY[(SELECT c.relowner::pg_catalog.regrole::text FROM pg_catalog.pg_class c
	        WHERE c.oid = 'inbox.source_secrets'::pg_catalog.regclass)],
	'inbox.source_secrets grants privileges to its owner only');
SELECT is_empty(
	$$SELECT r FROM pg_catalog.unnest(ARRAY['inbox_tap_sig_writer', 'inbox_tap_sig_worker',
	                                        'inbox_tap_sig_monitor', 'inbox_tap_sig_stranger']) r
	   WHERE pg_catalog.has_any_column_privilege(r, 'inbox.source_secrets', 'SELECT, INSERT, UPDATE, REFERENCES')
	      OR pg_catalog.has_table_privilege(r, 'inbox.source_secrets', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')$$,
	'writer, worker, monitor and stranger hold no privilege on inbox.source_secrets or any of its columns');
SELECT is_empty(
	$$SELECT p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p
	   WHERE p.pronamespace = pg_catalog.to_regnamespace('inbox') AND p.prosecdef$$,
	'no function in schema inbox is SECURITY DEFINER');
SELECT is_empty(
	$$SELECT a.attname FROM pg_catalog.pg_attribute a
	   WHERE a.attrelid IN ('inbox.sources'::pg_catalog.regclass, 'inbox.events'::pg_catalog.regclass)
	     AND a.attname ~ 'secret' AND NOT a.attisdropped$$,
	'inbox.sources and inbox.events, which workers read, have no secret column');
-- no function's result has a column that could carry a secret
SELECT is_empty(
	$$SELECT p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p
	   WHERE p.pronamespace = pg_catalog.to_regnamespace('inbox')
	     AND EXISTS (SELECT 1 FROM pg_catalog.unnest(p.proargnames) n WHERE n ~ 'secret')
	     AND p.proname NOT IN ('verify_signature', 'verify_stripe_signature', 'verify_github_signature')$$,
	'only the verify_* functions take a secret, as an argument; no function has a secret OUT column');

-- ---- the writer ----
SET ROLE inbox_tap_sig_writer;
SELECT throws_ok($$SELECT * FROM inbox.source_secrets$$, '42501', NULL,
	'writer: SELECT on inbox.source_secrets is denied (42501)');
SELECT throws_ok($$SELECT secret FROM inbox.source_secrets WHERE source = 'tap-sig'$$, '42501', NULL,
	'writer: SELECT of the secret column is denied (42501)');
SELECT throws_ok($$INSERT INTO inbox.source_secrets (source, key_id, secret) VALUES ('tap-sig', 'mine', 'whsec_AAAA')$$,
	'42501', NULL, 'writer: cannot plant a secret of its own (42501)');
SELECT throws_ok($$UPDATE inbox.source_secrets SET expires_at = now()$$, '42501', NULL,
	'writer: cannot change or expire a secret (42501)');
SELECT throws_ok($$DELETE FROM inbox.source_secrets$$, '42501', NULL,
	'writer: cannot delete a secret (42501)');
SELECT throws_ok($$UPDATE inbox.sources SET signature_scheme = NULL$$, '42501', NULL,
	'writer: cannot change a source''s scheme (42501)');
SELECT throws_ok($$SELECT * FROM inbox.stats$$, '42501', NULL,
	'writer: inbox.stats is denied (42501)');
SELECT throws_ok($$SELECT inbox.verify_signature('whsec_AAAA', 'a', 1, 'b', 'v1,c')$$, '42501', NULL,
	'writer: the verify_* functions are not in its recipe (42501)');

-- failures first: values, and the transaction goes on
SELECT lives_ok(
	$$INSERT INTO answers SELECT 'bad signature', r::text FROM delivery d,
	  inbox.ingest_verified('tap-sig', d.body, d.headers || '{"webhook-signature": "v1,AAAA"}') r$$,
	'writer: a bad signature is an answer, not an error');
SELECT is((SELECT answer FROM answers WHERE label = 'bad signature'),
	'(rejected,,,"no signature of the delivery matches a secret of the source",bad_signature,)',
	'writer: ... rejected with reason bad_signature');
SELECT lives_ok(
	$$INSERT INTO answers SELECT 'unusable secret', r::text FROM delivery d,
	  inbox.ingest_verified('tap-sig-bad', d.body, d.headers) r$$,
	'writer: a source whose secret is unusable is an answer');
SELECT is((SELECT answer FROM answers WHERE label = 'unusable secret'),
	'(rejected,,,"no secret of source ""tap-sig-bad"" is usable: a Standard Webhooks secret is base64, optionally after whsec_",no_secret,)',
	'writer: ... rejected with reason no_secret, and the detail does not show the secret');
SELECT lives_ok(
	$$INSERT INTO answers SELECT 'github bad', r::text FROM delivery d,
	  inbox.ingest_verified('tap-sig-gh', d.body, '{"X-Hub-Signature-256": "sha256=00", "X-GitHub-Delivery": "g-1"}') r$$,
	'writer: a bad GitHub signature is an answer');
SELECT lives_ok(
	$$INSERT INTO answers SELECT 'verified', r::text FROM delivery d,
	  inbox.ingest_verified('tap-sig', d.body, d.headers) r$$,
	'writer: a verified delivery is ingested after the failures, in the same transaction');
SELECT matches((SELECT answer FROM answers WHERE label = 'verified'),
	'^\(inserted,[0-9]+,"[^"]+",,,k-2026\)$',
	'writer: ... inserted, verified by key k-2026');
SELECT lives_ok(
	$$INSERT INTO answers SELECT 'again', r::text FROM delivery d,
	  inbox.ingest_verified('tap-sig', d.body, d.headers) r$$,
	'writer: the same delivery again runs');
SELECT matches((SELECT answer FROM answers WHERE label = 'again'),
	'^\(duplicate,[0-9]+,"[^"]+",,,k-2026\)$',
	'writer: ... and is a duplicate');
-- nothing any answer carried is a secret
SELECT is_empty(
	$$SELECT label FROM answers
	   WHERE answer ~ 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw|TOPSECRET'
	      OR answer ~ pg_catalog.encode(pg_catalog.decode('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'), 'hex')$$,
	'writer: no answer shows a secret, encoded or not');
RESET ROLE;

-- EXECUTE alone: refused before anything is read
SET ROLE inbox_tap_sig_exec_only;
SELECT throws_ok($$SELECT * FROM inbox.ingest_verified('tap-sig', '{"n":1}', (SELECT headers FROM delivery))$$,
	'42501', 'permission denied for table events',
	'EXECUTE without INSERT on inbox.events: ingest_verified is refused (42501), the message names no secret');
RESET ROLE;

-- ---- the worker ----
SET ROLE inbox_tap_sig_worker;
SELECT throws_ok($$SELECT * FROM inbox.source_secrets$$, '42501', NULL,
	'worker: SELECT on inbox.source_secrets is denied (42501)');
SELECT throws_ok($$SELECT * FROM inbox.ingest_verified('tap-sig', '{}', '{}')$$, '42501', NULL,
	'worker: inbox.ingest_verified is denied (42501)');
SELECT is((SELECT signature_scheme FROM inbox.sources WHERE source = 'tap-sig'), 'standard',
	'worker: reads the scheme in inbox.sources');
SELECT is((SELECT verified_key FROM inbox.events WHERE source = 'tap-sig' AND event_id = 'msg_tap_1'), 'k-2026',
	'worker: sees which key verified an event, not the key');
SELECT is_empty(
	$$SELECT 1 FROM inbox.sources s WHERE s::text ~ 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw|TOPSECRET'
	  UNION ALL SELECT 1 FROM inbox.events e WHERE e::text ~ 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw|TOPSECRET'$$,
	'worker: no secret in any row of inbox.sources or inbox.events');
RESET ROLE;

-- ---- the monitor ----
SET ROLE inbox_tap_sig_monitor;
SELECT throws_ok($$SELECT * FROM inbox.source_secrets$$, '42501', NULL,
	'monitor: SELECT on inbox.source_secrets is denied (42501)');
SELECT lives_ok($$SELECT * FROM inbox.stats$$, 'monitor: reads inbox.stats');
SELECT is_empty(
	$$SELECT 1 FROM inbox.stats s WHERE s::text ~ 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw|TOPSECRET|k-2026'$$,
	'monitor: inbox.stats shows no secret and no key id');
SELECT ok(
	(SELECT NOT counters_available OR signature_failures >= 1 FROM inbox.stats WHERE source = 'tap-sig'),
	'monitor: inbox.stats counts the failed verification of tap-sig');
SELECT throws_ok($$SELECT * FROM inbox.ingest_verified('tap-sig', '{}', '{}')$$, '42501', NULL,
	'monitor: inbox.ingest_verified is denied (42501)');
RESET ROLE;

-- ---- the stranger ----
SET ROLE inbox_tap_sig_stranger;
SELECT throws_ok($$SELECT * FROM inbox.source_secrets$$, '42501', NULL,
	'stranger: SELECT on inbox.source_secrets is denied (42501)');
SELECT throws_ok($$SELECT * FROM inbox.ingest_verified('tap-sig', '{}', '{}')$$, '42501', NULL,
	'stranger: inbox.ingest_verified is denied (42501)');
SELECT throws_ok($$SELECT * FROM inbox.signature_counters()$$, '42501', NULL,
	'stranger: inbox.signature_counters is denied (42501)');
SELECT throws_ok($$SELECT inbox.verify_github_signature('a', 'b', 'sha256=00')$$, '42501', NULL,
	'stranger: inbox.verify_github_signature is denied (42501)');
RESET ROLE;

-- the owner reads and rotates
SELECT is((SELECT pg_catalog.count(*)::integer FROM inbox.source_secrets WHERE source LIKE 'tap-sig%'), 3,
	'the owner reads inbox.source_secrets');
UPDATE inbox.source_secrets SET expires_at = pg_catalog.now() - interval '1 second' WHERE key_id = 'k-2026';
SELECT is((SELECT reason FROM delivery d, inbox.ingest_verified('tap-sig', d.body, d.headers)),
	'no_secret', 'an expired key verifies nothing');

SELECT * FROM finish();
ROLLBACK;
