/* pg_inbox 0.3.0 -> 0.4.0 */

-- complain if the script is sourced in psql rather than run by ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_inbox UPDATE TO '0.4.0'" to load this file. \quit

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
