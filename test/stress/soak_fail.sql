-- soak: claim up to five events and fail them, to be retried shortly
INSERT INTO soak_failed (id, state)
SELECT c.id, inbox.fail(c.id, 'failer-' || :client_id, 'soak failure', '200 milliseconds')
FROM inbox.claim('failer-' || :client_id, 5, '1 minute') c;
\sleep 5 ms
