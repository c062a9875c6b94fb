-- The application's own tables, beside pg_inbox, for the examples of
-- docs/python.md and docs/node.md (run by their tests in a new database).
CREATE EXTENSION IF NOT EXISTS pg_inbox;

-- What the webhook handler writes, in the transaction that stores the event.
-- No UNIQUE on event_id on purpose: one row per event is pg_inbox's doing
-- (the handler writes only when the event was inserted), and the load tests
-- check it.
CREATE TABLE payments (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inbox_id bigint NOT NULL,
    event_id text NOT NULL,
    amount   integer NOT NULL
);

-- What the worker writes when it handles an event later.
CREATE TABLE fulfilments (
    inbox_id bigint PRIMARY KEY,
    event_id text NOT NULL,
    attempt  integer NOT NULL
);

-- The invitation log of the upsert example: one row per contact.
CREATE TABLE invitation_logs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id    bigint NOT NULL UNIQUE,
    status        text NOT NULL,
    error_message text,
    attempts      integer NOT NULL DEFAULT 0
);
CREATE TABLE app_config (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO app_config VALUES ('invitation_batch_size', '50');

-- The pattern the incidents used, for the load test to compare with: a raw
-- webhook table with a UNIQUE key, an INSERT that fails on a redelivery.
CREATE TABLE raw_webhooks (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id text NOT NULL UNIQUE,
    payload  jsonb NOT NULL
);
CREATE TABLE seed_payments (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id text NOT NULL,
    amount   integer NOT NULL
);

-- The worker of the README as a procedure that commits after each event: it
-- must be CALLed outside a transaction block (autocommit).
CREATE PROCEDURE fulfil_pending(consumer text)
LANGUAGE plpgsql AS $$
DECLARE
    ev record;
BEGIN
    FOR ev IN SELECT * FROM inbox.claim(consumer, 100, '1 minute') LOOP
        INSERT INTO public.fulfilments VALUES (ev.id, ev.event_id, ev.attempt);
        PERFORM inbox.complete(ev.id, consumer);
        COMMIT;
    END LOOP;
END;
$$;
