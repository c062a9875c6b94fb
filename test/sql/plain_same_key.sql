-- A BEFORE INSERT trigger on inbox.events that ingests the very key being
-- stored.  On the ON CONFLICT path the nested call stores the key and the
-- outer one answers from it; on the plain-INSERT path (a deferrable unique
-- constraint on inbox.events) the nested call answers from the event the
-- outer INSERT is storing.  Never a unique violation, always one row.
SET client_min_messages = notice;
CREATE FUNCTION psk_nested() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_catalog AS $$
DECLARE r record;
BEGIN
	IF pg_trigger_depth() = 1 AND NEW.source = 'psk' THEN
		SELECT * INTO r FROM inbox.ingest(NEW.source, NEW.event_id,
			CASE WHEN NEW.payload ? 'same' THEN NEW.payload
				 ELSE NEW.payload || '{"nested": true}' END);
		RAISE NOTICE 'nested answer: % (same id as the outer event: %)',
			r.status, r.id = NEW.id;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER psk_nested BEFORE INSERT ON inbox.events
	FOR EACH ROW EXECUTE FUNCTION psk_nested();

-- the ON CONFLICT path
SELECT status, detail IS NOT NULL AS has_detail FROM inbox.ingest('psk', 'k1', '{"v": 1}');

-- the plain-INSERT path
ALTER TABLE inbox.events ADD CONSTRAINT psk_d UNIQUE (payload_digest, id) DEFERRABLE;
SELECT status, detail IS NOT NULL AS has_detail FROM inbox.ingest('psk', 'k2', '{"v": 1}');
-- the nested call with the same payload: duplicate
SELECT status FROM inbox.ingest('psk', 'k3', '{"same": 1}');
SELECT ord, status FROM inbox.ingest_many('psk', ARRAY['k4', 'k5'],
	ARRAY['{"v": 1}', '{"v": 2}']::jsonb[]);
-- stored once, by the outer call, with its payload
SELECT event_id, count(*) AS rows, min(payload::text) AS payload
FROM inbox.events WHERE source = 'psk' GROUP BY event_id ORDER BY event_id;
-- the key stored again later: a duplicate, from the row
SELECT status FROM inbox.ingest('psk', 'k2', '{"v": 1}');
-- the list of keys being stored is emptied when the INSERT fails
CREATE FUNCTION psk_fail() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.payload ? 'fail' THEN
		RAISE EXCEPTION 'psk_fail';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER psk_fail BEFORE INSERT ON inbox.events
	FOR EACH ROW EXECUTE FUNCTION psk_fail();
DO $$
BEGIN
	PERFORM inbox.ingest('psk', 'k6', '{"fail": 1}');
EXCEPTION WHEN raise_exception THEN
	RAISE NOTICE 'caught %', SQLERRM;
END $$;
SELECT status FROM inbox.ingest('psk', 'k6', '{"v": 1}');
SELECT count(*) FROM inbox.events WHERE source = 'psk' AND event_id = 'k6';

DROP TRIGGER psk_fail ON inbox.events;
DROP FUNCTION psk_fail();
DROP TRIGGER psk_nested ON inbox.events;
DROP FUNCTION psk_nested();
ALTER TABLE inbox.events DROP CONSTRAINT psk_d;
DELETE FROM inbox.events WHERE source = 'psk';
