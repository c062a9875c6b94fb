-- processing contender: inbox.claim and inbox.complete, in one transaction:
-- claim up to :batch events for worker w<client_id> and complete each
SELECT inbox.complete(id, 'w' || :client_id) FROM inbox.claim('w' || :client_id, :batch);
