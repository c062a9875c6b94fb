--
-- Constraints, indexes and rules that a user adds to inbox.events: each is honoured,
-- and none makes an expected answer raise or abort the caller's transaction.
-- A new event that breaks a user's own constraint raises that constraint's
-- error, as the INSERT would.
--
\set VERBOSITY terse
DELETE FROM inbox.events WHERE source LIKE 'ec-%';

CREATE ROLE ec_writer;
GRANT USAGE ON SCHEMA inbox TO ec_writer;
GRANT EXECUTE ON FUNCTION inbox.ingest(text, text, jsonb, jsonb),
                          inbox.ingest_raw(text, text, text, jsonb),
                          inbox.ingest_many(text, text[], jsonb[]) TO ec_writer;
GRANT INSERT ON inbox.events TO ec_writer;

-- what the answers of one scenario look like
CREATE FUNCTION ec_answers(src text) RETURNS TABLE (step text, status text)
LANGUAGE sql AS $$
	SELECT 'new', status FROM inbox.ingest(src, 'e1', '{"v": 1}')
	UNION ALL SELECT 'duplicate', status FROM inbox.ingest(src, 'e1', '{"v": 1}')
	UNION ALL SELECT 'conflict', status FROM inbox.ingest(src, 'e1', '{"v": 2}')
	UNION ALL SELECT 'raw new', status FROM inbox.ingest_raw(src, 'e2', '{"v": 3}')
	UNION ALL SELECT 'batch ' || ord, status
		FROM inbox.ingest_many(src, ARRAY['e3', 'e3', 'e1'],
							   ARRAY['{"v": 4}', '{"v": 5}', '{"v": 1}']::jsonb[])
$$;

--
-- 1. A deferrable unique constraint (the reported case: every new key
-- failed with 55000 and aborted the transaction)
--
ALTER TABLE inbox.events ADD CONSTRAINT ec_d UNIQUE (payload_digest, id) DEFERRABLE;
BEGIN;
SELECT * FROM ec_answers('ec-deferrable');
SELECT 'the transaction goes on' AS still;
COMMIT;
SELECT event_id, payload FROM inbox.events WHERE source = 'ec-deferrable' ORDER BY event_id;
-- a writer with INSERT only (no SELECT): the same
SET ROLE ec_writer;
SELECT status FROM inbox.ingest('ec-deferrable', 'w1', '{"v": 1}');
SELECT status FROM inbox.ingest('ec-deferrable', 'w1', '{"v": 1}');
RESET ROLE;
-- and INITIALLY DEFERRED
ALTER TABLE inbox.events DROP CONSTRAINT ec_d;
ALTER TABLE inbox.events ADD CONSTRAINT ec_d UNIQUE (payload_digest, id)
	DEFERRABLE INITIALLY DEFERRED;
SELECT status FROM inbox.ingest('ec-deferrable', 'e9', '{"v": 9}');
ALTER TABLE inbox.events DROP CONSTRAINT ec_d;

-- a deferred constraint that a new event breaks raises at COMMIT, as for
-- the INSERT itself: one event per payload in this source
ALTER TABLE inbox.events ADD CONSTRAINT ec_one_payload
	EXCLUDE USING btree (payload_digest WITH =) WHERE (source = 'ec-deferred')
	DEFERRABLE INITIALLY DEFERRED;
BEGIN;
SELECT status FROM inbox.ingest('ec-deferred', 'a', '{"same": true}');
SELECT status FROM inbox.ingest('ec-deferred', 'b', '{"same": true}');
COMMIT;
SELECT count(*) FROM inbox.events WHERE source = 'ec-deferred';
ALTER TABLE inbox.events DROP CONSTRAINT ec_one_payload;

--
-- 2. An exclusion constraint: the answers as usual; a new event that the
-- constraint excludes raises its error (23P01), not a unique violation
--
ALTER TABLE inbox.events ADD CONSTRAINT ec_x EXCLUDE USING btree (event_id WITH =)
	WHERE (source LIKE 'ec-x%');
SELECT * FROM ec_answers('ec-x');
DO $$
BEGIN
	PERFORM inbox.ingest('ec-x2', 'e1', '{"v": 1}');
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'SQLSTATE %: %', SQLSTATE, SQLERRM;
END $$;
-- deferrable: the same, checked when the statement ends
ALTER TABLE inbox.events DROP CONSTRAINT ec_x;
ALTER TABLE inbox.events ADD CONSTRAINT ec_xd EXCLUDE USING btree (event_id WITH =)
	WHERE (source LIKE 'ec-xd%') DEFERRABLE;
SELECT * FROM ec_answers('ec-xd');
DO $$
BEGIN
	PERFORM inbox.ingest('ec-xd2', 'e1', '{"v": 1}');
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'SQLSTATE %: %', SQLSTATE, SQLERRM;
END $$;
ALTER TABLE inbox.events DROP CONSTRAINT ec_xd;

--
-- 3. A unique index with NULLS NOT DISTINCT: on the key itself it is one
-- more key index; on other columns, breaking it raises 23505 naming it
--
CREATE UNIQUE INDEX ec_nnd_key ON inbox.events (source, event_id) NULLS NOT DISTINCT;
SELECT * FROM ec_answers('ec-nnd');
DROP INDEX inbox.ec_nnd_key;
DELETE FROM inbox.events WHERE source LIKE 'ec-nnd%';
CREATE UNIQUE INDEX ec_nnd ON inbox.events (event_id, locked_by) NULLS NOT DISTINCT
	WHERE source LIKE 'ec-nnd%';
SELECT * FROM ec_answers('ec-nnd2');
DO $$
BEGIN
	PERFORM inbox.ingest('ec-nnd3', 'e1', '{"v": 1}');
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'SQLSTATE %: %', SQLSTATE, SQLERRM;
END $$;
DROP INDEX inbox.ec_nnd;

--
-- 4. A partial unique index on the key: answers as usual (its races are in
-- test/specs/race_events_partial_key.spec)
--
CREATE UNIQUE INDEX ec_partial ON inbox.events (source, event_id)
	WHERE source LIKE 'ec-p%';
SELECT * FROM ec_answers('ec-p');
DROP INDEX inbox.ec_partial;

--
-- 5. Expression indexes: a unique one on another spelling of the key is the
-- user's own rule (23505 naming it); a plain one is kept up to date
--
CREATE UNIQUE INDEX ec_lower ON inbox.events (source, lower(event_id))
	WHERE source LIKE 'ec-lower%';
CREATE INDEX ec_type ON inbox.events ((payload->>'v')) WHERE source LIKE 'ec-%';
SELECT * FROM ec_answers('ec-lower');
DO $$
BEGIN
	PERFORM inbox.ingest('ec-lower', 'E1', '{"v": 1}');
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'SQLSTATE %: %', SQLSTATE, SQLERRM;
END $$;
SET enable_seqscan = off;
SELECT count(*) FROM inbox.events WHERE source LIKE 'ec-%' AND payload->>'v' = '1';
RESET enable_seqscan;
DROP INDEX inbox.ec_lower, inbox.ec_type;

-- each of these, with a trigger that forces the SQL path: the same answers
CREATE FUNCTION ec_noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER ec_noop BEFORE INSERT ON inbox.events
	FOR EACH ROW EXECUTE FUNCTION ec_noop();
CREATE UNIQUE INDEX ec_partial ON inbox.events (source, event_id)
	WHERE source LIKE 'ec-p%';
SELECT * FROM ec_answers('ec-p-sql');
DROP INDEX inbox.ec_partial;
DELETE FROM inbox.events WHERE source LIKE 'ec-x%';
ALTER TABLE inbox.events ADD CONSTRAINT ec_x EXCLUDE USING btree (event_id WITH =)
	WHERE (source LIKE 'ec-x%');
SELECT * FROM ec_answers('ec-x-sql');
ALTER TABLE inbox.events DROP CONSTRAINT ec_x;
DROP TRIGGER ec_noop ON inbox.events;
DROP FUNCTION ec_noop();

--
-- 6. Rules on INSERT (PostgreSQL refuses ON CONFLICT with them, and a rule
-- can rewrite the INSERT into nothing; both raised, 0A000 and XX000)
--
CREATE TABLE ec_audit (source text, event_id text);
CREATE RULE ec_also AS ON INSERT TO inbox.events
	DO ALSO INSERT INTO public.ec_audit VALUES (NEW.source, NEW.event_id);
SELECT * FROM ec_answers('ec-rule-also');
SELECT * FROM ec_audit ORDER BY event_id;
DROP RULE ec_also ON inbox.events;
-- an event that a rule keeps out is rejected, like one a trigger skips
CREATE RULE ec_skip AS ON INSERT TO inbox.events WHERE NEW.source = 'ec-rule-skip'
	DO INSTEAD NOTHING;
SELECT status, detail FROM inbox.ingest('ec-rule-skip', 'e1', '{"v": 1}');
SELECT * FROM ec_answers('ec-rule-kept');
DROP RULE ec_skip ON inbox.events;
CREATE RULE ec_elsewhere AS ON INSERT TO inbox.events
	DO INSTEAD INSERT INTO public.ec_audit VALUES (NEW.source, NEW.event_id);
SELECT status, detail FROM inbox.ingest('ec-rule-elsewhere', 'e1', '{"v": 1}');
SELECT status, detail FROM inbox.ingest_raw('ec-rule-elsewhere', 'e1', '{"v": 1}');
DROP RULE ec_elsewhere ON inbox.events;
-- a rule on DELETE changes nothing for ingest
CREATE RULE ec_del AS ON DELETE TO inbox.events DO ALSO NOTHING;
SELECT * FROM ec_answers('ec-rule-del');
DROP RULE ec_del ON inbox.events;
-- and once the rules are gone, events are stored again
SELECT status FROM inbox.ingest('ec-rule-elsewhere', 'e1', '{"v": 1}');
ALTER TABLE inbox.events ADD CONSTRAINT ec_d UNIQUE (payload_digest, id) DEFERRABLE;
SELECT status FROM inbox.ingest('ec-rule-elsewhere', 'e2', '{"v": 1}');
ALTER TABLE inbox.events DROP CONSTRAINT ec_d;
SELECT source, event_id FROM inbox.events WHERE source LIKE 'ec-rule%' ORDER BY 1, 2;
SELECT * FROM ec_audit ORDER BY source, event_id;
DROP TABLE ec_audit;

DELETE FROM inbox.events WHERE source LIKE 'ec-%';
DROP FUNCTION ec_answers(text);
REVOKE ALL ON SCHEMA inbox FROM ec_writer;
REVOKE ALL ON FUNCTION inbox.ingest(text, text, jsonb, jsonb),
                       inbox.ingest_raw(text, text, text, jsonb),
                       inbox.ingest_many(text, text[], jsonb[]) FROM ec_writer;
REVOKE ALL ON inbox.events FROM ec_writer;
DROP ROLE ec_writer;
