--
-- inbox.upsert runs the caller's triggers, defaults and CHECK constraints
-- under the caller's search_path, as the hand-written statements would,
-- while its own statements resolve nothing through it.
--
CREATE SCHEMA app;
CREATE TABLE app.audit_log (n serial, what text);
CREATE FUNCTION app.next_code() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	-- unqualified: found through the caller's search_path
	RETURN 'code-' || (SELECT count(*) FROM audit_log);
END
$$;
CREATE FUNCTION app.is_small(v int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO audit_log (what) VALUES ('check ' || v);
	RETURN v < 100;
END
$$;
CREATE TABLE app.items (
	k int PRIMARY KEY,
	v int CHECK (app.is_small(v)),
	code text DEFAULT app.next_code()
);
CREATE FUNCTION app.items_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO audit_log (what) VALUES (TG_OP || ' ' || NEW.k);
	RETURN NULL;
END
$$;
CREATE TRIGGER items_audit AFTER INSERT OR UPDATE ON app.items
	FOR EACH ROW EXECUTE FUNCTION app.items_audit();

SET search_path = app, public;
SELECT * FROM inbox.upsert('items', '{"k": 1, "v": 1}');
SELECT * FROM inbox.upsert('items', '{"k": 1, "v": 2}');
SELECT * FROM inbox.upsert('items', '{"k": 1, "v": 2}');
SELECT * FROM inbox.upsert_many('items', '[{"k": 2, "v": 3}, {"k": 2, "v": 4}]');
SELECT what FROM audit_log ORDER BY n;
-- the same as hand-written
INSERT INTO items (k, v) VALUES (3, 5);
SELECT what FROM audit_log ORDER BY n DESC LIMIT 2;
-- without app on the search_path, the trigger's unqualified name fails, as
-- it does for the hand-written statement
RESET search_path;
\set VERBOSITY sqlstate
SELECT * FROM inbox.upsert('app.items', '{"k": 1, "v": 7}');
UPDATE app.items SET v = 7 WHERE k = 1;
\set VERBOSITY default

-- a hostile search_path: a schema before pg_catalog with its own =,
-- to_jsonb, jsonb_populate_record, a collation "C" that ignores case, and
-- temporary objects named like the alias and the statements' names; none is
-- used by the upsert's own statements (each logs its calls)
CREATE SCHEMA evil;
CREATE TABLE evil.calls (what text);
CREATE FUNCTION evil.to_jsonb(anyelement) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO evil.calls VALUES ('to_jsonb');
	RETURN '{"evil": true}';
END
$$;
CREATE FUNCTION evil.jsonb_populate_record(anyelement, jsonb) RETURNS anyelement LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO evil.calls VALUES ('jsonb_populate_record');
	RETURN $1;
END
$$;
CREATE FUNCTION evil.int_eq(int, int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO evil.calls VALUES ('=');
	RETURN true;
END
$$;
CREATE OPERATOR evil.= (LEFTARG = int, RIGHTARG = int, FUNCTION = evil.int_eq);
CREATE FUNCTION evil.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO evil.calls VALUES ('=');
	RETURN true;
END
$$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
CREATE COLLATION evil."C" (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TEMP TABLE x (x int);
CREATE TEMP TABLE items (k int PRIMARY KEY, v int);
CREATE TABLE public.ci_keys (k text PRIMARY KEY, v int);
CREATE UNIQUE INDEX ci_keys_c ON public.ci_keys (k COLLATE "C");
INSERT INTO public.ci_keys VALUES ('a', 1), ('A', 1);
CREATE TABLE public.pitems (k int PRIMARY KEY, v int) PARTITION BY RANGE (k);
CREATE TABLE public.pitems_1 PARTITION OF public.pitems FOR VALUES FROM (0) TO (100);

-- the same calls under each search_path, alternating, so that the plans
-- prepared under one are used under the other
CREATE TABLE sp_got (path text, call text, action text, "row" jsonb);
CREATE FUNCTION sp_run(path text, n int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	calls text[] := ARRAY[
		$c$inbox.upsert('app.items', '{"k": 10, "v": %s}')$c$,
		$c$inbox.upsert('app.items', '{"k": 10, "v": %s}')$c$,
		$c$inbox.upsert('public.ci_keys', '{"k": "a", "v": %s}', '{k}')$c$,
		$c$inbox.upsert('public.pitems', '{"k": 1, "v": %s}')$c$,
		$c$inbox.upsert('public.pitems', '{"k": 1, "v": %s}')$c$,
		$c$(SELECT 0 AS ord, * FROM inbox.upsert('public.pitems', '{"k": 2, "v": %s}')
		    UNION ALL SELECT * FROM inbox.upsert_many('public.pitems', '[{"k": 2, "v": %s}]')) u
		   ORDER BY ord LIMIT 1 OFFSET 1$c$];
	c text;
	r record;
BEGIN
	FOREACH c IN ARRAY calls LOOP
		c := replace(c, '%s', n::text);
		PERFORM set_config('search_path', path, true);
		EXECUTE 'SELECT * FROM ' || c INTO r;
		PERFORM set_config('search_path', 'public', true);
		INSERT INTO sp_got VALUES (path, c, r.action, r."row");
	END LOOP;
END
$$;
SELECT sp_run('app, public', 1);
SELECT sp_run('evil, pg_catalog, app, pg_temp, public', 2);
SELECT sp_run('app, public', 3);
SELECT sp_run('evil, pg_catalog, app, pg_temp, public', 4);
SELECT path, action, "row" FROM sp_got ORDER BY ctid;
SELECT * FROM public.ci_keys ORDER BY k COLLATE "C";
SELECT count(*) AS evil_calls FROM evil.calls;

RESET search_path;
DROP SCHEMA app, evil CASCADE;
DROP TABLE public.ci_keys, public.pitems, sp_got, pg_temp.x, pg_temp.items;
DROP FUNCTION sp_run(text, int);
