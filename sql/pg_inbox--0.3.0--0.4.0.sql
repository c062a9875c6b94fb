/* pg_inbox 0.3.0 -> 0.4.0 */

-- complain if the script is sourced in psql rather than run by ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_inbox UPDATE TO '0.4.0'" to load this file. \quit

/*
 * inbox.ingest_raw_many: the batch for raw request bodies.  A body that is
 * not usable JSON is one "rejected" row; the rest of the batch is stored.
 * Answers as inbox.ingest_many does, one row per element in the caller's
 * order.  (Issue 11.)
 */
CREATE FUNCTION inbox.ingest_raw_many(
	source text,
	event_ids text[],
	bodies text[],
	headers jsonb[] DEFAULT NULL,
	OUT ord integer,
	OUT status text,
	OUT id bigint,
	OUT received_at timestamptz,
	OUT detail text)
RETURNS SETOF record
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
ROWS 100
AS 'MODULE_PATHNAME', 'ingest_raw_many';
COMMENT ON FUNCTION inbox.ingest_raw_many(text, text[], text[], jsonb[]) IS
	'inbox.ingest_raw for many events of one source; a malformed body rejects that element only; one result row per element, in order';

REVOKE ALL ON FUNCTION inbox.ingest_raw_many(text, text[], text[], jsonb[]) FROM PUBLIC;

/*
 * Upserts run the caller's triggers, defaults and CHECK constraints under
 * the caller's search_path, as the hand-written statement would: the
 * search_path is no longer pinned (CREATE OR REPLACE without SET clears
 * it).  The C functions resolve no name through it: every table, function,
 * operator, type and collation in the statements they prepare is
 * schema-qualified, and they look up nothing else by name.  A new action,
 * skipped, answers a row that a BEFORE trigger suppressed.
 */
CREATE OR REPLACE FUNCTION inbox.upsert(
	target regclass,
	data jsonb,
	conflict_columns text[] DEFAULT NULL,
	OUT action text,
	OUT "row" jsonb)
RETURNS record
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
AS 'MODULE_PATHNAME', 'upsert';
COMMENT ON FUNCTION inbox.upsert(regclass, jsonb, text[]) IS
	'insert a row, or update the row with its key; answers inserted, updated, unchanged or skipped, and the stored row (search_path is the caller''s on purpose)';

CREATE OR REPLACE FUNCTION inbox.upsert_many(
	target regclass,
	"rows" jsonb,
	conflict_columns text[] DEFAULT NULL,
	OUT ord integer,
	OUT action text,
	OUT "row" jsonb)
RETURNS SETOF record
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
ROWS 100
AS 'MODULE_PATHNAME', 'upsert_many';
COMMENT ON FUNCTION inbox.upsert_many(regclass, jsonb, text[]) IS
	'inbox.upsert for each object of a JSON array, in order; one result row per element (search_path is the caller''s on purpose)';

-- webhook signatures
/*
 * Webhook signatures (issue 15, extension/signature.c).  A source's scheme
 * and options live in inbox.sources, readable by workers; its secrets live
 * in inbox.source_secrets, readable by the owner alone.
 */
ALTER TABLE inbox.sources
	ADD COLUMN signature_scheme text,
	ADD COLUMN signature_tolerance interval,
	ADD COLUMN event_id_path text[],
	ADD CONSTRAINT sources_signature_scheme_check
		CHECK (signature_scheme OPERATOR(pg_catalog.=) ANY (ARRAY['standard', 'stripe', 'github'])),
	ADD CONSTRAINT sources_signature_tolerance_check
		CHECK (signature_tolerance OPERATOR(pg_catalog.>=) '0'::pg_catalog.interval),
	ADD CONSTRAINT sources_event_id_path_check
		CHECK (pg_catalog.cardinality(event_id_path) OPERATOR(pg_catalog.>=) 1
			   AND pg_catalog.array_position(event_id_path, NULL) IS NULL);
COMMENT ON COLUMN inbox.sources.signature_scheme IS
	'how inbox.ingest_verified verifies deliveries of the source: standard (Standard Webhooks), stripe or github; NULL rejects every delivery with reason no_secret';
COMMENT ON COLUMN inbox.sources.signature_tolerance IS
	'how far a signed timestamp may be from the server''s clock, either way (standard and stripe); NULL means 5 minutes';
COMMENT ON COLUMN inbox.sources.event_id_path IS
	'where inbox.ingest_verified takes the event id in the body, as a path for #>; NULL means where the scheme puts it';

/*
 * The signing secrets.  Only the owner reads or writes this table; the
 * ingest functions read it in C, and no function returns a secret.
 */
CREATE TABLE inbox.source_secrets (
	source		text COLLATE pg_catalog."C" NOT NULL,
	key_id		text COLLATE pg_catalog."C" NOT NULL,
	secret		text NOT NULL,
	expires_at	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT source_secrets_pkey PRIMARY KEY (source, key_id),
	CONSTRAINT source_secrets_source_fkey FOREIGN KEY (source)
		REFERENCES inbox.sources (source) ON UPDATE CASCADE ON DELETE CASCADE,
	CONSTRAINT source_secrets_key_id_check
		CHECK (pg_catalog.octet_length(key_id) OPERATOR(pg_catalog.>=) 1
			   AND pg_catalog.octet_length(key_id) OPERATOR(pg_catalog.<=) 63),
	CONSTRAINT source_secrets_secret_check
		CHECK (pg_catalog.octet_length(secret) OPERATOR(pg_catalog.>=) 1
			   AND pg_catalog.octet_length(secret) OPERATOR(pg_catalog.<=) 1024)
);
COMMENT ON TABLE inbox.source_secrets IS
	'webhook signing secrets per source; any unexpired one may verify a delivery; readable by the owner only';
COMMENT ON COLUMN inbox.source_secrets.source IS 'the source (a row of inbox.sources)';
COMMENT ON COLUMN inbox.source_secrets.key_id IS
	'name of the secret, stored with each event it verified (1 to 63 bytes)';
COMMENT ON COLUMN inbox.source_secrets.secret IS
	'the secret as the provider shows it: whsec_ and base64 for standard, the whole whsec_ string for stripe, the text for github';
COMMENT ON COLUMN inbox.source_secrets.expires_at IS
	'after this the secret verifies nothing; NULL never expires';
COMMENT ON COLUMN inbox.source_secrets.created_at IS 'when the row was created';
REVOKE ALL ON inbox.source_secrets FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('inbox.source_secrets', '');

ALTER TABLE inbox.events ADD COLUMN verified_key text;
COMMENT ON COLUMN inbox.events.verified_key IS
	'key_id of the secret that verified the delivery (inbox.ingest_verified); NULL when not verified';

CREATE FUNCTION inbox.verify_signature(
	secret text,
	msg_id text,
	msg_timestamp bigint,
	body text,
	signature_header text,
	tolerance interval DEFAULT '5 minutes')
RETURNS boolean
LANGUAGE c VOLATILE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'verify_signature';
COMMENT ON FUNCTION inbox.verify_signature(text, text, bigint, text, text, interval) IS
	'Standard Webhooks: whether a v1 signature of the header is the HMAC-SHA256 of id.timestamp.body under the whsec_ secret, and the timestamp within tolerance of the clock';

CREATE FUNCTION inbox.verify_stripe_signature(
	secret text,
	body text,
	signature_header text,
	tolerance interval DEFAULT '5 minutes')
RETURNS boolean
LANGUAGE c VOLATILE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'verify_stripe_signature';
COMMENT ON FUNCTION inbox.verify_stripe_signature(text, text, text, interval) IS
	'Stripe: whether a v1 signature of the Stripe-Signature header is the hex HMAC-SHA256 of t.body under the secret, and t within tolerance of the clock';

CREATE FUNCTION inbox.verify_github_signature(
	secret text,
	body text,
	signature_header text)
RETURNS boolean
LANGUAGE c IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'verify_github_signature';
COMMENT ON FUNCTION inbox.verify_github_signature(text, text, text) IS
	'GitHub: whether the X-Hub-Signature-256 header is sha256= and the hex HMAC-SHA256 of the body under the secret';

CREATE FUNCTION inbox.ingest_verified(
	source text,
	body text,
	headers jsonb,
	OUT status text,
	OUT id bigint,
	OUT received_at timestamptz,
	OUT detail text,
	OUT reason text,
	OUT key_id text)
RETURNS record
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ingest_verified';
COMMENT ON FUNCTION inbox.ingest_verified(text, text, jsonb) IS
	'inbox.ingest_raw for a signed delivery: verified against the source''s scheme and secrets, event id from where the scheme puts it; reason says why a delivery was rejected';

CREATE FUNCTION inbox.signature_counters(
	OUT source text,
	OUT signature_failures bigint)
RETURNS SETOF record
LANGUAGE c VOLATILE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
ROWS 100
AS 'MODULE_PATHNAME', 'signature_counters';
COMMENT ON FUNCTION inbox.signature_counters() IS
	'deliveries that inbox.ingest_verified rejected for their signature, per source as in inbox.ingest_counters(); no rows unless pg_inbox is in shared_preload_libraries';

REVOKE ALL ON FUNCTION inbox.verify_signature(text, text, bigint, text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.verify_stripe_signature(text, text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.verify_github_signature(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.ingest_verified(text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.signature_counters() FROM PUBLIC;

/* inbox.stats gains signature_failures, as its last column */
CREATE OR REPLACE VIEW inbox.stats WITH (security_invoker = true) AS
WITH counters AS (
	SELECT c.source COLLATE pg_catalog."C" AS source,
		   c.inserted, c.duplicate, c.conflict, c.rejected, c.stats_reset,
		   f.signature_failures
	FROM inbox.ingest_counters() c
		 LEFT JOIN inbox.signature_counters() f
			ON f.source IS NOT DISTINCT FROM c.source
),
-- the row with source NULL: there exactly when counting is on
counting AS (
	SELECT true AS available, c.stats_reset
	FROM counters c
	WHERE c.source IS NULL
),
states AS (
	SELECT e.source,
		   pg_catalog.count(*) FILTER (WHERE e.state OPERATOR(pg_catalog.=) 'pending') AS pending,
		   pg_catalog.count(*) FILTER (WHERE e.state OPERATOR(pg_catalog.=) 'processing') AS processing,
		   pg_catalog.count(*) FILTER (WHERE e.state OPERATOR(pg_catalog.=) 'done') AS done,
		   pg_catalog.count(*) FILTER (WHERE e.state OPERATOR(pg_catalog.=) 'dead') AS dead,
		   pg_catalog.min(e.received_at) FILTER (WHERE e.state OPERATOR(pg_catalog.=) 'pending') AS oldest_pending
	FROM inbox.events e
	GROUP BY e.source
)
SELECT coalesce(s.source, c.source) AS source,
	   coalesce(s.pending, 0) AS pending,
	   coalesce(s.processing, 0) AS processing,
	   coalesce(s.done, 0) AS done,
	   coalesce(s.dead, 0) AS dead,
	   pg_catalog.now() OPERATOR(pg_catalog.-) s.oldest_pending AS oldest_pending_age,
	   CASE WHEN g.available THEN coalesce(c.inserted, 0) END AS inserted,
	   CASE WHEN g.available THEN coalesce(c.duplicate, 0) END AS duplicate,
	   CASE WHEN g.available THEN coalesce(c.conflict, 0) END AS conflict,
	   CASE WHEN g.available THEN coalesce(c.rejected, 0) END AS rejected,
	   g.stats_reset,
	   coalesce(g.available, false) AS counters_available,
	   CASE WHEN g.available THEN coalesce(c.signature_failures, 0) END AS signature_failures
FROM states s
	 FULL JOIN counters c ON c.source OPERATOR(pg_catalog.=) s.source
	 LEFT JOIN counting g ON true
WHERE s.source IS NOT NULL
   OR c.source IS NOT NULL
   OR c.inserted OPERATOR(pg_catalog.+) c.duplicate OPERATOR(pg_catalog.+)
	  c.conflict OPERATOR(pg_catalog.+) c.rejected OPERATOR(pg_catalog.>) 0;
COMMENT ON COLUMN inbox.stats.signature_failures IS
	'deliveries that inbox.ingest_verified rejected for their signature (no_signature, bad_signature, timestamp, no_secret) since stats_reset; NULL when counters_available is false';

-- lifecycle in C

/*
 * Fenced leases: every claim gives the event a new token from a sequence, so
 * that a token never repeats, not even after a replay.  complete, fail and
 * extend_lease can require it.  A nullable column without a default: adding
 * it rewrites nothing.
 */
ALTER TABLE inbox.events ADD COLUMN lease_token bigint;
COMMENT ON COLUMN inbox.events.lease_token IS
	'token of the event''s latest claim, from inbox.lease_tokens; complete, fail and extend_lease can require it';

CREATE SEQUENCE inbox.lease_tokens AS bigint;
COMMENT ON SEQUENCE inbox.lease_tokens IS
	'lease tokens handed out by inbox.claim';
-- a restored database must not hand out a token again
SELECT pg_catalog.pg_extension_config_dump('inbox.lease_tokens', '');

/*
 * A claim limited to sources reads each source's claimable events in claim
 * order, instead of reading past other sources' events.  Processing events
 * are in it too: their available_at is the end of their lease, so an expired
 * lease is found in the same order.
 */
CREATE INDEX events_claimable_source ON inbox.events (source, available_at, id)
	WHERE state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'processing']::text[]);
COMMENT ON INDEX inbox.events_claimable_source IS
	'claimable events by source, in the order inbox.claim takes them';

/*
 * claim returns lease_token as a ninth column.  CREATE OR REPLACE cannot
 * change a function's result columns, and DROP FUNCTION would drop the
 * EXECUTE grants that roles hold on it; so the result columns are first
 * extended in the catalog (the function keeps its OID, grants, comment and
 * dependencies), and CREATE OR REPLACE then checks and completes the
 * definition as usual.
 */
UPDATE pg_catalog.pg_proc
SET proallargtypes = '{text,integer,interval,text[],bigint,text,text,integer,timestamptz,timestamptz,jsonb,jsonb,bigint}'::pg_catalog.regtype[]::pg_catalog.oid[],
	proargmodes = '{i,i,i,i,t,t,t,t,t,t,t,t,t}'::pg_catalog."char"[],
	proargnames = '{consumer,max_events,lease,sources,id,source,event_id,attempt,received_at,locked_until,headers,payload,lease_token}'::pg_catalog.text[]
WHERE oid OPERATOR(pg_catalog.=) 'inbox.claim(text, integer, interval, text[])'::pg_catalog.regprocedure;

CREATE OR REPLACE FUNCTION inbox.claim(
	consumer text,
	max_events integer DEFAULT 10,
	lease interval DEFAULT '5 minutes',
	sources text[] DEFAULT NULL)
RETURNS TABLE (
	id bigint,
	source text,
	event_id text,
	attempt integer,
	received_at timestamptz,
	locked_until timestamptz,
	headers jsonb,
	payload jsonb,
	lease_token bigint)
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
ROWS 10
AS 'MODULE_PATHNAME', 'claim';

CREATE OR REPLACE FUNCTION inbox.complete(id bigint, consumer text)
RETURNS boolean
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'complete';

CREATE FUNCTION inbox.complete(id bigint, consumer text, lease_token bigint)
RETURNS boolean
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'complete';
COMMENT ON FUNCTION inbox.complete(bigint, text, bigint) IS
	'mark an event that consumer holds under lease_token as done; false when it does not';

CREATE OR REPLACE FUNCTION inbox.fail(id bigint, consumer text, error text, retry_in interval DEFAULT NULL)
RETURNS text
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'fail';

CREATE FUNCTION inbox.fail(id bigint, consumer text, error text, retry_in interval, lease_token bigint)
RETURNS text
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'fail';
COMMENT ON FUNCTION inbox.fail(bigint, text, text, interval, bigint) IS
	'record a failed attempt of an event that consumer holds under lease_token; NULL when it does not';

CREATE OR REPLACE FUNCTION inbox.extend_lease(id bigint, consumer text, lease interval DEFAULT '5 minutes')
RETURNS timestamptz
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'extend_lease';

CREATE FUNCTION inbox.extend_lease(id bigint, consumer text, lease interval, lease_token bigint)
RETURNS timestamptz
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'extend_lease';
COMMENT ON FUNCTION inbox.extend_lease(bigint, text, interval, bigint) IS
	'keep a claim that consumer holds under lease_token alive until now() + lease; NULL when it does not';

CREATE OR REPLACE FUNCTION inbox.replay(ids bigint[])
RETURNS bigint
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'replay';

CREATE OR REPLACE FUNCTION inbox.replay(
	source text,
	received_from timestamptz,
	received_until timestamptz,
	states text[] DEFAULT ARRAY['dead'])
RETURNS bigint
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'replay_range';

CREATE OR REPLACE FUNCTION inbox.purge(older_than interval, max_rows integer DEFAULT 10000)
RETURNS bigint
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'purge';

REVOKE ALL ON FUNCTION inbox.complete(bigint, text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.fail(bigint, text, text, interval, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.extend_lease(bigint, text, interval, bigint) FROM PUBLIC;
REVOKE ALL ON SEQUENCE inbox.lease_tokens FROM PUBLIC;
