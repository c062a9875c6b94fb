--
-- No name that the statements of inbox.upsert choose can be captured by a
-- user's column, table or schema: columns named after the alias (x), the
-- functions, the system columns' neighbours and the result's columns; a
-- table and a schema called x.  The row comes back whole, in every path:
-- insert, update, unchanged, the SELECT probe (partitioned tables, row-level
-- security), the hand-written statement that settles a key, and
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

-- the hand-written statement that settles a key (here: a BEFORE INSERT
-- trigger that folds the key, so that the probe does not find the row the
-- INSERT meets)
CREATE TABLE tpoints (id int PRIMARY KEY, x int);
CREATE FUNCTION tpoints_fold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.id := NEW.id % 50;
	RETURN NEW;
END
$$;
INSERT INTO tpoints VALUES (1, 1);
CREATE TRIGGER tpoints_fold BEFORE INSERT ON tpoints FOR EACH ROW EXECUTE FUNCTION tpoints_fold();
SELECT * FROM inbox.upsert('tpoints', '{"id": 51, "x": 5}');
-- the same on the partitioned table
CREATE TRIGGER tpoints_fold BEFORE INSERT ON ppoints FOR EACH ROW EXECUTE FUNCTION tpoints_fold();
SELECT * FROM inbox.upsert('ppoints', '{"id": 51, "x": 5}');

DROP TABLE points, ppoints, rpoints, tpoints;
DROP FUNCTION tpoints_fold();
DROP SCHEMA x CASCADE;
REVOKE ALL ON SCHEMA inbox FROM upsert_names_user;
REVOKE ALL ON FUNCTION inbox.upsert(regclass, jsonb, text[]) FROM upsert_names_user;
DROP ROLE upsert_names_user;
