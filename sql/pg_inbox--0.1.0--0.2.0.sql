/* pg_inbox 0.1.0 -> 0.2.0: the processing lifecycle, retention, statistics */

-- complain if the script is sourced in psql rather than run by ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_inbox UPDATE TO '0.2.0'" to load this file. \quit

/*
 * Per-source attempt limit.
 */
ALTER TABLE inbox.sources ADD COLUMN max_attempts integer;
ALTER TABLE inbox.sources ADD CONSTRAINT sources_max_attempts_check
	CHECK (max_attempts OPERATOR(pg_catalog.>=) 1
		   AND max_attempts OPERATOR(pg_catalog.<=) 1000);
COMMENT ON COLUMN inbox.sources.max_attempts IS
	'attempts before an event becomes dead; NULL means pg_inbox.max_attempts';

/*
 * The history of failed attempts, newest last, at most 10 entries of
 * {attempt, failed_at, consumer, error}.  A nullable column without a
 * default: adding it rewrites nothing.
 */
ALTER TABLE inbox.events ADD COLUMN errors jsonb;
COMMENT ON COLUMN inbox.events.errors IS
	'the last failed attempts, newest last: [{attempt, failed_at, consumer, error}], at most 10';

/*
 * Claims and completions rewrite the row; room left on each page lets the
 * new version stay on the page of the old one, which writes much less WAL
 * for payloads of a few kilobytes (see "Performance" in the README).  The
 * setting applies to pages filled from now on.
 */
ALTER TABLE inbox.events SET (fillfactor = 80);

/*
 * available_at is the time an event can next be claimed: for a pending
 * event the end of its retry delay, for a processing one the end of its
 * lease.  Claiming reads this index in order, and it holds only the events
 * that can still be claimed, however many are done.
 */
CREATE INDEX events_claimable ON inbox.events (available_at, id)
	WHERE state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'processing']::text[]);
COMMENT ON INDEX inbox.events_claimable IS
	'events that can be claimed, in the order inbox.claim takes them';

-- what purge reads, in the order it deletes
CREATE INDEX events_finished ON inbox.events (processed_at)
	WHERE state OPERATOR(pg_catalog.=) ANY (ARRAY['done', 'dead']::text[]);
COMMENT ON INDEX inbox.events_finished IS
	'done and dead events by age, for inbox.purge';

/*
 * Claim up to max_events events: pending ones whose retry delay is over and
 * processing ones whose lease expired, oldest first, skipping rows that other
 * claimers hold.  An event whose lease expired on its last attempt becomes
 * dead instead of being handed out again.
 */
CREATE FUNCTION inbox.claim(
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
	payload jsonb)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	default_limit integer :=
		coalesce(pg_catalog.current_setting('pg_inbox.max_attempts', true), '10')::integer;
	wanted integer := max_events;
	taken bigint[];
	handed bigint[] := '{}';
	n_candidates integer;
BEGIN
	IF consumer IS NULL OR consumer OPERATOR(pg_catalog.=) ''
		OR pg_catalog.octet_length(consumer) OPERATOR(pg_catalog.>) 255 THEN
		RAISE EXCEPTION USING
			ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'consumer must be a name of 1 to 255 bytes';
	END IF;
	IF max_events IS NULL OR max_events OPERATOR(pg_catalog.<) 1
		OR max_events OPERATOR(pg_catalog.>) 10000 THEN
		RAISE EXCEPTION USING
			ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('max_events must be between 1 and 10000, not %s',
										coalesce(max_events::text, 'NULL'));
	END IF;
	IF lease IS NULL THEN
		RAISE EXCEPTION USING
			ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'lease must not be NULL';
	END IF;
	IF lease OPERATOR(pg_catalog.<=) '0'::interval
		OR lease OPERATOR(pg_catalog.>) '1 year'::interval THEN
		RAISE EXCEPTION USING
			ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('lease must be more than 0 and at most 1 year, not %s', lease);
	END IF;

	/*
	 * Take candidates in claim order.  One whose lease expired on its last
	 * attempt becomes dead instead of being handed out; if that happened,
	 * take more, so that dead ones do not eat the places of live ones.
	 */
	LOOP
		WITH candidates AS (
			SELECT e.id, e.state, e.attempts,
				   coalesce(s.max_attempts, default_limit) AS max_attempts
			FROM inbox.events e
			LEFT JOIN inbox.sources s ON s.source OPERATOR(pg_catalog.=) e.source
			WHERE e.state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'processing']::text[])
			  AND e.available_at OPERATOR(pg_catalog.<=) pg_catalog.now()
			  AND (claim.sources IS NULL
				   OR e.source OPERATOR(pg_catalog.=) ANY (claim.sources))
			ORDER BY e.available_at, e.id
			LIMIT wanted
			FOR UPDATE OF e SKIP LOCKED
		),
		updated AS (
			UPDATE inbox.events e
			SET state = CASE WHEN c.dies THEN 'dead' ELSE 'processing' END,
				attempts = CASE WHEN c.dies THEN e.attempts
								ELSE e.attempts OPERATOR(pg_catalog.+) 1 END,
				locked_by = CASE WHEN c.dies THEN NULL ELSE claim.consumer END,
				locked_until = CASE WHEN c.dies THEN NULL
									ELSE pg_catalog.now() OPERATOR(pg_catalog.+) claim.lease END,
				available_at = CASE WHEN c.dies THEN e.available_at
									ELSE pg_catalog.now() OPERATOR(pg_catalog.+) claim.lease END,
				processed_at = CASE WHEN c.dies THEN pg_catalog.now() ELSE NULL END,
				last_error = CASE WHEN c.dies
								  THEN pg_catalog.format('lease of attempt %s expired, and the attempt limit of %s is reached',
														 c.attempts, c.max_attempts)
								  ELSE e.last_error END,
				-- an expired lease is a failed attempt: keep it in the history
				errors = CASE WHEN c.state OPERATOR(pg_catalog.=) 'processing'
							  THEN (SELECT CASE WHEN pg_catalog.jsonb_array_length(h.x) OPERATOR(pg_catalog.>) 10
												THEN h.x OPERATOR(pg_catalog.-) 0 ELSE h.x END
									FROM (SELECT coalesce(e.errors, '[]'::jsonb) OPERATOR(pg_catalog.||)
												 pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
													 'attempt', e.attempts, 'failed_at', pg_catalog.now(),
													 'consumer', e.locked_by, 'error', 'lease expired')) AS x) h)
							  ELSE e.errors END
			FROM (SELECT c0.*,
						 (c0.state OPERATOR(pg_catalog.=) 'processing'
						  AND c0.attempts OPERATOR(pg_catalog.>=) c0.max_attempts) AS dies
				  FROM candidates c0) c
			WHERE e.id OPERATOR(pg_catalog.=) c.id
			RETURNING e.id, e.state
		)
		SELECT coalesce(pg_catalog.array_agg(u.id) FILTER (WHERE u.state OPERATOR(pg_catalog.=) 'processing'),
						'{}'::bigint[]),
			   pg_catalog.count(*)::integer
		INTO taken, n_candidates
		FROM updated u;

		handed := handed OPERATOR(pg_catalog.||) taken;
		EXIT WHEN n_candidates OPERATOR(pg_catalog.<) wanted
			OR pg_catalog.cardinality(taken) OPERATOR(pg_catalog.=) n_candidates;
		wanted := wanted OPERATOR(pg_catalog.-) pg_catalog.cardinality(taken);
	END LOOP;

	RETURN QUERY
	SELECT e.id, e.source, e.event_id, e.attempts, e.received_at,
		   e.locked_until, e.headers, e.payload
	FROM inbox.events e
	WHERE e.id OPERATOR(pg_catalog.=) ANY (handed)
	ORDER BY e.id;
END;
$$;
COMMENT ON FUNCTION inbox.claim(text, integer, interval, text[]) IS
	'take up to max_events claimable events for consumer until now() + lease';



/*
 * complete: the holder marks its event done.  False, and nothing changed,
 * when consumer does not hold the event (any more).
 */
CREATE FUNCTION inbox.complete(id bigint, consumer text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF consumer IS NULL OR consumer OPERATOR(pg_catalog.=) ''
		OR pg_catalog.octet_length(consumer) OPERATOR(pg_catalog.>) 255 THEN
		RAISE EXCEPTION USING
			ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'consumer must be a name of 1 to 255 bytes';
	END IF;
	UPDATE inbox.events e
	SET state = 'done', processed_at = pg_catalog.now(),
		locked_by = NULL, locked_until = NULL
	WHERE e.id OPERATOR(pg_catalog.=) complete.id
	  AND e.state OPERATOR(pg_catalog.=) 'processing'
	  AND e.locked_by OPERATOR(pg_catalog.=) complete.consumer;
	RETURN FOUND;
END;
$$;
COMMENT ON FUNCTION inbox.complete(bigint, text) IS
	'mark an event that consumer holds as done; false when consumer does not hold it';

/*
 * extend_lease: the holder keeps its claim alive.  Returns the new end of
 * the lease, or NULL when consumer does not hold the event.
 */
CREATE FUNCTION inbox.extend_lease(id bigint, consumer text, lease interval DEFAULT '5 minutes')
RETURNS timestamptz
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	until timestamptz;
BEGIN
	IF consumer IS NULL OR consumer OPERATOR(pg_catalog.=) ''
		OR pg_catalog.octet_length(consumer) OPERATOR(pg_catalog.>) 255 THEN
		RAISE EXCEPTION USING
			ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'consumer must be a name of 1 to 255 bytes';
	END IF;
	IF lease IS NULL THEN
		RAISE EXCEPTION USING
			ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'lease must not be NULL';
	END IF;
	IF lease OPERATOR(pg_catalog.<=) '0'::interval
		OR lease OPERATOR(pg_catalog.>) '1 year'::interval THEN
		RAISE EXCEPTION USING
			ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('lease must be more than 0 and at most 1 year, not %s', lease);
	END IF;
	UPDATE inbox.events e
	SET locked_until = pg_catalog.now() OPERATOR(pg_catalog.+) extend_lease.lease,
		available_at = pg_catalog.now() OPERATOR(pg_catalog.+) extend_lease.lease
	WHERE e.id OPERATOR(pg_catalog.=) extend_lease.id
	  AND e.state OPERATOR(pg_catalog.=) 'processing'
	  AND e.locked_by OPERATOR(pg_catalog.=) extend_lease.consumer
	RETURNING e.locked_until INTO until;
	RETURN until;
END;
$$;
COMMENT ON FUNCTION inbox.extend_lease(bigint, text, interval) IS
	'keep a claim alive until now() + lease; NULL when consumer does not hold the event';


/*
 * The delay before retry number attempt (1, 2, ...): pg_inbox.retry_base_delay
 * doubled for each attempt after the first, at most pg_inbox.retry_max_delay,
 * then a random point between half of that and all of it, so that events
 * that failed together do not come back together.
 */
CREATE FUNCTION inbox.retry_delay(attempt integer)
RETURNS interval
LANGUAGE plpgsql VOLATILE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- a session that has not loaded the library sees a postgresql.conf value
	-- as written: a plain number there means milliseconds, as in the setting
	base_text text := coalesce(pg_catalog.current_setting('pg_inbox.retry_base_delay', true), '10s');
	cap_text text := coalesce(pg_catalog.current_setting('pg_inbox.retry_max_delay', true), '1h');
	base double precision;
	cap double precision;
	delay double precision;
BEGIN
	IF attempt IS NULL OR attempt OPERATOR(pg_catalog.<) 1 THEN
		RAISE EXCEPTION USING
			ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('attempt must be 1 or more, not %s',
										coalesce(attempt::text, 'NULL'));
	END IF;
	base := pg_catalog.date_part('epoch',
		CASE WHEN base_text OPERATOR(pg_catalog.~) '^[0-9]+$'
			 THEN (base_text OPERATOR(pg_catalog.||) ' ms')::interval
			 ELSE base_text::interval END);
	cap := pg_catalog.date_part('epoch',
		CASE WHEN cap_text OPERATOR(pg_catalog.~) '^[0-9]+$'
			 THEN (cap_text OPERATOR(pg_catalog.||) ' ms')::interval
			 ELSE cap_text::interval END);
	delay := LEAST(cap, base OPERATOR(pg_catalog.*)
				   pg_catalog.power(2::double precision,
									(LEAST(attempt, 60) OPERATOR(pg_catalog.-) 1)::double precision));
	delay := delay OPERATOR(pg_catalog.*)
		(0.5::double precision OPERATOR(pg_catalog.+)
		 (pg_catalog.random() OPERATOR(pg_catalog.*) 0.5::double precision));
	RETURN pg_catalog.make_interval(secs => delay);
END;
$$;
COMMENT ON FUNCTION inbox.retry_delay(integer) IS
	'delay before the retry after failed attempt number attempt: exponential, capped, with jitter';

/*
 * fail: the holder reports a failed attempt.  The error is kept (truncated
 * to 2000 characters) as last_error and in the bounded history; the event is
 * retried after retry_in, or after inbox.retry_delay(attempts), or becomes
 * dead once the source's attempt limit is reached.  Returns the new state,
 * or NULL (and changes nothing) when consumer does not hold the event.
 */
CREATE FUNCTION inbox.fail(id bigint, consumer text, error text, retry_in interval DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ev record;
	limit_ integer;
	new_state text;
	message text := pg_catalog.left(coalesce(error, '(no error text)'), 2000);
	delay interval;
BEGIN
	IF consumer IS NULL OR consumer OPERATOR(pg_catalog.=) ''
		OR pg_catalog.octet_length(consumer) OPERATOR(pg_catalog.>) 255 THEN
		RAISE EXCEPTION USING
			ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'consumer must be a name of 1 to 255 bytes';
	END IF;
	IF retry_in OPERATOR(pg_catalog.<=) '0'::interval
		OR retry_in OPERATOR(pg_catalog.>) '1 year'::interval THEN
		RAISE EXCEPTION USING
			ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('retry_in must be more than 0 and at most 1 year, not %s', retry_in);
	END IF;

	SELECT e.id, e.source, e.attempts INTO ev
	FROM inbox.events e
	WHERE e.id OPERATOR(pg_catalog.=) fail.id
	  AND e.state OPERATOR(pg_catalog.=) 'processing'
	  AND e.locked_by OPERATOR(pg_catalog.=) fail.consumer
	FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;

	limit_ := coalesce((SELECT s.max_attempts FROM inbox.sources s
						WHERE s.source OPERATOR(pg_catalog.=) ev.source),
					   coalesce(pg_catalog.current_setting('pg_inbox.max_attempts', true), '10')::integer);
	new_state := CASE WHEN ev.attempts OPERATOR(pg_catalog.>=) limit_
					  THEN 'dead' ELSE 'pending' END;
	-- only the default delay needs inbox.retry_delay, and only then is it called
	IF new_state OPERATOR(pg_catalog.=) 'pending' THEN
		IF retry_in IS NOT NULL THEN
			delay := retry_in;
		ELSE
			delay := inbox.retry_delay(ev.attempts);
		END IF;
	END IF;

	UPDATE inbox.events e
	SET state = new_state,
		locked_by = NULL,
		locked_until = NULL,
		last_error = message,
		errors = (SELECT CASE WHEN pg_catalog.jsonb_array_length(h.x) OPERATOR(pg_catalog.>) 10
							THEN h.x OPERATOR(pg_catalog.-) 0 ELSE h.x END
				 FROM (SELECT coalesce(e.errors, '[]'::jsonb) OPERATOR(pg_catalog.||)
							  pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
								  'attempt', e.attempts, 'failed_at', pg_catalog.now(),
								  'consumer', fail.consumer, 'error', message)) AS x) h),
		available_at = CASE WHEN new_state OPERATOR(pg_catalog.=) 'pending'
							THEN pg_catalog.now() OPERATOR(pg_catalog.+) delay
							ELSE e.available_at END,
		processed_at = CASE WHEN new_state OPERATOR(pg_catalog.=) 'dead'
							THEN pg_catalog.now() ELSE NULL END
	WHERE e.id OPERATOR(pg_catalog.=) ev.id;

	RETURN new_state;
END;
$$;
COMMENT ON FUNCTION inbox.fail(bigint, text, text, interval) IS
	'record a failed attempt of an event that consumer holds: retry later, or dead at the attempt limit';

/*
 * replay: put done or dead events back to pending, with a fresh attempt
 * budget.  Pending and processing events are left alone.  Returns how many
 * events were replayed.
 */
CREATE FUNCTION inbox.replay(ids bigint[])
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	IF ids IS NULL THEN
		RAISE EXCEPTION USING
			ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'ids must not be NULL';
	END IF;
	UPDATE inbox.events e
	SET state = 'pending', attempts = 0, available_at = pg_catalog.now(),
		processed_at = NULL, locked_by = NULL, locked_until = NULL
	WHERE e.id OPERATOR(pg_catalog.=) ANY (replay.ids)
	  AND e.state OPERATOR(pg_catalog.=) ANY (ARRAY['done', 'dead']::text[]);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END;
$$;
COMMENT ON FUNCTION inbox.replay(bigint[]) IS
	'put the done or dead events among ids back to pending; returns how many';

CREATE FUNCTION inbox.replay(
	source text,
	received_from timestamptz,
	received_until timestamptz,
	states text[] DEFAULT ARRAY['dead'])
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	IF source IS NULL OR received_from IS NULL OR received_until IS NULL OR states IS NULL THEN
		RAISE EXCEPTION USING
			ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'source, received_from, received_until and states must not be NULL';
	END IF;
	IF NOT states OPERATOR(pg_catalog.<@) ARRAY['done', 'dead']::text[] THEN
		RAISE EXCEPTION USING
			ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'only done and dead events can be replayed',
			DETAIL = pg_catalog.format('states was %s.', states);
	END IF;
	UPDATE inbox.events e
	SET state = 'pending', attempts = 0, available_at = pg_catalog.now(),
		processed_at = NULL, locked_by = NULL, locked_until = NULL
	WHERE e.source OPERATOR(pg_catalog.=) replay.source
	  AND e.received_at OPERATOR(pg_catalog.>=) replay.received_from
	  AND e.received_at OPERATOR(pg_catalog.<) replay.received_until
	  AND e.state OPERATOR(pg_catalog.=) ANY (replay.states);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END;
$$;
COMMENT ON FUNCTION inbox.replay(text, timestamptz, timestamptz, text[]) IS
	'put the source''s events received in [received_from, received_until) and in states back to pending';

/*
 * purge: delete up to max_rows done and dead events whose processed_at is
 * older than older_than, oldest first, skipping rows that others hold.
 * Returns how many were deleted; call it again, each time in its own
 * transaction, until it returns less than max_rows.
 */
CREATE FUNCTION inbox.purge(older_than interval, max_rows integer DEFAULT 10000)
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
COMMENT ON FUNCTION inbox.purge(interval, integer) IS
	'delete up to max_rows done and dead events processed more than older_than ago; returns how many';

REVOKE ALL ON FUNCTION inbox.claim(text, integer, interval, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.complete(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.extend_lease(bigint, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.fail(bigint, text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.retry_delay(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.replay(bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.replay(text, timestamptz, timestamptz, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.purge(interval, integer) FROM PUBLIC;

/* ---- statistics (extension/stats.c) ---- */

/*
 * Counters of ingest answers, kept in shared memory when pg_inbox is in
 * shared_preload_libraries: one row per source counted in the current
 * database, and one row with source NULL for the ingests whose source was
 * unusable (NULL, empty, over 63 bytes) or found no room among the
 * pg_inbox.max_sources counted sources.  With the library preloaded the NULL
 * row is always there; without it there are no rows at all.
 */
CREATE FUNCTION inbox.ingest_counters(
	OUT source text,
	OUT inserted bigint,
	OUT duplicate bigint,
	OUT conflict bigint,
	OUT rejected bigint,
	OUT stats_reset timestamptz)
RETURNS SETOF record
LANGUAGE c VOLATILE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
ROWS 100
AS 'MODULE_PATHNAME', 'ingest_counters';
COMMENT ON FUNCTION inbox.ingest_counters() IS
	'ingest answers per source in this database since stats_reset; no rows unless pg_inbox is in shared_preload_libraries';

CREATE FUNCTION inbox.reset_stats()
RETURNS void
LANGUAGE c VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'reset_stats';
COMMENT ON FUNCTION inbox.reset_stats() IS
	'set the ingest counters of this database to zero and stats_reset to now; needs pg_inbox in shared_preload_libraries';

/*
 * Per source, the events by state (from inbox.events, so as the caller's
 * snapshot and privileges see them) and the ingest counters.  A source
 * appears if it has events or was counted; the row with source NULL appears
 * when unusable or uncounted sources were counted.  Without the library
 * preloaded, counters_available is false and the counters are NULL.
 */
CREATE VIEW inbox.stats WITH (security_invoker = true) AS
WITH counters AS (
	SELECT c.source COLLATE pg_catalog."C" AS source,
		   c.inserted, c.duplicate, c.conflict, c.rejected, c.stats_reset
	FROM inbox.ingest_counters() c
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
	   coalesce(g.available, false) AS counters_available
FROM states s
	 FULL JOIN counters c ON c.source OPERATOR(pg_catalog.=) s.source
	 LEFT JOIN counting g ON true
WHERE s.source IS NOT NULL
   OR c.source IS NOT NULL
   OR c.inserted OPERATOR(pg_catalog.+) c.duplicate OPERATOR(pg_catalog.+)
	  c.conflict OPERATOR(pg_catalog.+) c.rejected OPERATOR(pg_catalog.>) 0;
COMMENT ON VIEW inbox.stats IS
	'per source: events by state, age of the oldest pending event, and the ingest counters (with pg_inbox preloaded)';
COMMENT ON COLUMN inbox.stats.source IS
	'the source; NULL for ingests whose source was unusable or found no room among pg_inbox.max_sources';
COMMENT ON COLUMN inbox.stats.pending IS 'events waiting to be claimed';
COMMENT ON COLUMN inbox.stats.processing IS 'events claimed and not yet completed or failed';
COMMENT ON COLUMN inbox.stats.done IS 'events completed';
COMMENT ON COLUMN inbox.stats.dead IS 'events that reached their attempt limit';
COMMENT ON COLUMN inbox.stats.oldest_pending_age IS
	'now() minus received_at of the oldest pending event; NULL when none is pending';
COMMENT ON COLUMN inbox.stats.inserted IS
	'ingests answered inserted since stats_reset; NULL when counters_available is false';
COMMENT ON COLUMN inbox.stats.duplicate IS
	'ingests answered duplicate since stats_reset; NULL when counters_available is false';
COMMENT ON COLUMN inbox.stats.conflict IS
	'ingests answered conflict since stats_reset; NULL when counters_available is false';
COMMENT ON COLUMN inbox.stats.rejected IS
	'ingests answered rejected since stats_reset; NULL when counters_available is false';
COMMENT ON COLUMN inbox.stats.stats_reset IS
	'when the counters of this database started: the last inbox.reset_stats() or the server start';
COMMENT ON COLUMN inbox.stats.counters_available IS
	'whether pg_inbox is in shared_preload_libraries, so that ingests are counted';

REVOKE ALL ON FUNCTION inbox.ingest_counters() FROM PUBLIC;
REVOKE ALL ON FUNCTION inbox.reset_stats() FROM PUBLIC;
REVOKE ALL ON inbox.stats FROM PUBLIC;
/* ---- end of statistics ---- */
