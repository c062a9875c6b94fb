-- A database with pg_inbox in use, to be dumped on one major and restored on
-- another (test/majors/lib.sh).  Five orders, a source limit, and each state
-- of the lifecycle: done, held by a worker, failed and waiting, pending.
\set ON_ERROR_STOP 1
CREATE EXTENSION pg_inbox;
INSERT INTO inbox.sources (source, max_payload_bytes) VALUES ('orders', 200);
SELECT count(*) FROM generate_series(1, 5) g,
	inbox.ingest('orders', 'o-' || g, jsonb_build_object('n', g, 'total', 10 * g),
				 jsonb_build_object('delivery', 1));
-- o-1 done and o-2 held (a day's lease) by worker-a
SELECT count(*) FROM inbox.claim('worker-a', 2, '1 day', ARRAY['orders']);
SELECT inbox.complete(1, 'worker-a');
-- o-3 failed once by worker-b, to be retried in a day
SELECT count(*) FROM inbox.claim('worker-b', 1, '1 hour', ARRAY['orders']);
SELECT inbox.fail(3, 'worker-b', 'card declined', '1 day');
