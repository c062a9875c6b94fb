--
-- Headers of JSON null mean "no headers", as SQL NULL does, in every ingest
-- function: the event is stored with headers NULL.  A payload or body of
-- JSON null is still rejected: a payload must be an object or an array.
--
SET timezone = 'UTC';

SELECT status, detail FROM inbox.ingest_raw('nh', 'raw', '{}', 'null');
SELECT status, detail FROM inbox.ingest('nh', 'plain', '{}', 'null');
SELECT status, detail FROM inbox.ingest('nh', 'plain-cast', '{}', ' null '::jsonb);
SELECT status, detail FROM inbox.ingest('nh', 'plain-null', '{}', NULL);
SELECT ord, status, detail FROM inbox.ingest_raw_many('nh', ARRAY['many-1', 'many-2'], ARRAY['{}', '[]'],
	ARRAY['null', NULL]::jsonb[]);
SELECT event_id, headers IS NULL AS no_headers FROM inbox.events WHERE source = 'nh' ORDER BY event_id;

-- a redelivery with JSON null headers is a duplicate, and one with real
-- headers after JSON null ones too
SELECT status FROM inbox.ingest_raw('nh', 'raw', '{}', 'null');
SELECT status FROM inbox.ingest_raw('nh', 'raw', '{}', '{"x-attempt": "2"}');
SELECT status FROM inbox.ingest('nh', 'plain', '{ }', 'null');

-- other scalars are still not headers
SELECT status, detail FROM inbox.ingest('nh', 'bad', '{}', '"null"');
SELECT status, detail FROM inbox.ingest('nh', 'bad', '{}', 'false');
SELECT status, detail FROM inbox.ingest('nh', 'bad', '{}', '0');
SELECT status, detail FROM inbox.ingest_raw('nh', 'bad', '{}', '[null]');

-- a payload or body of JSON null is still rejected
SELECT status, detail FROM inbox.ingest('nh', 'bad', 'null');
SELECT status, detail FROM inbox.ingest('nh', 'bad', 'null', 'null');
SELECT status, detail FROM inbox.ingest_raw('nh', 'bad', 'null', 'null');
SELECT ord, status, detail FROM inbox.ingest_many('nh', ARRAY['bad'], ARRAY['null']::jsonb[]);
SELECT ord, status, detail FROM inbox.ingest_raw_many('nh', ARRAY['bad'], ARRAY['null'], ARRAY['null']::jsonb[]);
SELECT count(*) AS bad_stored FROM inbox.events WHERE source = 'nh' AND event_id = 'bad';

DELETE FROM inbox.events WHERE source = 'nh';
