-- pg_inbox demo: a webhook endpoint's deliveries, as a provider sends them.
-- Run it in a new, empty database: psql -d DBNAME -f examples/demo.sql.  It
-- creates the extension (if the database does not have it yet) and a table
-- "orders" of its own.  test/docs/demo.sh runs it; safe to read top to bottom.
\set QUIET on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_inbox;
CREATE TABLE orders (id bigint PRIMARY KEY, status text);
\set QUIET off

\echo
\echo '1. A new webhook arrives. The handler ingests it and updates its own table'
\echo '   in the same transaction: both commit, or neither does.'
BEGIN;
SELECT status, id, detail FROM inbox.ingest_raw('stripe', 'evt_1001',
	'{"id": "evt_1001", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1", "amount": 2000, "currency": "eur"}}}',
	'{"stripe-signature": "t=1700000000,v1=..."}');
INSERT INTO orders VALUES (1, 'paid');
COMMIT;

\echo
\echo '2. The provider did not see our 200 and sends the same event again, with its'
\echo '   keys in another order. No unique violation, no aborted transaction:'
BEGIN;
SELECT status, id, detail FROM inbox.ingest_raw('stripe', 'evt_1001',
	'{"type": "payment_intent.succeeded", "id": "evt_1001", "data": {"object": {"currency": "eur", "amount": 2000.00, "id": "pi_1"}}}');
SELECT 'the transaction is still usable' AS after_duplicate;
COMMIT;

\echo
\echo '3. A replay under the same event id but with other content is a conflict;'
\echo '   the stored event is kept as it was:'
SELECT status, id, detail FROM inbox.ingest_raw('stripe', 'evt_1001',
	'{"id": "evt_1001", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1", "amount": 9999, "currency": "eur"}}}');

\echo
\echo '4. Malformed deliveries are rejected as values, with the reason:'
SELECT status, id, detail FROM inbox.ingest_raw('stripe', 'evt_1002', '{"id": "evt_1002", "type": ');
SELECT status, id, detail FROM inbox.ingest_raw('stripe', '', '{"id": ""}');
SELECT status, id, detail FROM inbox.ingest_raw('stripe', 'evt_1003', '"just a string"');

\echo
\echo '5. A batch from a queue consumer, with a repeat inside the batch:'
SELECT ord, status, id, detail FROM inbox.ingest_many('github',
	ARRAY['delivery-1', 'delivery-2', 'delivery-1', 'delivery-3'],
	ARRAY['{"action": "opened", "number": 7}',
	      '{"action": "closed", "number": 7}',
	      '{"action": "opened", "number": 7}',
	      '{"action": "reopened", "number": 7}']::jsonb[]);

\echo
\echo 'What inbox.events holds: one row per (source, event_id), waiting to be processed.'
SELECT id, source, event_id, state, payload->>'type' AS type,
       coalesce(payload->>'action', '') AS action
FROM inbox.events ORDER BY id;

\echo
\echo '6. A worker claims what is pending, completes one event and reports a failure'
\echo '   for another; the failed one comes back later, with its error kept.'
SELECT id, source, event_id, attempt FROM inbox.claim('worker-1', 2, '1 minute');
SELECT inbox.complete(1, 'worker-1') AS completed;
SELECT inbox.fail(2, 'worker-1', 'downstream returned 503') AS new_state;
SELECT inbox.complete(1, 'worker-2') AS someone_else_completing;

\echo
\echo 'Per source: events by state, and the answers ingest gave since the start.'
SELECT source, pending, processing, done, dead, inserted, duplicate, conflict, rejected
FROM inbox.stats ORDER BY source NULLS LAST;
