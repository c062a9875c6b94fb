--
-- ingest_raw against the cast to jsonb, on generated bodies: whatever the
-- cast accepts as an object or array, ingest_raw stores, with the digest
-- that inbox.ingest gives the cast's value; whatever the cast refuses,
-- ingest_raw rejects (never raises).  Numbers (zeros with huge exponents,
-- -0, tiny and huge exponents at and past numeric's limits, leading zeros,
-- long mantissas), strings (escapes, \u0000, surrogate pairs), nesting,
-- and in LATIN1 and SQL_ASCII databases escapes of characters they cannot
-- hold.  The generator is deterministic (setseed).  Nesting stays well
-- clear of the stack's limit, where the two may differ by a few levels.
--
SET client_min_messages = warning;

-- fixed cases: the ones that were found wrong, and numeric's limits
CREATE TEMP TABLE fixed_case (n int PRIMARY KEY, body text);
INSERT INTO fixed_case
SELECT row_number() OVER (), b FROM unnest(ARRAY[
	'[0e200000]', '[0E+200000]', '{"z": 0e536870912}', '[0e1073741822]', '[0e1073741823]',
	'[0.0e-16383]', '[0.0e-16382]', '[0e-16383]', '[0e-16384]', '[-0]', '[-0.0]', '[-0e5]',
	'[1e-400]', '[1e-16383]', '[1e-16384]', '[1E+1000]', '[1e131071]', '[1e131072]',
	'[9.999e131071]', '[0.0001e131075]', '[0.0001e131076]', '[00]', '[01]', '[-01]', '[1.]',
	'[.5]', '[1e]', '[1e+]', '[1e99999999999999999999]', '[-1e-99999999999]',
	'["\u0000"]', '["\ud83d\ude00"]', '["\ud83d"]', '["\ude00"]', '["\u00e9"]',
	'[' || repeat('0', 5000) || 'e5]', '[' || '1' || repeat('0', 131071) || ']',
	'[' || '1' || repeat('0', 131072) || ']', '[0.' || repeat('0', 16383) || ']',
	'[0.' || repeat('0', 16384) || ']', '[1.' || repeat('5', 16383) || 'e-0]',
	repeat('[', 3000) || repeat(']', 3000), repeat('{"a":', 8000) || '1' || repeat('}', 8000),
	repeat('[', 30000) || repeat(']', 30000)
]) b;

\set cases 3000
\set seed 0.5
\i test/sql/include/json_fuzz.sql
INSERT INTO fuzz_case SELECT * FROM fixed_case;

-- disagreements: none
SELECT c.problem, count(*), min(c.case_no) AS first_case, min(c.body_start) AS example
FROM fuzz_case f, pg_temp.check_body(f.n, f.body) c
GROUP BY c.problem ORDER BY c.problem;

-- what the cases covered
SELECT count(*) >= 3000 AS cases,
	   count(*) FILTER (WHERE body ~ '[0-9][eE][-+]?[0-9]') > 300 AS exponents,
	   count(*) FILTER (WHERE body LIKE '%\u%') > 300 AS escapes,
	   count(*) FILTER (WHERE length(body) > 3000) > 50 AS deep_or_long
FROM fuzz_case;
SELECT count(*) > 1000 AS many_stored FROM inbox.events WHERE source = 'fuzz' AND event_id LIKE 'raw-%';
DELETE FROM inbox.events WHERE source = 'fuzz';

-- databases that are not UTF-8, with fewer cases
CREATE DATABASE inbox_fuzz_latin1 TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C';
CREATE DATABASE inbox_fuzz_ascii TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C';

\c inbox_fuzz_latin1
SET client_min_messages = warning;
CREATE EXTENSION pg_inbox;
\set cases 500
\set seed 0.5
\i test/sql/include/json_fuzz.sql
SELECT c.problem, count(*), min(c.case_no) AS first_case, min(c.body_start) AS example
FROM fuzz_case f, pg_temp.check_body(f.n, f.body) c
GROUP BY c.problem ORDER BY c.problem;
SELECT count(*) > 100 AS many_stored FROM inbox.events WHERE source = 'fuzz' AND event_id LIKE 'raw-%';

\c inbox_fuzz_ascii
SET client_min_messages = warning;
CREATE EXTENSION pg_inbox;
\set cases 500
\set seed 0.5
\i test/sql/include/json_fuzz.sql
SELECT c.problem, count(*), min(c.case_no) AS first_case, min(c.body_start) AS example
FROM fuzz_case f, pg_temp.check_body(f.n, f.body) c
GROUP BY c.problem ORDER BY c.problem;
SELECT count(*) > 100 AS many_stored FROM inbox.events WHERE source = 'fuzz' AND event_id LIKE 'raw-%';

\c contrib_regression
DROP DATABASE inbox_fuzz_latin1;
DROP DATABASE inbox_fuzz_ascii;
