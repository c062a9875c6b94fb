--
-- The worker of the README's "Processing events" section, run for real: it
-- survives its own failures without losing or double-processing an event.
--
CREATE SCHEMA app;
CREATE TABLE app.payments (event_id text PRIMARY KEY, amount numeric NOT NULL);
CREATE TABLE app.handled (event_id text, attempt int, worker text);

-- the application's handler: fails on a bad amount, and once, on purpose, on
-- the first attempt of evt-3 (a flaky downstream)
CREATE FUNCTION app.handle(event_id text, attempt int, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO app.handled VALUES (event_id, attempt, current_setting('app.worker'));
	IF event_id = 'evt-3' AND attempt = 1 THEN
		RAISE EXCEPTION 'downstream timed out';
	END IF;
	INSERT INTO app.payments VALUES (event_id, (payload ->> 'amount')::numeric);
END;
$$;

-- the worker: claim a batch, handle each event, complete it or record the
-- failure, and commit each event's outcome on its own
CREATE PROCEDURE app.process_inbox(worker text, batch integer DEFAULT 10)
LANGUAGE plpgsql AS $$
DECLARE
	ev record;
	claimed integer;
BEGIN
	PERFORM set_config('app.worker', worker, false);
	LOOP
		claimed := 0;
		FOR ev IN SELECT * FROM inbox.claim(worker, batch, '2 minutes') LOOP
			claimed := claimed + 1;
			BEGIN
				PERFORM app.handle(ev.event_id, ev.attempt, ev.payload);
				IF NOT inbox.complete(ev.id, worker) THEN
					-- the lease ran out and another worker has the event:
					-- undo this run's work, it is that worker's now
					RAISE EXCEPTION 'lost the lease of event %', ev.id;
				END IF;
			EXCEPTION WHEN OTHERS THEN
				PERFORM inbox.fail(ev.id, worker, SQLERRM);
			END;
			COMMIT;
		END LOOP;
		EXIT WHEN claimed = 0;
	END LOOP;
END;
$$;

INSERT INTO inbox.sources (source, max_attempts) VALUES ('payments', 3);
SELECT status, count(*) FROM (
	SELECT (inbox.ingest('payments', 'evt-' || g,
						 jsonb_build_object('amount', CASE WHEN g = 4 THEN 'lots' ELSE g::text END))).status
	FROM generate_series(1, 5) g) s
GROUP BY status;

CALL app.process_inbox('worker-1');
-- evt-3 failed once and waits for its retry; evt-4 can never succeed
SELECT event_id, state, attempts, last_error FROM inbox.events
WHERE source = 'payments' ORDER BY event_id;

-- time passes: make the retries due now, and run the worker again, twice
UPDATE inbox.events SET available_at = now() WHERE source = 'payments' AND state = 'pending';
CALL app.process_inbox('worker-2');
UPDATE inbox.events SET available_at = now() WHERE source = 'payments' AND state = 'pending';
CALL app.process_inbox('worker-2');
SELECT event_id, state, attempts, left(last_error, 40) AS last_error
FROM inbox.events WHERE source = 'payments' ORDER BY event_id;

-- every payment was applied exactly once; the bad one is dead after 3 attempts
SELECT event_id, amount FROM app.payments ORDER BY event_id;
-- (a failed attempt's own writes were rolled back with it, so each event has
-- exactly one committed run of the handler)
SELECT event_id, count(*) AS committed_runs FROM app.handled GROUP BY event_id ORDER BY event_id;

-- a redelivery of a processed event is a duplicate and is not processed again
SELECT status FROM inbox.ingest('payments', 'evt-1', '{"amount": "1"}');
CALL app.process_inbox('worker-3');
SELECT count(*) AS handled_again FROM app.handled WHERE worker = 'worker-3';

-- after fixing the handler, the dead event is replayed and goes through
CREATE OR REPLACE FUNCTION app.handle(event_id text, attempt int, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO app.handled VALUES (event_id, attempt, current_setting('app.worker'));
	INSERT INTO app.payments VALUES (event_id, coalesce(nullif(payload ->> 'amount', 'lots'), '0')::numeric);
END;
$$;
SELECT inbox.replay('payments', now() - interval '1 hour', now() + interval '1 hour');
CALL app.process_inbox('worker-4');
SELECT event_id, state FROM inbox.events WHERE source = 'payments' ORDER BY event_id;

DROP SCHEMA app CASCADE;
DELETE FROM inbox.events WHERE source = 'payments';
DELETE FROM inbox.sources WHERE source = 'payments';
