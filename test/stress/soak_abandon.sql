-- soak: a worker that claims an event with a short lease and is never heard
-- of again; the event comes back when the lease ends
SELECT count(*) FROM inbox.claim('abandoner-' || :client_id, 1, '300 milliseconds');
\sleep 20 ms
