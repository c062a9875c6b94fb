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

	RETURN QUERY
	WITH candidates AS (
		SELECT e.id, e.state, e.attempts,
			   coalesce((SELECT s.max_attempts FROM inbox.sources s
						 WHERE s.source OPERATOR(pg_catalog.=) e.source),
						coalesce(pg_catalog.current_setting('pg_inbox.max_attempts', true), '10')::integer)
				   AS max_attempts
		FROM inbox.events e
		WHERE e.state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'processing']::text[])
		  AND e.available_at OPERATOR(pg_catalog.<=) pg_catalog.now()
		  AND (claim.sources IS NULL
			   OR e.source OPERATOR(pg_catalog.=) ANY (claim.sources))
		ORDER BY e.available_at, e.id
		LIMIT claim.max_events
		FOR UPDATE OF e SKIP LOCKED
	),
	updated AS (
		UPDATE inbox.events e
		SET state = CASE WHEN c.state OPERATOR(pg_catalog.=) 'processing'
							  AND c.attempts OPERATOR(pg_catalog.>=) c.max_attempts
						 THEN 'dead' ELSE 'processing' END,
			attempts = CASE WHEN c.state OPERATOR(pg_catalog.=) 'processing'
								 AND c.attempts OPERATOR(pg_catalog.>=) c.max_attempts
							THEN e.attempts
							ELSE e.attempts OPERATOR(pg_catalog.+) 1 END,
			locked_by = CASE WHEN c.state OPERATOR(pg_catalog.=) 'processing'
								  AND c.attempts OPERATOR(pg_catalog.>=) c.max_attempts
							 THEN NULL ELSE claim.consumer END,
			locked_until = CASE WHEN c.state OPERATOR(pg_catalog.=) 'processing'
									 AND c.attempts OPERATOR(pg_catalog.>=) c.max_attempts
								THEN NULL
								ELSE pg_catalog.now() OPERATOR(pg_catalog.+) claim.lease END,
			available_at = CASE WHEN c.state OPERATOR(pg_catalog.=) 'processing'
									 AND c.attempts OPERATOR(pg_catalog.>=) c.max_attempts
								THEN e.available_at
								ELSE pg_catalog.now() OPERATOR(pg_catalog.+) claim.lease END,
			processed_at = CASE WHEN c.state OPERATOR(pg_catalog.=) 'processing'
									 AND c.attempts OPERATOR(pg_catalog.>=) c.max_attempts
								THEN pg_catalog.now() ELSE NULL END,
			last_error = CASE WHEN c.state OPERATOR(pg_catalog.=) 'processing'
								   AND c.attempts OPERATOR(pg_catalog.>=) c.max_attempts
							  THEN pg_catalog.format('lease of attempt %s expired, and the attempt limit of %s is reached',
													 c.attempts, c.max_attempts)
							  ELSE e.last_error END
		FROM candidates c
		WHERE e.id OPERATOR(pg_catalog.=) c.id
		RETURNING e.id, e.source, e.event_id, e.attempts, e.received_at,
				  e.locked_until, e.headers, e.payload, e.state
	)
	SELECT u.id, u.source, u.event_id, u.attempts, u.received_at,
		   u.locked_until, u.headers, u.payload
	FROM updated u
	WHERE u.state OPERATOR(pg_catalog.=) 'processing'
	ORDER BY u.id;
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
LANGUAGE plpgsql VOLATILE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	base double precision := pg_catalog.date_part('epoch',
		coalesce(pg_catalog.current_setting('pg_inbox.retry_base_delay', true), '10s')::interval);
	cap double precision := pg_catalog.date_part('epoch',
		coalesce(pg_catalog.current_setting('pg_inbox.retry_max_delay', true), '1h')::interval);
	delay double precision;
BEGIN
	IF attempt IS NULL OR attempt OPERATOR(pg_catalog.<) 1 THEN
		RAISE EXCEPTION USING
			ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('attempt must be 1 or more, not %s',
										coalesce(attempt::text, 'NULL'));
	END IF;
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

	UPDATE inbox.events e
	SET state = new_state,
		locked_by = NULL,
		locked_until = NULL,
		last_error = message,
		errors = (SELECT pg_catalog.jsonb_agg(h.entry ORDER BY h.n)
				  FROM (SELECT x.entry, x.n
						FROM pg_catalog.jsonb_array_elements(
								 coalesce(e.errors, '[]'::jsonb)
								 OPERATOR(pg_catalog.||)
								 pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
									 'attempt', e.attempts,
									 'failed_at', pg_catalog.now(),
									 'consumer', fail.consumer,
									 'error', message)))
							 WITH ORDINALITY AS x(entry, n)
						ORDER BY x.n DESC
						LIMIT 10) h),
		available_at = CASE WHEN new_state OPERATOR(pg_catalog.=) 'pending'
							THEN pg_catalog.now() OPERATOR(pg_catalog.+)
								 (coalesce(fail.retry_in, inbox.retry_delay(e.attempts)))
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
/* ---- end of statistics ---- */
