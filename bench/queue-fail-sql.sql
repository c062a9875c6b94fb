-- processing contender: plain SQL in two steps, as inbox.claim and
-- inbox.fail do it, in bench.queue2: claim as in queue-sql2.sql, then mark
-- each claimed event failed: pending again at once, the error kept as
-- last_error and appended to the history of the last 10 failures
BEGIN;
WITH claimed AS (UPDATE bench.queue2 q SET state = 'processing', attempts = q.attempts + 1, locked_by = 'w' || :client_id, locked_until = now() + interval '5 minutes', available_at = now() + interval '5 minutes' WHERE q.id IN (SELECT id FROM bench.queue2 WHERE state IN ('pending', 'processing') AND available_at <= now() ORDER BY available_at, id LIMIT :batch FOR UPDATE SKIP LOCKED) RETURNING q.id, q.payload) SELECT coalesce(array_agg(id), '{}') AS ids FROM claimed \gset
UPDATE bench.queue2 e SET state = 'pending', locked_by = NULL, locked_until = NULL, last_error = 'handler failed', errors = (SELECT CASE WHEN jsonb_array_length(h.x) > 10 THEN h.x - 0 ELSE h.x END FROM (SELECT coalesce(e.errors, '[]'::jsonb) || jsonb_build_array(jsonb_build_object('attempt', e.attempts, 'failed_at', now(), 'consumer', 'w' || :client_id, 'error', 'handler failed')) AS x) h), available_at = now(), processed_at = NULL WHERE e.id = ANY (CAST(:ids AS bigint[])) AND e.state = 'processing' AND e.locked_by = 'w' || :client_id;
END;
