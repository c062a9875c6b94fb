--
-- Databases that are not UTF-8: \u escapes the encoding cannot hold are
-- rejected, not raised, and digests do not depend on the encoding.
--
CREATE DATABASE inbox_latin1 TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C';
CREATE DATABASE inbox_ascii TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C';
-- the digest of a payload with non-ASCII text, in UTF-8
SELECT status FROM inbox.ingest_raw('enc', 'e1', '{"name": "caf\u00e9"}');
SELECT encode(payload_digest, 'hex') AS utf8_digest FROM inbox.events
WHERE source = 'enc' AND event_id = 'e1' \gset

\c inbox_latin1
SET client_min_messages = warning;
CREATE EXTENSION pg_inbox;
BEGIN;
SELECT status, detail FROM inbox.ingest_raw('enc', 'e1', '{"name": "caf\u00e9"}');
SELECT status, detail FROM inbox.ingest_raw('enc', 'e2', '{"name": "\u4e2d"}');
SELECT status, detail FROM inbox.ingest_raw('enc', 'e3', '{"emoji": "\ud83d\ude00"}');
SELECT status, detail FROM inbox.ingest_raw('enc', 'e4', '{"k\u00e9y": 1, "bad": "\u0000"}');
SELECT status FROM inbox.ingest_raw('enc', 'e5', '{"plain": "ascii \u0041"}');
COMMIT;
-- the same payload has the same digest as in the UTF-8 database
SELECT encode(payload_digest, 'hex') = :'utf8_digest' AS same_digest
FROM inbox.events WHERE source = 'enc' AND event_id = 'e1';

\c inbox_ascii
SET client_min_messages = warning;
CREATE EXTENSION pg_inbox;
BEGIN;
SELECT status, detail FROM inbox.ingest_raw('enc', 'e1', '{"name": "caf\u00e9"}');
SELECT status FROM inbox.ingest_raw('enc', 'e2', '{"name": "plain"}');
COMMIT;

\c contrib_regression
DROP DATABASE inbox_latin1;
DROP DATABASE inbox_ascii;
DELETE FROM inbox.events WHERE source = 'enc';
