/* pg_inbox 0.2.0 -> 0.3.0: generic upserts and the statement guard */

-- complain if the script is sourced in psql rather than run by ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_inbox UPDATE TO '0.3.0'" to load this file. \quit

/*
 * Upsert helpers.  C functions that run prepared statements through SPI with
 * every identifier taken from the catalogs and quoted, so that the caller's
 * privileges and row-level security apply as to hand-written SQL.
 */
CREATE FUNCTION inbox.upsert(
	target regclass,
	data jsonb,
	conflict_columns text[] DEFAULT NULL,
	OUT action text,
	OUT "row" jsonb)
RETURNS record
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'upsert';
COMMENT ON FUNCTION inbox.upsert(regclass, jsonb, text[]) IS
	'insert a row, or update the row with its key; answers inserted, updated or unchanged, and the stored row';

CREATE FUNCTION inbox.upsert_many(
	target regclass,
	"rows" jsonb,
	conflict_columns text[] DEFAULT NULL,
	OUT ord integer,
	OUT action text,
	OUT "row" jsonb)
RETURNS SETOF record
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
ROWS 100
AS 'MODULE_PATHNAME', 'upsert_many';
COMMENT ON FUNCTION inbox.upsert_many(regclass, jsonb, text[]) IS
	'inbox.upsert for each object of a JSON array, in order; one result row per element';

/*
 * The statement guard.  Its search_path is deliberately not pinned: the
 * statement is the caller's own SQL and must resolve names exactly as if the
 * caller had run it.  The function resolves no name itself, and runs with
 * the caller's rights (SECURITY INVOKER).
 */
CREATE FUNCTION inbox.attempt(
	statement text,
	OUT ok boolean,
	OUT sqlstate text,
	OUT message text,
	OUT detail text,
	OUT constraint_name text,
	OUT "rows" bigint)
RETURNS record
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
AS 'MODULE_PATHNAME', 'attempt';
COMMENT ON FUNCTION inbox.attempt(text) IS
	'run one statement in a subtransaction; an error comes back as a row and the caller''s transaction goes on (search_path is the caller''s on purpose)';

REVOKE ALL ON FUNCTION inbox.upsert(regclass, jsonb, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.upsert_many(regclass, jsonb, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.attempt(text) FROM PUBLIC;
