--
-- inbox.upsert called inside inbox.upsert (from a trigger, a domain's
-- CHECK) never frees or reuses the prepared statements the outer call is
-- running, whatever the nested call finds: its table invalidated, the
-- cache full, or the same plan in use.  The sanitizer part of make stress
-- runs this file against an AddressSanitizer build.
--
CREATE TABLE nest_t (k int PRIMARY KEY, v int);
CREATE TABLE nest_t2 (k int PRIMARY KEY, v int, origin text DEFAULT 'this row is in nest_t2');
INSERT INTO nest_t VALUES (1, 1);

-- a relcache invalidation of the outer call's table, then a nested upsert
-- that needs a plan of its own: the outer call's plan stays
CREATE FUNCTION nest_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE 'GRANT SELECT ON public.nest_t TO PUBLIC';
	PERFORM inbox.upsert('public.nest_t2', jsonb_build_object('k', NEW.k, 'v', NEW.v));
	RETURN NEW;
END
$$;
CREATE TRIGGER nest_audit BEFORE UPDATE ON nest_t FOR EACH ROW EXECUTE FUNCTION nest_audit();
SELECT * FROM inbox.upsert('public.nest_t', '{"k": 1, "v": 2}');
SELECT * FROM nest_t;
SELECT * FROM nest_t2;
-- once more, the plans now cached: the same
SELECT * FROM inbox.upsert('public.nest_t', '{"k": 1, "v": 3}');
SELECT * FROM inbox.upsert('public.nest_t', '{"k": 1, "v": 3}');
SELECT * FROM nest_t2;

-- the issue's trigger returns NULL: the outer row is skipped and stays as it
-- was; the nested upsert is done
CREATE OR REPLACE FUNCTION nest_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE 'GRANT SELECT ON public.nest_t TO PUBLIC';
	PERFORM inbox.upsert('public.nest_t2', jsonb_build_object('k', NEW.k, 'v', NEW.v));
	RETURN NULL;
END
$$;
SELECT * FROM inbox.upsert('public.nest_t', '{"k": 1, "v": 4}');
SELECT * FROM nest_t;
SELECT * FROM nest_t2;

-- ANALYZE of the table in the trigger (as a concurrent one would; see also
-- test/specs/upsert_nested_analyze.spec)
CREATE OR REPLACE FUNCTION nest_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	ANALYZE public.nest_t;
	PERFORM inbox.upsert('public.nest_t2', jsonb_build_object('k', NEW.k + 10, 'v', NEW.v));
	RETURN NEW;
END
$$;
SELECT * FROM inbox.upsert('public.nest_t', '{"k": 1, "v": 5}');
SELECT * FROM nest_t;

-- a full cache: 63 other column sets first, so that the nested call finds
-- 64 plans kept and starts the cache afresh
CREATE TABLE nest_wide (k int PRIMARY KEY, c1 int, c2 int, c3 int, c4 int, c5 int, c6 int);
SELECT count(*) FROM generate_series(1, 63) g,
	inbox.upsert('nest_wide',
		(SELECT jsonb_object_agg('c' || b, g) || '{"k": 0}'
		   FROM generate_series(1, 6) b WHERE (g >> (b - 1)) & 1 = 1)) u;
CREATE OR REPLACE FUNCTION nest_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM inbox.upsert('public.nest_t2', jsonb_build_object('k', NEW.k + 20, 'v', NEW.v));
	RETURN NEW;
END
$$;
-- the outer call's plan is the 64th
SELECT * FROM inbox.upsert('public.nest_t', '{"k": 1, "v": 6}');
SELECT * FROM nest_t;
SELECT * FROM nest_t2 ORDER BY k;

-- the nested call upserts into the same table with the same columns, after
-- an invalidation: it cannot use the plan the outer call is running, and
-- the outer call goes on with it
DROP TRIGGER nest_audit ON nest_t;
CREATE FUNCTION nest_self() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.k < 100 THEN
		EXECUTE 'GRANT SELECT ON public.nest_t TO PUBLIC';
		PERFORM inbox.upsert('public.nest_t', jsonb_build_object('k', NEW.k + 100, 'v', NEW.v));
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER nest_self BEFORE INSERT OR UPDATE ON nest_t FOR EACH ROW EXECUTE FUNCTION nest_self();
SELECT * FROM inbox.upsert('public.nest_t', '{"k": 1, "v": 7}');
SELECT * FROM inbox.upsert('public.nest_t', '{"k": 2, "v": 8}');
SELECT * FROM inbox.upsert_many('public.nest_t', '[{"k": 3, "v": 9}, {"k": 1, "v": 10}, {"k": 3, "v": 9}]');
SELECT * FROM nest_t ORDER BY k;
DROP TRIGGER nest_self ON nest_t;

-- a domain's CHECK that upserts into the same table with the same columns
-- while the outer call converts its data: each call converts with its own
-- state
CREATE TABLE nest_d_log (k int PRIMARY KEY, v int);
CREATE FUNCTION nest_check(v int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	IF v > 0 THEN
		PERFORM inbox.upsert('public.nest_d', jsonb_build_object('k', v + 1000, 'v', v - 1));
		PERFORM inbox.upsert('public.nest_d_log', jsonb_build_object('k', v, 'v', v));
	END IF;
	RETURN true;
END
$$;
CREATE DOMAIN nest_dom AS int CHECK (nest_check(VALUE));
CREATE TABLE nest_d (k int PRIMARY KEY, v nest_dom);
SELECT * FROM inbox.upsert('public.nest_d', '{"k": 1, "v": 3}');
SELECT * FROM nest_d ORDER BY k;
SELECT * FROM nest_d_log ORDER BY k;

-- an error in a nested call caught by the trigger: the outer call goes on,
-- and the plans are still usable afterwards
CREATE FUNCTION nest_catch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		EXECUTE 'GRANT SELECT ON public.nest_t TO PUBLIC';
		PERFORM inbox.upsert('public.nest_t', jsonb_build_object('k', NEW.k + 200, 'v', 'not a number'));
	EXCEPTION WHEN invalid_text_representation THEN
		RAISE NOTICE 'nested: %', SQLERRM;
	END;
	RETURN NEW;
END
$$;
CREATE TRIGGER nest_catch BEFORE UPDATE ON nest_t FOR EACH ROW EXECUTE FUNCTION nest_catch();
SELECT * FROM inbox.upsert('public.nest_t', '{"k": 1, "v": 11}');
SELECT * FROM inbox.upsert('public.nest_t', '{"k": 1, "v": 12}');
DROP TRIGGER nest_catch ON nest_t;
SELECT * FROM inbox.upsert('public.nest_t', '{"k": 1, "v": 13}');
SELECT * FROM nest_t WHERE k = 1;

DROP TABLE nest_t, nest_t2, nest_wide, nest_d, nest_d_log;
DROP DOMAIN nest_dom;
DROP FUNCTION nest_audit(), nest_self(), nest_check(int), nest_catch();
