-- What a database made by populate.sql answers; the same before a dump and
-- after its restore, on any major (answers.out).
\set ON_ERROR_STOP 1
\pset null '(null)'
-- a redelivery is a duplicate, whatever the key order and headers
SELECT status, id FROM inbox.ingest('orders', 'o-1', '{"total": 10, "n": 1}', '{"delivery": 2}');
SELECT status, id FROM inbox.ingest_raw('orders', 'o-2', '{"total":20,"n":2}');
-- a changed payload is a conflict, and the stored event is kept
SELECT status, id, detail IS NOT NULL AS says_why FROM inbox.ingest('orders', 'o-3', '{"n": 3, "total": 99}');
-- a batch: duplicate, conflict, a new key (the ids go on), its repetition
SELECT ord, status, id FROM inbox.ingest_many('orders', ARRAY['o-4', 'o-5', 'o-6', 'o-6'],
	ARRAY['{"n": 4, "total": 40}', '{"n": 5}', '{"n": 6}', '{"n": 6}']::jsonb[]);
-- the source's limit holds
SELECT status, id FROM inbox.ingest('orders', 'o-7', jsonb_build_object('pad', repeat('x', 300)));
-- claims: o-2 is still held, o-3 waits for its retry, o-4 to o-6 are taken
SELECT id, event_id, attempt, payload FROM inbox.claim('worker-c', 10, '1 hour', ARRAY['orders']) ORDER BY id;
-- the holder of o-2 is still worker-a
SELECT inbox.complete(2, 'worker-c') AS completed_by_another;
SELECT inbox.complete(2, 'worker-a') AS completed_by_holder;
SELECT inbox.fail(4, 'worker-c', 'timeout', '1 day') AS failed;
SELECT id, event_id, state, attempts, locked_by, last_error, headers
FROM inbox.events ORDER BY id;
