--
-- Re-entrancy: inbox.ingest and inbox.ingest_many called while another
-- ingest of the same backend is running, from a trigger on inbox.events
-- (which makes ingest store with a prepared INSERT) and from a trigger on a
-- user table that such a trigger writes to, with invalidations of
-- inbox.events, of inbox.sources and of the prepared INSERT in between.
-- The catalog cache, the prepared INSERTs, the result descriptors, the
-- statistics and the key locks are shared by the nested calls; every answer
-- and every stored row must still be right.
--
SET client_min_messages = warning;
DELETE FROM inbox.events WHERE source LIKE 're-%';
CREATE ROLE re_reader;
CREATE TABLE re_audit (n serial PRIMARY KEY, source text, event_id text, status text, nested_id bigint);

-- for each event stored under re-a: ingest a copy under re-b, after and
-- before invalidating inbox.events, inbox.sources (a column added and
-- dropped) and so the prepared INSERT, and audit the nested answer
CREATE FUNCTION re_copy() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_catalog AS $$
DECLARE
	r record;
BEGIN
	IF NEW.source = 're-a' THEN
		EXECUTE 'GRANT SELECT ON inbox.events TO re_reader';
		EXECUTE 'ALTER TABLE inbox.sources ADD COLUMN re_x integer';
		SELECT * INTO r FROM inbox.ingest('re-b', NEW.event_id, NEW.payload || '{"copy": true}');
		EXECUTE 'ALTER TABLE inbox.sources DROP COLUMN re_x';
		EXECUTE 'REVOKE SELECT ON inbox.events FROM re_reader';
		INSERT INTO re_audit (source, event_id, status, nested_id)
		VALUES ('re-b', NEW.event_id, r.status, r.id);
	END IF;
	RETURN NEW;
END $$;

-- a trigger on the audit table ingests in its turn (a third level)
CREATE FUNCTION re_audit_ingest() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_catalog AS $$
BEGIN
	PERFORM * FROM inbox.ingest_many('re-c', ARRAY[NEW.event_id, NEW.event_id || '-x'],
		ARRAY[jsonb_build_object('audit', NEW.n), jsonb_build_object('audit', NEW.n)]);
	RETURN NULL;
END $$;
CREATE TRIGGER re_audit_ingest AFTER INSERT ON re_audit
	FOR EACH ROW EXECUTE FUNCTION re_audit_ingest();

--
-- 1. BEFORE INSERT: the nested call runs before the outer row is stored
--
CREATE TRIGGER re_copy BEFORE INSERT ON inbox.events
	FOR EACH ROW EXECUTE FUNCTION re_copy();
SELECT status, detail FROM inbox.ingest('re-a', 'e1', '{"v": 1}');
SELECT status FROM inbox.ingest('re-a', 'e1', '{"v": 1}');
SELECT status FROM inbox.ingest('re-a', 'e1', '{"v": 2}');
SELECT ord, status FROM inbox.ingest_many('re-a', ARRAY['e2', 'e3', 'e2', 'e1'],
	ARRAY['{"v": 2}', '{"v": 3}', '{"v": 2}', '{"v": 1}']::jsonb[]);
SELECT status FROM inbox.ingest_raw('re-a', 'e4', '{"v": 4}');
DROP TRIGGER re_copy ON inbox.events;

--
-- 2. AFTER INSERT: the nested call runs once the outer row is stored
--
CREATE TRIGGER re_copy AFTER INSERT ON inbox.events
	FOR EACH ROW EXECUTE FUNCTION re_copy();
SELECT status FROM inbox.ingest('re-a', 'e5', '{"v": 5}');
SELECT ord, status FROM inbox.ingest_many('re-a', ARRAY['e6', 'e5', 'e7'],
	ARRAY['{"v": 6}', '{"v": 5}', '{"v": 7}']::jsonb[]);

--
-- 3. the same with a deferrable constraint: the key locks of the outer and
-- the nested calls
--
ALTER TABLE inbox.events ADD CONSTRAINT re_d UNIQUE (payload_digest, id) DEFERRABLE;
SELECT ord, status FROM inbox.ingest_many('re-a', ARRAY['e8', 'e9', 'e8'],
	ARRAY['{"v": 8}', '{"v": 9}', '{"v": 8}']::jsonb[]);
ALTER TABLE inbox.events DROP CONSTRAINT re_d;
DROP TRIGGER re_copy ON inbox.events;

--
-- 4. a nested call for the very key the outer call is inserting: the outer
-- answers from the nested call's row
--
CREATE FUNCTION re_same() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_catalog AS $$
DECLARE
	r record;
BEGIN
	IF NEW.source = 're-s' AND NOT NEW.payload ? 'nested' THEN
		SELECT * INTO r FROM inbox.ingest('re-s', NEW.event_id, NEW.payload || '{"nested": true}');
		INSERT INTO re_audit (source, event_id, status, nested_id)
		VALUES ('re-s', NEW.event_id, r.status, r.id);
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER re_same BEFORE INSERT ON inbox.events
	FOR EACH ROW EXECUTE FUNCTION re_same();
SELECT status, detail FROM inbox.ingest('re-s', 's1', '{"v": 1}');
DROP TRIGGER re_same ON inbox.events;
DROP FUNCTION re_same();

-- every nested answer names the row that is stored under its key
SELECT a.source, a.event_id, a.status, e.id = a.nested_id AS names_stored_row
FROM re_audit a LEFT JOIN inbox.events e ON e.source = a.source AND e.event_id = a.event_id
ORDER BY a.n;
-- what is stored: one row per key, the copies with their own payloads
SELECT source, event_id, payload FROM inbox.events
WHERE source LIKE 're-%' ORDER BY source, event_id;
-- each stored digest is the digest of the stored payload
SELECT count(*) AS rows,
	   count(*) FILTER (WHERE (SELECT status FROM inbox.ingest(e.source, e.event_id, e.payload)) = 'duplicate') AS duplicates
FROM inbox.events e WHERE e.source LIKE 're-%';
-- the statistics counted the nested answers too (with the library preloaded)
SELECT source, inserted > 0 AS counted FROM inbox.ingest_counters()
WHERE source LIKE 're-%' ORDER BY source;
-- inbox.sources is as it was
SELECT count(*) AS re_x FROM pg_attribute
WHERE attrelid = 'inbox.sources'::regclass AND attname = 're_x' AND NOT attisdropped;

-- the backend's caches still answer after all that
SELECT status FROM inbox.ingest('re-a', 'e1', '{"v": 1}');
SELECT status FROM inbox.ingest('re-a', 'e-new', '{"v": 0}');

DELETE FROM inbox.events WHERE source LIKE 're-%';
DROP TABLE re_audit;
DROP FUNCTION re_copy(), re_audit_ingest();
DROP ROLE re_reader;
