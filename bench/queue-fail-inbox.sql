-- processing contender: inbox.claim and inbox.fail with a retry, in one
-- transaction: claim up to :batch events for worker w<client_id> and fail
-- each, to be retried at once (the event goes back to the queue)
SELECT inbox.fail(id, 'w' || :client_id, 'handler failed', '0') FROM inbox.claim('w' || :client_id, :batch);
