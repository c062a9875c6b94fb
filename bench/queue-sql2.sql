-- processing contender: plain SQL in two steps, as inbox.claim and
-- inbox.complete do it, in bench.queue2 (see baseline.sql), in one
-- transaction: claim up to :batch claimable events for worker w<client_id>
-- with a lease (what inbox.claim sets, without its attempt limit), then mark
-- the claimed ones done if the worker still holds them.  The claim hands the
-- ids to the complete through \gset, as an array.
BEGIN;
WITH claimed AS (UPDATE bench.queue2 q SET state = 'processing', attempts = q.attempts + 1, locked_by = 'w' || :client_id, locked_until = now() + interval '5 minutes', available_at = now() + interval '5 minutes' WHERE q.id IN (SELECT id FROM bench.queue2 WHERE state IN ('pending', 'processing') AND available_at <= now() ORDER BY available_at, id LIMIT :batch FOR UPDATE SKIP LOCKED) RETURNING q.id, q.payload) SELECT coalesce(array_agg(id), '{}') AS ids FROM claimed \gset
UPDATE bench.queue2 SET state = 'done', processed_at = now(), locked_by = NULL, locked_until = NULL WHERE id = ANY (CAST(:ids AS bigint[])) AND state = 'processing' AND locked_by = 'w' || :client_id;
END;
