--
-- inbox.ingest, inbox.ingest_raw, inbox.ingest_many: the four answers
--
SET timezone = 'UTC';

-- a new key is inserted; the answer carries the new event's id
SELECT status, id IS NOT NULL AS has_id, received_at = now() AS received_now, detail
FROM inbox.ingest('stripe', 'evt_1', '{"type": "charge.succeeded", "amount": 1000}');

-- the same key and payload again: duplicate, with the original's id
SELECT status, id = (SELECT e.id FROM inbox.events e
                     WHERE e.source = 'stripe' AND e.event_id = 'evt_1') AS same_id,
       detail
FROM inbox.ingest('stripe', 'evt_1', '{"type": "charge.succeeded", "amount": 1000}');

-- jsonb equality decides: key order, white space and 1000 vs 1000.00 do not matter
SELECT status FROM inbox.ingest('stripe', 'evt_1', '{"amount":1000.00,   "type":"charge.succeeded"}');
SELECT status FROM inbox.ingest('stripe', 'evt_1', '{"amount": 1e3, "type": "charge.succeeded"}');

-- other content under the same key: conflict; the stored event is kept
SELECT status, id = (SELECT e.id FROM inbox.events e
                     WHERE e.source = 'stripe' AND e.event_id = 'evt_1') AS same_id,
       detail
FROM inbox.ingest('stripe', 'evt_1', '{"type": "charge.refunded", "amount": 1000}');
SELECT payload FROM inbox.events WHERE source = 'stripe' AND event_id = 'evt_1';

-- types matter: the string "1000" is not the number 1000
SELECT status FROM inbox.ingest('stripe', 'evt_1', '{"type": "charge.succeeded", "amount": "1000"}');
-- so does array order, and an extra key
SELECT status FROM inbox.ingest('stripe', 'evt_2', '[1, 2, 3]');
SELECT status FROM inbox.ingest('stripe', 'evt_2', '[3, 2, 1]');
SELECT status FROM inbox.ingest('stripe', 'evt_1', '{"type": "charge.succeeded", "amount": 1000, "x": null}');
-- an object is not an array holding the same thing
SELECT status FROM inbox.ingest('stripe', 'evt_3', '{"a": [{}]}');
SELECT status FROM inbox.ingest('stripe', 'evt_3', '{"a": {}}');
-- strings: escapes are decoded before comparing, but case and unicode form are not folded
SELECT status FROM inbox.ingest('stripe', 'evt_4', '{"name": "caf\u00e9"}');
SELECT status FROM inbox.ingest('stripe', 'evt_4', '{"name": "café"}');
SELECT status FROM inbox.ingest('stripe', 'evt_4', '{"name": "CAFÉ"}');
-- deep and wide payloads are compared as a whole
SELECT status FROM inbox.ingest('stripe', 'evt_5',
	(SELECT jsonb_build_object('items', jsonb_agg(jsonb_build_object('n', g, 'p', g * 1.5))) FROM generate_series(1, 2000) g));
SELECT status FROM inbox.ingest('stripe', 'evt_5',
	(SELECT jsonb_build_object('items', jsonb_agg(jsonb_build_object('p', g * 1.50, 'n', g))) FROM generate_series(1, 2000) g));
SELECT status FROM inbox.ingest('stripe', 'evt_5',
	(SELECT jsonb_build_object('items', jsonb_agg(jsonb_build_object('n', g, 'p', g * 1.5 + (g = 1999)::int))) FROM generate_series(1, 2000) g));

-- keys are exact: sources and event ids are compared byte for byte
SELECT status FROM inbox.ingest('Stripe', 'evt_1', '{"type": "charge.succeeded", "amount": 1000}');
SELECT status FROM inbox.ingest('stripe', 'EVT_1', '{"type": "charge.succeeded", "amount": 1000}');
SELECT status FROM inbox.ingest('stripe', 'evt_1 ', '{"type": "charge.succeeded", "amount": 1000}');

-- headers are stored but do not take part in the decision
SELECT status FROM inbox.ingest('github', 'd-1', '{"action": "opened"}', '{"x-github-delivery": "d-1", "attempt": 1}');
SELECT status FROM inbox.ingest('github', 'd-1', '{"action": "opened"}', '{"x-github-delivery": "d-1", "attempt": 2}');
SELECT headers FROM inbox.events WHERE source = 'github' AND event_id = 'd-1';

-- the row as stored: lifecycle columns start as pending
SELECT source, event_id, state, attempts, available_at = received_at AS available_now,
       locked_by, locked_until, processed_at, last_error,
       octet_length(payload_digest) AS digest_bytes
FROM inbox.events WHERE source = 'stripe' AND event_id = 'evt_1';

-- the digest agrees with jsonb equality
SELECT count(DISTINCT payload_digest) AS digests, count(DISTINCT payload) AS payloads
FROM inbox.events WHERE source IN ('stripe', 'Stripe', 'github');

--
-- ingest_raw: the body as text
--
SELECT status, id IS NOT NULL AS has_id, detail
FROM inbox.ingest_raw('shopify', 'o-1', '{"order": {"id": 1, "total": "9.99"}}');
SELECT status FROM inbox.ingest_raw('shopify', 'o-1', E'{ "order" :\n  {"total": "9.99", "id": 1.0} }');
SELECT status FROM inbox.ingest_raw('shopify', 'o-1', '{"order": {"id": 2, "total": "9.99"}}');
-- ingest and ingest_raw see one and the same key space
SELECT status FROM inbox.ingest('shopify', 'o-1', '{"order": {"id": 1, "total": "9.99"}}');
-- duplicate keys in a body: the last one wins, as in jsonb
SELECT status FROM inbox.ingest_raw('shopify', 'o-2', '{"a": 1, "a": 2}');
SELECT payload FROM inbox.events WHERE source = 'shopify' AND event_id = 'o-2';
SELECT status FROM inbox.ingest('shopify', 'o-2', '{"a": 2}');
-- headers with a raw body
SELECT status FROM inbox.ingest_raw('shopify', 'o-3', '[]', '{"x-shopify-topic": "orders/create"}');
SELECT headers FROM inbox.events WHERE source = 'shopify' AND event_id = 'o-3';

--
-- ingest_many: one row per element, in order
--
SELECT ord, status, id IS NOT NULL AS has_id, detail
FROM inbox.ingest_many('batch',
	ARRAY['b-1', 'b-2', 'b-1', 'b-3', 'b-2', 'stripe'],
	ARRAY['{"n": 1}', '{"n": 2}', '{"n": 1.0}', '{"n": 3}', '{"n": 22}', '{"n": 4}']::jsonb[]);
-- a repeated key is a duplicate of its first occurrence in the batch
SELECT ord, status, id = first_value(id) OVER (ORDER BY ord) AS same_id_as_first
FROM inbox.ingest_many('batch2', ARRAY['k', 'k', 'k'], ARRAY['{}', '{}', '{"x": 1}']::jsonb[])
ORDER BY ord;
SELECT event_id, payload FROM inbox.events WHERE source = 'batch2';
-- and a key stored earlier is recognised
SELECT ord, status
FROM inbox.ingest_many('batch', ARRAY['b-3', 'b-4'], ARRAY['{"n": 3}', '{"n": 4}']::jsonb[]);
-- an empty batch returns no rows
SELECT count(*) FROM inbox.ingest_many('batch', '{}'::text[], '{}'::jsonb[]);
-- ids follow the order of the batch
SELECT bool_and(id > prev) AS ascending
FROM (SELECT id, lag(id) OVER (ORDER BY ord) AS prev
      FROM inbox.ingest_many('batch3', ARRAY['x1', 'x2', 'x3', 'x4'],
                             ARRAY['{}', '{}', '{}', '{}']::jsonb[])) s
WHERE prev IS NOT NULL;

-- ingest works on a lateral call per row of a table, in one statement
CREATE TABLE deliveries (n int, event_id text, body jsonb);
INSERT INTO deliveries
SELECT g, 'd-' || (g % 7), jsonb_build_object('v', g % 7) FROM generate_series(1, 30) g;
SELECT r.status, count(*)
FROM deliveries d, inbox.ingest('lateral', d.event_id, d.body) r
GROUP BY r.status ORDER BY r.status;
DROP TABLE deliveries;

--
-- the payload limit: pg_inbox.max_payload_bytes, or inbox.sources
--
SHOW pg_inbox.max_payload_bytes;
SET pg_inbox.max_payload_bytes = '100B';
SELECT status, detail FROM inbox.ingest('small', 's-1', jsonb_build_object('pad', repeat('x', 200)));
SELECT status, detail FROM inbox.ingest_raw('small', 's-1', jsonb_build_object('pad', repeat('x', 200))::text);
SELECT status FROM inbox.ingest('small', 's-1', '{"pad": "x"}');
-- a row in inbox.sources overrides the setting for its source
INSERT INTO inbox.sources (source, max_payload_bytes) VALUES ('small', 1000);
SELECT status FROM inbox.ingest('small', 's-2', jsonb_build_object('pad', repeat('x', 200)));
SELECT status, detail FROM inbox.ingest('small', 's-3', jsonb_build_object('pad', repeat('x', 2000)));
UPDATE inbox.sources SET max_payload_bytes = NULL WHERE source = 'small';
SELECT status FROM inbox.ingest('small', 's-4', jsonb_build_object('pad', repeat('x', 200)));
RESET pg_inbox.max_payload_bytes;
SELECT status FROM inbox.ingest('small', 's-4', jsonb_build_object('pad', repeat('x', 200)));
-- a duplicate over the limit is rejected: the limit is checked first
UPDATE inbox.sources SET max_payload_bytes = 10 WHERE source = 'small';
SELECT status, detail FROM inbox.ingest('small', 's-4', jsonb_build_object('pad', repeat('x', 200)));
-- the limit is checked on the stored size, without detoasting a large value
SET pg_inbox.max_payload_bytes = '64kB';
SELECT status, detail FROM inbox.ingest('big', 'g-1',
	(SELECT jsonb_agg(md5(g::text)) FROM generate_series(1, 100000) g));
-- the same for an element of a batch, beside one within the limit
SELECT ord, status, detail FROM inbox.ingest_many('big', ARRAY['g-2', 'g-3'],
	ARRAY[(SELECT jsonb_agg(md5(g::text)) FROM generate_series(1, 100000) g), '{}']);
RESET pg_inbox.max_payload_bytes;
-- settings out of range are refused: test/sql/server_text.sql (the wording
-- is PostgreSQL's own and differs between majors)
\set VERBOSITY terse
INSERT INTO inbox.sources (source, max_payload_bytes) VALUES ('too-big', 67108865);
INSERT INTO inbox.sources (source) VALUES ('');
\set VERBOSITY default
DELETE FROM inbox.sources;
