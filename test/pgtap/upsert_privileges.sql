-- pg_inbox: inbox.upsert, inbox.upsert_many and inbox.attempt with real roles.
--
-- The helpers are SECURITY INVOKER and never let a role write a table or a
-- row it could not write with a hand-written statement:
--   upsert needs SELECT on every column of the table (the row is returned),
--   INSERT on the columns in data, UPDATE on the non-key columns in data,
--   whether the key exists or not (42501 otherwise, checked before anything
--   is read, so the answer tells nothing about the key);
--   row-level security applies as for INSERT ... ON CONFLICT DO UPDATE ...
--   RETURNING: a row hidden by the policy is never returned or updated (42501,
--   never "unchanged"), and an insert or update that fails WITH CHECK is 42501;
--   attempt runs its statement as the caller: what the caller may not do
--   comes back as ok = false, sqlstate 42501.
-- None of the three is executable by PUBLIC.
--
-- The roles are created inside the transaction, so ROLLBACK removes them.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_inbox;

SELECT plan(85);

CREATE SCHEMA ups_tap;
CREATE TABLE ups_tap.items (id integer PRIMARY KEY, name text, qty integer);
INSERT INTO ups_tap.items VALUES (1, 'one', 1), (2, 'two', 2);

-- runs a statement as the current role; answers "ok <first column>" or
-- "error <SQLSTATE>"
CREATE FUNCTION ups_tap.try(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	EXECUTE statement INTO r;
	RETURN 'ok ' || coalesce(r, 'NULL');
EXCEPTION WHEN OTHERS THEN
	RETURN 'error ' || SQLSTATE;
END;
$$;

CREATE ROLE ups_tap_stranger NOLOGIN;
CREATE ROLE ups_tap_full NOLOGIN;
CREATE ROLE ups_tap_no_update NOLOGIN;
CREATE ROLE ups_tap_no_insert NOLOGIN;
CREATE ROLE ups_tap_no_select NOLOGIN;
CREATE ROLE ups_tap_upd_qty NOLOGIN;
CREATE ROLE ups_tap_sel_some NOLOGIN;
CREATE ROLE ups_tap_ins_some NOLOGIN;
CREATE ROLE ups_tap_no_exec NOLOGIN;
CREATE ROLE ups_tap_reader NOLOGIN;
CREATE ROLE ups_tap_alice NOLOGIN;
CREATE ROLE ups_tap_bob NOLOGIN;

GRANT USAGE ON SCHEMA inbox, ups_tap TO ups_tap_stranger, ups_tap_full, ups_tap_no_update,
	ups_tap_no_insert, ups_tap_no_select, ups_tap_upd_qty, ups_tap_sel_some, ups_tap_ins_some, ups_tap_no_exec,
	ups_tap_reader, ups_tap_alice, ups_tap_bob;
GRANT EXECUTE ON FUNCTION inbox.upsert(regclass, jsonb, text[]),
	inbox.upsert_many(regclass, jsonb, text[]),
	inbox.attempt(text)
	TO ups_tap_full, ups_tap_no_update, ups_tap_no_insert, ups_tap_no_select, ups_tap_upd_qty,
	   ups_tap_sel_some, ups_tap_ins_some, ups_tap_reader, ups_tap_alice, ups_tap_bob;
GRANT SELECT, INSERT, UPDATE ON ups_tap.items TO ups_tap_full, ups_tap_no_exec;
GRANT SELECT, INSERT ON ups_tap.items TO ups_tap_no_update;
GRANT SELECT, UPDATE ON ups_tap.items TO ups_tap_no_insert;
GRANT INSERT, UPDATE ON ups_tap.items TO ups_tap_no_select;
GRANT SELECT, INSERT, UPDATE (qty) ON ups_tap.items TO ups_tap_upd_qty;
GRANT SELECT (id, name), INSERT, UPDATE ON ups_tap.items TO ups_tap_sel_some;
GRANT SELECT, INSERT (id, name), UPDATE ON ups_tap.items TO ups_tap_ins_some;
GRANT SELECT ON ups_tap.items TO ups_tap_reader;

-- ------------------------------------------------------------------
-- the functions: SECURITY INVOKER, not executable by PUBLIC
-- ------------------------------------------------------------------
SELECT ok(NOT pg_catalog.has_function_privilege('public', 'inbox.upsert(regclass, jsonb, text[])', 'EXECUTE'),
	'inbox.upsert: no EXECUTE for PUBLIC');
SELECT ok(NOT pg_catalog.has_function_privilege('public', 'inbox.upsert_many(regclass, jsonb, text[])', 'EXECUTE'),
	'inbox.upsert_many: no EXECUTE for PUBLIC');
SELECT ok(NOT pg_catalog.has_function_privilege('public', 'inbox.attempt(text)', 'EXECUTE'),
	'inbox.attempt: no EXECUTE for PUBLIC');
SELECT results_eq(
	$$SELECT p.proname::text COLLATE "default", p.prosecdef, p.provolatile::text, p.prolang = (SELECT oid FROM pg_catalog.pg_language WHERE lanname = 'c'),
	         coalesce(pg_catalog.array_to_string(p.proconfig, ','), '') COLLATE "default"
	    FROM pg_catalog.pg_proc p
	   WHERE p.oid IN ('inbox.upsert(regclass, jsonb, text[])'::regprocedure,
	                   'inbox.upsert_many(regclass, jsonb, text[])'::regprocedure,
	                   'inbox.attempt(text)'::regprocedure)
	   ORDER BY p.proname$$,
	$$VALUES ('attempt', false, 'v', true, ''),
	         ('upsert', false, 'v', true, ''),
	         ('upsert_many', false, 'v', true, '')$$,
	'C functions, SECURITY INVOKER, VOLATILE; none pins search_path (the caller''s triggers run under the caller''s)');

SET ROLE ups_tap_stranger;
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 1}')$$,
	'42501', NULL, 'a role without EXECUTE cannot call inbox.upsert');
SELECT throws_ok($$SELECT * FROM inbox.upsert_many('ups_tap.items', '[{"id": 1}]')$$,
	'42501', NULL, 'a role without EXECUTE cannot call inbox.upsert_many');
SELECT throws_ok($$SELECT * FROM inbox.attempt('SELECT 1')$$,
	'42501', NULL, 'a role without EXECUTE cannot call inbox.attempt');
RESET ROLE;

-- table privileges without EXECUTE: the hand-written statement works, the
-- helper does not
SET ROLE ups_tap_no_exec;
SELECT lives_ok($$INSERT INTO ups_tap.items VALUES (90, 'direct', 0)
	ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name RETURNING *$$,
	'no EXECUTE: the hand-written upsert works');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 91, "name": "helper"}')$$,
	'42501', NULL, 'no EXECUTE: inbox.upsert is denied (42501)');
RESET ROLE;

-- ------------------------------------------------------------------
-- all three table privileges: insert, update, unchanged
-- ------------------------------------------------------------------
SET ROLE ups_tap_full;
SELECT is((SELECT action FROM inbox.upsert('ups_tap.items', '{"id": 10, "name": "ten", "qty": 10}')),
	'inserted', 'SELECT, INSERT, UPDATE: a new key is inserted');
SELECT is((SELECT action FROM inbox.upsert('ups_tap.items', '{"id": 10, "qty": 11}')),
	'updated', 'SELECT, INSERT, UPDATE: a stored key is updated');
SELECT is((SELECT action FROM inbox.upsert('ups_tap.items', '{"id": 10, "qty": 11}')),
	'unchanged', 'SELECT, INSERT, UPDATE: the same values are unchanged');
SELECT results_eq(
	$$SELECT ord, action FROM inbox.upsert_many('ups_tap.items', '[{"id": 11}, {"id": 11, "name": "eleven"}]')$$,
	$$VALUES (1, 'inserted'), (2, 'updated')$$,
	'SELECT, INSERT, UPDATE: upsert_many inserts and updates');
RESET ROLE;

-- ------------------------------------------------------------------
-- one privilege missing: 42501 for a new key and for a stored one, and the
-- hand-written statement is denied alike
-- ------------------------------------------------------------------
SET ROLE ups_tap_no_update;
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 20, "name": "new"}')$$,
	'42501', 'permission denied for table items', 'no UPDATE: a new key is denied (42501)');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 1, "name": "changed"}')$$,
	'42501', 'permission denied for table items', 'no UPDATE: a stored key is denied (42501)');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 1, "name": "one"}')$$,
	'42501', 'permission denied for table items', 'no UPDATE: a stored key with its own values is denied too (42501)');
SELECT throws_ok($$SELECT * FROM inbox.upsert_many('ups_tap.items', '[{"id": 21, "name": "new"}]')$$,
	'42501', NULL, 'no UPDATE: upsert_many is denied (42501)');
SELECT throws_ok($$INSERT INTO ups_tap.items VALUES (20, 'new', 0)
	ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name RETURNING *$$,
	'42501', NULL, 'no UPDATE: the hand-written upsert is denied alike');
-- only the key: nothing to update, so UPDATE is not needed
SELECT is((SELECT action FROM inbox.upsert('ups_tap.items', '{"id": 22}')),
	'inserted', 'no UPDATE: a new key alone is inserted');
SELECT is((SELECT action FROM inbox.upsert('ups_tap.items', '{"id": 1}')),
	'unchanged', 'no UPDATE: a stored key alone is unchanged');
RESET ROLE;

SET ROLE ups_tap_no_insert;
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 23, "name": "new"}')$$,
	'42501', 'permission denied for table items', 'no INSERT: a new key is denied (42501)');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 1, "name": "changed"}')$$,
	'42501', 'permission denied for table items', 'no INSERT: a stored key is denied (42501)');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 1}')$$,
	'42501', 'permission denied for table items', 'no INSERT: a stored key alone is denied (42501)');
SELECT throws_ok($$INSERT INTO ups_tap.items VALUES (1, 'changed', 0)
	ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name RETURNING *$$,
	'42501', NULL, 'no INSERT: the hand-written upsert is denied alike');
SELECT lives_ok($$UPDATE ups_tap.items SET qty = qty WHERE id = 2$$,
	'no INSERT: a plain UPDATE is allowed (the grants are as described)');
RESET ROLE;

SET ROLE ups_tap_no_select;
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 24, "name": "new"}')$$,
	'42501', 'permission denied for table items', 'no SELECT: a new key is denied (42501)');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 1, "name": "changed"}')$$,
	'42501', 'permission denied for table items', 'no SELECT: a stored key is denied (42501)');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 1, "name": "one"}')$$,
	'42501', 'permission denied for table items', 'no SELECT: a stored key with its own values is denied (42501)');
SELECT throws_ok($$INSERT INTO ups_tap.items VALUES (24, 'new', 0) RETURNING *$$,
	'42501', NULL, 'no SELECT: the hand-written INSERT ... RETURNING is denied alike');
RESET ROLE;

-- UPDATE on one column: upserting that column works, any other is denied,
-- whether the key exists or not
SET ROLE ups_tap_upd_qty;
SELECT is((SELECT action FROM inbox.upsert('ups_tap.items', '{"id": 2, "qty": 20}')),
	'updated', 'UPDATE (qty): upserting qty of a stored key updates it');
SELECT is((SELECT action FROM inbox.upsert('ups_tap.items', '{"id": 25, "qty": 25}')),
	'inserted', 'UPDATE (qty): upserting qty of a new key inserts it');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 2, "name": "changed"}')$$,
	'42501', 'permission denied for table items', 'UPDATE (qty): upserting name of a stored key is denied (42501)');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 2, "qty": 20, "name": "two"}')$$,
	'42501', 'permission denied for table items', 'UPDATE (qty): name is denied even with its stored value (42501)');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 26, "name": "new"}')$$,
	'42501', 'permission denied for table items', 'UPDATE (qty): upserting name of a new key is denied (42501)');
SELECT throws_ok($$INSERT INTO ups_tap.items VALUES (26, 'new', 0)
	ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name RETURNING *$$,
	'42501', NULL, 'UPDATE (qty): the hand-written upsert of name is denied alike');
RESET ROLE;

-- SELECT on some columns only: the row cannot be returned
SET ROLE ups_tap_sel_some;
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 27, "name": "new"}')$$,
	'42501', 'permission denied for table items', 'SELECT (id, name): a new key is denied (42501)');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 1, "name": "one"}')$$,
	'42501', 'permission denied for table items', 'SELECT (id, name): a stored key is denied (42501)');
RESET ROLE;

-- INSERT on some columns only: the others cannot be given, whether the key
-- exists or not
SET ROLE ups_tap_ins_some;
SELECT is((SELECT action FROM inbox.upsert('ups_tap.items', '{"id": 28, "name": "new"}')),
	'inserted', 'INSERT (id, name): a new key with those columns is inserted');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 29, "name": "new", "qty": 1}')$$,
	'42501', 'permission denied for table items', 'INSERT (id, name): qty for a new key is denied (42501)');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 1, "qty": 5}')$$,
	'42501', 'permission denied for table items', 'INSERT (id, name): qty for a stored key is denied too (42501)');
RESET ROLE;

SELECT results_eq(
	$$SELECT id, name, qty FROM ups_tap.items ORDER BY id$$,
	$$VALUES (1, 'one', 1), (2, 'two', 20), (10, 'ten', 11), (11, 'eleven', NULL),
	         (22, NULL, NULL), (25, NULL, 25), (28, 'new', NULL), (90, 'direct', 0)$$,
	'the denied calls changed nothing; the allowed ones went through');

-- table privileges in a schema the role has no USAGE on: the role cannot
-- name the table, so it cannot write it directly; passing the table's OID
-- to inbox.upsert does not get around that
CREATE SCHEMA ups_tap_hidden;
CREATE TABLE ups_tap_hidden.items (id integer PRIMARY KEY, name text);
INSERT INTO ups_tap_hidden.items VALUES (1, 'one');
CREATE ROLE ups_tap_no_usage NOLOGIN;
GRANT USAGE ON SCHEMA inbox TO ups_tap_no_usage;
GRANT EXECUTE ON FUNCTION inbox.upsert(regclass, jsonb, text[]) TO ups_tap_no_usage;
GRANT SELECT, INSERT, UPDATE ON ups_tap_hidden.items TO ups_tap_no_usage;
SELECT 'ups_tap_hidden.items'::regclass::oid AS hidden_oid \gset
SET ROLE ups_tap_no_usage;
SELECT throws_ok($$INSERT INTO ups_tap_hidden.items VALUES (2, 'two')$$,
	'42501', NULL, 'no USAGE on the schema: the hand-written INSERT is denied');
SELECT throws_ok(format($$SELECT * FROM inbox.upsert(%s::oid::regclass, '{"id": 2, "name": "two"}')$$, :'hidden_oid'),
	'42501', NULL, 'no USAGE on the schema: inbox.upsert by OID is denied too (42501)');
SELECT throws_ok(format($$SELECT * FROM inbox.upsert(%s::oid::regclass, '{"id": 1, "name": "changed"}')$$, :'hidden_oid'),
	'42501', NULL, 'no USAGE on the schema: inbox.upsert by OID of a stored key is denied (42501)');
RESET ROLE;
SELECT results_eq($$SELECT id, name FROM ups_tap_hidden.items$$, $$VALUES (1, 'one')$$,
	'no USAGE on the schema: the table is as it was');

-- ------------------------------------------------------------------
-- row-level security: each tenant sees and writes its own rows
-- ------------------------------------------------------------------
CREATE TABLE ups_tap.docs (id integer PRIMARY KEY, tenant text NOT NULL, body text);
INSERT INTO ups_tap.docs VALUES (1, 'ups_tap_alice', 'a1'), (2, 'ups_tap_bob', 'b1');
ALTER TABLE ups_tap.docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON ups_tap.docs USING (tenant = current_user) WITH CHECK (tenant = current_user);
GRANT SELECT, INSERT, UPDATE ON ups_tap.docs TO ups_tap_alice, ups_tap_bob;
CREATE TEMP TABLE answers (seq integer GENERATED ALWAYS AS IDENTITY, label text, result text);
GRANT ALL ON answers TO PUBLIC;

SET ROLE ups_tap_alice;
SELECT results_eq(
	$$SELECT action, "row" FROM inbox.upsert('ups_tap.docs', '{"id": 1, "tenant": "ups_tap_alice", "body": "a2"}')$$,
	$$VALUES ('updated', '{"id": 1, "tenant": "ups_tap_alice", "body": "a2"}'::jsonb)$$,
	'RLS: alice updates her own row');
SELECT is((SELECT action FROM inbox.upsert('ups_tap.docs', '{"id": 1, "tenant": "ups_tap_alice", "body": "a2"}')),
	'unchanged', 'RLS: alice''s own row with the same values is unchanged');
SELECT is((SELECT action FROM inbox.upsert('ups_tap.docs', '{"id": 3, "tenant": "ups_tap_alice", "body": "a3"}')),
	'inserted', 'RLS: alice inserts a row of her own');
-- bob's row: never updated, never returned, never "unchanged"
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.docs', '{"id": 2, "tenant": "ups_tap_alice", "body": "mine now"}')$$,
	'42501', NULL, 'RLS: alice cannot take over bob''s row (42501)');
SELECT throws_like($$SELECT * FROM inbox.upsert('ups_tap.docs', '{"id": 2, "tenant": "ups_tap_alice", "body": "mine now"}')$$,
	'new row violates row-level security policy%', 'RLS: ... with the row-level security message');
SELECT throws_ok($$INSERT INTO ups_tap.docs VALUES (2, 'ups_tap_alice', 'mine now')
	ON CONFLICT (id) DO UPDATE SET tenant = EXCLUDED.tenant, body = EXCLUDED.body RETURNING *$$,
	'42501', NULL, 'RLS: the hand-written upsert is denied alike');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.docs', '{"id": 2, "tenant": "ups_tap_bob", "body": "changed"}')$$,
	'42501', NULL, 'RLS: alice cannot change bob''s row (42501)');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.docs', '{"id": 2, "tenant": "ups_tap_bob", "body": "b1"}')$$,
	'42501', NULL, 'RLS: bob''s values exactly: 42501, not unchanged (the key''s existence is not told)');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.docs', '{"id": 2, "body": "b1"}')$$,
	'42501', NULL, 'RLS: bob''s body alone: 42501');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.docs', '{"id": 2}')$$,
	'42501', NULL, 'RLS: bob''s key alone: 42501, not unchanged');
SELECT throws_ok($$SELECT * FROM inbox.upsert_many('ups_tap.docs',
	'[{"id": 5, "tenant": "ups_tap_alice"}, {"id": 2, "tenant": "ups_tap_bob", "body": "b1"}]')$$,
	'42501', NULL, 'RLS: upsert_many with bob''s row is denied (42501)');
-- WITH CHECK: inserting or updating into someone else's tenant
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.docs', '{"id": 4, "tenant": "ups_tap_bob", "body": "gift"}')$$,
	'42501', NULL, 'RLS: a new row for bob fails WITH CHECK (42501)');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.docs', '{"id": 1, "tenant": "ups_tap_bob"}')$$,
	'42501', NULL, 'RLS: handing her own row to bob fails WITH CHECK (42501)');
-- the answers to a denied call tell nothing: the error text never holds
-- bob's values
INSERT INTO answers (label, result)
SELECT 'hidden', ups_tap.try($$SELECT "row"::text FROM inbox.upsert('ups_tap.docs', '{"id": 2, "tenant": "ups_tap_bob", "body": "b1"}')$$);
SELECT is((SELECT count(*) FROM ups_tap.docs WHERE id = 2), 0::bigint, 'RLS: alice does not see bob''s row');
RESET ROLE;

SELECT is((SELECT result FROM answers WHERE label = 'hidden'), 'error 42501',
	'RLS: the hidden row came back as 42501 and nothing else');
DO $$
DECLARE
	msg text;
	det text;
BEGIN
	SET LOCAL ROLE ups_tap_alice;
	PERFORM * FROM inbox.upsert('ups_tap.docs', '{"id": 2, "tenant": "ups_tap_bob", "body": "b1"}');
	INSERT INTO answers (label, result) VALUES ('hidden text', 'no error');
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
	INSERT INTO answers (label, result) VALUES ('hidden text', coalesce(msg, '') || ' ' || coalesce(det, ''));
END
$$;
RESET ROLE;
SELECT ok((SELECT result NOT LIKE '%b1%' AND result <> 'no error' FROM answers WHERE label = 'hidden text'),
	'RLS: the error does not show the hidden row''s values');
SELECT results_eq(
	$$SELECT id, tenant, body FROM ups_tap.docs ORDER BY id$$,
	$$VALUES (1, 'ups_tap_alice', 'a2'), (2, 'ups_tap_bob', 'b1'), (3, 'ups_tap_alice', 'a3')$$,
	'RLS: bob''s row is as it was; only alice''s allowed writes went through');

SET ROLE ups_tap_bob;
SELECT is((SELECT action FROM inbox.upsert('ups_tap.docs', '{"id": 2, "tenant": "ups_tap_bob", "body": "b1"}')),
	'unchanged', 'RLS: bob''s own row with its values is unchanged for bob');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.docs', '{"id": 1, "tenant": "ups_tap_alice", "body": "a2"}')$$,
	'42501', NULL, 'RLS: alice''s row with its values is 42501 for bob');
RESET ROLE;

-- a SELECT policy that hides rows, UPDATE allowed everywhere: the hidden
-- row is still never returned, so it cannot be upserted
CREATE TABLE ups_tap.notes (id integer PRIMARY KEY, owner text NOT NULL, body text);
INSERT INTO ups_tap.notes VALUES (1, 'ups_tap_alice', 'n1'), (2, 'ups_tap_bob', 'n2');
ALTER TABLE ups_tap.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY see_own ON ups_tap.notes FOR SELECT USING (owner = current_user);
CREATE POLICY insert_any ON ups_tap.notes FOR INSERT WITH CHECK (true);
CREATE POLICY update_any ON ups_tap.notes FOR UPDATE USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON ups_tap.notes TO ups_tap_alice;
SET ROLE ups_tap_alice;
SELECT is((SELECT action FROM inbox.upsert('ups_tap.notes', '{"id": 1, "owner": "ups_tap_alice", "body": "n1b"}')),
	'updated', 'RLS, SELECT policy: alice updates her visible row');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.notes', '{"id": 2, "owner": "ups_tap_bob", "body": "n2"}')$$,
	'42501', NULL, 'RLS, SELECT policy: the row hidden from alice is 42501, not unchanged');
SELECT throws_ok($$SELECT * FROM inbox.upsert('ups_tap.notes', '{"id": 2, "owner": "ups_tap_bob", "body": "changed"}')$$,
	'42501', NULL, 'RLS, SELECT policy: the row hidden from alice is not updated (42501)');
SELECT throws_ok($$INSERT INTO ups_tap.notes VALUES (2, 'ups_tap_bob', 'changed')
	ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body RETURNING *$$,
	'42501', NULL, 'RLS, SELECT policy: the hand-written upsert is denied alike');
RESET ROLE;
SELECT results_eq(
	$$SELECT id, owner, body FROM ups_tap.notes ORDER BY id$$,
	$$VALUES (1, 'ups_tap_alice', 'n1b'), (2, 'ups_tap_bob', 'n2')$$,
	'RLS, SELECT policy: the hidden row is as it was');

-- ------------------------------------------------------------------
-- attempt: a role does through attempt only what it could do directly
-- ------------------------------------------------------------------
SET ROLE ups_tap_reader;
SELECT results_eq(
	$$SELECT ok, sqlstate, rows FROM inbox.attempt('SELECT * FROM ups_tap.items')$$,
	$$VALUES (true, NULL::text, 8::bigint)$$,
	'attempt: the reader can SELECT');
SELECT results_eq(
	$$SELECT ok, sqlstate, message, rows FROM inbox.attempt($a$INSERT INTO ups_tap.items VALUES (40, 'x', 0)$a$)$$,
	$$VALUES (false, '42501', 'permission denied for table items', NULL::bigint)$$,
	'attempt: the reader''s INSERT comes back as 42501');
SELECT results_eq(
	$$SELECT ok, sqlstate FROM inbox.attempt($a$UPDATE ups_tap.items SET qty = 0$a$)$$,
	$$VALUES (false, '42501')$$,
	'attempt: the reader''s UPDATE comes back as 42501');
SELECT results_eq(
	$$SELECT ok, sqlstate FROM inbox.attempt($a$DELETE FROM ups_tap.items$a$)$$,
	$$VALUES (false, '42501')$$,
	'attempt: the reader''s DELETE comes back as 42501');
SELECT results_eq(
	$$SELECT ok, sqlstate FROM inbox.attempt($a$SELECT * FROM ups_tap.docs$a$)$$,
	$$VALUES (false, '42501')$$,
	'attempt: the reader cannot read a table it has no grant on');
SELECT results_eq(
	$$SELECT ok, sqlstate FROM inbox.attempt($a$ALTER ROLE ups_tap_reader SUPERUSER$a$)$$,
	$$VALUES (false, '42501')$$,
	'attempt: the reader cannot make itself a superuser through it');
SELECT results_eq(
	$$SELECT ok, sqlstate FROM inbox.attempt($a$SELECT pg_catalog.pg_read_file('postgresql.conf')$a$)$$,
	$$VALUES (false, '42501')$$,
	'attempt: the reader cannot call superuser-only functions through it');
SELECT results_eq(
	$$SELECT ok, sqlstate FROM inbox.attempt($a$SELECT * FROM inbox.upsert('ups_tap.items', '{"id": 41}')$a$)$$,
	$$VALUES (false, '42501')$$,
	'attempt: the reader cannot upsert through attempt');
SELECT results_eq(
	$$SELECT ok, sqlstate FROM inbox.attempt($a$CREATE TABLE ups_tap.made_by_reader (x integer)$a$)$$,
	$$VALUES (false, '42501')$$,
	'attempt: the reader cannot create in a schema it may not create in');
SELECT is(current_user::text, 'ups_tap_reader', 'attempt: the caller is still the reader afterwards');
RESET ROLE;

SET ROLE ups_tap_alice;
SELECT results_eq(
	$$SELECT ok, rows FROM inbox.attempt($a$UPDATE ups_tap.docs SET body = 'x' WHERE id = 2$a$)$$,
	$$VALUES (true, 0::bigint)$$,
	'attempt, RLS: bob''s row is invisible to alice''s UPDATE (0 rows)');
SELECT results_eq(
	$$SELECT ok, sqlstate FROM inbox.attempt($a$INSERT INTO ups_tap.docs VALUES (6, 'ups_tap_bob', 'x')$a$)$$,
	$$VALUES (false, '42501')$$,
	'attempt, RLS: an insert into bob''s tenant comes back as 42501');
SELECT results_eq(
	$$SELECT ok, rows FROM inbox.attempt($a$INSERT INTO ups_tap.docs SELECT 7, current_user, 'via attempt'$a$)$$,
	$$VALUES (true, 1::bigint)$$,
	'attempt, RLS: alice inserts her own row, as herself');
RESET ROLE;

SELECT results_eq(
	$$SELECT id, tenant, body FROM ups_tap.docs ORDER BY id$$,
	$$VALUES (1, 'ups_tap_alice', 'a2'), (2, 'ups_tap_bob', 'b1'), (3, 'ups_tap_alice', 'a3'),
	         (7, 'ups_tap_alice', 'via attempt')$$,
	'attempt: only the allowed statements wrote');
SELECT is((SELECT count(*) FROM ups_tap.items WHERE id IN (40, 41)), 0::bigint,
	'attempt: the reader wrote nothing');
SELECT hasnt_table('ups_tap', 'made_by_reader', 'attempt: the reader created nothing');

SELECT * FROM finish();
ROLLBACK;
