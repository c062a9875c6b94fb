--
-- The invitation log, with pg_inbox.
--
-- One log row per contact (contact_id is UNIQUE).  The original worker
-- INSERTed a second row for the contact when sending failed: the UNIQUE
-- violation aborted the transaction, and every later query on the session,
-- down to reading the application's settings, failed until a rollback.
-- With inbox.upsert the worker states what the row should say; with
-- inbox.attempt a statement that may violate a constraint answers with the
-- error instead of aborting the transaction.
--
CREATE TABLE invitation_logs (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	contact_id bigint NOT NULL UNIQUE,
	status text NOT NULL,
	error_message text,
	attempts integer NOT NULL DEFAULT 0,
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE app_config (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO app_config VALUES ('invitation_batch_size', '5');

-- The worker sends contact 42 its invitation.  The key is contact_id, not
-- the primary key id, so it is named.
BEGIN;
SELECT action, "row" ->> 'status' AS status
FROM inbox.upsert('invitation_logs',
	'{"contact_id": 42, "status": "sending", "attempts": 1}', '{contact_id}');
-- ... sending fails (rate limited): record it on the same row.  This is where
-- the original code inserted a second row and crashed.
SELECT action, "row" ->> 'status' AS status, "row" ->> 'error_message' AS error_message
FROM inbox.upsert('invitation_logs',
	'{"contact_id": 42, "status": "failed", "error_message": "rate limited"}', '{contact_id}');
-- the transaction is fine: the next read works, and the work commits
SELECT value AS batch_size FROM app_config WHERE key = 'invitation_batch_size';
COMMIT;

-- The retry succeeds: the row says sent, and the old error is cleared.
BEGIN;
SELECT action FROM inbox.upsert('invitation_logs',
	'{"contact_id": 42, "status": "sending", "attempts": 2}', '{contact_id}');
SELECT action, "row" ->> 'status' AS status, "row" ->> 'error_message' AS error_message
FROM inbox.upsert('invitation_logs',
	'{"contact_id": 42, "status": "sent", "error_message": null}', '{contact_id}');
COMMIT;

-- The same message is delivered again: nothing to do, nothing written.
SELECT action FROM inbox.upsert('invitation_logs',
	'{"contact_id": 42, "status": "sent", "error_message": null}', '{contact_id}');

SELECT contact_id, status, error_message, attempts FROM invitation_logs;

-- Code that keeps its plain INSERT can guard it: the UNIQUE violation comes
-- back as a value, only that statement is undone, the transaction goes on.
BEGIN;
SELECT ok, sqlstate, constraint_name, detail
FROM inbox.attempt($$INSERT INTO invitation_logs (contact_id, status) VALUES (42, 'failed')$$);
SELECT value AS batch_size FROM app_config WHERE key = 'invitation_batch_size';
COMMIT;

SELECT count(*) AS log_rows FROM invitation_logs WHERE contact_id = 42;

DROP TABLE invitation_logs, app_config;
