--
-- inbox.upsert and inbox.upsert_many: insert a row, update it, or leave it
-- alone, by a unique key, and never abort the caller's transaction on the
-- key itself.  Every error the contract names, with its SQLSTATE.
--
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
CREATE TABLE ups_log (n serial, note text);

CREATE TYPE ups_mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN ups_percent AS integer CHECK (VALUE BETWEEN 0 AND 100);
CREATE TABLE ups_items (
	sku text PRIMARY KEY,
	qty integer NOT NULL DEFAULT 0,
	price numeric,
	name text,
	active boolean DEFAULT true,
	seen_at timestamptz,
	attrs jsonb,
	tags text[],
	pct ups_percent,
	mood ups_mood,
	note text DEFAULT 'none'
);

--
-- inserted, unchanged, updated; each answer inside one transaction that
-- goes on afterwards and commits other work
--
BEGIN;
INSERT INTO ups_log (note) VALUES ('before');
-- a new key: the row, with the column defaults for the keys not given
SELECT action, "row" FROM inbox.upsert('ups_items', '{"sku": "a-1", "qty": 5, "name": "apple"}');
SELECT count(*) AS after_inserted FROM ups_items;
-- the same values again: nothing to do
SELECT action, "row" FROM inbox.upsert('ups_items', '{"name": "apple", "sku": "a-1", "qty": 5}');
SELECT count(*) AS after_unchanged FROM ups_items;
-- one value differs: updated; the columns not given keep their values
SELECT action, "row" FROM inbox.upsert('ups_items', '{"sku": "a-1", "qty": 6}');
SELECT count(*) AS after_updated FROM ups_items;
-- a subset of the columns that all hold their values: unchanged
SELECT action, "row" ->> 'qty' AS qty FROM inbox.upsert('ups_items', '{"sku": "a-1", "name": "apple"}');
-- only the key: unchanged for a stored row, inserted with defaults for a new one
SELECT action, "row" FROM inbox.upsert('ups_items', '{"sku": "a-1"}');
SELECT action, "row" FROM inbox.upsert('ups_items', '{"sku": "k-only"}');
-- the same key twice in one transaction: never a unique violation
SELECT action FROM inbox.upsert('ups_items', '{"sku": "twice", "qty": 1}');
SELECT action FROM inbox.upsert('ups_items', '{"sku": "twice", "qty": 1}');
SELECT action FROM inbox.upsert('ups_items', '{"sku": "twice", "qty": 2}');
INSERT INTO ups_log (note) VALUES ('after');
COMMIT;
SELECT note FROM ups_log ORDER BY n;
SELECT sku, qty, name, active, note FROM ups_items ORDER BY sku;
-- conflict_columns given explicitly: the primary key, as by default
SELECT action, "row" ->> 'qty' AS qty FROM inbox.upsert('ups_items', '{"sku": "a-1", "qty": 7}', '{sku}');
-- a savepoint rolled back takes the upsert with it
BEGIN;
SAVEPOINT s;
SELECT action FROM inbox.upsert('ups_items', '{"sku": "sp", "qty": 1}');
ROLLBACK TO SAVEPOINT s;
SELECT action FROM inbox.upsert('ups_items', '{"sku": "sp", "qty": 2}');
COMMIT;
SELECT sku, qty FROM ups_items WHERE sku = 'sp';

--
-- conversion of the values, as jsonb_populate_record does
--
-- strings through the type's input function, numbers and booleans through
-- their text; the jsonb column takes the JSON value itself; a JSON array
-- for the text[] column; a domain and an enum
SELECT action, "row" FROM inbox.upsert('ups_items', '{
	"sku": "c-1", "qty": "7", "price": 12.50, "name": 42, "active": false,
	"seen_at": "2026-01-02 03:04:05+02", "attrs": {"b": [1, 2], "a": null},
	"tags": ["x", "y z", null], "pct": 42, "mood": "happy", "note": null}');
-- the same as jsonb_populate_record gives for the same object
SELECT to_jsonb(p) = (SELECT to_jsonb(i) FROM ups_items i WHERE sku = 'c-1') AS as_populate_record
FROM jsonb_populate_record(NULL::ups_items, '{
	"sku": "c-1", "qty": "7", "price": 12.50, "name": 42, "active": false,
	"seen_at": "2026-01-02 03:04:05+02", "attrs": {"b": [1, 2], "a": null},
	"tags": ["x", "y z", null], "pct": 42, "mood": "happy", "note": null}') p;
-- other spellings: a boolean and an integer as strings, an array literal as
-- a string, a JSON string and a JSON number for the jsonb column
SELECT action, "row" FROM inbox.upsert('ups_items', '{
	"sku": "c-2", "qty": 3, "active": "yes", "tags": "{a,\"b c\"}", "attrs": "just a string", "price": "1e3"}');
SELECT action, "row" -> 'attrs' AS attrs FROM inbox.upsert('ups_items', '{"sku": "c-3", "attrs": 17.5}');
-- JSON null is SQL NULL: a value set to NULL is an update, NULL again is not
SELECT action, "row" ->> 'name' AS name FROM inbox.upsert('ups_items', '{"sku": "c-1", "name": null}');
SELECT action, "row" ->> 'name' AS name FROM inbox.upsert('ups_items', '{"sku": "c-1", "name": null}');
SELECT name IS NULL AS name_is_null FROM ups_items WHERE sku = 'c-1';
-- compared as stored images: numeric 1.0 and 1.00 differ, jsonb key order and
-- the same instant written in another zone do not
SELECT action, "row" ->> 'price' AS price FROM inbox.upsert('ups_items', '{"sku": "c-1", "price": 1.0}');
SELECT action, "row" ->> 'price' AS price FROM inbox.upsert('ups_items', '{"sku": "c-1", "price": 1.0}');
SELECT action, "row" ->> 'price' AS price FROM inbox.upsert('ups_items', '{"sku": "c-1", "price": 1.00}');
SELECT action FROM inbox.upsert('ups_items', '{"sku": "c-1", "attrs": {"a": null, "b": [1, 2]}}');
SELECT action FROM inbox.upsert('ups_items', '{"sku": "c-1", "seen_at": "2026-01-02 01:04:05+00"}');
SELECT action FROM inbox.upsert('ups_items', '{"sku": "c-1", "tags": ["x", "y z", null]}');
SELECT action FROM inbox.upsert('ups_items', '{"sku": "c-1", "tags": ["x", "y z"]}');
SELECT action FROM inbox.upsert('ups_items', '{"sku": "c-1", "mood": "happy", "pct": "42"}');
SELECT action FROM inbox.upsert('ups_items', '{"sku": "c-1", "name": ""}');
SELECT action FROM inbox.upsert('ups_items', '{"sku": "c-1", "name": ""}');
SELECT action FROM inbox.upsert('ups_items', '{"sku": "c-1", "name": " "}');
-- a value the type rejects raises that type's error
SELECT * FROM inbox.upsert('ups_items', '{"sku": "c-9", "qty": "many"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "c-9", "qty": 1.5}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "c-9", "qty": 99999999999}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "c-9", "active": "perhaps"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "c-9", "seen_at": "not a date"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "c-9", "pct": 150}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "c-9", "mood": "angry"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "c-9", "tags": "not an array"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- NOT NULL applies as for a hand-written statement, on insert and on update
SELECT * FROM inbox.upsert('ups_items', '{"sku": "c-9", "qty": null}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "c-1", "qty": null}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT count(*) AS c9_rows FROM ups_items WHERE sku = 'c-9';

-- typmods, json, composites, arrays of them, multidimensional arrays
CREATE TYPE ups_dims AS (w integer, h integer);
CREATE TABLE ups_conv (
	k bigint PRIMARY KEY,
	j json,
	dims ups_dims,
	dims_list ups_dims[],
	grid integer[],
	amount numeric(6,2),
	code varchar(3),
	flag char(3)
);
SELECT action, "row" FROM inbox.upsert('ups_conv', '{
	"k": "9000000000", "j": {"b": 1, "a": [true, null]}, "dims": {"w": 1, "h": 2},
	"dims_list": [{"w": 3, "h": 4}, {"w": 5}], "grid": [[1, 2], [3, 4]],
	"amount": 1.005, "code": "ab", "flag": "x"}');
SELECT to_jsonb(p) = (SELECT to_jsonb(c) FROM ups_conv c WHERE k = 9000000000) AS as_populate_record
FROM jsonb_populate_record(NULL::ups_conv, '{
	"k": "9000000000", "j": {"b": 1, "a": [true, null]}, "dims": {"w": 1, "h": 2},
	"dims_list": [{"w": 3, "h": 4}, {"w": 5}], "grid": [[1, 2], [3, 4]],
	"amount": 1.005, "code": "ab", "flag": "x"}') p;
-- the typmod applies before the comparison: 1.005 and 1.01 are stored alike
SELECT action, "row" ->> 'amount' AS amount FROM inbox.upsert('ups_conv', '{"k": 9000000000, "amount": 1.01}');
SELECT action, "row" ->> 'flag' AS flag FROM inbox.upsert('ups_conv', '{"k": 9000000000, "flag": "x  "}');
-- a composite as a string, as record_in reads it
SELECT action, "row" -> 'dims' AS dims FROM inbox.upsert('ups_conv', '{"k": 9000000000, "dims": "(1,2)"}');
SELECT action, "row" -> 'dims' AS dims FROM inbox.upsert('ups_conv', '{"k": 9000000000, "dims": "(1,3)"}');
-- a json column stores the value as jsonb prints it (data is jsonb): the same
-- object with its keys in another order is unchanged
SELECT action FROM inbox.upsert('ups_conv', '{"k": 9000000000, "j": {"a": [true, null], "b": 1}}');
SELECT * FROM inbox.upsert('ups_conv', '{"k": 9000000000, "code": "abcd"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_conv', '{"k": 9000000000, "amount": 123456}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_conv', '{"k": 9000000000, "grid": [[1, 2], [3]]}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_conv', '{"k": "nine", "code": "a"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- the key is found with the index's equality, not by its text: numeric
-- 1.0 finds 1, and the key columns are not written
CREATE TABLE ups_numkey (id numeric PRIMARY KEY, v text);
SELECT action, "row" FROM inbox.upsert('ups_numkey', '{"id": 1, "v": "a"}');
SELECT action, "row" FROM inbox.upsert('ups_numkey', '{"id": 1.0, "v": "a"}');
SELECT action, "row" FROM inbox.upsert('ups_numkey', '{"id": "1.00", "v": "b"}');
DROP TABLE ups_numkey, ups_conv;
DROP TYPE ups_dims;

-- large values, compressed or stored out of line, compare as their content
CREATE TABLE ups_big (k integer PRIMARY KEY, compressible text, random text, doc jsonb);
SELECT action FROM inbox.upsert('ups_big', jsonb_build_object('k', 1,
	'compressible', repeat('abc', 10000),
	'random', (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 300) g),
	'doc', (SELECT jsonb_object_agg('key' || g, md5(g::text)) FROM generate_series(1, 300) g)));
SELECT pg_column_size(compressible) < 30000 AS compressed, pg_column_size(random) AS random_size
FROM ups_big;
SELECT action FROM inbox.upsert('ups_big', jsonb_build_object('k', 1,
	'compressible', repeat('abc', 10000),
	'random', (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 300) g),
	'doc', (SELECT jsonb_object_agg('key' || g, md5(g::text)) FROM generate_series(1, 300) g)));
SELECT action FROM inbox.upsert('ups_big', jsonb_build_object('k', 1,
	'random', (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 300) g) || 'x'));
SELECT action, length("row" ->> 'random') AS random_length FROM inbox.upsert('ups_big', jsonb_build_object('k', 1,
	'compressible', repeat('abc', 10000)));
DROP TABLE ups_big;

-- a key under a case-insensitive collation: the index's equality finds the
-- stored row, whose key is kept as stored
CREATE COLLATION ups_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE ups_ci_users (login text COLLATE ups_ci PRIMARY KEY, name text);
SELECT action, "row" FROM inbox.upsert('ups_ci_users', '{"login": "Alice", "name": "A"}');
SELECT action, "row" FROM inbox.upsert('ups_ci_users', '{"login": "ALICE", "name": "A"}');
SELECT action, "row" FROM inbox.upsert('ups_ci_users', '{"login": "alice", "name": "a"}');
SELECT login, name FROM ups_ci_users;
DROP TABLE ups_ci_users;
DROP COLLATION ups_ci;

-- a temporary table: the caller's name resolution finds it
CREATE TEMP TABLE ups_tmp (k integer PRIMARY KEY, v text);
SELECT action, "row" FROM inbox.upsert('ups_tmp', '{"k": 1, "v": "temp"}');
SELECT action, "row" FROM inbox.upsert('ups_tmp', '{"k": 1, "v": "temp"}');
DROP TABLE ups_tmp;

-- many column sets and tables in one session: every call right (the plan
-- cache is bounded, and evicting from it loses nothing)
CREATE TABLE ups_wide (k integer PRIMARY KEY, c1 integer, c2 integer, c3 integer,
	c4 integer, c5 integer, c6 integer, c7 integer, c8 integer, c9 integer);
SELECT count(*) FILTER (WHERE r.action = 'inserted') AS inserted
FROM generate_series(0, 511) g,
	inbox.upsert('ups_wide', coalesce((SELECT jsonb_object_agg('c' || b, g) FROM generate_series(1, 9) b
		WHERE g & (1 << (b - 1)) <> 0), '{}') || jsonb_build_object('k', g)) r;
SELECT count(*) FILTER (WHERE r.action = 'unchanged') AS unchanged
FROM generate_series(0, 511) g,
	inbox.upsert('ups_wide', coalesce((SELECT jsonb_object_agg('c' || b, g) FROM generate_series(1, 9) b
		WHERE g & (1 << (b - 1)) <> 0), '{}') || jsonb_build_object('k', g)) r;
SELECT count(*) FILTER (WHERE r.action = 'updated') AS updated
FROM generate_series(0, 511) g,
	inbox.upsert('ups_wide', coalesce((SELECT jsonb_object_agg('c' || b, -g) FROM generate_series(1, 9) b
		WHERE g & (1 << (b - 1)) <> 0), '{}') || jsonb_build_object('k', g)) r;
-- each row holds -k in the columns of k's bits, NULL elsewhere
SELECT count(*) AS wrong FROM ups_wide
WHERE (c1, c2, c3, c4, c5, c6, c7, c8, c9) IS DISTINCT FROM
	(CASE WHEN k & 1 <> 0 THEN -k END, CASE WHEN k & 2 <> 0 THEN -k END,
	 CASE WHEN k & 4 <> 0 THEN -k END, CASE WHEN k & 8 <> 0 THEN -k END,
	 CASE WHEN k & 16 <> 0 THEN -k END, CASE WHEN k & 32 <> 0 THEN -k END,
	 CASE WHEN k & 64 <> 0 THEN -k END, CASE WHEN k & 128 <> 0 THEN -k END,
	 CASE WHEN k & 256 <> 0 THEN -k END);
DROP TABLE ups_wide;
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXECUTE format('CREATE TEMP TABLE ups_many_%s (k integer PRIMARY KEY, v integer)', i);
		PERFORM inbox.upsert(format('ups_many_%s', i)::regclass, jsonb_build_object('k', 1, 'v', i));
	END LOOP;
	FOR i IN 1..300 LOOP
		IF (SELECT action FROM inbox.upsert(format('ups_many_%s', i)::regclass, jsonb_build_object('k', 1, 'v', i))) <> 'unchanged' THEN
			RAISE EXCEPTION 'table % not unchanged', i;
		END IF;
		EXECUTE format('DROP TABLE ups_many_%s', i);
	END LOOP;
	RAISE NOTICE '300 tables, each inserted then unchanged';
END
$$;

--
-- errors of the arguments
--
SELECT * FROM inbox.upsert(NULL, '{"sku": "e-1"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '[{"sku": "e-1"}]');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '"e-1"');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '1');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', 'null');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- keys are column names exactly as stored: no folding, no quoting
SELECT * FROM inbox.upsert('ups_items', '{"sku": "e-1", "nope": 1}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "e-1", "QTY": 1}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "e-1", "\"qty\"": 1}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "e-1", "": 1}');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- system columns are not columns here
SELECT * FROM inbox.upsert('ups_items', '{"sku": "e-1", "ctid": "(0,1)"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "e-1", "xmin": "1"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "e-1", "tableoid": "1"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT count(*) AS e1_rows FROM ups_items WHERE sku = 'e-1';

-- not a table
CREATE VIEW ups_items_view AS SELECT * FROM ups_items;
CREATE MATERIALIZED VIEW ups_items_mv AS SELECT * FROM ups_items;
CREATE SEQUENCE ups_seq;
CREATE FOREIGN DATA WRAPPER ups_fdw;
CREATE SERVER ups_server FOREIGN DATA WRAPPER ups_fdw;
CREATE FOREIGN TABLE ups_foreign (sku text, qty integer) SERVER ups_server;
CREATE TYPE ups_composite AS (sku text, qty integer);
SELECT * FROM inbox.upsert('ups_items_view', '{"sku": "a-1", "qty": 1}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items_mv', '{"sku": "a-1", "qty": 1}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_seq', '{"last_value": 1}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_foreign', '{"sku": "a-1", "qty": 1}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items_pkey', '{"sku": "a-1"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_composite'::regclass, '{"sku": "a-1", "qty": 1}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert(0, '{"sku": "a-1"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
DROP VIEW ups_items_view;
DROP MATERIALIZED VIEW ups_items_mv;
DROP SEQUENCE ups_seq;
DROP FOREIGN TABLE ups_foreign;
DROP SERVER ups_server;
DROP FOREIGN DATA WRAPPER ups_fdw;
DROP TYPE ups_composite;

-- identity and generated columns
CREATE TABLE ups_ident (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	code text NOT NULL UNIQUE,
	v integer,
	doubled integer GENERATED ALWAYS AS (v * 2) STORED
);
-- the default target is the primary key, which the data must then contain
SELECT * FROM inbox.upsert('ups_ident', '{"code": "i-1", "v": 1}');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- by the business key: the identity is drawn, the generated column computed
SELECT action, "row" FROM inbox.upsert('ups_ident', '{"code": "i-1", "v": 1}', '{code}');
SELECT action, "row" FROM inbox.upsert('ups_ident', '{"code": "i-1", "v": 2}', '{code}');
SELECT action, "row" FROM inbox.upsert('ups_ident', '{"code": "i-1", "v": 2}', '{code}');
-- PostgreSQL's own error for an INSERT into those columns
SELECT * FROM inbox.upsert('ups_ident', '{"code": "i-2", "id": 5}', '{code}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_ident', '{"code": "i-1", "id": 1}', '{code}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_ident', '{"code": "i-2", "doubled": 4}', '{code}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_ident', '{"code": "i-1", "doubled": 4}', '{code}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_ident', '{"id": 1, "v": 3}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT id, code, v, doubled FROM ups_ident ORDER BY id;
-- an identity GENERATED BY DEFAULT may be given, as in an INSERT
CREATE TABLE ups_ident_bd (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text);
SELECT action, "row" FROM inbox.upsert('ups_ident_bd', '{"id": 100, "v": "given"}');
SELECT action, "row" FROM inbox.upsert('ups_ident_bd', '{"id": 100, "v": "changed"}');
DROP TABLE ups_ident, ups_ident_bd;

--
-- the conflict target
--
-- the conflict columns must be in the data, and not null
SELECT * FROM inbox.upsert('ups_items', '{"qty": 1}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": null, "qty": 1}');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- conflict_columns that are not a list of distinct columns
SELECT * FROM inbox.upsert('ups_items', '{"sku": "a-1"}', '{}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "a-1"}', ARRAY[NULL]::text[]);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "a-1"}', '{sku,NULL}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "a-1"}', '{sku,sku}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "a-1"}', '{nope}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "a-1"}', '{SKU}');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- columns of no unique index
SELECT * FROM inbox.upsert('ups_items', '{"sku": "a-1", "qty": 1}', '{qty}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_items', '{"sku": "a-1", "qty": 1}', '{sku,qty}');
\echo sqlstate :LAST_ERROR_SQLSTATE

-- no unique index at all
CREATE TABLE ups_nokey (a integer, b text);
SELECT * FROM inbox.upsert('ups_nokey', '{"a": 1, "b": "x"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_nokey', '{"a": 1, "b": "x"}', '{a}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT count(*) FROM ups_nokey;
DROP TABLE ups_nokey;

-- two unique indexes and no primary key: the default is ambiguous, and the
-- error lists the candidates
CREATE TABLE ups_two (a integer UNIQUE, b text UNIQUE, c text);
SELECT * FROM inbox.upsert('ups_two', '{"a": 1, "b": "x", "c": "c"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT action, "row" FROM inbox.upsert('ups_two', '{"a": 1, "b": "x", "c": "c"}', '{a}');
SELECT action, "row" FROM inbox.upsert('ups_two', '{"a": 1, "b": "y", "c": "c"}', '{a}');
SELECT action, "row" FROM inbox.upsert('ups_two', '{"a": 2, "b": "y", "c": "d"}', '{b}');
DROP TABLE ups_two;

-- a primary key and another unique index: the primary key by default; the
-- other one when named; the unique index not used as the target still
-- raises 23505 when violated
CREATE TABLE ups_users (id integer PRIMARY KEY, email text NOT NULL UNIQUE, name text);
SELECT action, "row" FROM inbox.upsert('ups_users', '{"id": 1, "email": "a@example.com", "name": "A"}');
SELECT action, "row" FROM inbox.upsert('ups_users', '{"id": 2, "email": "b@example.com", "name": "B"}');
SELECT * FROM inbox.upsert('ups_users', '{"id": 3, "email": "a@example.com", "name": "C"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_users', '{"id": 2, "email": "a@example.com"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- by email: the id is an ordinary column then
SELECT action, "row" FROM inbox.upsert('ups_users', '{"email": "a@example.com", "name": "A2"}', '{email}');
SELECT * FROM inbox.upsert('ups_users', '{"email": "a@example.com", "id": 2}', '{email}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_users', '{"email": "c@example.com", "id": 2}', '{email}');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- inside a transaction, the 23505 aborts it as any statement's error would
BEGIN;
SELECT action FROM inbox.upsert('ups_users', '{"id": 4, "email": "d@example.com"}');
SELECT * FROM inbox.upsert('ups_users', '{"id": 5, "email": "d@example.com"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT id, email, name FROM ups_users ORDER BY id;
DROP TABLE ups_users;

-- a composite unique index, the only one: the default; conflict_columns in
-- any order; a subset of it is no match
CREATE TABLE ups_pair (a integer NOT NULL, b integer NOT NULL, v text, UNIQUE (a, b));
SELECT action, "row" FROM inbox.upsert('ups_pair', '{"a": 1, "b": 2, "v": "x"}');
SELECT action, "row" FROM inbox.upsert('ups_pair', '{"b": 2, "a": 1, "v": "y"}', '{b,a}');
SELECT action, "row" FROM inbox.upsert('ups_pair', '{"b": 2, "a": 1, "v": "y"}', '{a,b}');
SELECT action, "row" FROM inbox.upsert('ups_pair', '{"a": 2, "b": 1, "v": "z"}', '{b,a}');
SELECT * FROM inbox.upsert('ups_pair', '{"a": 1, "b": 2, "v": "w"}', '{a}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_pair', '{"a": 1, "v": "w"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_pair', '{"a": 1, "b": null, "v": "w"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT a, b, v FROM ups_pair ORDER BY a, b;
DROP TABLE ups_pair;

-- partial and expression unique indexes are not eligible: not by default,
-- and not supported when named
CREATE TABLE ups_partial (a integer, email text, v text);
CREATE UNIQUE INDEX ups_partial_a ON ups_partial (a) WHERE a > 0;
CREATE UNIQUE INDEX ups_partial_email ON ups_partial (lower(email));
SELECT * FROM inbox.upsert('ups_partial', '{"a": 1, "v": "x"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert('ups_partial', '{"a": 1, "v": "x"}', '{a}');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- (the unique index on lower(email) is the only one on that column; only
-- the SQLSTATE is shown)
DO $$
BEGIN
	PERFORM inbox.upsert('ups_partial', '{"email": "A@example.com", "v": "x"}', '{email}');
	RAISE NOTICE 'no error';
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'SQLSTATE %', SQLSTATE;
END
$$;
-- ... and do not make the default ambiguous next to an eligible one
CREATE UNIQUE INDEX ups_partial_v ON ups_partial (v);
SELECT action, "row" FROM inbox.upsert('ups_partial', '{"a": 1, "v": "x"}');
SELECT count(*) FROM ups_partial;
DROP TABLE ups_partial;

-- a deferrable unique constraint is not eligible either
CREATE TABLE ups_defer (a integer UNIQUE DEFERRABLE, b integer UNIQUE, v text);
SELECT action, "row" FROM inbox.upsert('ups_defer', '{"a": 1, "b": 1, "v": "x"}');
SELECT action, "row" FROM inbox.upsert('ups_defer', '{"a": 2, "b": 1, "v": "y"}');
DROP TABLE ups_defer;

--
-- identifiers that look like SQL: quotes, spaces, semicolons, upper case,
-- a reserved word and a parameter symbol; the values are stored as they are
--
CREATE TABLE ups_victim (n integer);
INSERT INTO ups_victim VALUES (1);
CREATE SCHEMA "Ups Schema; DROP TABLE ups_victim; --";
CREATE TABLE "Ups Schema; DROP TABLE ups_victim; --"."Ups ""Table""; DELETE FROM ups_victim; --" (
	"the ""key""" text PRIMARY KEY,
	"a b; DELETE FROM ups_victim; --" text,
	"UPPER" integer,
	"order" integer,
	"$1" text,
	"x') OR true; --" text
);
SELECT action, "row"
FROM inbox.upsert(
	'"Ups Schema; DROP TABLE ups_victim; --"."Ups ""Table""; DELETE FROM ups_victim; --"',
	'{"the \"key\"": "k''; DROP TABLE ups_victim; --", "a b; DELETE FROM ups_victim; --": "v",
	  "UPPER": 1, "order": 2, "$1": "$2", "x'') OR true; --": "''); DROP TABLE ups_victim; --"}');
SELECT action, "row" ->> 'UPPER' AS "UPPER"
FROM inbox.upsert(
	'"Ups Schema; DROP TABLE ups_victim; --"."Ups ""Table""; DELETE FROM ups_victim; --"',
	'{"the \"key\"": "k''; DROP TABLE ups_victim; --", "UPPER": 3}',
	ARRAY['the "key"']);
SELECT action
FROM inbox.upsert(
	'"Ups Schema; DROP TABLE ups_victim; --"."Ups ""Table""; DELETE FROM ups_victim; --"',
	'{"the \"key\"": "k''; DROP TABLE ups_victim; --", "UPPER": 3, "$1": "$2"}');
-- the lower-case spelling of "UPPER" is another (missing) column
SELECT * FROM inbox.upsert(
	'"Ups Schema; DROP TABLE ups_victim; --"."Ups ""Table""; DELETE FROM ups_victim; --"',
	'{"the \"key\"": "k2", "upper": 1}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert(
	'"Ups Schema; DROP TABLE ups_victim; --"."Ups ""Table""; DELETE FROM ups_victim; --"',
	'{"the \"key\"": "k2", "\"UPPER\"": 1}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM "Ups Schema; DROP TABLE ups_victim; --"."Ups ""Table""; DELETE FROM ups_victim; --";
-- nothing else was touched
SELECT n FROM ups_victim;
DROP SCHEMA "Ups Schema; DROP TABLE ups_victim; --" CASCADE;
DROP TABLE ups_victim;

--
-- unchanged writes nothing: no transaction id, no WAL, no row version, no
-- trigger (row or statement level); updated writes only the columns given
--
CREATE TABLE ups_trig (k integer PRIMARY KEY, a text, b text, c text DEFAULT 'c0');
CREATE TABLE ups_trig_log (n serial, what text);
-- (triggers run under the caller's search_path: test/sql/upsert_search_path.sql)
CREATE FUNCTION ups_trig_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_LEVEL = 'ROW' THEN
		INSERT INTO public.ups_trig_log (what) VALUES (TG_NAME || ' k=' || NEW.k);
		RETURN NEW;
	END IF;
	INSERT INTO public.ups_trig_log (what) VALUES (TG_NAME);
	RETURN NULL;
END;
$$;
CREATE TRIGGER b_ins_stmt BEFORE INSERT ON ups_trig FOR EACH STATEMENT EXECUTE FUNCTION ups_trig_log();
CREATE TRIGGER b_upd_stmt BEFORE UPDATE ON ups_trig FOR EACH STATEMENT EXECUTE FUNCTION ups_trig_log();
CREATE TRIGGER a_ins_stmt AFTER INSERT ON ups_trig FOR EACH STATEMENT EXECUTE FUNCTION ups_trig_log();
CREATE TRIGGER a_upd_stmt AFTER UPDATE ON ups_trig FOR EACH STATEMENT EXECUTE FUNCTION ups_trig_log();
CREATE TRIGGER b_upd_row BEFORE UPDATE ON ups_trig FOR EACH ROW EXECUTE FUNCTION ups_trig_log();
CREATE TRIGGER a_ins_row AFTER INSERT ON ups_trig FOR EACH ROW EXECUTE FUNCTION ups_trig_log();
CREATE TRIGGER a_upd_row AFTER UPDATE ON ups_trig FOR EACH ROW EXECUTE FUNCTION ups_trig_log();
-- fire only when the column is among those written
CREATE TRIGGER a_upd_of_a AFTER UPDATE OF a ON ups_trig FOR EACH ROW EXECUTE FUNCTION ups_trig_log();
CREATE TRIGGER a_upd_of_b AFTER UPDATE OF b ON ups_trig FOR EACH ROW EXECUTE FUNCTION ups_trig_log();
CREATE TRIGGER a_upd_of_c AFTER UPDATE OF c ON ups_trig FOR EACH ROW EXECUTE FUNCTION ups_trig_log();

SELECT action, "row" FROM inbox.upsert('ups_trig', '{"k": 1, "a": "a0", "b": "b0"}');
SELECT action, "row" FROM inbox.upsert('ups_trig', '{"k": 2, "a": "a0", "b": "b0"}');
-- the row triggers of the inserts (statement triggers are not shown here)
SELECT what FROM ups_trig_log WHERE what LIKE '%k=%' ORDER BY n;
TRUNCATE ups_trig_log;
-- unchanged, as single calls and in a batch: no trigger fires, not even a
-- statement trigger
SELECT action FROM inbox.upsert('ups_trig', '{"k": 1, "a": "a0", "b": "b0"}');
SELECT action FROM inbox.upsert('ups_trig', '{"k": 1, "c": "c0"}');
SELECT action FROM inbox.upsert('ups_trig', '{"k": 1}');
SELECT ord, action FROM inbox.upsert_many('ups_trig', '[{"k": 1, "a": "a0"}, {"k": 2, "b": "b0", "c": "c0"}]');
SELECT what AS fired FROM ups_trig_log ORDER BY n;
TRUNCATE ups_trig_log;

-- on a table without triggers: no transaction id, no WAL, no new row
-- version, no value drawn from the identity sequence
CREATE TABLE ups_quiet (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	k integer NOT NULL UNIQUE,
	a text,
	b jsonb
);
SELECT count(*) FROM generate_series(1, 100) g,
	inbox.upsert('ups_quiet', jsonb_build_object('k', g, 'a', 'a' || g, 'b', jsonb_build_object('g', g)), '{k}');
-- read the rows once, so that setting hint bits is not counted below
SELECT count(*) FROM ups_quiet;
-- a round of 200 unchanged calls, repeated until the WAL insert position
-- stays put around one: true if it did in one of five rounds
CREATE FUNCTION ups_quiet_no_wal() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	lsn0 pg_lsn;
	n bigint;
BEGIN
	FOR round IN 1..5 LOOP
		lsn0 := pg_current_wal_insert_lsn();
		SELECT count(*) INTO n FROM generate_series(1, 100) g,
			inbox.upsert('ups_quiet', jsonb_build_object('k', g, 'a', 'a' || g, 'b', jsonb_build_object('g', g)), '{k}') r
		WHERE r.action = 'unchanged';
		SELECT n + count(*) INTO n FROM inbox.upsert_many('ups_quiet',
			(SELECT jsonb_agg(jsonb_build_object('k', g, 'a', 'a' || g)) FROM generate_series(1, 100) g), '{k}') r
		WHERE r.action = 'unchanged';
		IF n <> 200 THEN
			RAISE EXCEPTION 'only % of 200 calls answered unchanged', n;
		END IF;
		IF pg_current_wal_insert_lsn() = lsn0 THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END;
$$;
SELECT xmin AS xmin_k1, ctid AS ctid_k1 FROM ups_quiet WHERE k = 1 \gset
SELECT last_value AS seq0 FROM ups_quiet_id_seq \gset
BEGIN;
SELECT n_tup_ins AS ins0, n_tup_upd AS upd0
FROM pg_stat_xact_user_tables WHERE relid = 'ups_quiet'::regclass \gset
SELECT action, "row" FROM inbox.upsert('ups_quiet', '{"k": 1, "a": "a1", "b": {"g": 1}}', '{k}');
SELECT action FROM inbox.upsert('ups_quiet', '{"k": 1}', '{k}');
SELECT count(*) AS unchanged FROM generate_series(1, 100) g,
	inbox.upsert('ups_quiet', jsonb_build_object('k', g, 'a', 'a' || g, 'b', jsonb_build_object('g', g)), '{k}') r
WHERE r.action = 'unchanged';
SELECT count(*) AS unchanged FROM generate_series(1, 100) g,
	inbox.upsert('ups_quiet', jsonb_build_object('k', g, 'a', 'a' || g), '{k}') r
WHERE r.action = 'unchanged';
SELECT count(*) AS unchanged FROM inbox.upsert_many('ups_quiet',
	(SELECT jsonb_agg(jsonb_build_object('k', g, 'b', jsonb_build_object('g', g))) FROM generate_series(1, 100) g),
	'{k}') r
WHERE r.action = 'unchanged';
SELECT pg_current_xact_id_if_assigned() IS NULL AS no_xid;
-- WAL: the WAL insert position is the cluster's, and another backend
-- (autovacuum, the background writer's snapshot record) may write at any
-- moment; so the unchanged calls are repeated, up to five rounds, until the
-- position stays put around a round.  Writes of upsert itself move it in
-- every round.
SELECT ups_quiet_no_wal() AS no_wal;
SELECT pg_current_xact_id_if_assigned() IS NULL AS still_no_xid;
SELECT n_tup_ins - :ins0 AS inserted, n_tup_upd - :upd0 AS updated
FROM pg_stat_xact_user_tables WHERE relid = 'ups_quiet'::regclass;
-- the transaction goes on
SELECT count(*) FROM ups_quiet;
COMMIT;
-- the same row version as before, and no identity value drawn
SELECT xmin = :'xmin_k1'::xid AS same_xmin, ctid = :'ctid_k1'::tid AS same_ctid FROM ups_quiet WHERE k = 1;
SELECT last_value - :seq0 AS ids_drawn FROM ups_quiet_id_seq;
DROP TABLE ups_quiet;
DROP FUNCTION ups_quiet_no_wal();

-- the test can fail: an update writes, assigns a transaction id and fires
-- the triggers; only the column given is written (UPDATE OF a fires, UPDATE
-- OF b and UPDATE OF c do not), the others keep their values
BEGIN;
SELECT pg_current_wal_insert_lsn() AS lsn0 \gset
SELECT action, "row" FROM inbox.upsert('ups_trig', '{"k": 1, "a": "a1"}');
SELECT pg_current_xact_id_if_assigned() IS NOT NULL AS has_xid,
	   pg_current_wal_insert_lsn() > :'lsn0'::pg_lsn AS wrote_wal;
COMMIT;
SELECT what FROM ups_trig_log WHERE what LIKE '%k=%' ORDER BY n;
TRUNCATE ups_trig_log;
-- a column given with its stored value next to one that changes is written
-- too (it is in the data); a column not given is not
SELECT action, "row" FROM inbox.upsert('ups_trig', '{"k": 2, "a": "a0", "b": "b1"}');
SELECT what FROM ups_trig_log WHERE what LIKE '%k=%' ORDER BY n;
TRUNCATE ups_trig_log;
SELECT k, a, b, c FROM ups_trig ORDER BY k;

-- a BEFORE trigger that changes the row: the row returned is the stored one
CREATE FUNCTION ups_trig_upper() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.c := upper(NEW.c);
	RETURN NEW;
END;
$$;
CREATE TRIGGER b_upper BEFORE INSERT OR UPDATE ON ups_trig FOR EACH ROW EXECUTE FUNCTION ups_trig_upper();
SELECT action, "row" FROM inbox.upsert('ups_trig', '{"k": 3, "c": "new"}');
SELECT action, "row" FROM inbox.upsert('ups_trig', '{"k": 1, "c": "changed"}');
DROP TRIGGER b_upper ON ups_trig;
DROP TABLE ups_trig, ups_trig_log;
DROP FUNCTION ups_trig_log(), ups_trig_upper();

--
-- ALTER TABLE between two calls in one session: the cached plans follow
--
CREATE TABLE ups_alter (k integer PRIMARY KEY, a text, b integer);
SELECT action, "row" FROM inbox.upsert('ups_alter', '{"k": 1, "a": "x", "b": 1}');
SELECT action, "row" FROM inbox.upsert('ups_alter', '{"k": 1, "a": "x", "b": 2}');
-- a new column, used at once; its default on insert
ALTER TABLE ups_alter ADD COLUMN color text DEFAULT 'red';
SELECT action, "row" FROM inbox.upsert('ups_alter', '{"k": 1, "a": "x", "b": 2}');
SELECT action, "row" FROM inbox.upsert('ups_alter', '{"k": 1, "color": "blue"}');
SELECT action, "row" FROM inbox.upsert('ups_alter', '{"k": 2, "a": "y", "b": 2}');
-- a dropped column: an unknown key now, and gone from the row
ALTER TABLE ups_alter DROP COLUMN a;
SELECT * FROM inbox.upsert('ups_alter', '{"k": 1, "a": "x", "b": 2}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT attname AS dropped_name FROM pg_attribute
WHERE attrelid = 'ups_alter'::regclass AND attisdropped \gset
SELECT * FROM inbox.upsert('ups_alter', jsonb_build_object('k', 1, :'dropped_name', 'x'));
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT action, "row" FROM inbox.upsert('ups_alter', '{"k": 1, "b": 2}');
SELECT action, "row" FROM inbox.upsert('ups_alter', '{"k": 3, "b": 3}');
-- a column's type changes: a value only the new type takes
SELECT * FROM inbox.upsert('ups_alter', '{"k": 1, "b": 10000000000}');
\echo sqlstate :LAST_ERROR_SQLSTATE
ALTER TABLE ups_alter ALTER COLUMN b TYPE bigint;
SELECT action, "row" FROM inbox.upsert('ups_alter', '{"k": 1, "b": 10000000000}');
SELECT action, "row" FROM inbox.upsert('ups_alter', '{"k": 1, "b": 10000000000}');
ALTER TABLE ups_alter ALTER COLUMN b TYPE text;
SELECT action, "row" FROM inbox.upsert('ups_alter', '{"k": 1, "b": "ten billion"}');
-- a renamed column
ALTER TABLE ups_alter RENAME COLUMN color TO colour;
SELECT * FROM inbox.upsert('ups_alter', '{"k": 1, "color": "green"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT action, "row" FROM inbox.upsert('ups_alter', '{"k": 1, "colour": "green"}');
-- the key: from a primary key to the only unique index, then two of them
SELECT action FROM inbox.upsert('ups_alter', '{"k": 1, "b": "x"}');
ALTER TABLE ups_alter DROP CONSTRAINT ups_alter_pkey;
SELECT * FROM inbox.upsert('ups_alter', '{"k": 1, "b": "y"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
CREATE UNIQUE INDEX ups_alter_k ON ups_alter (k);
SELECT action, "row" FROM inbox.upsert('ups_alter', '{"k": 1, "b": "y"}');
CREATE UNIQUE INDEX ups_alter_b ON ups_alter (b);
SELECT * FROM inbox.upsert('ups_alter', '{"k": 1, "b": "z"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT action, "row" FROM inbox.upsert('ups_alter', '{"k": 1, "b": "z"}', '{k}');
-- a NOT NULL added
ALTER TABLE ups_alter ALTER COLUMN b SET NOT NULL;
SELECT * FROM inbox.upsert('ups_alter', '{"k": 1, "b": null}', '{k}');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- an ALTER TABLE rolled back after an upsert used the new column: the
-- column is gone again, for the cached plan too
BEGIN;
ALTER TABLE ups_alter ADD COLUMN tmp text;
SELECT action, "row" FROM inbox.upsert('ups_alter', '{"k": 1, "tmp": "x"}', '{k}');
ROLLBACK;
SELECT * FROM inbox.upsert('ups_alter', '{"k": 1, "tmp": "x"}', '{k}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT action, "row" FROM inbox.upsert('ups_alter', '{"k": 1, "b": "z"}', '{k}');
-- a table made and used in a rolled-back savepoint, then made again
BEGIN;
SAVEPOINT s;
CREATE TABLE ups_rb (k integer PRIMARY KEY, v text);
SELECT action FROM inbox.upsert('ups_rb', '{"k": 1, "v": "x"}');
ROLLBACK TO SAVEPOINT s;
CREATE TABLE ups_rb (k text PRIMARY KEY, w integer);
SELECT action, "row" FROM inbox.upsert('ups_rb', '{"k": "one", "w": 1}');
COMMIT;
DROP TABLE ups_rb;
-- the table dropped and made again under the same name
DROP TABLE ups_alter;
CREATE TABLE ups_alter (k integer PRIMARY KEY, z text);
SELECT action, "row" FROM inbox.upsert('ups_alter', '{"k": 1, "z": "new table"}');
DROP TABLE ups_alter;

--
-- upsert_many
--
-- a key repeated in one batch: applied in order, each element seeing what
-- the earlier ones wrote
SELECT ord, action, "row" FROM inbox.upsert_many('ups_items',
	'[{"sku": "m-1", "qty": 1}, {"sku": "m-1", "qty": 2}, {"sku": "m-1", "qty": 2},
	  {"sku": "m-2", "qty": 1}, {"sku": "m-2", "qty": 1}]');
-- elements with different key sets
SELECT ord, action, "row" FROM inbox.upsert_many('ups_items',
	'[{"sku": "m-3"}, {"sku": "m-4", "name": "four"}, {"sku": "m-3", "name": "three", "qty": 3},
	  {"sku": "m-4", "qty": 4}, {"sku": "m-1", "qty": 2, "name": null}]');
-- as a set-returning function in a transaction that goes on
BEGIN;
SELECT ord, action FROM inbox.upsert_many('ups_items', '[{"sku": "m-5"}]', '{sku}');
SELECT count(*) AS m_rows FROM ups_items WHERE sku LIKE 'm-%';
COMMIT;
-- a large batch
SELECT action, count(*) FROM inbox.upsert_many('ups_items',
	(SELECT jsonb_agg(jsonb_build_object('sku', 'big-' || g, 'qty', g, 'tags', jsonb_build_array(g::text)))
	   FROM generate_series(1, 5000) g))
GROUP BY action;
SELECT action, count(*) FROM inbox.upsert_many('ups_items',
	(SELECT jsonb_agg(jsonb_build_object('sku', 'big-' || g, 'qty', CASE WHEN g % 10 = 0 THEN -g ELSE g END))
	   FROM generate_series(1, 5000) g))
GROUP BY action ORDER BY action;
SELECT count(*), sum(qty) FROM ups_items WHERE sku LIKE 'big-%';
DELETE FROM ups_items WHERE sku LIKE 'big-%';
-- an empty array: no rows
SELECT ord, action FROM inbox.upsert_many('ups_items', '[]');
-- not an array, or an element that is not an object
SELECT * FROM inbox.upsert_many('ups_items', '{"sku": "m-9"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert_many('ups_items', '"m-9"');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert_many('ups_items', 'null');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert_many('ups_items', NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert_many(NULL, '[{"sku": "m-9"}]');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert_many('ups_items', '[{"sku": "m-9"}, 1]');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert_many('ups_items', '[{"sku": "m-9"}, {"sku": "m-10"}, null]');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert_many('ups_items', '[[{"sku": "m-9"}]]');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- an error in a later element: the whole call fails, the earlier elements'
-- writes with it
SELECT * FROM inbox.upsert_many('ups_items', '[{"sku": "m-9"}, {"sku": "m-1", "qty": 100}, {"sku": "m-10", "qty": "x"}]');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert_many('ups_items', '[{"sku": "m-9"}, {"sku": "m-10", "nope": 1}]');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.upsert_many('ups_items', '[{"sku": "m-9"}, {"qty": 1}]');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT sku, qty, name FROM ups_items WHERE sku LIKE 'm-%' ORDER BY sku;

--
-- a partitioned table (the unique index includes the partition key)
--
CREATE TABLE ups_part (region text NOT NULL, id integer NOT NULL, v text, PRIMARY KEY (region, id))
	PARTITION BY LIST (region);
CREATE TABLE ups_part_eu PARTITION OF ups_part FOR VALUES IN ('eu');
CREATE TABLE ups_part_us PARTITION OF ups_part FOR VALUES IN ('us');
CREATE TABLE ups_part_other PARTITION OF ups_part DEFAULT;
SELECT action, "row" FROM inbox.upsert('ups_part', '{"region": "eu", "id": 1, "v": "a"}');
SELECT action, "row" FROM inbox.upsert('ups_part', '{"region": "us", "id": 1, "v": "a"}');
SELECT action, "row" FROM inbox.upsert('ups_part', '{"region": "eu", "id": 1, "v": "b"}');
SELECT action, "row" FROM inbox.upsert('ups_part', '{"id": 1, "region": "eu", "v": "b"}', '{id,region}');
SELECT ord, action, "row" FROM inbox.upsert_many('ups_part',
	'[{"region": "xx", "id": 1, "v": "a"}, {"region": "us", "id": 1, "v": "c"}, {"region": "xx", "id": 1, "v": "a"}]');
-- a partition by itself is a table too
SELECT action, "row" FROM inbox.upsert('ups_part_eu', '{"region": "eu", "id": 2, "v": "p"}');
-- a row that belongs to no partition of the named one
SELECT * FROM inbox.upsert('ups_part_eu', '{"region": "us", "id": 3, "v": "p"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT tableoid::regclass AS part, region, id, v FROM ups_part ORDER BY region, id;
DROP TABLE ups_part;

DROP TABLE ups_items, ups_log;
DROP DOMAIN ups_percent;
DROP TYPE ups_mood;
