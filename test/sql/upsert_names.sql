--
-- No name that the statements of inbox.upsert choose can be captured by a
-- user's column, table or schema: columns named after the alias (x), the
-- functions, the system columns' neighbours and the result's columns; a
-- table and a schema called x.  The row comes back whole, in every path:
-- insert, update, unchanged, the SELECT probe (partitioned tables, row-level
-- security), the statement that settles a key after three rounds, and
-- upsert_many.
--
CREATE TABLE points (id int PRIMARY KEY, x int, y int);
SELECT * FROM inbox.upsert('points', '{"id": 1, "x": 10, "y": 20}');
SELECT * FROM inbox.upsert('points', '{"id": 1, "x": 11}');
SELECT * FROM inbox.upsert('points', '{"id": 1, "x": 11}');
SELECT * FROM inbox.upsert_many('points', '[{"id": 2, "x": 1}, {"id": 2, "x": 2}, {"id": 2, "x": 2}]');

-- every name the statements use, as a column
CREATE SCHEMA x;
CREATE TABLE x.x (
	x int PRIMARY KEY,
	"excluded" text,
	to_jsonb text,
	pg_catalog text,
	"only" text,
	"row" text,
	action text,
	"xid" text,
	ord int,
	"OPERATOR" text
);
SELECT * FROM inbox.upsert('x.x', '{"x": 1, "excluded": "e", "to_jsonb": "t", "pg_catalog": "p", "only": "o", "row": "r", "action": "a", "xid": "i", "ord": 5, "OPERATOR": "op"}');
SELECT * FROM inbox.upsert('x.x', '{"x": 1, "excluded": "e2"}');
SELECT * FROM inbox.upsert('x.x', '{"x": 1, "excluded": "e2"}');
SELECT * FROM inbox.upsert_many('x.x', '[{"x": 2, "row": "r2"}, {"x": 2, "row": "r3"}]');
-- on the search_path, the schema x and its table x change nothing
SET search_path = x, public;
SELECT * FROM inbox.upsert('x', '{"x": 1, "action": "a2"}');
SELECT * FROM inbox.upsert('public.points', '{"id": 3, "x": 3}');
RESET search_path;

-- the SELECT probe: a partitioned table with a column x
CREATE TABLE ppoints (id int PRIMARY KEY, x int, y int) PARTITION BY RANGE (id);
CREATE TABLE ppoints_1 PARTITION OF ppoints FOR VALUES FROM (0) TO (100);
SELECT * FROM inbox.upsert('ppoints', '{"id": 1, "x": 10, "y": 20}');
SELECT * FROM inbox.upsert('ppoints', '{"id": 1, "x": 10, "y": 20}');
SELECT * FROM inbox.upsert('ppoints', '{"id": 1, "x": 12}');
SELECT * FROM inbox.upsert_many('ppoints', '[{"id": 2, "x": 1}, {"id": 2, "x": 1}]');

-- the SELECT probe: row-level security that applies to the caller
CREATE ROLE upsert_names_user;
CREATE TABLE rpoints (id int PRIMARY KEY, x int, owner text DEFAULT current_user);
ALTER TABLE rpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY rp_all ON rpoints USING (owner = current_user);
GRANT SELECT, INSERT, UPDATE ON rpoints TO upsert_names_user;
GRANT USAGE ON SCHEMA inbox TO upsert_names_user;
GRANT EXECUTE ON FUNCTION inbox.upsert(regclass, jsonb, text[]) TO upsert_names_user;
SET ROLE upsert_names_user;
SELECT * FROM inbox.upsert('rpoints', '{"id": 1, "x": 10}');
SELECT * FROM inbox.upsert('rpoints', '{"id": 1, "x": 10}');
SELECT * FROM inbox.upsert('rpoints', '{"id": 1, "x": 11}');
RESET ROLE;

-- the statement that settles a key after three rounds (here: a trigger
-- that replaces the row the first three times it fires, so that no round
-- finds the version it probed, and lets the fourth update through)
CREATE TABLE tpoints (id int PRIMARY KEY, x int);
CREATE TABLE tpoints_fired (n int);
INSERT INTO tpoints_fired VALUES (0);
CREATE FUNCTION tpoints_replace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF pg_trigger_depth() = 1 THEN
		UPDATE public.tpoints_fired SET n = n + 1;
		IF (SELECT n FROM public.tpoints_fired) <= 3 THEN
			DELETE FROM public.tpoints WHERE id = OLD.id;
			INSERT INTO public.tpoints VALUES (OLD.id, OLD.x);
			RETURN NULL;
		END IF;
	END IF;
	RETURN NEW;
END
$$;
INSERT INTO tpoints VALUES (1, 1);
CREATE TRIGGER tpoints_replace BEFORE UPDATE ON tpoints FOR EACH ROW EXECUTE FUNCTION tpoints_replace();
SELECT * FROM inbox.upsert('tpoints', '{"id": 1, "x": 5}');
SELECT n AS fired FROM tpoints_fired;
-- the same on the partitioned table
CREATE TRIGGER tpoints_replace BEFORE UPDATE ON ppoints FOR EACH ROW EXECUTE FUNCTION tpoints_replace();
CREATE OR REPLACE FUNCTION tpoints_replace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF pg_trigger_depth() = 1 THEN
		UPDATE public.tpoints_fired SET n = n + 1;
		IF (SELECT n FROM public.tpoints_fired) <= 3 THEN
			EXECUTE format('DELETE FROM %s WHERE id = $1', TG_RELID::regclass) USING OLD.id;
			EXECUTE format('INSERT INTO %s SELECT $1.*', TG_RELID::regclass) USING OLD;
			RETURN NULL;
		END IF;
	END IF;
	RETURN NEW;
END
$$;
UPDATE tpoints_fired SET n = 0;
SELECT * FROM inbox.upsert('ppoints', '{"id": 1, "x": 5}');
SELECT n AS fired FROM tpoints_fired;

DROP TABLE points, ppoints, rpoints, tpoints, tpoints_fired;
DROP FUNCTION tpoints_replace();
DROP SCHEMA x CASCADE;
REVOKE ALL ON SCHEMA inbox FROM upsert_names_user;
REVOKE ALL ON FUNCTION inbox.upsert(regclass, jsonb, text[]) FROM upsert_names_user;
DROP ROLE upsert_names_user;
