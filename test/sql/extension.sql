--
-- Installing, dropping and altering: the backend's cached plans and catalog
-- lookups follow along within one session.
--
SELECT extversion = default_version AS latest
FROM pg_extension JOIN pg_available_extensions ON name = extname
WHERE extname = 'pg_inbox';
SELECT status FROM inbox.ingest('ext', 'a', '{"v": 1}');
SELECT status FROM inbox.ingest('ext', 'b', '{"v": 1}');

-- columns added and dropped by hand do not disturb ingest
ALTER TABLE inbox.events ADD COLUMN note text DEFAULT 'hand-made';
SELECT status FROM inbox.ingest('ext', 'c', '{"v": 1}');
SELECT status FROM inbox.ingest('ext', 'a', '{"v": 1}');
SELECT event_id, note FROM inbox.events WHERE source = 'ext' ORDER BY event_id;
ALTER TABLE inbox.events DROP COLUMN note;
SELECT status FROM inbox.ingest('ext', 'd', '{"v": 1}');

-- a trigger on inbox.events fires for inserted events only; it runs with
-- the pinned search_path of the ingest functions, so it qualifies its names
CREATE TABLE ext_seen (event_id text);
CREATE FUNCTION ext_seen_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.ext_seen VALUES (NEW.event_id);
	RETURN NEW;
END;
$$;
CREATE TRIGGER ext_seen AFTER INSERT ON inbox.events
	FOR EACH ROW EXECUTE FUNCTION ext_seen_trigger();
SELECT status FROM inbox.ingest('ext', 'e', '{"v": 1}');
SELECT status FROM inbox.ingest('ext', 'e', '{"v": 1}');
SELECT status FROM inbox.ingest('ext', 'e', '{"v": 2}');
SELECT * FROM ext_seen;
DROP TRIGGER ext_seen ON inbox.events;
DROP TABLE ext_seen;
DROP FUNCTION ext_seen_trigger();

-- a BEFORE trigger that skips the row: the event is not stored, and the
-- answer says so instead of claiming a duplicate
CREATE FUNCTION ext_skip_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RETURN NULL;
END;
$$;
CREATE TRIGGER ext_skip BEFORE INSERT ON inbox.events
	FOR EACH ROW EXECUTE FUNCTION ext_skip_trigger();
SELECT status, detail FROM inbox.ingest('ext', 'skipped', '{"v": 1}');
SELECT ord, status FROM inbox.ingest_many('ext', ARRAY['skipped', 'a'], ARRAY['{}', '{"v": 1}']::jsonb[]);
SELECT count(*) FROM inbox.events WHERE event_id = 'skipped';
DROP TRIGGER ext_skip ON inbox.events;
DROP FUNCTION ext_skip_trigger();

-- row-level security on inbox.events is refused rather than half applied
ALTER TABLE inbox.events ENABLE ROW LEVEL SECURITY;
ALTER TABLE inbox.events FORCE ROW LEVEL SECURITY;
CREATE ROLE ext_rls_user;
GRANT USAGE ON SCHEMA inbox TO ext_rls_user;
GRANT EXECUTE ON FUNCTION inbox.ingest(text, text, jsonb, jsonb) TO ext_rls_user;
GRANT INSERT ON inbox.events TO ext_rls_user;
SET ROLE ext_rls_user;
SELECT status FROM inbox.ingest('ext', 'rls', '{"v": 1}');
RESET ROLE;
ALTER TABLE inbox.events NO FORCE ROW LEVEL SECURITY;
ALTER TABLE inbox.events DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON inbox.events FROM ext_rls_user;
REVOKE ALL ON FUNCTION inbox.ingest(text, text, jsonb, jsonb) FROM ext_rls_user;
REVOKE ALL ON SCHEMA inbox FROM ext_rls_user;
DROP ROLE ext_rls_user;

-- drop and create again in the same session
DROP EXTENSION pg_inbox;
SELECT count(*) FROM pg_namespace WHERE nspname = 'inbox';
CREATE EXTENSION pg_inbox;
SELECT status FROM inbox.ingest('ext', 'a', '{"v": 1}');
SELECT status FROM inbox.ingest('ext', 'a', '{"v": 1}');
SELECT status FROM inbox.ingest_raw('ext', 'a', '{"v": 2}');
SELECT ord, status FROM inbox.ingest_many('ext', ARRAY['a', 'z'], ARRAY['{"v": 1}', '{}']::jsonb[]);

-- (a schema called inbox that is not ours is not taken over:
-- test/sql/server_text.sql)
DROP EXTENSION pg_inbox;
CREATE EXTENSION pg_inbox;
SELECT count(*) FROM inbox.events;

-- constraints added by hand hold: ingest then inserts through SQL
ALTER TABLE inbox.events ADD CONSTRAINT events_hand_made_check
	CHECK (payload ? 'order');
SELECT status FROM inbox.ingest('ext', 'c1', '{"order": "o-0"}');
\set VERBOSITY terse
SELECT status FROM inbox.ingest('ext', 'c2', '{"no-order": true}');
\set VERBOSITY default
\echo sqlstate :LAST_ERROR_SQLSTATE
ALTER TABLE inbox.events DROP CONSTRAINT events_hand_made_check;
SELECT status FROM inbox.ingest('ext', 'c2', '{"no-order": true}');
BEGIN;
DELETE FROM inbox.events;
ALTER TABLE inbox.events ALTER COLUMN locked_by SET NOT NULL;
\set VERBOSITY terse
SELECT status FROM inbox.ingest('ext', 'c3', '{}');
\set VERBOSITY default
\echo sqlstate :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT status FROM inbox.ingest('ext', 'c3', '{}');

-- one of the extension's CHECK constraints redefined under its own name is
-- not the extension's any more: it holds
BEGIN;
DELETE FROM inbox.events;
ALTER TABLE inbox.events DROP CONSTRAINT events_attempts_check,
	ADD CONSTRAINT events_attempts_check CHECK (attempts >= 0 AND payload ? 'type');
SELECT status FROM inbox.ingest('ext', 'typed', '{"type": "x"}');
\set VERBOSITY terse
SELECT status FROM inbox.ingest('ext', 'no-type', '{"x": 1}');
\set VERBOSITY default
ROLLBACK;
-- and so does one that is NOT VALID
ALTER TABLE inbox.events DROP CONSTRAINT events_attempts_check,
	ADD CONSTRAINT events_attempts_check CHECK (attempts >= 0 AND payload ? 'type') NOT VALID;
\set VERBOSITY terse
SELECT status FROM inbox.ingest('ext', 'no-type', '{"x": 1}');
\set VERBOSITY default
ALTER TABLE inbox.events DROP CONSTRAINT events_attempts_check,
	ADD CONSTRAINT events_attempts_check CHECK (attempts >= 0);
SELECT status FROM inbox.ingest('ext', 'no-type', '{"x": 1}');
-- so does a changed default
ALTER TABLE inbox.events ALTER COLUMN last_error SET DEFAULT 'none yet';
SELECT status FROM inbox.ingest('ext', 'dflt', '{}');
SELECT last_error FROM inbox.events WHERE source = 'ext' AND event_id = 'dflt';
ALTER TABLE inbox.events ALTER COLUMN last_error DROP DEFAULT;

-- a unique index added by hand is not decided by pg_inbox: an error that
-- names it
CREATE UNIQUE INDEX events_hand_made ON inbox.events ((payload ->> 'order'));
SELECT status FROM inbox.ingest('ext', 'u1', '{"order": "o-1"}');
SELECT status FROM inbox.ingest('ext', 'u1', '{"order": "o-1"}');
SELECT status FROM inbox.ingest('ext', 'u2', '{"order": "o-1"}');
\echo sqlstate :LAST_ERROR_SQLSTATE
DROP INDEX inbox.events_hand_made;
SELECT status FROM inbox.ingest('ext', 'u2', '{"order": "o-1"}');
