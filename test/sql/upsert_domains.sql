--
-- Only the columns given are converted: a column left out is never run
-- through its type's input, so its domain's NOT NULL or CHECK does not
-- apply to a value nobody gave.  What applies to it is what applies to the
-- statement that runs: its default on insert, nothing on update.
--
CREATE DOMAIN status_d AS text NOT NULL;
CREATE DOMAIN positive_d AS int CHECK (VALUE > 0);
CREATE DOMAIN strict_d AS int NOT NULL CHECK (VALUE > 0);
CREATE SEQUENCE dm_seq;
CREATE TABLE dm (
	k int PRIMARY KEY,
	v int,
	status status_d DEFAULT 'new',
	p positive_d,
	s strict_d DEFAULT 7,
	n bigint DEFAULT nextval('dm_seq'),
	g int GENERATED ALWAYS AS (v * 2) STORED,
	gone int
);
ALTER TABLE dm DROP COLUMN gone;
INSERT INTO dm (k, v) VALUES (1, 1);
SELECT last_value FROM dm_seq;
-- the issue's calls: a new key and an existing one, leaving status out
SELECT * FROM inbox.upsert('dm', '{"k": 2, "v": 1}');
SELECT * FROM inbox.upsert('dm', '{"k": 1, "v": 5}');
SELECT * FROM inbox.upsert('dm', '{"k": 1, "v": 5}');
-- the hand-written statements agree
INSERT INTO dm (k, v) VALUES (3, 1) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v RETURNING k, v, status;
UPDATE dm SET v = 6 WHERE k = 1 RETURNING k, v, status;
-- the existing key did not draw from the sequence
SELECT last_value FROM dm_seq;
SELECT * FROM inbox.upsert_many('dm', '[{"k": 4}, {"k": 4, "v": 2}, {"k": 1, "p": 3}]');
-- a value given is converted and checked as ever
\set VERBOSITY sqlstate
SELECT * FROM inbox.upsert('dm', '{"k": 1, "status": null}');
SELECT * FROM inbox.upsert('dm', '{"k": 1, "p": 0}');
SELECT * FROM inbox.upsert('dm', '{"k": 1, "s": null}');
SELECT * FROM inbox.upsert('dm', '{"k": 1, "g": 1}');
\set VERBOSITY default
SELECT * FROM inbox.upsert('dm', '{"k": 1, "p": 2, "s": 9, "status": "old"}');

-- a NOT NULL domain without a default, left out: the INSERT fails as by
-- hand (23502), the UPDATE of an existing row does not
CREATE TABLE dm2 (k int PRIMARY KEY, v int, s strict_d);
INSERT INTO dm2 VALUES (1, 1, 1);
SELECT * FROM inbox.upsert('dm2', '{"k": 2, "v": 1, "s": 2}');
SELECT * FROM inbox.upsert('dm2', '{"k": 3, "v": 1, "s": 3}');
SELECT * FROM inbox.upsert('dm2', '{"k": 1, "v": 2}');
\set VERBOSITY sqlstate
SELECT * FROM inbox.upsert('dm2', '{"k": 4, "v": 2}');
INSERT INTO dm2 (k, v) VALUES (4, 2);
\set VERBOSITY default
SELECT * FROM dm2 ORDER BY k;

DROP TABLE dm, dm2;
DROP SEQUENCE dm_seq;
DROP DOMAIN status_d, positive_d, strict_d;
