-- processing contender: the strongest plain SQL, one statement that claims
-- up to :batch pending events (oldest first, skipping locked rows) and marks
-- them done, in bench.queue (see baseline.sql), one statement per transaction
UPDATE bench.queue SET state = 'done', attempts = attempts + 1, processed_at = now() WHERE id IN (SELECT id FROM bench.queue WHERE state = 'pending' AND available_at <= now() ORDER BY available_at, id LIMIT :batch FOR UPDATE SKIP LOCKED) RETURNING id;
