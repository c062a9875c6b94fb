-- pg_inbox: nothing a caller puts on its search_path reaches the ingest
-- functions.
--
-- A writer creates schema evil with objects that shadow pg_catalog (now(),
-- jsonb_typeof(), octet_length(), = for text, ...), each of which logs its
-- call and returns a wrong answer, then ingests with
-- search_path = evil, pg_catalog, inbox; so does a superuser on that same
-- search_path (the evil functions would run with its rights).  The answers
-- must be exactly those of the same calls under the default search_path,
-- and the log must stay empty.
--
-- While search_path starts with evil, even = in our own queries would be
-- evil's, and pgTAP (in public) is out of reach: the ingest calls only
-- record their answers, and everything is checked after RESET search_path.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_inbox;

SELECT plan(14);

CREATE ROLE inbox_tap_evil NOLOGIN;
GRANT USAGE ON SCHEMA inbox TO inbox_tap_evil;
GRANT EXECUTE ON FUNCTION inbox.ingest(text, text, jsonb, jsonb),
	inbox.ingest_raw(text, text, text, jsonb),
	inbox.ingest_many(text, text[], jsonb[]),
	inbox.ingest_raw_many(text, text[], text[], jsonb[]) TO inbox_tap_evil;
GRANT INSERT ON inbox.events TO inbox_tap_evil;
-- this file is about name resolution, not privileges (privileges.sql): the
-- role may also read the events, so that it can ingest whatever the exact
-- privilege model turns out to need
GRANT SELECT ON inbox.events TO inbox_tap_evil;
DO $$
BEGIN
	EXECUTE pg_catalog.format('GRANT CREATE ON DATABASE %I TO inbox_tap_evil',
							  pg_catalog.current_database());
END
$$;

SET ROLE inbox_tap_evil;

CREATE SCHEMA evil;
GRANT USAGE ON SCHEMA evil TO PUBLIC;

-- every call of an evil object lands here
CREATE TABLE evil.calls (seq bigint GENERATED ALWAYS AS IDENTITY, fn text NOT NULL);
GRANT INSERT, SELECT ON evil.calls TO PUBLIC;

CREATE FUNCTION evil.now() RETURNS timestamptz
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	INSERT INTO evil.calls (fn) VALUES ('now()');
	RETURN '2000-01-01 00:00:00+00';
END
$$;
CREATE FUNCTION evil.jsonb_typeof(jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	INSERT INTO evil.calls (fn) VALUES ('jsonb_typeof(jsonb)');
	RETURN 'string';
END
$$;
CREATE FUNCTION evil.octet_length(text) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	INSERT INTO evil.calls (fn) VALUES ('octet_length(text)');
	RETURN 0;
END
$$;
CREATE FUNCTION evil.length(text) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	INSERT INTO evil.calls (fn) VALUES ('length(text)');
	RETURN 0;
END
$$;
CREATE FUNCTION evil.nextval(regclass) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	INSERT INTO evil.calls (fn) VALUES ('nextval(regclass)');
	RETURN 1;
END
$$;
CREATE FUNCTION evil.sha256(bytea) RETURNS bytea
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	INSERT INTO evil.calls (fn) VALUES ('sha256(bytea)');
	RETURN '\x00';
END
$$;
CREATE FUNCTION evil.text_eq(text, text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	INSERT INTO evil.calls (fn) VALUES ('=(text,text)');
	RETURN true;
END
$$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
CREATE FUNCTION evil.bytea_eq(bytea, bytea) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	INSERT INTO evil.calls (fn) VALUES ('=(bytea,bytea)');
	RETURN true;
END
$$;
CREATE OPERATOR evil.= (LEFTARG = bytea, RIGHTARG = bytea, FUNCTION = evil.bytea_eq);
CREATE FUNCTION evil.jsonb_eq(jsonb, jsonb) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	INSERT INTO evil.calls (fn) VALUES ('=(jsonb,jsonb)');
	RETURN true;
END
$$;
CREATE OPERATOR evil.= (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = evil.jsonb_eq);

-- relations named like the extension's: in evil, and in pg_temp, which the
-- functions' own search_path (pg_catalog, pg_temp) does contain
CREATE TABLE evil.events (LIKE inbox.events);
CREATE TABLE evil.sources (source text, max_payload_bytes integer, created_at timestamptz);
CREATE TEMP TABLE events (LIKE inbox.events);
CREATE TEMP TABLE sources (source text, max_payload_bytes integer, created_at timestamptz);
INSERT INTO sources (source, max_payload_bytes)
	VALUES ('tap-sp-evil', 1), ('tap-sp-victim', 1), ('tap-sp-plain', 1);
INSERT INTO evil.sources (source, max_payload_bytes)
	VALUES ('tap-sp-evil', 1), ('tap-sp-victim', 1), ('tap-sp-plain', 1);

-- the answers: one row per call, or the error it raised
CREATE TEMP TABLE got (
	seq			bigint GENERATED ALWAYS AS IDENTITY,
	variant		text,
	label		text,
	status		text,
	id			bigint,
	received_at	timestamptz,
	detail		text,
	err_state	text,
	err_message	text
);
CREATE FUNCTION pg_temp.try(variant text, label text, call text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE 'INSERT INTO pg_temp.got (variant, label, status, id, received_at, detail) '
		'SELECT $1, $2, r.status, r.id, r.received_at, r.detail FROM ' || call || ' r'
		USING variant, label;
EXCEPTION WHEN OTHERS THEN
	INSERT INTO pg_temp.got (variant, label, err_state, err_message)
		VALUES (variant, label, SQLSTATE, SQLERRM);
END
$$;

-- the same calls for every variant, each for its own source
CREATE FUNCTION pg_temp.run_all(variant text, src text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_temp.try(variant, 'new key', pg_catalog.format(
		$f$inbox.ingest(%L, 'k-1', '{"a": 1, "b": [1, 2]}', '{"x-sig": "abc"}')$f$, src));
	PERFORM pg_temp.try(variant, 'same key, equal payload', pg_catalog.format(
		$f$inbox.ingest(%L, 'k-1', '{"b": [1, 2], "a": 1}')$f$, src));
	PERFORM pg_temp.try(variant, 'same key, changed payload', pg_catalog.format(
		$f$inbox.ingest(%L, 'k-1', '{"a": 2, "b": [1, 2]}')$f$, src));
	PERFORM pg_temp.try(variant, 'empty event id', pg_catalog.format(
		$f$inbox.ingest(%L, '', '{"a": 1}')$f$, src));
	PERFORM pg_temp.try(variant, 'scalar payload', pg_catalog.format(
		$f$inbox.ingest(%L, 'k-2', '"just a string"')$f$, src));
	PERFORM pg_temp.try(variant, 'raw new key', pg_catalog.format(
		$f$inbox.ingest_raw(%L, 'k-3', '{"c": 3}')$f$, src));
	PERFORM pg_temp.try(variant, 'raw same key, equal body', pg_catalog.format(
		$f$inbox.ingest_raw(%L, 'k-3', '{ "c" : 3 }')$f$, src));
	PERFORM pg_temp.try(variant, 'raw same key, changed body', pg_catalog.format(
		$f$inbox.ingest_raw(%L, 'k-3', '{"c": 4}')$f$, src));
	PERFORM pg_temp.try(variant, 'raw not JSON', pg_catalog.format(
		$f$inbox.ingest_raw(%L, 'k-4', '{"c": ')$f$, src));
	PERFORM pg_temp.try(variant, 'many', pg_catalog.format(
		$f$(SELECT status, id, received_at, detail FROM inbox.ingest_many(%L,
		     ARRAY['k-5', 'k-1', 'k-3', ''],
		     ARRAY['{"d": 5}', '{"a": 1, "b": [1, 2]}', '{"c": 5}', '{"e": 6}']::jsonb[])
		   ORDER BY ord)$f$, src));
	PERFORM pg_temp.try(variant, 'raw many', pg_catalog.format(
		$f$(SELECT status, id, received_at, detail FROM inbox.ingest_raw_many(%L,
		     ARRAY['k-6', 'k-1', 'k-3', 'k-7'],
		     ARRAY['{"f": 6}', '{"b": [1, 2], "a": 1}', '{"c": 6}', '{"g": '],
		     ARRAY['null', NULL, '{}', NULL]::jsonb[])
		   ORDER BY ord)$f$, src));
END
$$;

-- ------------------------------------------------------------------
-- the calls: first the evil role under its own search_path (so that
-- whatever the backend prepares on first use, it prepares here), then a
-- superuser who was talked into the same search_path (the evil functions
-- would run with its rights), then the evil role under the default one
-- ------------------------------------------------------------------
SET search_path = evil, pg_catalog, inbox;
SELECT pg_temp.run_all('evil', 'tap-sp-evil');
RESET ROLE;
SELECT pg_temp.run_all('victim', 'tap-sp-victim');
RESET search_path;

SET ROLE inbox_tap_evil;
SELECT pg_temp.run_all('plain', 'tap-sp-plain');
RESET ROLE;

-- ------------------------------------------------------------------
-- checks, under the default search_path
-- ------------------------------------------------------------------
SELECT is_empty(
	$$SELECT fn FROM evil.calls ORDER BY seq$$,
	'no shadowing object was called by the ingest functions');

SELECT is_empty(
	$$SELECT variant || ' / ' || label || ': ' || err_state || ' ' || err_message
	    FROM got WHERE err_state IS NOT NULL ORDER BY seq$$,
	'no ingest call raised an error, with or without the shadowing search_path');

SELECT results_eq(
	$$SELECT label, status FROM got WHERE variant = 'plain' ORDER BY seq$$,
	$$VALUES ('new key', 'inserted'),
	         ('same key, equal payload', 'duplicate'),
	         ('same key, changed payload', 'conflict'),
	         ('empty event id', 'rejected'),
	         ('scalar payload', 'rejected'),
	         ('raw new key', 'inserted'),
	         ('raw same key, equal body', 'duplicate'),
	         ('raw same key, changed body', 'conflict'),
	         ('raw not JSON', 'rejected'),
	         ('many', 'inserted'),
	         ('many', 'duplicate'),
	         ('many', 'conflict'),
	         ('many', 'rejected'),
	         ('raw many', 'inserted'),
	         ('raw many', 'duplicate'),
	         ('raw many', 'conflict'),
	         ('raw many', 'rejected')$$,
	'default search_path: inserted, duplicate, conflict and rejected where due');

-- the same answers as without the shadowing; ids differ, nothing else
SELECT results_eq(
	$$SELECT label, status, detail, id IS NULL, received_at FROM got
	   WHERE variant = 'evil' ORDER BY seq$$,
	$$SELECT label, status, detail, id IS NULL, received_at FROM got
	   WHERE variant = 'plain' ORDER BY seq$$,
	'shadowing role: every answer (status, detail, received_at) equals the one under the default search_path');
SELECT results_eq(
	$$SELECT label, status, detail, id IS NULL, received_at FROM got
	   WHERE variant = 'victim' ORDER BY seq$$,
	$$SELECT label, status, detail, id IS NULL, received_at FROM got
	   WHERE variant = 'plain' ORDER BY seq$$,
	'superuser on the shadowing search_path: every answer equals the one under the default search_path');

SELECT is(
	(SELECT pg_catalog.count(*) FROM got
	  WHERE status IN ('inserted', 'duplicate', 'conflict')
	    AND received_at = pg_catalog.now()),
	36::bigint,
	'received_at is the real now() (not evil.now()) in all 36 answers that carry one');

-- what was stored: the first payload of each key, in the real table
SELECT results_eq(
	$$SELECT source::text COLLATE "default", event_id::text COLLATE "default",
	         payload, headers, state::text COLLATE "default", attempts,
	         received_at = pg_catalog.now(), available_at = pg_catalog.now()
	    FROM inbox.events WHERE source IN ('tap-sp-evil', 'tap-sp-victim')
	   ORDER BY source, event_id$$,
	$$VALUES ('tap-sp-evil', 'k-1', '{"a": 1, "b": [1, 2]}'::jsonb, '{"x-sig": "abc"}'::jsonb, 'pending', 0, true, true),
	         ('tap-sp-evil', 'k-3', '{"c": 3}'::jsonb, NULL::jsonb, 'pending', 0, true, true),
	         ('tap-sp-evil', 'k-5', '{"d": 5}'::jsonb, NULL::jsonb, 'pending', 0, true, true),
	         ('tap-sp-evil', 'k-6', '{"f": 6}'::jsonb, NULL::jsonb, 'pending', 0, true, true),
	         ('tap-sp-victim', 'k-1', '{"a": 1, "b": [1, 2]}'::jsonb, '{"x-sig": "abc"}'::jsonb, 'pending', 0, true, true),
	         ('tap-sp-victim', 'k-3', '{"c": 3}'::jsonb, NULL::jsonb, 'pending', 0, true, true),
	         ('tap-sp-victim', 'k-5', '{"d": 5}'::jsonb, NULL::jsonb, 'pending', 0, true, true),
	         ('tap-sp-victim', 'k-6', '{"f": 6}'::jsonb, NULL::jsonb, 'pending', 0, true, true)$$,
	'shadowing search_path: the events are stored in inbox.events, first payload kept, with their defaults');
SELECT is_empty(
	$$SELECT v.source FROM pg_catalog.unnest(ARRAY['tap-sp-evil', 'tap-sp-victim']) AS v(source)
	   WHERE (SELECT pg_catalog.array_agg(e.payload_digest ORDER BY e.event_id)
	            FROM inbox.events e WHERE e.source = v.source)
	         IS DISTINCT FROM
	         (SELECT pg_catalog.array_agg(e.payload_digest ORDER BY e.event_id)
	            FROM inbox.events e WHERE e.source = 'tap-sp-plain')$$,
	'shadowing search_path: the stored payload digests equal those stored under the default search_path');
SELECT is_empty(
	$$SELECT g.variant || ' / ' || g.label FROM got g
	    LEFT JOIN inbox.events e ON e.source = 'tap-sp-' || g.variant AND e.id = g.id
	   WHERE g.status IN ('inserted', 'duplicate', 'conflict') AND e.id IS NULL$$,
	'every id answered belongs to a stored event of the caller''s source');
SELECT is(
	(SELECT pg_catalog.count(DISTINCT id) FROM inbox.events
	  WHERE source IN ('tap-sp-evil', 'tap-sp-victim', 'tap-sp-plain')),
	12::bigint,
	'ids come from the identity sequence, not evil.nextval(): 12 events, 12 ids');

SELECT is(
	(SELECT pg_catalog.count(*) FROM evil.events) + (SELECT pg_catalog.count(*) FROM pg_temp.events),
	0::bigint,
	'nothing went to evil.events or to a temporary table named events');

-- evil.sources and pg_temp.sources hold a limit of 1 byte for the sources
SELECT is_empty(
	$$SELECT variant || ' / ' || label FROM got WHERE detail LIKE '%over the limit%'$$,
	'inbox.sources is read, not evil.sources or pg_temp.sources');

-- ------------------------------------------------------------------
-- control: the shadowing objects do win for unqualified names, so the
-- empty log above means something
-- ------------------------------------------------------------------
CREATE TEMP TABLE control_start AS
	SELECT COALESCE(pg_catalog.max(seq), 0) AS seq FROM evil.calls;
SET ROLE inbox_tap_evil;
SET search_path = evil, pg_catalog, inbox;
CREATE TEMP TABLE control_result AS
	SELECT now() AS now_result,
		   'a'::text = 'b'::text AS text_eq,
		   '\x01'::bytea = '\x02'::bytea AS bytea_eq,
		   '{"a": 1}'::jsonb = '{"a": 2}'::jsonb AS jsonb_eq,
		   jsonb_typeof('{}'::jsonb) AS typeof_result,
		   octet_length('abc'::text) AS octet_length_result,
		   length('abc'::text) AS length_result,
		   nextval('inbox.events_id_seq'::regclass) AS nextval_result,
		   sha256('\x01'::bytea) AS sha256_result;
RESET search_path;
RESET ROLE;

SELECT bag_eq(
	$$SELECT fn FROM evil.calls WHERE seq > (SELECT seq FROM control_start)$$,
	$$VALUES ('now()'), ('=(text,text)'), ('=(bytea,bytea)'), ('=(jsonb,jsonb)'),
	         ('jsonb_typeof(jsonb)'), ('octet_length(text)'), ('length(text)'),
	         ('nextval(regclass)'), ('sha256(bytea)')$$,
	'control: under search_path = evil, pg_catalog, inbox every shadowing object is the one called');
SELECT results_eq(
	$$SELECT now_result, text_eq, bytea_eq, jsonb_eq, typeof_result, octet_length_result,
	         length_result, nextval_result, sha256_result FROM control_result$$,
	$$VALUES ('2000-01-01 00:00:00+00'::timestamptz, true, true, true, 'string', 0, 0, 1::bigint, '\x00'::bytea)$$,
	'control: and each answers wrongly');

SELECT * FROM finish();
ROLLBACK;
