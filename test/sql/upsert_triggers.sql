--
-- BEFORE triggers fire exactly as for the one statement that runs: the
-- INSERT on the insert path, the UPDATE on the update path, nothing when
-- unchanged.  A BEFORE row trigger that returns NULL makes the action
-- "skipped", with the row as it stands (NULL when there is none); it never
-- raises and is never retried.
--
CREATE TABLE trg (k int PRIMARY KEY, v text, email text);
CREATE TABLE trg_fired (n serial, what text);
-- logs each firing; returns NULL when the row's v is 'suppress'
CREATE FUNCTION trg_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.trg_fired (what) VALUES (TG_WHEN || ' ' || TG_OP || ' ' || TG_LEVEL);
	IF TG_LEVEL = 'STATEMENT' THEN
		RETURN NULL;
	END IF;
	IF NEW.v = 'suppress' THEN
		RETURN NULL;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER b_row BEFORE INSERT OR UPDATE ON trg FOR EACH ROW EXECUTE FUNCTION trg_log();
CREATE TRIGGER b_stmt BEFORE INSERT OR UPDATE ON trg FOR EACH STATEMENT EXECUTE FUNCTION trg_log();
CREATE TRIGGER a_row AFTER INSERT OR UPDATE ON trg FOR EACH ROW EXECUTE FUNCTION trg_log();

-- the insert path: one INSERT
SELECT * FROM inbox.upsert('trg', '{"k": 1, "v": "a"}');
SELECT what FROM trg_fired ORDER BY n;
TRUNCATE trg_fired;
-- the update path: one UPDATE
SELECT * FROM inbox.upsert('trg', '{"k": 1, "v": "b"}');
SELECT what FROM trg_fired ORDER BY n;
TRUNCATE trg_fired;
-- unchanged: nothing
SELECT * FROM inbox.upsert('trg', '{"k": 1, "v": "b"}');
SELECT what FROM trg_fired ORDER BY n;
TRUNCATE trg_fired;

-- a BEFORE UPDATE trigger returns NULL: skipped, the row as it stands,
-- once; the hand-written UPDATE fires it once too
SELECT * FROM inbox.upsert('trg', '{"k": 1, "v": "suppress"}');
SELECT what FROM trg_fired ORDER BY n;
TRUNCATE trg_fired;
UPDATE trg SET v = 'suppress' WHERE k = 1;
SELECT what FROM trg_fired ORDER BY n;
TRUNCATE trg_fired;
-- a BEFORE INSERT trigger returns NULL: skipped, no row, once
SELECT * FROM inbox.upsert('trg', '{"k": 2, "v": "suppress"}');
SELECT what FROM trg_fired ORDER BY n;
TRUNCATE trg_fired;
SELECT * FROM trg ORDER BY k;
-- in a batch, element by element
SELECT * FROM inbox.upsert_many('trg', '[{"k": 3, "v": "suppress"}, {"k": 3, "v": "c"}, {"k": 3, "v": "suppress"}, {"k": 3, "v": "c"}]');
SELECT what FROM trg_fired ORDER BY n;
TRUNCATE trg_fired;
-- only the key in the data: the INSERT ... ON CONFLICT DO NOTHING
CREATE TABLE trg_k (k int PRIMARY KEY);
CREATE FUNCTION trg_k_odd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.trg_fired (what) VALUES (TG_WHEN || ' ' || TG_OP || ' ' || TG_LEVEL);
	IF NEW.k % 2 = 1 THEN
		RETURN NULL;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER b_row BEFORE INSERT ON trg_k FOR EACH ROW EXECUTE FUNCTION trg_k_odd();
SELECT * FROM inbox.upsert('trg_k', '{"k": 1}');
SELECT * FROM inbox.upsert('trg_k', '{"k": 2}');
SELECT * FROM inbox.upsert('trg_k', '{"k": 2}');
SELECT what FROM trg_fired ORDER BY n;
TRUNCATE trg_fired;

-- a normalising trigger fires once per call
CREATE OR REPLACE FUNCTION trg_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.trg_fired (what) VALUES (TG_WHEN || ' ' || TG_OP || ' ' || TG_LEVEL);
	IF TG_LEVEL = 'ROW' THEN
		NEW.email := lower(NEW.email);
		RETURN NEW;
	END IF;
	RETURN NULL;
END
$$;
SELECT * FROM inbox.upsert('trg', '{"k": 4, "email": "Ann@Example.COM"}');
SELECT * FROM inbox.upsert('trg', '{"k": 4, "email": "ANN@example.com"}');
SELECT what FROM trg_fired ORDER BY n;
TRUNCATE trg_fired;
-- a trigger that normalises the key: the INSERT meets the stored key, and
-- the hand-written INSERT ... ON CONFLICT DO UPDATE settles it, firing the
-- BEFORE INSERT and BEFORE UPDATE triggers once each, as by hand
CREATE TABLE trg_mail (email text PRIMARY KEY, name text);
CREATE FUNCTION trg_mail_lower() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.trg_fired (what) VALUES (TG_WHEN || ' ' || TG_OP || ' ' || TG_LEVEL);
	NEW.email := lower(NEW.email);
	RETURN NEW;
END
$$;
CREATE TRIGGER b_row BEFORE INSERT OR UPDATE ON trg_mail FOR EACH ROW EXECUTE FUNCTION trg_mail_lower();
SELECT * FROM inbox.upsert('trg_mail', '{"email": "bob@example.com", "name": "Bob"}');
TRUNCATE trg_fired;
SELECT * FROM inbox.upsert('trg_mail', '{"email": "BOB@example.com", "name": "Robert"}');
SELECT what FROM trg_fired ORDER BY n;
TRUNCATE trg_fired;
INSERT INTO trg_mail VALUES ('BOB@example.com', 'Bobby')
	ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name RETURNING *;
SELECT what FROM trg_fired ORDER BY n;
TRUNCATE trg_fired;

-- a partition's own BEFORE INSERT trigger, which the partitioned table does
-- not list
CREATE TABLE trg_p (k int PRIMARY KEY, v text) PARTITION BY RANGE (k);
CREATE TABLE trg_p1 PARTITION OF trg_p FOR VALUES FROM (0) TO (100);
CREATE TRIGGER b_row BEFORE INSERT OR UPDATE ON trg_p1 FOR EACH ROW EXECUTE FUNCTION trg_log();
CREATE OR REPLACE FUNCTION trg_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.trg_fired (what) VALUES (TG_WHEN || ' ' || TG_OP || ' ' || TG_LEVEL);
	IF TG_LEVEL = 'ROW' AND NEW.v = 'suppress' THEN
		RETURN NULL;
	END IF;
	RETURN CASE WHEN TG_LEVEL = 'ROW' THEN NEW END;
END
$$;
SELECT * FROM inbox.upsert('trg_p', '{"k": 1, "v": "suppress"}');
SELECT * FROM inbox.upsert('trg_p', '{"k": 1, "v": "a"}');
SELECT * FROM inbox.upsert('trg_p', '{"k": 1, "v": "suppress"}');
SELECT * FROM inbox.upsert('trg_p', '{"k": 1, "v": "a"}');
SELECT what FROM trg_fired ORDER BY n;
TRUNCATE trg_fired;

-- row-level security: a row that the UPDATE policy hides raises 42501; a row
-- it lets through that a trigger suppresses is skipped
CREATE ROLE upsert_trg_user;
CREATE TABLE trg_rls (k int PRIMARY KEY, v text, locked boolean NOT NULL DEFAULT false);
ALTER TABLE trg_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY trg_rls_sel ON trg_rls FOR SELECT USING (true);
CREATE POLICY trg_rls_ins ON trg_rls FOR INSERT WITH CHECK (true);
CREATE POLICY trg_rls_upd ON trg_rls FOR UPDATE USING (NOT locked);
CREATE TRIGGER b_row BEFORE INSERT OR UPDATE ON trg_rls FOR EACH ROW EXECUTE FUNCTION trg_log();
GRANT SELECT, INSERT, UPDATE ON trg_rls TO upsert_trg_user;
GRANT INSERT ON trg_fired TO upsert_trg_user;
GRANT USAGE ON trg_fired_n_seq TO upsert_trg_user;
GRANT USAGE ON SCHEMA inbox TO upsert_trg_user;
GRANT EXECUTE ON FUNCTION inbox.upsert(regclass, jsonb, text[]) TO upsert_trg_user;
INSERT INTO trg_rls VALUES (1, 'a', false), (2, 'a', true);
TRUNCATE trg_fired;
SET ROLE upsert_trg_user;
SELECT * FROM inbox.upsert('trg_rls', '{"k": 1, "v": "suppress"}');
SELECT * FROM inbox.upsert('trg_rls', '{"k": 1, "v": "b"}');
SELECT * FROM inbox.upsert('trg_rls', '{"k": 3, "v": "suppress"}');
\set VERBOSITY sqlstate
SELECT * FROM inbox.upsert('trg_rls', '{"k": 2, "v": "b"}');
\set VERBOSITY default
RESET ROLE;
SELECT what FROM trg_fired ORDER BY n;
SELECT * FROM trg_rls ORDER BY k;

-- a BEFORE UPDATE trigger that changes the row itself and returns NULL:
-- skipped, the row as it now stands (NULL when the trigger deleted it),
-- fired once and never followed by an insert, as by hand
CREATE TABLE trg_self (k int PRIMARY KEY, v int, attempts int NOT NULL DEFAULT 0);
CREATE FUNCTION trg_self_bu() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.trg_fired (what) VALUES (TG_WHEN || ' ' || TG_OP || ' ' || pg_trigger_depth());
	IF pg_trigger_depth() > 1 THEN
		RETURN NEW;
	END IF;
	IF NEW.v < 0 THEN			-- retire the row
		DELETE FROM public.trg_self WHERE k = OLD.k;
		RETURN NULL;
	END IF;
	IF NEW.v > 100 THEN			-- move it to another key
		UPDATE public.trg_self SET k = OLD.k + 1000 WHERE k = OLD.k;
		RETURN NULL;
	END IF;
	UPDATE public.trg_self SET attempts = attempts + 1 WHERE k = OLD.k;	-- record the rejected attempt
	RETURN NULL;
END
$$;
CREATE TRIGGER b_row BEFORE UPDATE ON trg_self FOR EACH ROW EXECUTE FUNCTION trg_self_bu();
INSERT INTO trg_self VALUES (1, 1), (2, 1), (3, 1), (4, 1), (5, 1);
TRUNCATE trg_fired;
SELECT * FROM inbox.upsert('trg_self', '{"k": 1, "v": 2}');
SELECT * FROM inbox.upsert('trg_self', '{"k": 2, "v": -1}');
SELECT * FROM inbox.upsert('trg_self', '{"k": 3, "v": 101}');
SELECT what FROM trg_fired ORDER BY n;
TRUNCATE trg_fired;
SELECT * FROM trg_self ORDER BY k;
-- the hand-written statement, the same
INSERT INTO trg_self (k, v) VALUES (1, 2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v RETURNING *;
INSERT INTO trg_self (k, v) VALUES (4, -1) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v RETURNING *;
SELECT what FROM trg_fired ORDER BY n;
TRUNCATE trg_fired;
SELECT * FROM trg_self ORDER BY k;
-- REPEATABLE READ: the transaction's own change is no serialization failure
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM inbox.upsert('trg_self', '{"k": 1, "v": 2}');
SELECT * FROM inbox.upsert('trg_self', '{"k": 5, "v": -1}');
SELECT * FROM trg_self ORDER BY k;
ROLLBACK;
TRUNCATE trg_fired;
-- a row inserted earlier in the transaction, and in a batch
BEGIN;
INSERT INTO trg_self VALUES (6, 1);
SELECT * FROM inbox.upsert_many('trg_self', '[{"k": 6, "v": 2}, {"k": 6, "v": -1}, {"k": 6, "v": 7}]');
SELECT what FROM trg_fired ORDER BY n;
SELECT * FROM trg_self ORDER BY k;
ROLLBACK;
TRUNCATE trg_fired;

DROP TABLE trg, trg_k, trg_mail, trg_p, trg_rls, trg_self, trg_fired;
DROP FUNCTION trg_log(), trg_k_odd(), trg_mail_lower(), trg_self_bu();
REVOKE ALL ON SCHEMA inbox FROM upsert_trg_user;
REVOKE ALL ON FUNCTION inbox.upsert(regclass, jsonb, text[]) FROM upsert_trg_user;
DROP ROLE upsert_trg_user;
