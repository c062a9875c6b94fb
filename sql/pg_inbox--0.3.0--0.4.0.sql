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
