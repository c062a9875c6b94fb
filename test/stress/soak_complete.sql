-- soak: claim up to ten events and complete them in the same transaction;
-- each completion is logged with it
INSERT INTO soak_done (id, consumer)
SELECT c.id, 'completer-' || :client_id
FROM inbox.claim('completer-' || :client_id, 10, '1 minute') c
WHERE inbox.complete(c.id, 'completer-' || :client_id);
\sleep 5 ms
