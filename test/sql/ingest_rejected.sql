--
-- Bad input is answered as "rejected" and never aborts the caller's
-- transaction; programming errors raise with a specific SQLSTATE.
--
CREATE TABLE app_log (n serial, note text);

-- every rejected case inside one transaction, which then commits other work
BEGIN;
INSERT INTO app_log (note) VALUES ('before');
SELECT status, id, received_at, detail FROM inbox.ingest(NULL, 'e', '{}');
SELECT status, detail FROM inbox.ingest('', 'e', '{}');
SELECT status, detail FROM inbox.ingest(repeat('s', 64), 'e', '{}');
SELECT status, detail FROM inbox.ingest('src', NULL, '{}');
SELECT status, detail FROM inbox.ingest('src', '', '{}');
SELECT status, detail FROM inbox.ingest('src', repeat('e', 256), '{}');
-- multibyte characters count in bytes: 32 two-byte characters are 64 bytes
SELECT status, detail FROM inbox.ingest(repeat('é', 32), 'e', '{}');
SELECT status, detail FROM inbox.ingest('src', 'e', NULL);
SELECT status, detail FROM inbox.ingest('src', 'e', '"a string"');
SELECT status, detail FROM inbox.ingest('src', 'e', '42');
SELECT status, detail FROM inbox.ingest('src', 'e', 'true');
SELECT status, detail FROM inbox.ingest('src', 'e', 'null');
SELECT status, detail FROM inbox.ingest('src', 'e', '{}', '[]');
SELECT status, detail FROM inbox.ingest('src', 'e', '{}', '"h"');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', NULL);
SELECT status, detail FROM inbox.ingest_raw('src', 'e', '');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', '   ');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', '{"a": 1');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', '{"a": 1}}');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', '{a: 1}');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', '{"a": 01}');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', '{"a": NaN}');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', '{"a": "\u0000"}');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', '{"a": "\ud800"}');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', '{"a": "\x"}');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', '"just a string"');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', '12');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', 'null');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', '{"a": 1e1000000}');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', '{"a": 1e-20000}');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', '{"a": 1e99999999999999999999}');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', repeat('[', 100000) || repeat(']', 100000));
SELECT status, detail FROM inbox.ingest_raw('src', 'e', repeat('{"a":', 100000) || '1' || repeat('}', 100000));
SELECT status, detail FROM inbox.ingest_raw('', 'e', '{}');
SELECT status, detail FROM inbox.ingest_raw('src', '', '{}');
SELECT status, detail FROM inbox.ingest_raw('src', 'e', '{}', '[1]');
SELECT ord, status, detail
FROM inbox.ingest_many('src', ARRAY['a', NULL, '', 'd', 'e'],
                       ARRAY['{}', '{}', '{}', NULL, '"s"']::jsonb[]);
SELECT ord, status, detail
FROM inbox.ingest_many(NULL, ARRAY['a', 'b'], ARRAY['{}', '{}']::jsonb[]);
SELECT ord, status, detail
FROM inbox.ingest_many(repeat('x', 64), ARRAY['a'], ARRAY['{}']::jsonb[]);
-- the transaction is healthy: only the one valid element was stored, and
-- other work commits
SELECT count(*) AS stored FROM inbox.events WHERE source IN ('src', '');
INSERT INTO app_log (note) VALUES ('after');
COMMIT;
SELECT note FROM app_log ORDER BY n;

-- what is just inside the limits is accepted
SELECT status FROM inbox.ingest(repeat('s', 63), repeat('e', 255), '{}');
SELECT status FROM inbox.ingest(repeat('é', 31), 'e', '{}');
SELECT status FROM inbox.ingest_raw('src', 'deep', repeat('[', 1000) || repeat(']', 1000));
SELECT status FROM inbox.ingest_raw('src', 'num', '{"big": 1e100000, "small": 1e-16000, "neg": -0.0}');
SELECT status FROM inbox.ingest('src', 'num', '{"big": 1e100000, "small": 1e-16000, "neg": 0}');
SELECT status FROM inbox.ingest('src', 'empty', '{}');
SELECT status FROM inbox.ingest('src', 'empty-array', '[]');
SELECT status FROM inbox.ingest_raw('src', 'ws', E' \t\n{}\n ');
SELECT status FROM inbox.ingest('src', 'ws', '{}');
SELECT status FROM inbox.ingest_raw('src', 'unicode', '{"emoji": "\ud83d\ude00", "text": "ünïcødé"}');
SELECT payload FROM inbox.events WHERE source = 'src' AND event_id = 'unicode';

--
-- Programming errors raise, with a specific SQLSTATE
--
\set SHOW_CONTEXT never
SELECT * FROM inbox.ingest_many('src', ARRAY['a', 'b'], ARRAY['{}']::jsonb[]);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.ingest_many('src', NULL, ARRAY['{}']::jsonb[]);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.ingest_many('src', ARRAY['a'], NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM inbox.ingest_many('src', ARRAY[['a'], ['b']], ARRAY['{}', '{}']::jsonb[]);
\echo sqlstate :LAST_ERROR_SQLSTATE
-- invalid JSON in a jsonb argument fails in the caller's cast, before ingest
SELECT * FROM inbox.ingest('src', 'e', '{"a": 1'::jsonb);
\echo sqlstate :LAST_ERROR_SQLSTATE

-- an error of the caller's own making still aborts, as it should
BEGIN;
SELECT status FROM inbox.ingest('src', 'in-aborted', '{}');
SELECT 1 / 0;
SELECT status FROM inbox.ingest('src', 'in-aborted', '{}');
ROLLBACK;
SELECT count(*) FROM inbox.events WHERE event_id = 'in-aborted';

-- in a subtransaction that is rolled back, the insert goes with it
BEGIN;
SAVEPOINT s;
SELECT status FROM inbox.ingest('src', 'sp', '{"v": 1}');
ROLLBACK TO SAVEPOINT s;
SELECT status FROM inbox.ingest('src', 'sp', '{"v": 2}');
COMMIT;
SELECT payload FROM inbox.events WHERE source = 'src' AND event_id = 'sp';

-- and in a read-only transaction, a new key is an error, a duplicate is not
BEGIN READ ONLY;
SELECT status FROM inbox.ingest('src', 'sp', '{"v": 2}');
SELECT status FROM inbox.ingest('src', 'ro-new', '{"v": 2}');
\echo sqlstate :LAST_ERROR_SQLSTATE
ROLLBACK;

DROP TABLE app_log;
