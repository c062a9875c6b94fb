/* pg_inbox 0.1.0: schema, tables and the ingest functions */

-- complain if the script is sourced in psql rather than run by CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_inbox" to load this file. \quit

CREATE SCHEMA inbox;
COMMENT ON SCHEMA inbox IS
	'pg_inbox: idempotent event ingest that never aborts the caller''s transaction';

/*
 * Per-source settings.  A source without a row uses the pg_inbox.* GUCs.
 */
CREATE TABLE inbox.sources (
	source				text COLLATE pg_catalog."C" NOT NULL,
	max_payload_bytes	integer,
	created_at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT sources_pkey PRIMARY KEY (source),
	CONSTRAINT sources_source_check
		CHECK (pg_catalog.octet_length(source) OPERATOR(pg_catalog.>=) 1
			   AND pg_catalog.octet_length(source) OPERATOR(pg_catalog.<=) 63),
	CONSTRAINT sources_max_payload_bytes_check
		CHECK (max_payload_bytes OPERATOR(pg_catalog.>=) 1
			   AND max_payload_bytes OPERATOR(pg_catalog.<=) 67108864)
);
COMMENT ON TABLE inbox.sources IS
	'per-source settings of pg_inbox; a source without a row uses the pg_inbox.* settings';
COMMENT ON COLUMN inbox.sources.source IS
	'name of the source, as passed to inbox.ingest (1 to 63 bytes)';
COMMENT ON COLUMN inbox.sources.max_payload_bytes IS
	'largest accepted payload in bytes; NULL means pg_inbox.max_payload_bytes';
COMMENT ON COLUMN inbox.sources.created_at IS 'when the row was created';

/*
 * Events, one row per (source, event_id).
 *
 * The columns are ordered so that the ones read on every duplicate check
 * (id, received_at, payload_digest) come first and the large, toastable ones
 * last.  payload_digest is a SHA-256 over a canonical form of the payload
 * that agrees with jsonb equality, so deciding between "duplicate" and
 * "conflict" never detoasts a stored payload.
 */
CREATE TABLE inbox.events (
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
COMMENT ON TABLE inbox.events IS
	'received events, one row per (source, event_id); written by inbox.ingest*';
COMMENT ON COLUMN inbox.events.id IS 'surrogate key, assigned only when an event is inserted';
COMMENT ON COLUMN inbox.events.received_at IS 'start of the transaction that inserted the event';
COMMENT ON COLUMN inbox.events.payload_digest IS
	'SHA-256 of the payload''s canonical form; equal for payloads that are equal as jsonb';
COMMENT ON COLUMN inbox.events.source IS 'who sent the event (1 to 63 bytes)';
COMMENT ON COLUMN inbox.events.event_id IS 'the sender''s id of the event (1 to 255 bytes)';
COMMENT ON COLUMN inbox.events.state IS 'pending, processing, done or dead';
COMMENT ON COLUMN inbox.events.attempts IS 'how many times the event was claimed for processing';
COMMENT ON COLUMN inbox.events.available_at IS 'earliest time the event may be claimed';
COMMENT ON COLUMN inbox.events.locked_by IS 'consumer that holds the event while it is processing';
COMMENT ON COLUMN inbox.events.locked_until IS 'end of the current lease';
COMMENT ON COLUMN inbox.events.processed_at IS 'when the event became done or dead';
COMMENT ON COLUMN inbox.events.last_error IS 'error of the last failed attempt';
COMMENT ON COLUMN inbox.events.headers IS 'request headers as received, if the caller passed them';
COMMENT ON COLUMN inbox.events.payload IS 'the event body';

-- keep the rows (and the id sequence) in pg_dump output
SELECT pg_catalog.pg_extension_config_dump('inbox.sources', '');
SELECT pg_catalog.pg_extension_config_dump('inbox.events', '');
SELECT pg_catalog.pg_extension_config_dump('inbox.events_id_seq', '');

/*
 * Ingest.  These are C functions that resolve every object through the
 * catalogs; search_path is pinned all the same, so that nothing a caller puts
 * in front of pg_catalog can reach them.
 */
CREATE FUNCTION inbox.ingest(
	source text,
	event_id text,
	payload jsonb,
	headers jsonb DEFAULT NULL,
	OUT status text,
	OUT id bigint,
	OUT received_at timestamptz,
	OUT detail text)
RETURNS record
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ingest';
COMMENT ON FUNCTION inbox.ingest(text, text, jsonb, jsonb) IS
	'store an event once per (source, event_id); answers inserted, duplicate, conflict or rejected';

CREATE FUNCTION inbox.ingest_raw(
	source text,
	event_id text,
	body text,
	headers jsonb DEFAULT NULL,
	OUT status text,
	OUT id bigint,
	OUT received_at timestamptz,
	OUT detail text)
RETURNS record
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ingest_raw';
COMMENT ON FUNCTION inbox.ingest_raw(text, text, text, jsonb) IS
	'inbox.ingest for a raw request body; a body that is not valid JSON is rejected, not an error';

CREATE FUNCTION inbox.ingest_many(
	source text,
	event_ids text[],
	payloads jsonb[],
	OUT ord integer,
	OUT status text,
	OUT id bigint,
	OUT received_at timestamptz,
	OUT detail text)
RETURNS SETOF record
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
ROWS 100
AS 'MODULE_PATHNAME', 'ingest_many';
COMMENT ON FUNCTION inbox.ingest_many(text, text[], jsonb[]) IS
	'inbox.ingest for many events of one source; one result row per element, in order';

-- nothing is for PUBLIC: grant EXECUTE and table rights to roles (see README)
REVOKE ALL ON FUNCTION inbox.ingest(text, text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.ingest_raw(text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.ingest_many(text, text[], jsonb[]) FROM PUBLIC;
