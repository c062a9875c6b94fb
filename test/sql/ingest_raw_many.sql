--
-- inbox.ingest_raw_many: the batch for raw bodies.  A malformed body is one
-- rejected row and the rest of the batch is stored; the caller's
-- transaction goes on.  Batches take their keys in byte order of the event
-- id and answer in the caller's order.
--
SET timezone = 'UTC';
CREATE TABLE raw_log (n serial, note text);
INSERT INTO inbox.sources (source, max_payload_bytes) VALUES ('raw-small', 40), ('raw-one', 1);

-- a mixed batch inside a transaction that does other work before and after
BEGIN;
INSERT INTO raw_log (note) VALUES ('before');
SELECT ord, status, id IS NOT NULL AS has_id, received_at = now() AS now, detail
FROM inbox.ingest_raw_many('raw-small',
	ARRAY['ok-1', 'bad-json', 'ok-2', 'too-big', 'ok-1', 'ok-2', NULL, '', 'null-body', 'scalar', 'json-null', 'nul', 'ok-3'],
	ARRAY['{"n": 1}', '{"n": ', '[1, 2]', '{"s": "' || repeat('x', 40) || '"}', '{ "n" : 1.0 }', '[2, 1]',
	      '{}', '{}', NULL, '"text"', 'null', '{"a": "\u0000"}', '{"n": 3}']);
INSERT INTO raw_log (note) VALUES ('after');
COMMIT;
SELECT n, note FROM raw_log ORDER BY n;
SELECT event_id, payload FROM inbox.events WHERE source = 'raw-small' ORDER BY event_id;

-- the same bodies again: duplicates of the stored events, and a conflict
SELECT ord, status, detail IS NOT NULL AS has_detail
FROM inbox.ingest_raw_many('raw-small', ARRAY['ok-3', 'ok-1', 'ok-2'],
	ARRAY['{"n":3}', '{"n": 1}', '[1, 2, 3]']);
-- each answer carries the stored event's id and received_at
SELECT r.ord, r.status, r.id = e.id AS same_id, r.received_at = e.received_at AS same_time
FROM inbox.ingest_raw_many('raw-small', ARRAY['ok-1', 'ok-2'], ARRAY['{"n": 1}', '[1, 2]']) r
JOIN inbox.events e ON e.source = 'raw-small' AND e.event_id = (ARRAY['ok-1', 'ok-2'])[r.ord]
ORDER BY r.ord;

-- answers agree with ingest_raw and ingest_many for the same bodies
SELECT status FROM inbox.ingest_raw('raw-small', 'ok-1', '{"n": 1}');
SELECT ord, status FROM inbox.ingest_many('raw-small', ARRAY['ok-1', 'ok-2'], ARRAY['{"n": 1}', '[1]']::jsonb[]);

-- a source that is unusable rejects every element, in order
SELECT ord, status, detail FROM inbox.ingest_raw_many(NULL, ARRAY['a', 'b'], ARRAY['{}', '{}']);
SELECT ord, status, detail FROM inbox.ingest_raw_many(repeat('s', 64), ARRAY['a'], ARRAY['{}']);

-- a limit of one byte is worded in the singular
SELECT status, detail FROM inbox.ingest_raw_many('raw-one', ARRAY['a'], ARRAY['{}']);
SELECT status, detail FROM inbox.ingest('raw-one', 'a', '{}');

-- headers: NULL array, NULL and JSON null elements, a bad element
SELECT ord, status, detail
FROM inbox.ingest_raw_many('raw-h', ARRAY['h-1', 'h-2', 'h-3', 'h-4', 'h-5'],
	ARRAY['{}', '{}', '{}', '{}', '{}'],
	ARRAY['{"x-delivery": "1"}', NULL, 'null', '"text"', '[]']::jsonb[]);
SELECT ord, status FROM inbox.ingest_raw_many('raw-h', ARRAY['h-6'], ARRAY['{}'], NULL);
SELECT ord, status FROM inbox.ingest_raw_many('raw-h', ARRAY['h-7'], ARRAY['{}']);
SELECT event_id, headers FROM inbox.events WHERE source = 'raw-h' ORDER BY event_id;
-- headers are never compared: a redelivery with other headers is a duplicate
SELECT ord, status FROM inbox.ingest_raw_many('raw-h', ARRAY['h-1', 'h-2'], ARRAY['{}', '{}'],
	ARRAY['{"x-delivery": "2"}', '{"x-delivery": "2"}']::jsonb[]);

-- empty arrays: no rows; arrays of other bounds count ord from 1
SELECT count(*) FROM inbox.ingest_raw_many('raw-e', '{}'::text[], '{}'::text[]);
SELECT count(*) FROM inbox.ingest_raw_many('raw-e', '{}'::text[], '{}'::text[], '{}'::jsonb[]);
SELECT ord, status FROM inbox.ingest_raw_many('raw-e', '[0:1]={b-a,b-b}'::text[], '[3:4]={"{}","[]"}'::text[]);

-- programming errors raise, with their SQLSTATE
\set VERBOSITY sqlstate
SELECT * FROM inbox.ingest_raw_many('raw-e', NULL, ARRAY['{}']);
SELECT * FROM inbox.ingest_raw_many('raw-e', ARRAY['a'], NULL);
SELECT * FROM inbox.ingest_raw_many('raw-e', ARRAY[['a'], ['b']], ARRAY[['{}'], ['{}']]);
SELECT * FROM inbox.ingest_raw_many('raw-e', ARRAY['a'], ARRAY['{}'], ARRAY[['{}'], ['{}']]::jsonb[]);
\set VERBOSITY default
SELECT * FROM inbox.ingest_raw_many('raw-e', ARRAY['a', 'b'], ARRAY['{}']);
SELECT * FROM inbox.ingest_raw_many('raw-e', ARRAY['a'], ARRAY['{}', '{}']);
SELECT * FROM inbox.ingest_raw_many('raw-e', ARRAY['a', 'b'], ARRAY['{}', '{}'], ARRAY['{}']::jsonb[]);
SELECT * FROM inbox.ingest_raw_many('raw-e', ARRAY['a'], ARRAY['{}'], '{}'::jsonb[]);
-- and the same wording from ingest_many
SELECT * FROM inbox.ingest_many('raw-e', ARRAY['a'], ARRAY['{}', '{}']::jsonb[]);
SELECT * FROM inbox.ingest_many('raw-e', ARRAY['a', 'b', 'c'], ARRAY['{}']::jsonb[]);
SELECT count(*) AS nothing_stored FROM inbox.events WHERE source = 'raw-e' AND event_id IN ('a', 'b', 'c');

-- the canonical order: keys are taken in byte order of the event id (ids
-- are drawn in that order), whatever the collation; answers come in the
-- caller's order; a repeated key answers relative to its first occurrence
-- in the caller's order
SELECT ord, status, detail IS NOT NULL AS has_detail
FROM inbox.ingest_raw_many('raw-order', ARRAY['é', 'b', 'B', 'a', 'b', 'ä', 'é', 'aa', 'a'],
	ARRAY['{"v": 1}', '{"v": 2}', '{"v": 3}', '{"v": 4}', '{"v": 5}', '{"v": 6}', '{"v": 1}', '{"v": 7}', '{"v": 4}']);
SELECT event_id, payload, rank() OVER (ORDER BY id) AS id_rank
FROM inbox.events WHERE source = 'raw-order' ORDER BY event_id COLLATE "C";
SELECT ord, status, detail IS NOT NULL AS has_detail
FROM inbox.ingest_many('many-order', ARRAY['z', 'y', 'z', 'x', 'y'],
	ARRAY['{"v": 1}', '{"v": 2}', '{"v": 3}', '{"v": 4}', '{"v": 2}']::jsonb[]);
SELECT event_id, payload, rank() OVER (ORDER BY id) AS id_rank
FROM inbox.events WHERE source = 'many-order' ORDER BY event_id COLLATE "C";

-- a large batch: 20,000 elements over 5,000 keys, one in five malformed,
-- and every fourth occurrence of a key with another body
SELECT status, count(*)
FROM inbox.ingest_raw_many('raw-large',
	(SELECT array_agg('k-' || (g % 5000) ORDER BY g) FROM generate_series(0, 19999) g),
	(SELECT array_agg(CASE WHEN g % 5 = 4 THEN '{"broken": ' WHEN g >= 15000 THEN '{"v": "other"}'
	                       ELSE '{"v": ' || (g % 5000) || '}' END ORDER BY g)
	   FROM generate_series(0, 19999) g))
GROUP BY status ORDER BY status;
SELECT count(*) AS stored, count(DISTINCT event_id) AS keys
FROM inbox.events WHERE source = 'raw-large';
-- the rows come back in the caller's order
SELECT bool_and(ord = n) AS in_order, count(*)
FROM (SELECT ord, row_number() OVER () AS n
      FROM inbox.ingest_raw_many('raw-large',
	      (SELECT array_agg('k-' || (4999 - g) ORDER BY g) FROM generate_series(0, 4999) g),
	      array_fill('{}'::text, ARRAY[5000]))) r;

DELETE FROM inbox.events WHERE source LIKE 'raw-%' OR source = 'many-order';
DELETE FROM inbox.sources WHERE source LIKE 'raw-%';
DROP TABLE raw_log;
