--
-- Refusals whose wording is PostgreSQL's own and differs between majors,
-- kept together so that their alternative expected files stay small:
--   server_text.out    PostgreSQL 15
--   server_text_1.out  PostgreSQL 17: a setting's range names its unit
--   server_text_2.out  PostgreSQL 18: and an error in an extension script
--                      has a CONTEXT line
-- Everything else in the suites is the same text on every major.
--

-- pg_inbox.max_payload_bytes out of range is refused, and keeps its value
SET pg_inbox.max_payload_bytes = '2kB';
\set VERBOSITY terse
SET pg_inbox.max_payload_bytes = -1;
\echo sqlstate :LAST_ERROR_SQLSTATE
SET pg_inbox.max_payload_bytes = 0;
\echo sqlstate :LAST_ERROR_SQLSTATE
SET pg_inbox.max_payload_bytes = '65MB';
\echo sqlstate :LAST_ERROR_SQLSTATE
SET pg_inbox.max_payload_bytes = '1TB';
\echo sqlstate :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SHOW pg_inbox.max_payload_bytes;
RESET pg_inbox.max_payload_bytes;

-- a schema called inbox that is not ours is not taken over
DROP EXTENSION pg_inbox;
CREATE SCHEMA inbox;
CREATE TABLE inbox.mine (n integer);
INSERT INTO inbox.mine VALUES (1);
CREATE EXTENSION pg_inbox;
SELECT count(*) AS ours_untouched FROM inbox.mine;
SELECT count(*) AS extension_absent FROM pg_extension WHERE extname = 'pg_inbox';
DROP SCHEMA inbox CASCADE;
CREATE EXTENSION pg_inbox;
SELECT count(*) FROM inbox.events;
