--
-- inbox.attempt: one statement in a subtransaction; its error comes back as
-- a value and the caller's transaction goes on without that statement's
-- effects.  Misuse, cancellation and resource errors are raised.
--
\set SHOW_CONTEXT never
CREATE TABLE att_parent (id integer PRIMARY KEY);
INSERT INTO att_parent VALUES (1), (2);
CREATE TABLE att_items (
	id integer PRIMARY KEY,
	name text NOT NULL,
	qty integer CONSTRAINT att_items_qty_positive CHECK (qty >= 0),
	parent integer REFERENCES att_parent (id)
);
CREATE TABLE att_log (n serial, note text);

--
-- success: ok, and the rows the statement processed
--
SELECT * FROM inbox.attempt($$INSERT INTO att_items (id, name, parent) VALUES (1, 'a', 1), (2, 'b', NULL), (3, 'c', NULL)$$);
SELECT * FROM inbox.attempt($$UPDATE att_items SET qty = 1 WHERE id IN (1, 2)$$);
SELECT * FROM inbox.attempt($$UPDATE att_items SET qty = 1 WHERE id = 99$$);
SELECT * FROM inbox.attempt($$SELECT * FROM att_items$$);
SELECT * FROM inbox.attempt($$SELECT 1;$$);
SELECT * FROM inbox.attempt($$DELETE FROM att_items WHERE id = 3 RETURNING *$$);
SELECT * FROM inbox.attempt($$WITH n AS (INSERT INTO att_items (id, name) VALUES (3, 'c') RETURNING id) SELECT * FROM n$$);
SELECT * FROM inbox.attempt($$CREATE TABLE att_made (x integer)$$);
SELECT * FROM inbox.attempt($$ANALYZE att_made$$);
SELECT * FROM inbox.attempt($$DROP TABLE att_made$$);
SELECT * FROM inbox.attempt($$  -- a comment first
	INSERT INTO att_items (id, name) VALUES (4, 'd')  $$);
SELECT * FROM inbox.attempt($$VALUES (1), (2)$$);
SELECT * FROM inbox.attempt($$SELECT 1 WHERE false$$);
SELECT * FROM inbox.attempt($$MERGE INTO att_items t USING (VALUES (4, 'd2'), (5, 'e')) AS s (id, name) ON t.id = s.id
	WHEN MATCHED THEN UPDATE SET name = s.name WHEN NOT MATCHED THEN INSERT (id, name) VALUES (s.id, s.name)$$);
SELECT * FROM inbox.attempt($$DO $do$ BEGIN PERFORM 1; END $do$ $$);
SELECT * FROM inbox.attempt($$DELETE FROM att_items WHERE id = 5$$);
-- an attempt within an attempt: the inner failure is the inner one's value
SELECT * FROM inbox.attempt($$SELECT * FROM inbox.attempt('SELECT 1 / 0')$$);
SELECT id, name, qty FROM att_items ORDER BY id;

--
-- errors come back as values, and the transaction goes on
--
BEGIN;
INSERT INTO att_log (note) VALUES ('before');
INSERT INTO att_items (id, name) VALUES (10, 'earlier work');
-- a unique violation: the new row 11 of the failed statement is gone too
SELECT * FROM inbox.attempt($$INSERT INTO att_items (id, name) VALUES (11, 'new'), (1, 'dup')$$);
-- a check violation
SELECT * FROM inbox.attempt($$UPDATE att_items SET qty = -1 WHERE id = 1$$);
-- not null
SELECT * FROM inbox.attempt($$INSERT INTO att_items (id, name) VALUES (12, NULL)$$);
-- a foreign key
SELECT * FROM inbox.attempt($$INSERT INTO att_items (id, name, parent) VALUES (13, 'm', 99)$$);
SELECT * FROM inbox.attempt($$DELETE FROM att_parent WHERE id = 1$$);
-- a syntax error, an unknown table, division by zero, a bad value
SELECT * FROM inbox.attempt($$INSERT INTO att_items VALUES (14, 'x'$$);
SELECT * FROM inbox.attempt($$SELEC 1$$);
SELECT * FROM inbox.attempt($$SELECT * FROM att_no_such_table$$);
SELECT * FROM inbox.attempt($$UPDATE att_items SET qty = 1 / 0 WHERE id = 1$$);
SELECT * FROM inbox.attempt($$UPDATE att_items SET qty = 'many' WHERE id = 1$$);
-- an error raised with its own SQLSTATE, detail and constraint name
SELECT * FROM inbox.attempt($q$DO $do$ BEGIN
	RAISE EXCEPTION 'custom failure' USING ERRCODE = 'P0001', DETAIL = 'custom detail', CONSTRAINT = 'custom_constraint';
END $do$$q$);
-- a statement that wrote before it failed: all of it is undone
SELECT * FROM inbox.attempt($q$DO $do$ BEGIN
	INSERT INTO att_items (id, name) VALUES (15, 'written then undone');
	UPDATE att_items SET name = 'changed then undone' WHERE id = 10;
	PERFORM 1 / 0;
END $do$$q$);
-- a success in between
SELECT * FROM inbox.attempt($$UPDATE att_items SET qty = 5 WHERE id = 10$$);
-- the transaction is healthy: earlier work intact, failed statements gone
SELECT id, name, qty FROM att_items ORDER BY id;
SELECT id FROM att_parent ORDER BY id;
INSERT INTO att_log (note) VALUES ('after');
COMMIT;
SELECT note FROM att_log ORDER BY n;
SELECT id, name, qty FROM att_items ORDER BY id;

-- statements that cannot run in a transaction block, or that need
-- parameters: errors like any other
SELECT ok, sqlstate, message FROM inbox.attempt($$VACUUM att_items$$);
SELECT ok, sqlstate, message FROM inbox.attempt($$CREATE INDEX CONCURRENTLY att_items_name ON att_items (name)$$);
SELECT ok, sqlstate, message FROM inbox.attempt($$SELECT * FROM att_items WHERE id = $1$$);

-- a hundred guarded statements in one transaction, half of them failing
BEGIN;
SELECT count(*) FILTER (WHERE ok) AS ok, count(*) FILTER (WHERE sqlstate = '23505') AS duplicates
FROM generate_series(1, 100) g,
	inbox.attempt(format('INSERT INTO att_items (id, name) VALUES (%s, %L)', 100 + g / 2, 'g' || g));
SELECT count(*) FROM att_items WHERE id BETWEEN 100 AND 150;
ROLLBACK;

-- a deferred constraint is checked at COMMIT, after attempt has answered:
-- attempt guards the statement, not the commit
CREATE TABLE att_deferred (id integer PRIMARY KEY,
	parent integer REFERENCES att_parent (id) DEFERRABLE INITIALLY DEFERRED);
BEGIN;
SELECT ok, rows FROM inbox.attempt($$INSERT INTO att_deferred VALUES (1, 99)$$);
COMMIT;
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT count(*) FROM att_deferred;
DROP TABLE att_deferred;

-- in a savepoint of the caller's, rolled back afterwards
BEGIN;
SAVEPOINT s;
SELECT ok, rows FROM inbox.attempt($$INSERT INTO att_items (id, name) VALUES (20, 'in savepoint')$$);
SELECT ok, sqlstate FROM inbox.attempt($$INSERT INTO att_items (id, name) VALUES (20, 'again')$$);
ROLLBACK TO SAVEPOINT s;
SELECT ok, rows FROM inbox.attempt($$INSERT INTO att_items (id, name) VALUES (21, 'after savepoint')$$);
COMMIT;
SELECT id, name FROM att_items WHERE id >= 20 ORDER BY id;

-- a SET LOCAL that succeeds stays in effect for the caller's transaction
BEGIN;
SELECT ok FROM inbox.attempt($$SET LOCAL work_mem = '7MB'$$);
SHOW work_mem;
COMMIT;

--
-- raised, not returned
--
SELECT * FROM inbox.attempt(NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt('');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt('   ');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt(';');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt('-- only a comment');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt($$INSERT INTO att_items (id, name) VALUES (30, 'x'); SELECT 1$$);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt($$SELECT 1; SELECT 2;$$);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT count(*) AS row_30 FROM att_items WHERE id = 30;
-- transaction control
SELECT * FROM inbox.attempt('BEGIN');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt('COMMIT');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt('ROLLBACK');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt('SAVEPOINT s');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt('RELEASE SAVEPOINT s');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt('ROLLBACK TO SAVEPOINT s');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt($$PREPARE TRANSACTION 'x'$$);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt('START TRANSACTION');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt('END');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt('ABORT');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt($$COMMIT PREPARED 'x'$$);
\echo sqlstate :LAST_ERROR_SQLSTATE
-- a procedure that commits cannot do so inside the guard: an error like
-- any other, its work undone
CREATE PROCEDURE att_commits() LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO att_log (note) VALUES ('by the procedure');
	COMMIT;
END;
$$;
SELECT ok, sqlstate, message FROM inbox.attempt('CALL att_commits()');
SELECT count(*) AS by_procedure FROM att_log WHERE note = 'by the procedure';
DROP PROCEDURE att_commits();
-- inside a transaction the transaction control is raised too, and the
-- caller's transaction is left alone (aborted by the error, not committed)
BEGIN;
INSERT INTO att_items (id, name) VALUES (31, 'not committed by attempt');
SELECT * FROM inbox.attempt('COMMIT');
\echo sqlstate :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT count(*) AS row_31 FROM att_items WHERE id = 31;
-- COPY to the client
SELECT * FROM inbox.attempt('COPY att_items TO STDOUT');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt('COPY att_items FROM STDIN');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt('COPY (SELECT 1) TO STDOUT');
\echo sqlstate :LAST_ERROR_SQLSTATE

-- statement_timeout still cancels: 57014 raised, not ok = false
BEGIN;
SET LOCAL statement_timeout = '100ms';
SELECT * FROM inbox.attempt('SELECT pg_sleep(5)');
\echo sqlstate :LAST_ERROR_SQLSTATE
ROLLBACK;
-- and so do the classes 57, 53, 58 and XX, whoever raises them
SELECT * FROM inbox.attempt($q$DO $do$ BEGIN RAISE EXCEPTION 'cancel' USING ERRCODE = '57014'; END $do$$q$);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt($q$DO $do$ BEGIN RAISE EXCEPTION 'admin shutdown' USING ERRCODE = '57P01'; END $do$$q$);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt($q$DO $do$ BEGIN RAISE EXCEPTION 'out of memory' USING ERRCODE = '53200'; END $do$$q$);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt($q$DO $do$ BEGIN RAISE EXCEPTION 'disk full' USING ERRCODE = '53100'; END $do$$q$);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt($q$DO $do$ BEGIN RAISE EXCEPTION 'io error' USING ERRCODE = '58030'; END $do$$q$);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt($q$DO $do$ BEGIN RAISE EXCEPTION 'internal' USING ERRCODE = 'XX000'; END $do$$q$);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.attempt($q$DO $do$ BEGIN RAISE EXCEPTION 'corrupted' USING ERRCODE = 'XX001'; END $do$$q$);
\echo sqlstate :LAST_ERROR_SQLSTATE
-- class 40 is an error like any other here
SELECT ok, sqlstate, message FROM inbox.attempt($q$DO $do$ BEGIN RAISE EXCEPTION 'serialization' USING ERRCODE = '40001'; END $do$$q$);

--
-- the statement runs with the caller's search_path
--
CREATE SCHEMA att_app;
CREATE TABLE att_app.things (v text);
SET search_path = att_app, public;
SELECT * FROM inbox.attempt($$INSERT INTO things (v) SELECT current_setting('search_path')$$);
SELECT * FROM inbox.attempt($$INSERT INTO att_items (id, name) VALUES (40, 'public, through the path')$$);
RESET search_path;
SELECT v FROM att_app.things;
SELECT name FROM att_items WHERE id = 40;
-- an unqualified name not on the path is not found
SELECT ok, sqlstate, message FROM inbox.attempt($$INSERT INTO things (v) VALUES ('x')$$);
DROP SCHEMA att_app CASCADE;

DROP TABLE att_items, att_parent, att_log;
