-- pg_inbox: a stranger can do nothing.  Two roles without any grant of
-- pg_inbox's (one without even USAGE on schema inbox, one with only that)
-- call every function in schema inbox, and read and write every table, view
-- and sequence there, for real under SET ROLE; each attempt must fail with
-- 42501.  The lists come from the catalogs, so that objects added later are
-- held to the same rule without touching this file; schema.sql checks the
-- ACLs themselves.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_inbox;

CREATE ROLE inbox_tap_nobody NOLOGIN;
CREATE ROLE inbox_tap_onlooker NOLOGIN;
GRANT USAGE ON SCHEMA inbox TO inbox_tap_onlooker;

-- every function, called with a NULL of each argument's type
CREATE TEMP TABLE calls AS
SELECT p.oid::pg_catalog.regprocedure::text AS fn,
	   pg_catalog.format('SELECT %s(%s)', p.oid::pg_catalog.regproc::text,
		   coalesce((SELECT pg_catalog.string_agg('NULL::' || pg_catalog.format_type(t, NULL), ', ' ORDER BY o)
					   FROM pg_catalog.unnest(p.proargtypes) WITH ORDINALITY a(t, o)), '')) AS call
FROM pg_catalog.pg_proc p
WHERE p.pronamespace = pg_catalog.to_regnamespace('inbox');
-- every table, view and sequence, with each thing one can try on it (a view
-- only SELECT: writing it fails with 55000, not updatable, before any check
-- of privileges)
CREATE TEMP TABLE touches AS
SELECT c.oid::pg_catalog.regclass::text AS rel, x.what, pg_catalog.format(x.tmpl, c.oid::pg_catalog.regclass) AS stmt
FROM pg_catalog.pg_class c
CROSS JOIN LATERAL (VALUES
	('SELECT', 'SELECT * FROM %s', 'rvS'),
	('INSERT', 'INSERT INTO %s DEFAULT VALUES', 'r'),
	('UPDATE', 'UPDATE %s SET source = source', 'r'),
	('DELETE', 'DELETE FROM %s', 'r'),
	('TRUNCATE', 'TRUNCATE %s', 'r'),
	('nextval', 'SELECT pg_catalog.nextval(%L)', 'S'),
	('setval', 'SELECT pg_catalog.setval(%L, 1000)', 'S')) x(what, tmpl, kinds)
WHERE c.relnamespace = pg_catalog.to_regnamespace('inbox')
  AND c.relkind IN ('r', 'p', 'v', 'S')
  AND pg_catalog.strpos(x.kinds, c.relkind::text) > 0;
GRANT SELECT ON calls, touches TO inbox_tap_nobody, inbox_tap_onlooker;

SELECT plan(4 + 2 * ((SELECT pg_catalog.count(*) FROM calls) + (SELECT pg_catalog.count(*) FROM touches))::integer);

-- the lists hold what they must, or the checks below prove nothing
SELECT bag_has(
	$$SELECT pg_catalog.split_part(fn, '(', 1) FROM calls$$,
	$$SELECT 'inbox.' || n FROM pg_catalog.unnest(ARRAY['ingest', 'ingest_raw', 'ingest_many', 'ingest_raw_many', 'claim',
	    'complete', 'fail', 'extend_lease', 'retry_delay', 'replay', 'purge', 'ingest_counters',
	    'reset_stats', 'upsert', 'upsert_many', 'attempt', 'ingest_verified', 'verify_signature',
	    'verify_stripe_signature', 'verify_github_signature', 'signature_counters']) n$$,
	'the list of calls has every function of the extension');
SELECT bag_has(
	$$SELECT rel || ' ' || what FROM touches$$,
	$$VALUES ('inbox.events SELECT'), ('inbox.events INSERT'), ('inbox.events UPDATE'),
	         ('inbox.events DELETE'), ('inbox.events TRUNCATE'), ('inbox.sources SELECT'),
	         ('inbox.sources INSERT'), ('inbox.sources UPDATE'), ('inbox.sources DELETE'),
	         ('inbox.sources TRUNCATE'), ('inbox.stats SELECT'), ('inbox.events_id_seq nextval'),
	         ('inbox.events_id_seq setval'), ('inbox.events_id_seq SELECT'),
	         ('inbox.source_secrets SELECT'), ('inbox.source_secrets INSERT'),
	         ('inbox.source_secrets UPDATE'), ('inbox.source_secrets DELETE')$$,
	'the list of touches has the tables, the view and the sequence');

-- something to find, so that a refusal is not just an empty table
SELECT lives_ok(
	$$SELECT inbox.ingest('tap-stranger', 'e1', '{"a": 1}')$$,
	'an event exists');

SET ROLE inbox_tap_nobody;
SELECT throws_ok(call, '42501', NULL, 'without USAGE: ' || fn || ' is refused (42501)') FROM calls ORDER BY fn;
SELECT throws_ok(stmt, '42501', NULL, 'without USAGE: ' || what || ' on ' || rel || ' is refused (42501)')
FROM touches ORDER BY rel, what;
RESET ROLE;

SET ROLE inbox_tap_onlooker;
SELECT throws_ok(call, '42501', NULL, 'with USAGE only: ' || fn || ' is refused (42501)') FROM calls ORDER BY fn;
SELECT throws_ok(stmt, '42501', NULL, 'with USAGE only: ' || what || ' on ' || rel || ' is refused (42501)')
FROM touches ORDER BY rel, what;
RESET ROLE;

SELECT is(
	(SELECT pg_catalog.array_agg(event_id ORDER BY event_id) FROM inbox.events WHERE source = 'tap-stranger'),
	ARRAY['e1']::text[],
	'the strangers changed nothing');

SELECT * FROM finish();
ROLLBACK;
