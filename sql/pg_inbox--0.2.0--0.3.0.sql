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

/*
 * purge: an older_than so large that now() - older_than leaves the range of
 * timestamptz is refused with a message that names it (it raised 22008).
 * CREATE OR REPLACE keeps the function's grants and comment.
 */
CREATE OR REPLACE FUNCTION inbox.purge(older_than interval, max_rows integer DEFAULT 10000)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	IF older_than IS NULL THEN
		RAISE EXCEPTION USING
			ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'older_than must not be NULL';
	END IF;
	IF older_than OPERATOR(pg_catalog.<) '0'::interval THEN
		RAISE EXCEPTION USING
			ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('older_than must not be negative, not %s', older_than);
	END IF;
	-- past this, now() - older_than leaves the range of timestamptz
	IF older_than OPERATOR(pg_catalog.>) '1000 years'::interval THEN
		RAISE EXCEPTION USING
			ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('older_than must be at most 1000 years, not %s', older_than);
	END IF;
	IF max_rows IS NULL OR max_rows OPERATOR(pg_catalog.<) 1
		OR max_rows OPERATOR(pg_catalog.>) 1000000 THEN
		RAISE EXCEPTION USING
			ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('max_rows must be between 1 and 1000000, not %s',
										coalesce(max_rows::text, 'NULL'));
	END IF;
	DELETE FROM inbox.events e
	WHERE e.id OPERATOR(pg_catalog.=) ANY (ARRAY(
		SELECT f.id FROM inbox.events f
		WHERE f.state OPERATOR(pg_catalog.=) ANY (ARRAY['done', 'dead']::text[])
		  AND f.processed_at OPERATOR(pg_catalog.<)
			  (pg_catalog.now() OPERATOR(pg_catalog.-) purge.older_than)
		ORDER BY f.processed_at
		LIMIT purge.max_rows
		FOR UPDATE SKIP LOCKED));
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END;
$$;

REVOKE ALL ON FUNCTION inbox.upsert(regclass, jsonb, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.upsert_many(regclass, jsonb, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.attempt(text) FROM PUBLIC;
