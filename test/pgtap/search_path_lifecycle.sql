-- pg_inbox: nothing a caller puts on its search_path reaches the processing
-- lifecycle (claim, complete, fail, extend_lease, retry_delay, replay,
-- purge), the statistics view, the upserts or the statement guard's
-- machinery.  search_path.sql does the same for the ingest functions.
--
-- Schema evil shadows what the install scripts use from pg_catalog (now(),
-- octet_length(), left(), current_setting(), random(), power(), date_part(),
-- cardinality(), jsonb_array_length(), jsonb_typeof(), to_jsonb(),
-- jsonb_populate_record(), and the operators =, <, <=, >, >=, +, -, ||, <@
-- and ~ for the types they compare), each logging its call and answering
-- wrongly.  The same scenario runs three times, each for its own source:
-- the evil role on search_path = evil, pg_catalog, inbox; a superuser on
-- that same search_path; the evil role on the default search_path.  Every
-- answer must be the same in all three, and the log must hold only the
-- calls that the caller's own statements make through inbox.attempt, which
-- runs them, by design, with the caller's search_path.
--
-- Only the calls under test run with the evil search_path (the harness sets
-- it for the one statement it executes, and qualifies everything else in
-- that statement); the checks run after it is reset.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_inbox;

SELECT plan(20);

CREATE ROLE inbox_tap_evil2 NOLOGIN;
GRANT USAGE ON SCHEMA inbox TO inbox_tap_evil2;
-- name resolution, not privileges: the role may do everything
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA inbox TO inbox_tap_evil2;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA inbox TO inbox_tap_evil2;
DO $$
BEGIN
	EXECUTE pg_catalog.format('GRANT CREATE ON DATABASE %I TO inbox_tap_evil2',
							  pg_catalog.current_database());
END
$$;

CREATE TABLE public.sp_items (variant text, sku text, qty integer, doc jsonb,
	PRIMARY KEY (variant, sku));
CREATE TABLE public.sp_log (variant text);
GRANT SELECT, INSERT, UPDATE ON public.sp_items, public.sp_log TO inbox_tap_evil2;

-- the answers, one jsonb per row, or the error
CREATE TEMP TABLE got (seq bigint GENERATED ALWAYS AS IDENTITY, variant text,
	label text, r jsonb, err_state text, err_message text);
GRANT ALL ON got TO inbox_tap_evil2;
-- the events of each variant, by event id
CREATE TEMP TABLE ev (variant text, event_id text, id bigint);
GRANT ALL ON ev TO inbox_tap_evil2;

-- pg_temp.try(variant, path, label, call): runs the query call with
-- search_path = path and stores each row it returns.  {e1} ... in call
-- stand for the ids of the variant's events.  Everything around the call
-- is qualified, so that only the call itself meets the path.
CREATE FUNCTION pg_temp.try(variant text, path text, label text, call text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	e record;
	old text := pg_catalog.current_setting('search_path');
BEGIN
	FOR e IN SELECT * FROM pg_temp.ev WHERE ev.variant OPERATOR(pg_catalog.=) try.variant LOOP
		call := pg_catalog.replace(call, '{' OPERATOR(pg_catalog.||) e.event_id OPERATOR(pg_catalog.||) '}', e.id::text);
	END LOOP;
	BEGIN
		PERFORM pg_catalog.set_config('search_path', path, true);
		EXECUTE 'INSERT INTO pg_temp.got (variant, label, r) SELECT $1, $2, pg_catalog.to_jsonb(x) FROM ('
			OPERATOR(pg_catalog.||) call OPERATOR(pg_catalog.||) ') x'
			USING variant, label;
		PERFORM pg_catalog.set_config('search_path', old, true);
	EXCEPTION WHEN OTHERS THEN
		PERFORM pg_catalog.set_config('search_path', old, true);
		INSERT INTO pg_temp.got (variant, label, err_state, err_message)
			VALUES (variant, label, SQLSTATE, SQLERRM);
	END;
END
$$;

-- the scenario for one variant, on source 'sp-<variant>'
CREATE FUNCTION pg_temp.run_all(variant text, path text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	s text := 'sp-' || variant;
	w text := 'w-' || variant;
BEGIN
	PERFORM pg_temp.try(variant, path, 'claim three', format(
		$f$SELECT c.source, c.event_id, c.attempt, c.received_at, c.locked_until, c.headers, c.payload
		     FROM inbox.claim(%L, 3, '1 hour', ARRAY[%L]) c$f$, w, s));
	PERFORM pg_temp.try(variant, path, 'complete e1', format(
		$f$SELECT inbox.complete({e1}, %L) AS done$f$, w));
	PERFORM pg_temp.try(variant, path, 'complete e2 as another consumer', format(
		$f$SELECT inbox.complete({e2}, %L) AS done$f$, 'someone-else'));
	PERFORM pg_temp.try(variant, path, 'complete e1 again', format(
		$f$SELECT inbox.complete({e1}, %L) AS done$f$, w));
	PERFORM pg_temp.try(variant, path, 'fail e2 with retry_in', format(
		$f$SELECT inbox.fail({e2}, %L, 'boom', '10 minutes') AS state$f$, w));
	PERFORM pg_temp.try(variant, path, 'extend the lease of e3', format(
		$f$SELECT inbox.extend_lease({e3}, %L, '2 hours') AS until$f$, w));
	PERFORM pg_temp.try(variant, path, 'extend the lease of e2, no longer held', format(
		$f$SELECT inbox.extend_lease({e2}, %L, '2 hours') AS until$f$, w));
	PERFORM pg_temp.try(variant, path, 'fail e3 without retry_in', format(
		$f$SELECT inbox.fail({e3}, %L, NULL) AS state$f$, w));
	PERFORM pg_temp.try(variant, path, 'claim the limited event', format(
		$f$SELECT c.event_id, c.attempt FROM inbox.claim(%L, 10, '1 hour', ARRAY[%L]) c$f$, w, s || '-lim'));
	PERFORM pg_temp.try(variant, path, 'fail it at the limit', format(
		$f$SELECT inbox.fail({d1}, %L, 'last') AS state$f$, w));
	PERFORM pg_temp.try(variant, path, 'purge one', $f$SELECT inbox.purge('1 day', 1) AS n$f$);
	PERFORM pg_temp.try(variant, path, 'purge the next', $f$SELECT inbox.purge('1 day', 1) AS n$f$);
	PERFORM pg_temp.try(variant, path, 'purge nothing left', $f$SELECT inbox.purge('1 day', 1) AS n$f$);
	PERFORM pg_temp.try(variant, path, 'purge, negative age', $f$SELECT inbox.purge('-1 day') AS n$f$);
	PERFORM pg_temp.try(variant, path, 'replay it by id',
		$f$SELECT inbox.replay(ARRAY[{d1}]::bigint[]) AS n$f$);
	PERFORM pg_temp.try(variant, path, 'replay done events of the source', format(
		$f$SELECT inbox.replay(%L, '-infinity', 'infinity', ARRAY['done']) AS n$f$, s));
	PERFORM pg_temp.try(variant, path, 'replay asks for pending',
		format($f$SELECT inbox.replay(%L, '-infinity', 'infinity', ARRAY['pending']) AS n$f$, s));
	PERFORM pg_temp.try(variant, path, 'states after the scenario', format(
		$f$SELECT e.event_id, e.state, e.attempts, e.available_at, e.locked_by, e.locked_until,
		          e.processed_at, e.last_error,
		          pg_catalog.jsonb_array_length(e.errors) AS failures
		     FROM inbox.events e WHERE e.source OPERATOR(pg_catalog.=) %L
		      AND e.event_id OPERATOR(pg_catalog.<>) 'e3'$f$, s));
	PERFORM pg_temp.try(variant, path, 'stats of the source', format(
		$f$SELECT st.source, st.pending, st.processing, st.done, st.dead, st.oldest_pending_age,
		          st.inserted, st.duplicate, st.conflict, st.rejected, st.counters_available
		     FROM inbox.stats st WHERE st.source OPERATOR(pg_catalog.=) %L$f$, s));
	-- upserts
	PERFORM pg_temp.try(variant, path, 'upsert a new row', format(
		$f$SELECT u.action, u."row" OPERATOR(pg_catalog.-) 'variant' AS "row"
		     FROM inbox.upsert('public.sp_items', '{"variant": %s, "sku": "a", "qty": 1, "doc": {"k": [1, 2]}}') u$f$,
		pg_catalog.to_jsonb(variant)));
	PERFORM pg_temp.try(variant, path, 'upsert it unchanged', format(
		$f$SELECT u.action FROM inbox.upsert('public.sp_items', '{"variant": %s, "sku": "a", "qty": 1, "doc": {"k": [1, 2]}}') u$f$,
		pg_catalog.to_jsonb(variant)));
	PERFORM pg_temp.try(variant, path, 'upsert it changed', format(
		$f$SELECT u.action, u."row" OPERATOR(pg_catalog.-) 'variant' AS "row"
		     FROM inbox.upsert('public.sp_items', '{"variant": %s, "sku": "a", "qty": 2}') u$f$,
		pg_catalog.to_jsonb(variant)));
	PERFORM pg_temp.try(variant, path, 'upsert_many', format(
		$f$SELECT u.ord, u.action, u."row" OPERATOR(pg_catalog.-) 'variant' AS "row"
		     FROM inbox.upsert_many('public.sp_items',
		          '[{"variant": %1$s, "sku": "b", "qty": 1}, {"variant": %1$s, "sku": "a", "qty": 2},
		            {"variant": %1$s, "sku": "b", "qty": 3}]', '{variant,sku}') u$f$,
		pg_catalog.to_jsonb(variant)));
	PERFORM pg_temp.try(variant, path, 'upsert with a missing conflict column', format(
		$f$SELECT u.action FROM inbox.upsert('public.sp_items', '{"variant": %s, "qty": 2}') u$f$,
		pg_catalog.to_jsonb(variant)));
	-- the statement guard: its own answer, and the caller's statement run
	-- with the caller's search_path (sp_log is evil.sp_log under evil's path)
	PERFORM pg_temp.try(variant, path, 'attempt an insert, unqualified', format(
		$f$SELECT a.* FROM inbox.attempt(%L) a$f$,
		format('INSERT INTO sp_log (variant) VALUES (%L)', variant)));
	PERFORM pg_temp.try(variant, path, 'attempt a division by zero',
		$f$SELECT a.* FROM inbox.attempt('SELECT 1 OPERATOR(pg_catalog./) 0') a$f$);
	PERFORM pg_temp.try(variant, path, 'attempt a duplicate key', format(
		$f$SELECT a.* FROM inbox.attempt(%L) a$f$,
		format('INSERT INTO public.sp_items (variant, sku) VALUES (%L, %L)', variant, 'a')));
	PERFORM pg_temp.try(variant, path, 'attempt now(), unqualified',
		$f$SELECT a.ok, a.sqlstate, a."rows" FROM inbox.attempt('SELECT now()') a$f$);
	PERFORM pg_temp.try(variant, path, 'attempt two statements',
		$f$SELECT a.* FROM inbox.attempt('SELECT 1; SELECT 2') a$f$);
END
$$;

CREATE TEMP TABLE counted (variant text, inserted bigint);
-- what each variant starts from, made under the default search_path: five
-- events, one in a source with an attempt limit of 1, two done two days ago
CREATE FUNCTION pg_temp.setup(variant text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	s text := 'sp-' || variant;
BEGIN
	-- the counters live in shared memory and outlast this transaction
	INSERT INTO pg_temp.counted
	SELECT variant, coalesce((SELECT inserted FROM inbox.ingest_counters() WHERE source = s), 0);
	PERFORM inbox.ingest(s, 'e' || g, jsonb_build_object('n', g)) FROM generate_series(1, 3) g;
	PERFORM inbox.ingest(s, 'old' || g, jsonb_build_object('n', g)) FROM generate_series(1, 2) g;
	UPDATE inbox.events SET state = 'done', processed_at = now() - interval '2 days'
	WHERE source = s AND event_id LIKE 'old%';
	INSERT INTO inbox.sources (source, max_attempts) VALUES (s || '-lim', 1);
	PERFORM inbox.ingest(s || '-lim', 'd1', '{"d": 1}');
	INSERT INTO pg_temp.ev SELECT variant, event_id, id FROM inbox.events
	WHERE source IN (s, s || '-lim');
END
$$;

-- ------------------------------------------------------------------
-- the shadowing objects
-- ------------------------------------------------------------------
SET ROLE inbox_tap_evil2;
CREATE SCHEMA evil;
GRANT USAGE ON SCHEMA evil TO PUBLIC;
CREATE TABLE evil.calls (seq bigint GENERATED ALWAYS AS IDENTITY, fn text NOT NULL);
GRANT INSERT, SELECT ON evil.calls TO PUBLIC;
CREATE TABLE evil.sp_log (variant text);
GRANT INSERT, SELECT ON evil.sp_log TO PUBLIC;

-- evil.<name>(<args>) returns <type>: logs '<label>' and returns <value>
CREATE FUNCTION pg_temp.shadow(name text, args text, rettype text, value text, label text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE pg_catalog.format(
		$f$CREATE FUNCTION evil.%s(%s) RETURNS %s LANGUAGE plpgsql VOLATILE AS $b$
		   BEGIN
		     INSERT INTO evil.calls (fn) VALUES (%L);
		     RETURN %s;
		   END $b$ $f$, name, args, rettype, label, value);
END
$$;
CREATE FUNCTION pg_temp.shadow_op(op text, lt text, rt text, rettype text, value text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	fn text := 'op_' || pg_catalog.md5(op || lt || rt);
BEGIN
	PERFORM pg_temp.shadow(fn, lt || ', ' || rt, rettype, value,
						   op || '(' || lt || ',' || rt || ')');
	EXECUTE pg_catalog.format('CREATE OPERATOR evil.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = evil.%s)',
							  op, lt, rt, fn);
END
$$;

SELECT pg_temp.shadow('now', '', 'timestamptz', $$'2000-01-01 00:00:00+00'$$, 'now()');
SELECT pg_temp.shadow('octet_length', 'text', 'integer', '0', 'octet_length(text)');
SELECT pg_temp.shadow('length', 'text', 'integer', '0', 'length(text)');
SELECT pg_temp.shadow('left', 'text, integer', 'text', $$'evil'$$, 'left(text,integer)');
SELECT pg_temp.shadow('current_setting', 'text', 'text', $$'1'$$, 'current_setting(text)');
SELECT pg_temp.shadow('current_setting', 'text, boolean', 'text', $$'1'$$, 'current_setting(text,boolean)');
SELECT pg_temp.shadow('random', '', 'double precision', '0', 'random()');
SELECT pg_temp.shadow('power', 'double precision, double precision', 'double precision', '0', 'power(float8,float8)');
SELECT pg_temp.shadow('date_part', 'text, interval', 'double precision', '0', 'date_part(text,interval)');
SELECT pg_temp.shadow('cardinality', 'anyarray', 'integer', '0', 'cardinality(anyarray)');
SELECT pg_temp.shadow('jsonb_array_length', 'jsonb', 'integer', '0', 'jsonb_array_length(jsonb)');
SELECT pg_temp.shadow('jsonb_typeof', 'jsonb', 'text', $$'string'$$, 'jsonb_typeof(jsonb)');
SELECT pg_temp.shadow('to_jsonb', 'anyelement', 'jsonb', $$'{}'$$, 'to_jsonb(anyelement)');
SELECT pg_temp.shadow('jsonb_populate_record', 'anyelement, jsonb', 'anyelement', '$1', 'jsonb_populate_record(anyelement,jsonb)');
SELECT pg_temp.shadow_op('=', t, t, 'boolean', 'true')
FROM pg_catalog.unnest(ARRAY['text', 'bigint', 'integer', 'jsonb', 'timestamptz', 'interval', 'bytea', 'regclass', 'oid', 'name']) t;
SELECT pg_temp.shadow_op('<>', t, t, 'boolean', 'false')
FROM pg_catalog.unnest(ARRAY['text', 'bigint', 'integer']) t;
SELECT pg_temp.shadow_op(o, t, t, 'boolean', v)
FROM pg_catalog.unnest(ARRAY['<', '<=', '>', '>=']) o,
	 pg_catalog.unnest(ARRAY['timestamptz', 'interval', 'integer', 'bigint']) t,
	 LATERAL (SELECT CASE WHEN o IN ('<', '<=') THEN 'true' ELSE 'false' END) x(v);
SELECT pg_temp.shadow_op('+', 'timestamptz', 'interval', 'timestamptz', $$'2000-01-01 00:00:00+00'$$);
SELECT pg_temp.shadow_op('-', 'timestamptz', 'interval', 'timestamptz', $$'2000-01-01 00:00:00+00'$$);
SELECT pg_temp.shadow_op('-', 'timestamptz', 'timestamptz', 'interval', $$'0'$$);
SELECT pg_temp.shadow_op('+', 'integer', 'integer', 'integer', '0');
SELECT pg_temp.shadow_op('*', 'double precision', 'double precision', 'double precision', '0');
SELECT pg_temp.shadow_op('||', 'text', 'text', 'text', $$'evil'$$);
SELECT pg_temp.shadow_op('||', 'jsonb', 'jsonb', 'jsonb', $$'[]'$$);
SELECT pg_temp.shadow_op('<@', 'text[]', 'text[]', 'boolean', 'true');
SELECT pg_temp.shadow_op('~', 'text', 'text', 'boolean', 'true');
SELECT pg_temp.shadow_op('-', 'jsonb', 'text', 'jsonb', $$'{}'$$);

-- relations named like the extension's, in evil and in pg_temp (which the
-- functions' own search_path does contain)
CREATE TABLE evil.events (LIKE inbox.events);
CREATE TABLE evil.sources (source text, max_payload_bytes integer, created_at timestamptz, max_attempts integer);
CREATE TEMP TABLE events (LIKE inbox.events);
CREATE TEMP TABLE sources (source text, max_payload_bytes integer, created_at timestamptz, max_attempts integer);
CREATE TEMP TABLE stats (source text);
INSERT INTO sources (source, max_attempts) VALUES ('sp-evil', 1), ('sp-victim', 1), ('sp-plain', 1);
INSERT INTO evil.sources (source, max_attempts) VALUES ('sp-evil', 1), ('sp-victim', 1), ('sp-plain', 1);
RESET ROLE;

-- ------------------------------------------------------------------
-- the runs: the evil role first (whatever the backend prepares on first
-- use, it prepares here), then a superuser on the same search_path, then
-- the evil role on the default search_path
-- ------------------------------------------------------------------
SELECT pg_temp.setup('evil');
SET ROLE inbox_tap_evil2;
SELECT pg_temp.run_all('evil', 'evil, pg_catalog, inbox');
RESET ROLE;
SELECT pg_temp.setup('victim');
SELECT pg_temp.run_all('victim', 'evil, pg_catalog, inbox');
SELECT pg_temp.setup('plain');
SET ROLE inbox_tap_evil2;
SELECT pg_temp.run_all('plain', current_setting('search_path'));
RESET ROLE;

-- ------------------------------------------------------------------
-- checks, under the default search_path
-- ------------------------------------------------------------------
-- ids and each variant's own name (in its source, table rows and error
-- details) differ between the variants; everything else must not (the
-- random retry time of e3 is kept out of the answers)
CREATE TEMP VIEW norm AS
SELECT seq, variant, label,
	   pg_catalog.replace((r - 'id')::text, variant, 'V')::jsonb AS r,
	   err_state, err_message
FROM got;

SELECT results_eq(
	$$SELECT label, r, err_state, err_message FROM norm WHERE variant = 'evil' ORDER BY seq$$,
	$$SELECT label, r, err_state, err_message FROM norm WHERE variant = 'plain' ORDER BY seq$$,
	'shadowing role: every answer of the lifecycle, stats, upserts and attempt equals the one under the default search_path');
SELECT results_eq(
	$$SELECT label, r, err_state, err_message FROM norm WHERE variant = 'victim' ORDER BY seq$$,
	$$SELECT label, r, err_state, err_message FROM norm WHERE variant = 'plain' ORDER BY seq$$,
	'superuser on the shadowing search_path: every answer equals the one under the default search_path');

SELECT bag_eq(
	$$SELECT fn FROM evil.calls$$,
	$$VALUES ('now()'), ('now()')$$,
	'no shadowing object was called by pg_inbox: the only calls are the two now() of the callers'' own statements run by attempt');

-- the plain answers are the right ones, so that equality above means something
SELECT results_eq(
	$$SELECT r ->> 'event_id', (r ->> 'attempt')::int,
	         (r ->> 'locked_until')::timestamptz = now() + interval '1 hour'
	    FROM got WHERE variant = 'plain' AND label = 'claim three' ORDER BY r ->> 'event_id'$$,
	$$VALUES ('e1', 1, true), ('e2', 1, true), ('e3', 1, true)$$,
	'claim: the three oldest events, attempt 1, lease until now() + 1 hour');
SELECT results_eq(
	$$SELECT label, r ->> 'done' FROM got WHERE variant = 'plain' AND label LIKE 'complete%' ORDER BY seq$$,
	$$VALUES ('complete e1', 'true'), ('complete e2 as another consumer', 'false'),
	         ('complete e1 again', 'false')$$,
	'complete: true for the holder, false for another consumer and for an event already done');
SELECT results_eq(
	$$SELECT label, r ->> 'state' FROM got WHERE variant = 'plain' AND label LIKE 'fail%' ORDER BY seq$$,
	$$VALUES ('fail e2 with retry_in', 'pending'), ('fail e3 without retry_in', 'pending'),
	         ('fail it at the limit', 'dead')$$,
	'fail: pending to retry, dead at the attempt limit');
SELECT results_eq(
	$$SELECT label, (r ->> 'until')::timestamptz FROM got WHERE variant = 'plain' AND label LIKE 'extend%' ORDER BY seq$$,
	$$VALUES ('extend the lease of e3', now() + interval '2 hours'),
	         ('extend the lease of e2, no longer held', NULL::timestamptz)$$,
	'extend_lease: now() + 2 hours for the holder, NULL for an event no longer held');
SELECT is_empty(
	$$SELECT variant FROM pg_temp.ev v JOIN inbox.events e USING (id)
	   WHERE v.event_id = 'e3'
	     AND NOT (e.state = 'pending' AND e.attempts = 1
	              AND e.available_at BETWEEN now() + interval '5 seconds' AND now() + interval '10 seconds')$$,
	'fail without retry_in: e3 waits retry_delay(1), 5 to 10 seconds, in every variant');
SELECT results_eq(
	$$SELECT label, (r ->> 'n')::bigint FROM got WHERE variant = 'plain'
	   AND (label LIKE 'replay%' OR label LIKE 'purge%') AND err_state IS NULL ORDER BY seq$$,
	$$VALUES ('purge one', 1::bigint), ('purge the next', 1), ('purge nothing left', 0),
	         ('replay it by id', 1), ('replay done events of the source', 1)$$,
	'replay and purge: the right counts');
SELECT results_eq(
	$$SELECT label, err_state FROM got WHERE variant = 'plain' AND err_state IS NOT NULL ORDER BY seq$$,
	$$VALUES ('purge, negative age', '22023'), ('replay asks for pending', '22023'),
	         ('upsert with a missing conflict column', '22023'), ('attempt two statements', '42601')$$,
	'only the programming errors raised, with their SQLSTATEs');
SELECT results_eq(
	$$SELECT r ->> 'event_id', r ->> 'state', (r ->> 'attempts')::int, r ->> 'last_error',
	         (r ->> 'failures')::int
	    FROM got WHERE variant = 'plain' AND label = 'states after the scenario' ORDER BY r ->> 'event_id'$$,
	$$VALUES ('e1', 'pending', 0, NULL, NULL::int), ('e2', 'pending', 1, 'boom', 1)$$,
	'the events end where the scenario put them (e1 replayed, e2 failed, the old ones purged)');
SELECT results_eq(
	$$SELECT (r ->> 'pending')::bigint, (r ->> 'processing')::bigint, (r ->> 'done')::bigint,
	         (r ->> 'dead')::bigint, (r ->> 'inserted')::bigint - (SELECT inserted FROM counted WHERE variant = 'plain')
	    FROM got WHERE variant = 'plain' AND label = 'stats of the source'$$,
	$$VALUES (3::bigint, 0::bigint, 0::bigint, 0::bigint, 5::bigint)$$,
	'stats: the states of the source, and 5 more inserted');
SELECT results_eq(
	$$SELECT label, r ->> 'action', r -> 'row' FROM got
	   WHERE variant = 'plain' AND label LIKE 'upsert%' AND err_state IS NULL ORDER BY seq$$,
	$$VALUES ('upsert a new row', 'inserted', '{"sku": "a", "qty": 1, "doc": {"k": [1, 2]}}'::jsonb),
	         ('upsert it unchanged', 'unchanged', NULL),
	         ('upsert it changed', 'updated', '{"sku": "a", "qty": 2, "doc": {"k": [1, 2]}}'),
	         ('upsert_many', 'inserted', '{"sku": "b", "qty": 1, "doc": null}'),
	         ('upsert_many', 'unchanged', '{"sku": "a", "qty": 2, "doc": {"k": [1, 2]}}'),
	         ('upsert_many', 'updated', '{"sku": "b", "qty": 3, "doc": null}')$$,
	'upsert and upsert_many: inserted, unchanged, updated, with the stored row');
SELECT is_empty(
	$$SELECT variant FROM (VALUES ('evil'), ('victim'), ('plain')) v(variant)
	   WHERE (SELECT pg_catalog.array_agg(qty ORDER BY sku) FROM public.sp_items i WHERE i.variant = v.variant)
	         IS DISTINCT FROM ARRAY[2, 3]$$,
	'upsert wrote public.sp_items the same way in every variant');
SELECT results_eq(
	$$SELECT label, (r ->> 'ok')::boolean, r ->> 'sqlstate', r ->> 'constraint_name', (r ->> 'rows')::bigint
	    FROM got WHERE variant = 'plain' AND label LIKE 'attempt%' AND err_state IS NULL ORDER BY seq$$,
	$$VALUES ('attempt an insert, unqualified', true, NULL, NULL, 1::bigint),
	         ('attempt a division by zero', false, '22012', NULL, NULL),
	         ('attempt a duplicate key', false, '23505', 'sp_items_pkey', NULL),
	         ('attempt now(), unqualified', true, NULL, NULL, 1)$$,
	'attempt: its answers');
SELECT bag_eq(
	$$SELECT 'evil' AS schema, variant FROM evil.sp_log UNION ALL SELECT 'public', variant FROM public.sp_log$$,
	$$VALUES ('evil', 'evil'), ('evil', 'victim'), ('public', 'plain')$$,
	'attempt runs the caller''s statement with the caller''s search_path: sp_log is evil.sp_log under evil''s path');
SELECT is(
	(SELECT pg_catalog.count(*) FROM evil.events) + (SELECT pg_catalog.count(*) FROM pg_temp.events),
	0::bigint,
	'nothing went to evil.events or to a temporary table named events');

-- the limit of 1 attempt came from inbox.sources (evil.sources and
-- pg_temp.sources say 1 for the plain sources too, which would have made
-- e2 dead)
SELECT is(
	(SELECT pg_catalog.count(*) FROM got WHERE label = 'fail e2 with retry_in' AND r ->> 'state' = 'pending'),
	3::bigint,
	'the attempt limit is read from inbox.sources, not from evil.sources or pg_temp.sources');

-- ------------------------------------------------------------------
-- control: the shadowing objects do win for unqualified names
-- ------------------------------------------------------------------
CREATE TEMP TABLE control_start AS SELECT COALESCE(pg_catalog.max(seq), 0) AS seq FROM evil.calls;
SET ROLE inbox_tap_evil2;
SET search_path = evil, pg_catalog, inbox;
CREATE TEMP TABLE control_result AS
	SELECT now() AS now_result, 'a'::text = 'b'::text AS text_eq, 1::bigint = 2::bigint AS bigint_eq,
		   1 = 2 AS int_eq, '{"a": 1}'::jsonb = '{}'::jsonb AS jsonb_eq,
		   octet_length('abc'::text) AS octet_length_result, cardinality(ARRAY[1, 2]) AS cardinality_result,
		   jsonb_typeof('{}'::jsonb) AS typeof_result, to_jsonb(1) AS to_jsonb_result,
		   '2020-01-01 00:00:00+00'::timestamptz + interval '1 day' AS plus_result,
		   'a'::text || 'b'::text AS concat_result;
RESET search_path;
RESET ROLE;
SELECT bag_eq(
	$$SELECT fn FROM evil.calls WHERE seq > (SELECT seq FROM control_start)$$,
	$$VALUES ('now()'), ('=(text,text)'), ('=(bigint,bigint)'), ('=(integer,integer)'), ('=(jsonb,jsonb)'),
	         ('octet_length(text)'), ('cardinality(anyarray)'), ('jsonb_typeof(jsonb)'),
	         ('to_jsonb(anyelement)'), ('+(timestamptz,interval)'), ('||(text,text)')$$,
	'control: under search_path = evil, pg_catalog, inbox the shadowing objects are the ones called');
SELECT results_eq(
	$$SELECT now_result, text_eq, bigint_eq, int_eq, jsonb_eq, octet_length_result, cardinality_result,
	         typeof_result, to_jsonb_result, plus_result, concat_result FROM control_result$$,
	$$VALUES ('2000-01-01 00:00:00+00'::timestamptz, true, true, true, true, 0, 0, 'string', '{}'::jsonb,
	          '2000-01-01 00:00:00+00'::timestamptz, 'evil')$$,
	'control: and each answers wrongly');

SELECT * FROM finish();
ROLLBACK;
