-- soak: one ingest per transaction over a growing key space.  Half the calls
-- take a new key, half a key drawn from those handed out so far (a repeat,
-- or a key whose first call is still in flight); one call in twenty sends
-- the key's other payload.  The answer is logged in the same transaction,
-- so a logged answer is one that committed.
\set r random(1, 100)
\set c random(1, 100)
INSERT INTO soak_answers (key, variant, status)
SELECT s.key, s.variant, i.status
FROM (SELECT 'k' || CASE WHEN :r <= 50 THEN pg_catalog.nextval('soak_keys')
                         ELSE 1 + pg_catalog.floor(pg_catalog.random() *
                                  (SELECT last_value FROM soak_keys))::bigint END AS key,
             CASE WHEN :c <= 5 THEN 2 ELSE 1 END AS variant) s,
     LATERAL inbox.ingest('soak', s.key,
         pg_catalog.jsonb_build_object('key', s.key, 'variant', s.variant,
             'type', 'payment_intent.succeeded', 'amount', 4200)) i;
