/*
 * pg_inbox benchmark: what inbox.ingest is measured against.
 *
 * Run by tools/run-bench with psql (ON_ERROR_STOP) in a throw-away cluster,
 * after CREATE EXTENSION pg_inbox.  Creates, in schema "bench":
 *
 *   bench.events           the table of the raw contender, INSERT ... ON
 *                          CONFLICT (source, event_id) DO NOTHING RETURNING id
 *   bench.events_plpgsql   the table of bench.ingest_plpgsql
 *   bench.queue            the tables of the hand-written claim and
 *   bench.queue2           complete (bench/queue-sql1.sql, queue-sql2.sql),
 *                          loaded by tools/run-bench
 *   bench.ingest_plpgsql   the "usual" PL/pgSQL ingest: INSERT, and on
 *                          unique_violation a SELECT of the stored row
 *
 * All three tables have the shape of inbox.events (0.4.0): the same columns
 * in the same order, the same identity column, the same COLLATE "C" columns,
 * the same defaults, the same primary key, unique constraint and CHECK
 * constraints, the same two partial indexes of the processing lifecycle
 * (events_claimable, events_finished), and no other index.  The last
 * statement of this file compares them with inbox.events through the
 * catalogs and fails if they drifted apart.
 *
 * payload_digest: the baselines store a CONSTANT 32-byte value (32 zero
 * bytes, a bytea literal folded into the plan), not a digest computed in
 * SQL.  That is the cheapest thing that satisfies the CHECK constraint, so
 * the raw statement is as fast as it can be and the ratios of inbox.ingest
 * (which does hash every payload) are the conservative ones.
 */

CREATE SCHEMA bench;

CREATE TABLE bench.events (
	id				bigint GENERATED ALWAYS AS IDENTITY,
	received_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	payload_digest	bytea NOT NULL,
	source			text COLLATE pg_catalog."C" NOT NULL,
	event_id		text COLLATE pg_catalog."C" NOT NULL,
	state			text COLLATE pg_catalog."C" NOT NULL DEFAULT 'pending',
	attempts		integer NOT NULL DEFAULT 0,
	available_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	locked_by		text,
	locked_until	timestamptz,
	processed_at	timestamptz,
	last_error		text,
	headers			jsonb,
	payload			jsonb NOT NULL,
	errors			jsonb,
	lease_token		bigint,
	CONSTRAINT events_pkey PRIMARY KEY (id),
	CONSTRAINT events_source_event_id_key UNIQUE (source, event_id),
	CONSTRAINT events_source_check
		CHECK (pg_catalog.octet_length(source) OPERATOR(pg_catalog.>=) 1
			   AND pg_catalog.octet_length(source) OPERATOR(pg_catalog.<=) 63),
	CONSTRAINT events_event_id_check
		CHECK (pg_catalog.octet_length(event_id) OPERATOR(pg_catalog.>=) 1
			   AND pg_catalog.octet_length(event_id) OPERATOR(pg_catalog.<=) 255),
	CONSTRAINT events_payload_digest_check
		CHECK (pg_catalog.octet_length(payload_digest) OPERATOR(pg_catalog.=) 32),
	CONSTRAINT events_state_check
		CHECK (state OPERATOR(pg_catalog.=) ANY
			   (ARRAY['pending', 'processing', 'done', 'dead']::text[])),
	CONSTRAINT events_attempts_check
		CHECK (attempts OPERATOR(pg_catalog.>=) 0)
);

-- the indexes of the processing lifecycle (pg_inbox 0.2.0), which every
-- insert of a pending event maintains too
CREATE INDEX events_claimable ON bench.events (available_at, id)
	WHERE state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'processing']::text[]);
CREATE INDEX events_finished ON bench.events (processed_at)
	WHERE state OPERATOR(pg_catalog.=) ANY (ARRAY['done', 'dead']::text[]);
-- and the one of claims by source (pg_inbox 0.4.0)
CREATE INDEX events_claimable_source ON bench.events (source, available_at, id)
	WHERE state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'processing']::text[]);

-- the fillfactor of inbox.events (pg_inbox 0.2.0)
ALTER TABLE bench.events SET (fillfactor = 80);

-- the same again, with its own identity sequence and its own indexes
-- (LIKE copies no storage parameters: set the fillfactor on each)
CREATE TABLE bench.events_plpgsql (LIKE bench.events INCLUDING ALL) WITH (fillfactor = 80);

-- and twice more, for the hand-written claim and complete
-- (bench/queue-sql1.sql and bench/queue-sql2.sql)
CREATE TABLE bench.queue (LIKE bench.events INCLUDING ALL) WITH (fillfactor = 80);
CREATE TABLE bench.queue2 (LIKE bench.events INCLUDING ALL) WITH (fillfactor = 80);

/*
 * The usual way to write an idempotent ingest in PL/pgSQL: try the INSERT,
 * catch unique_violation, read the stored row and compare payloads.  Same
 * arguments and result columns as inbox.ingest.  The EXCEPTION block makes
 * every call a subtransaction; a duplicate inserts a heap tuple that the
 * unique index then refuses, so it costs an xid, WAL and a dead tuple.
 */
CREATE FUNCTION bench.ingest_plpgsql(
	p_source text,
	p_event_id text,
	p_payload jsonb,
	p_headers jsonb DEFAULT NULL,
	OUT status text,
	OUT id bigint,
	OUT received_at timestamptz,
	OUT detail text)
RETURNS record
LANGUAGE plpgsql
AS $$
DECLARE
	stored jsonb;
BEGIN
	BEGIN
		INSERT INTO bench.events_plpgsql AS e
			(source, event_id, payload_digest, headers, payload)
		VALUES (p_source, p_event_id,
				'\x0000000000000000000000000000000000000000000000000000000000000000'::bytea,
				p_headers, p_payload)
		RETURNING e.id, e.received_at INTO id, received_at;
		status := 'inserted';
	EXCEPTION WHEN unique_violation THEN
		SELECT e.id, e.received_at, e.payload INTO id, received_at, stored
		  FROM bench.events_plpgsql AS e
		 WHERE e.source = p_source AND e.event_id = p_event_id;
		IF stored = p_payload THEN
			status := 'duplicate';
		ELSE
			status := 'conflict';
			detail := 'an event with this source and event id was already stored with a different payload; the stored event was kept';
		END IF;
	END;
END
$$;

/*
 * Shape check: columns (name, order, type, typmod, collation, NOT NULL,
 * identity, default), constraints (kind and definition) and indexes (their
 * definitions without the names of index and table) of each bench table
 * must equal those of inbox.events.
 */
DO $$
DECLARE
	t regclass;
	diff text;
BEGIN
	FOREACH t IN ARRAY ARRAY['bench.events'::regclass, 'bench.events_plpgsql'::regclass,
							 'bench.queue'::regclass, 'bench.queue2'::regclass]
	LOOP
		WITH cols AS (
			SELECT a.attrelid AS rel,
				   format('column %s %s %s collate %s notnull=%s identity=%s default=%s',
						  a.attnum, a.attname,
						  pg_catalog.format_type(a.atttypid, a.atttypmod),
						  coalesce(c.collname, '-'), a.attnotnull,
						  coalesce(nullif(a.attidentity, ''), '-'),
						  coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid), '-')) AS item
			  FROM pg_catalog.pg_attribute a
			  LEFT JOIN pg_catalog.pg_collation c ON c.oid = a.attcollation
			  LEFT JOIN pg_catalog.pg_attrdef d
					 ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			 WHERE a.attrelid IN ('inbox.events'::regclass, t)
			   AND a.attnum > 0 AND NOT a.attisdropped
			UNION ALL
			SELECT con.conrelid,
				   format('constraint %s %s', con.contype,
						  pg_catalog.pg_get_constraintdef(con.oid))
			  FROM pg_catalog.pg_constraint con
			 WHERE con.conrelid IN ('inbox.events'::regclass, t)
			UNION ALL
			SELECT i.indrelid,
				   'index ' || regexp_replace(pg_catalog.pg_get_indexdef(i.indexrelid),
											  '^CREATE (UNIQUE )?INDEX \S+ ON \S+ ', '\1')
			  FROM pg_catalog.pg_index i
			 WHERE i.indrelid IN ('inbox.events'::regclass, t)
		),
		ours AS (SELECT item FROM cols WHERE rel = 'inbox.events'::regclass),
		theirs AS (SELECT item FROM cols WHERE rel = t)
		SELECT string_agg(x.item, E'\n' ORDER BY x.item) INTO diff
		  FROM ((SELECT 'only in inbox.events: ' || item AS item
				   FROM (SELECT item FROM ours EXCEPT ALL SELECT item FROM theirs) o)
				UNION ALL
				(SELECT 'only in ' || t::text || ': ' || item
				   FROM (SELECT item FROM theirs EXCEPT ALL SELECT item FROM ours) o)) x;
		IF diff IS NOT NULL THEN
			RAISE EXCEPTION 'bench: % does not have the shape of inbox.events', t
				USING DETAIL = diff;
		END IF;
	END LOOP;
END
$$;
