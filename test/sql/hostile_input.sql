--
-- Hostile input through every function of schema inbox: NULL in every
-- position, text PostgreSQL cannot hold, \u0000, nesting 100,000 levels
-- deep, keys of megabytes, arrays of 100,000 elements, payloads just under
-- and over the limit, zero, negative and enormous counts and intervals.
-- Each call must give a documented status or a clear error with its
-- SQLSTATE, never crash the server; the last part shows that expected
-- outcomes leave the caller's transaction usable, without any exception
-- block around them.
--
SET timezone = 'UTC';
SET client_min_messages = warning;

-- pg_temp.probe(query): the rows the query returns, as text, or the error it
-- raised as "ERROR <sqlstate>: <message>"; long texts are cut to 160
-- characters so that a megabyte key does not fill the output
CREATE FUNCTION pg_temp.probe(q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	EXECUTE 'SELECT pg_catalog.string_agg(x::text, '' / '') FROM (' || q || ') x' INTO r;
	RETURN 'ok: ' || pg_catalog.left(coalesce(r, '(no rows)'), 160);
EXCEPTION WHEN OTHERS THEN
	RETURN 'ERROR ' || SQLSTATE || ': ' || pg_catalog.left(SQLERRM, 160);
END
$$;
-- the same for a statement that returns no rows
CREATE FUNCTION pg_temp.run(q text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN 'ERROR ' || SQLSTATE || ': ' || pg_catalog.left(SQLERRM, 160);
END
$$;

-- a key that already exists, and one event held by a worker
SELECT status FROM inbox.ingest('hostile', 'known', '{"a": 1}');
SELECT status FROM inbox.ingest('hostile', 'held', '{"h": 1}');
SELECT count(*) AS claimed FROM inbox.claim('hostile-worker', 10, '1 hour', ARRAY['hostile']);
SELECT id AS held_id FROM inbox.events WHERE source = 'hostile' AND event_id = 'held' \gset

-- ------------------------------------------------------------------
-- ingest: NULL in every position, huge keys, \u0000, depth, limits
-- ------------------------------------------------------------------
SELECT n, pg_temp.probe(q) FROM (VALUES
	(1, $$SELECT status, detail FROM inbox.ingest(NULL, NULL, NULL, NULL)$$),
	(2, $$SELECT status, detail FROM inbox.ingest(NULL, 'e', '{}')$$),
	(3, $$SELECT status, detail FROM inbox.ingest('hostile', NULL, '{}')$$),
	(4, $$SELECT status, detail FROM inbox.ingest('hostile', 'e', NULL)$$),
	(5, $$SELECT status FROM inbox.ingest('hostile', 'null-headers', '{}', NULL)$$),
	(6, $$SELECT status, detail FROM inbox.ingest('hostile', 'e', 'null'::jsonb)$$),
	-- JSON null headers are no headers: stored
	(7, $$SELECT status, detail FROM inbox.ingest('hostile', 'json-null-headers', '{}', 'null'::jsonb)$$),
	-- a source of 1 MB, an event id of 10 MB
	(8, $$SELECT status, detail FROM inbox.ingest(repeat('s', 1024 * 1024), 'e', '{}')$$),
	(9, $$SELECT status, detail FROM inbox.ingest('hostile', repeat('e', 10 * 1024 * 1024), '{}')$$),
	-- the longest keys allowed, and one byte more
	(10, $$SELECT status FROM inbox.ingest(repeat('s', 63), repeat('e', 255), '{}')$$),
	(11, $$SELECT status, detail FROM inbox.ingest(repeat('s', 63), repeat('e', 256), '{}')$$),
	-- a key of only a multibyte character cut in half cannot exist in text:
	-- PostgreSQL refuses to build it
	(12, $$SELECT status FROM inbox.ingest('hostile', convert_from('\xc3'::bytea, 'UTF8'), '{}')$$),
	(13, $$SELECT status FROM inbox.ingest('hostile', 'nul' || chr(0), '{}')$$),
	-- \u0000 cannot be in a jsonb value either: the cast raises before ingest
	(14, $$SELECT status FROM inbox.ingest('hostile', 'e', '{"a": "\u0000"}'::jsonb)$$),
	-- keys with odd characters are stored as they are
	(15, $$SELECT status FROM inbox.ingest(E'tab\tsource', E'line\nbreak\r''quote"', '{}')$$),
	(16, $$SELECT status FROM inbox.ingest(E'tab\tsource', E'line\nbreak\r''quote"', '{}')$$),
	-- nesting: as deep as the jsonb cast goes (it refuses 100,000 levels)
	(17, $$SELECT status FROM inbox.ingest('hostile', 'deep-10k', (repeat('[', 10000) || repeat(']', 10000))::jsonb)$$),
	(18, $$SELECT status FROM inbox.ingest('hostile', 'deep-10k', (repeat('[', 10000) || repeat(']', 10000))::jsonb)$$),
	(19, $$SELECT status FROM inbox.ingest('hostile', 'deep-100k', (repeat('[', 100000) || repeat(']', 100000))::jsonb)$$),
	-- a huge array of numbers, enormous and tiny numbers
	(20, $$SELECT status, detail FROM inbox.ingest('hostile', 'wide', (SELECT jsonb_agg(g) FROM generate_series(1, 100000) g))$$),
	(24, $$SELECT status FROM inbox.ingest('hostile', 'wide', (SELECT jsonb_agg(g) FROM generate_series(1, 10000) g))$$),
	(21, $$SELECT status FROM inbox.ingest('hostile', 'big-number', jsonb_build_object('n', ('1' || repeat('0', 100000))::numeric))$$),
	(22, $$SELECT status FROM inbox.ingest('hostile', 'tiny-number', jsonb_build_object('n', ('0.' || repeat('0', 16000) || '1')::numeric))$$),
	(23, $$SELECT status FROM inbox.ingest('hostile', 'tiny-number', jsonb_build_object('n', ('0.' || repeat('0', 16000) || '10')::numeric))$$)
) v(n, q);

-- ------------------------------------------------------------------
-- ingest_raw: the body is text, parsed inside the function
-- ------------------------------------------------------------------
SELECT n, pg_temp.probe(q) FROM (VALUES
	(1, $$SELECT status, detail FROM inbox.ingest_raw(NULL, NULL, NULL, NULL)$$),
	(2, $$SELECT status, detail FROM inbox.ingest_raw('hostile', 'e', NULL)$$),
	(3, $$SELECT status, detail FROM inbox.ingest_raw('hostile', 'e', '{"a": "\u0000"}')$$),
	(4, $$SELECT status, detail FROM inbox.ingest_raw('hostile', 'e', '{"\u0000": 1}')$$),
	(5, $$SELECT status, detail FROM inbox.ingest_raw('hostile', 'e', '{"a": "\udc00"}')$$),
	(6, $$SELECT status, detail FROM inbox.ingest_raw('hostile', 'e-emoji', '{"a": "\ud83d\ude00"}')$$),
	(7, $$SELECT status, detail FROM inbox.ingest_raw('hostile', 'e', '{"a": "\uZZZZ"}')$$),
	-- a control character raw inside a string is not JSON
	(8, $$SELECT status, detail FROM inbox.ingest_raw('hostile', 'e', E'{"a": "\x01"}')$$),
	(9, $$SELECT status, detail FROM inbox.ingest_raw('hostile', 'e', repeat('[', 100000) || repeat(']', 100000))$$),
	(10, $$SELECT status, detail FROM inbox.ingest_raw('hostile', 'e', repeat('{"a":', 100000) || '1' || repeat('}', 100000))$$),
	(11, $$SELECT status, detail FROM inbox.ingest_raw('hostile', 'e', repeat('[', 100000))$$),
	(12, $$SELECT status, detail FROM inbox.ingest_raw('hostile', 'e-1000', repeat('[', 1000) || repeat(']', 1000))$$),
	(13, $$SELECT status, detail FROM inbox.ingest_raw('hostile', 'e', '{"n": 1' || repeat('0', 200000) || '}')$$),
	(14, $$SELECT status, detail FROM inbox.ingest_raw('hostile', 'e', '{"n": -1e-99999999999}')$$),
	(15, $$SELECT status, detail FROM inbox.ingest_raw('hostile', repeat('e', 10 * 1024 * 1024), '{}')$$),
	(16, $$SELECT status, detail FROM inbox.ingest_raw('hostile', 'e', '{}', '{"h": "\u0000"}'::jsonb)$$),
	(17, $$SELECT status, detail FROM inbox.ingest_raw('hostile', 'e', '{"a": 1}' || repeat(' ', 100000) || 'x')$$),
	(18, $$SELECT status, detail FROM inbox.ingest_raw('hostile', 'e', E'\ufeff{"bom": 1}')$$),
	(19, $$SELECT status FROM inbox.ingest_raw('hostile', 'dup-keys', '{"a": 1, "a": 2}')$$),
	(20, $$SELECT status FROM inbox.ingest_raw('hostile', 'dup-keys', '{"a": 2}')$$)
) v(n, q);

-- the payload limit: 1,000 bytes for this source; a raw body is counted in
-- bytes of its text, a jsonb payload by the size of the value
INSERT INTO inbox.sources (source, max_payload_bytes) VALUES ('hostile-small', 1000);
SELECT n, octet_length(body) AS body_bytes,
       pg_temp.probe(format($$SELECT status, detail FROM inbox.ingest_raw('hostile-small', %L, %L)$$,
                            'raw-' || n, body)) AS answer
FROM (SELECT n, '{"a": "' || repeat('x', n) || '"}' AS body FROM (VALUES (990), (991), (992), (5000000)) v(n)) b;
SELECT n, pg_column_size(p) AS jsonb_bytes,
       pg_temp.probe(format($$SELECT status, detail FROM inbox.ingest('hostile-small', %L, %L::jsonb)$$,
                            'jsonb-' || n, p)) AS answer
FROM (SELECT n, jsonb_build_object('a', repeat('x', n)) AS p FROM (VALUES (986), (987), (988), (5000000)) v(n)) b;
-- the same with the setting instead of a row in inbox.sources
SET pg_inbox.max_payload_bytes = '1kB';
SELECT n, pg_temp.probe(format($$SELECT status, detail FROM inbox.ingest_raw('hostile-setting', %L, %L)$$,
                               'raw-' || n, '{"a": "' || repeat('x', n) || '"}'))
FROM (VALUES (1014), (1015), (1016)) v(n);
SELECT pg_temp.probe($$SELECT status, detail FROM inbox.ingest('hostile-setting', 'hdr', '{}', jsonb_build_object('h', repeat('x', 2000)))$$);
RESET pg_inbox.max_payload_bytes;
-- (a setting out of range: test/sql/server_text.sql)
SELECT pg_temp.run($$INSERT INTO inbox.sources (source, max_payload_bytes) VALUES ('hostile-neg', -1)$$) AS negative_source_limit;

-- ------------------------------------------------------------------
-- ingest_many: NULL arrays and elements, mismatched lengths, 100,000
-- elements, other dimensions and bounds
-- ------------------------------------------------------------------
SELECT n, pg_temp.probe(q) FROM (VALUES
	(1, $$SELECT count(*) FROM inbox.ingest_many(NULL, NULL, NULL)$$),
	(2, $$SELECT ord, status, detail FROM inbox.ingest_many(NULL, ARRAY['a'], ARRAY['{}']::jsonb[])$$),
	(3, $$SELECT count(*) FROM inbox.ingest_many('hostile', NULL, ARRAY['{}']::jsonb[])$$),
	(4, $$SELECT count(*) FROM inbox.ingest_many('hostile', ARRAY['a'], NULL)$$),
	(5, $$SELECT ord, status FROM inbox.ingest_many('hostile', ARRAY[NULL, NULL]::text[], ARRAY[NULL, NULL]::jsonb[])$$),
	(6, $$SELECT count(*) FROM inbox.ingest_many('hostile', '{}'::text[], '{}'::jsonb[])$$),
	(7, $$SELECT count(*) FROM inbox.ingest_many('hostile', ARRAY['a', 'b'], ARRAY['{}']::jsonb[])$$),
	(8, $$SELECT count(*) FROM inbox.ingest_many('hostile', ARRAY['a'], '{}'::jsonb[])$$),
	(9, $$SELECT count(*) FROM inbox.ingest_many('hostile', ARRAY[['a', 'b'], ['c', 'd']], ARRAY[['{}', '{}'], ['{}', '{}']]::jsonb[])$$),
	(10, $$SELECT ord, status FROM inbox.ingest_many('hostile', '[0:1]={bound-a,bound-b}'::text[], '[5:6]={"{}","{}"}'::jsonb[])$$),
	(11, $$SELECT count(*) FROM inbox.ingest_many('hostile', array_fill('x'::text, ARRAY[100000]), array_fill('{}'::jsonb, ARRAY[99999]))$$),
	-- 100,000 elements over ten keys: ten inserted, the rest duplicates and conflicts
	(12, $$SELECT status, count(*) FROM inbox.ingest_many('hostile-many',
	        (SELECT array_agg('k' || (g % 10) ORDER BY g) FROM generate_series(1, 100000) g),
	        (SELECT array_agg(jsonb_build_object('v', CASE WHEN g % 1000 = 7 THEN 1 ELSE 0 END) ORDER BY g)
	           FROM generate_series(1, 100000) g))
	      GROUP BY status ORDER BY status$$),
	(13, $$SELECT status, count(*) FROM inbox.ingest_many('hostile', array_fill(repeat('e', 300), ARRAY[1000]),
	        array_fill('{}'::jsonb, ARRAY[1000])) GROUP BY status$$),
	(14, $$SELECT ord, status FROM inbox.ingest_many('hostile', ARRAY['many-deep'],
	        ARRAY[(repeat('[', 10000) || repeat(']', 10000))::jsonb])$$)
) v(n, q);

-- ------------------------------------------------------------------
-- ingest_raw_many: NULL arrays and elements, mismatched lengths, 100,000
-- elements, other dimensions and bounds, bodies of every kind of bad
-- ------------------------------------------------------------------
SELECT n, pg_temp.probe(q) FROM (VALUES
	(1, $$SELECT count(*) FROM inbox.ingest_raw_many(NULL, NULL, NULL, NULL)$$),
	(2, $$SELECT ord, status, detail FROM inbox.ingest_raw_many(NULL, ARRAY['a'], ARRAY['{}'])$$),
	(3, $$SELECT count(*) FROM inbox.ingest_raw_many('hostile', NULL, ARRAY['{}'])$$),
	(4, $$SELECT count(*) FROM inbox.ingest_raw_many('hostile', ARRAY['a'], NULL)$$),
	(5, $$SELECT ord, status, detail FROM inbox.ingest_raw_many('hostile', ARRAY[NULL, NULL]::text[], ARRAY[NULL, NULL]::text[], ARRAY[NULL, NULL]::jsonb[])$$),
	(6, $$SELECT count(*) FROM inbox.ingest_raw_many('hostile', '{}'::text[], '{}'::text[], NULL)$$),
	(7, $$SELECT count(*) FROM inbox.ingest_raw_many('hostile', ARRAY['a', 'b'], ARRAY['{}'])$$),
	(8, $$SELECT count(*) FROM inbox.ingest_raw_many('hostile', ARRAY['a'], ARRAY['{}'], ARRAY['{}', '{}']::jsonb[])$$),
	(9, $$SELECT count(*) FROM inbox.ingest_raw_many('hostile', ARRAY[['a', 'b'], ['c', 'd']], ARRAY[['{}', '{}'], ['{}', '{}']])$$),
	(10, $$SELECT count(*) FROM inbox.ingest_raw_many('hostile', ARRAY['a'], ARRAY['{}'], ARRAY[['{}']]::jsonb[])$$),
	(11, $$SELECT ord, status FROM inbox.ingest_raw_many('hostile', '[0:1]={raw-bound-a,raw-bound-b}'::text[], '[5:6]={"{}","[]"}'::text[])$$),
	(12, $$SELECT count(*) FROM inbox.ingest_raw_many('hostile', array_fill('x'::text, ARRAY[100000]), array_fill('{}'::text, ARRAY[99999]))$$),
	-- 100,000 elements over ten keys, half of them malformed
	(13, $$SELECT status, count(*) FROM inbox.ingest_raw_many('hostile-raw-many',
	        (SELECT array_agg('k' || (g % 10) ORDER BY g) FROM generate_series(1, 100000) g),
	        (SELECT array_agg(CASE WHEN g % 2 = 0 THEN '{"v": ' ELSE '{"v": 0}' END ORDER BY g)
	           FROM generate_series(1, 100000) g))
	      GROUP BY status ORDER BY status$$),
	(14, $$SELECT status, count(*) FROM inbox.ingest_raw_many('hostile', array_fill(repeat('e', 300), ARRAY[1000]),
	        array_fill('{}'::text, ARRAY[1000])) GROUP BY status$$),
	-- bodies: nesting 100,000 deep, \u0000, a lone surrogate, a bare scalar,
	-- a number numeric cannot hold, a megabyte key, a BOM, valid at the end
	(15, $$SELECT ord, status FROM inbox.ingest_raw_many('hostile',
	        ARRAY['raw-deep', 'raw-nul', 'raw-sur', 'raw-scalar', 'raw-num', repeat('e', 1024 * 1024), 'raw-bom', 'raw-fine'],
	        ARRAY[repeat('[', 100000), '{"a": "\u0000"}', '{"a": "\udc00"}', '42', '{"n": 1e99999999999}', '{}',
	              E'\ufeff{}', '{"fine": true}'])$$),
	-- headers: \u0000 cannot be jsonb; a megabyte header object, a scalar
	(16, $$SELECT ord, status, detail FROM inbox.ingest_raw_many('hostile', ARRAY['raw-h-1', 'raw-h-2'],
	        ARRAY['{}', '{}'], ARRAY['{"h": "\u0000"}', NULL]::jsonb[])$$),
	(17, $$SELECT ord, status, detail FROM inbox.ingest_raw_many('hostile-small', ARRAY['raw-h-3', 'raw-h-4'],
	        ARRAY['{}', '{}'], ARRAY[jsonb_build_object('h', repeat('x', 1024 * 1024)), '"h"'::jsonb])$$),
	-- a body of 10 MB against a limit of 1,000 bytes
	(18, $$SELECT ord, status, detail FROM inbox.ingest_raw_many('hostile-small', ARRAY['raw-big'],
	        ARRAY['{"a": "' || repeat('x', 10 * 1024 * 1024) || '"}'])$$)
) v(n, q);

-- ------------------------------------------------------------------
-- claim: consumer, counts, leases, sources
-- ------------------------------------------------------------------
SELECT n, pg_temp.probe(q) FROM (VALUES
	(1, $$SELECT count(*) FROM inbox.claim(NULL)$$),
	(2, $$SELECT count(*) FROM inbox.claim('')$$),
	(3, $$SELECT count(*) FROM inbox.claim(repeat('w', 10 * 1024 * 1024))$$),
	(4, $$SELECT count(*) FROM inbox.claim(repeat('w', 256))$$),
	(5, $$SELECT count(*) FROM inbox.claim('w', NULL)$$),
	(6, $$SELECT count(*) FROM inbox.claim('w', 0)$$),
	(7, $$SELECT count(*) FROM inbox.claim('w', -1)$$),
	(8, $$SELECT count(*) FROM inbox.claim('w', -2147483648)$$),
	(9, $$SELECT count(*) FROM inbox.claim('w', 10001)$$),
	(10, $$SELECT count(*) FROM inbox.claim('w', 2147483647)$$),
	(11, $$SELECT count(*) FROM inbox.claim('w', 1, NULL)$$),
	(12, $$SELECT count(*) FROM inbox.claim('w', 1, '0')$$),
	(13, $$SELECT count(*) FROM inbox.claim('w', 1, '-1 second')$$),
	(14, $$SELECT count(*) FROM inbox.claim('w', 1, '1 year 1 microsecond')$$),
	(15, $$SELECT count(*) FROM inbox.claim('w', 1, '178000000 years')$$),
	(16, $$SELECT count(*) FROM inbox.claim('w', 1, '-178000000 years')$$),
	(17, $$SELECT count(*) FROM inbox.claim('w', 1, '1 month -30 days')$$),
	(18, $$SELECT count(*) FROM inbox.claim('w', 1, '5 minutes', '{}')$$),
	(19, $$SELECT count(*) FROM inbox.claim('w', 1, '5 minutes', ARRAY[NULL]::text[])$$),
	(20, $$SELECT count(*) FROM inbox.claim('w', 1, '5 minutes', ARRAY[repeat('s', 1024 * 1024)])$$),
	(21, $$SELECT count(*) FROM inbox.claim('w', 1, '5 minutes',
	        (SELECT array_agg('nosuch-' || g) FROM generate_series(1, 100000) g))$$),
	(22, $$SELECT count(*) FROM inbox.claim('w', 1, '5 minutes', ARRAY[['a', 'b'], ['c', 'd']])$$)
) v(n, q);

-- ------------------------------------------------------------------
-- complete, fail, extend_lease: ids, consumers, errors, intervals
-- ------------------------------------------------------------------
SELECT n, pg_temp.probe(replace(q, ':held', :'held_id')) FROM (VALUES
	(1, $$SELECT inbox.complete(NULL, NULL)$$),
	(2, $$SELECT inbox.complete(NULL, 'hostile-worker')$$),
	(3, $$SELECT inbox.complete(:held, NULL)$$),
	(4, $$SELECT inbox.complete(-1, 'hostile-worker')$$),
	(5, $$SELECT inbox.complete(9223372036854775807, 'hostile-worker')$$),
	(6, $$SELECT inbox.complete(-9223372036854775808, 'hostile-worker')$$),
	(7, $$SELECT inbox.complete(:held, repeat('w', 10 * 1024 * 1024))$$),
	(8, $$SELECT inbox.complete(:held, 'someone-else')$$),
	(9, $$SELECT inbox.fail(NULL, NULL, NULL, NULL)$$),
	(10, $$SELECT inbox.fail(NULL, 'hostile-worker', 'e')$$),
	(11, $$SELECT inbox.fail(:held, NULL, 'e')$$),
	(12, $$SELECT inbox.fail(-1, 'hostile-worker', 'e')$$),
	(13, $$SELECT inbox.fail(:held, 'someone-else', 'e')$$),
	(14, $$SELECT inbox.fail(:held, 'hostile-worker', 'e', '-1 microsecond')$$),
	(15, $$SELECT inbox.fail(:held, 'hostile-worker', 'e', '-1 day')$$),
	(16, $$SELECT inbox.fail(:held, 'hostile-worker', 'e', '1 year 1 second')$$),
	(17, $$SELECT inbox.fail(:held, 'hostile-worker', 'e', '178000000 years')$$),
	(18, $$SELECT inbox.extend_lease(NULL, NULL, NULL)$$),
	(19, $$SELECT inbox.extend_lease(:held, 'hostile-worker', NULL)$$),
	(20, $$SELECT inbox.extend_lease(:held, 'hostile-worker', '0')$$),
	(21, $$SELECT inbox.extend_lease(:held, 'hostile-worker', '-5 minutes')$$),
	(22, $$SELECT inbox.extend_lease(:held, 'hostile-worker', '178000000 years')$$),
	(23, $$SELECT inbox.extend_lease(:held, 'someone-else', '1 hour')$$),
	(24, $$SELECT inbox.extend_lease(-1, 'hostile-worker', '1 hour')$$),
	(25, $$SELECT inbox.extend_lease(:held, 'hostile-worker', '1 hour') > now()$$),
	-- a failure with a NULL error, retried at once
	(26, $$SELECT inbox.fail(:held, 'hostile-worker', NULL, '1 microsecond')$$)
) v(n, q);
-- claimed again, then a failure with an error of 10 MB, kept cut to 2,000
-- characters
SELECT count(*) AS claimed_again FROM inbox.claim('hostile-worker', 10000, '1 hour', ARRAY['hostile'])
WHERE id = :held_id;
SELECT pg_temp.probe(format($$SELECT inbox.fail(%s, 'hostile-worker', repeat('x', 10 * 1024 * 1024), '1 hour')$$, :held_id));
SELECT state, attempts, length(last_error) AS last_error_length,
       jsonb_array_length(errors) AS failures, errors -> 0 ->> 'error' AS first_error,
       length(errors -> 1 ->> 'error') AS second_error_length
FROM inbox.events WHERE id = :held_id;

-- ------------------------------------------------------------------
-- retry_delay, replay, purge
-- ------------------------------------------------------------------
SELECT n, pg_temp.probe(q) FROM (VALUES
	(1, $$SELECT inbox.retry_delay(NULL)$$),
	(2, $$SELECT inbox.retry_delay(0)$$),
	(3, $$SELECT inbox.retry_delay(-1)$$),
	(4, $$SELECT inbox.retry_delay(-2147483648)$$),
	(5, $$SELECT inbox.retry_delay(2147483647) BETWEEN '30 minutes' AND '1 hour'$$),
	(6, $$SELECT inbox.retry_delay(1) BETWEEN '5 seconds' AND '10 seconds'$$),
	(7, $$SELECT inbox.replay(NULL::bigint[])$$),
	(8, $$SELECT inbox.replay('{}'::bigint[])$$),
	(9, $$SELECT inbox.replay(ARRAY[NULL, -1, 0, 9223372036854775807, -9223372036854775808]::bigint[])$$),
	(10, $$SELECT inbox.replay((SELECT array_agg(g) FROM generate_series(-100000, -1) g))$$),
	(11, $$SELECT inbox.replay(ARRAY[[1, 2], [3, 4]]::bigint[])$$),
	(12, $$SELECT inbox.replay(NULL::text, NULL, NULL, NULL)$$),
	(13, $$SELECT inbox.replay('hostile', NULL, now())$$),
	(14, $$SELECT inbox.replay('hostile', now(), NULL)$$),
	(15, $$SELECT inbox.replay('hostile', '-infinity', 'infinity')$$),
	(16, $$SELECT inbox.replay('hostile', 'infinity', '-infinity')$$),
	(17, $$SELECT inbox.replay('hostile', '-infinity', 'infinity', NULL)$$),
	(18, $$SELECT inbox.replay('hostile', '-infinity', 'infinity', '{}')$$),
	(19, $$SELECT inbox.replay('hostile', '-infinity', 'infinity', ARRAY['pending'])$$),
	(20, $$SELECT inbox.replay('hostile', '-infinity', 'infinity', ARRAY[NULL]::text[])$$),
	(21, $$SELECT inbox.replay(repeat('s', 1024 * 1024), '-infinity', 'infinity')$$),
	(22, $$SELECT inbox.purge(NULL)$$),
	(23, $$SELECT inbox.purge('-1 second')$$),
	(24, $$SELECT inbox.purge('0')$$),
	(25, $$SELECT inbox.purge('178000000 years')$$),
	(26, $$SELECT inbox.purge('1 day', NULL)$$),
	(27, $$SELECT inbox.purge('1 day', 0)$$),
	(28, $$SELECT inbox.purge('1 day', -1)$$),
	(29, $$SELECT inbox.purge('1 day', 1000001)$$),
	(30, $$SELECT inbox.purge('1 day', 2147483647)$$),
	(31, $$SELECT inbox.purge('1 month -40 days')$$)
) v(n, q);

-- ------------------------------------------------------------------
-- upsert and upsert_many
-- ------------------------------------------------------------------
CREATE TABLE hostile_items (
	sku text PRIMARY KEY,
	qty integer,
	price numeric,
	note text,
	doc jsonb
);
SELECT n, pg_temp.probe(q) FROM (VALUES
	(1, $$SELECT * FROM inbox.upsert(NULL, NULL, NULL)$$),
	(2, $$SELECT * FROM inbox.upsert(NULL, '{"sku": "a"}')$$),
	(3, $$SELECT * FROM inbox.upsert('hostile_items', NULL)$$),
	(4, $$SELECT action FROM inbox.upsert('hostile_items', '{"sku": "a"}', NULL)$$),
	(5, $$SELECT * FROM inbox.upsert('hostile_items', 'null'::jsonb)$$),
	(6, $$SELECT * FROM inbox.upsert('hostile_items', '[{"sku": "a"}]')$$),
	(7, $$SELECT * FROM inbox.upsert('hostile_items', '{}')$$),
	(8, $$SELECT * FROM inbox.upsert('hostile_items', '{"sku": null}')$$),
	(9, $$SELECT * FROM inbox.upsert('hostile_items', '{"sku": "a"}', '{}')$$),
	(10, $$SELECT * FROM inbox.upsert('hostile_items', '{"sku": "a"}', ARRAY[NULL]::text[])$$),
	(11, $$SELECT * FROM inbox.upsert('hostile_items', '{"sku": "a"}', ARRAY['sku', 'sku'])$$),
	(12, $$SELECT * FROM inbox.upsert('hostile_items', '{"sku": "a"}', ARRAY[['sku']])$$),
	(13, $$SELECT * FROM inbox.upsert('hostile_items', jsonb_build_object('sku', 'a', repeat('k', 1024 * 1024), 1))$$),
	(14, $$SELECT * FROM inbox.upsert('hostile_items', '{"sku": "a"}', ARRAY[repeat('k', 1024 * 1024)])$$),
	(15, $$SELECT * FROM inbox.upsert('hostile_items', '{"sku": "a", "": 1}')$$),
	(16, $$SELECT * FROM inbox.upsert('hostile_items', '{"sku": "a", "qty": "many"}')$$),
	(17, $$SELECT * FROM inbox.upsert('hostile_items', '{"sku": "a", "qty": 1e1000}')$$),
	(18, $$SELECT * FROM inbox.upsert('hostile_items', '{"sku": "a", "qty": -2147483649}')$$),
	(19, $$SELECT * FROM inbox.upsert('hostile_items', '{"sku": "a", "qty": 1.5}')$$),
	(20, $$SELECT * FROM inbox.upsert('hostile_items', '{"sku": "a", "qty": [1]}')$$),
	(21, $$SELECT * FROM inbox.upsert('hostile_items', '{"sku": "a", "qty": {"x": 1}}')$$),
	(22, $$SELECT * FROM inbox.upsert('hostile_items', '{"sku": 12, "qty": true}')$$),
	(23, $$SELECT action FROM inbox.upsert('hostile_items', jsonb_build_object('sku', repeat('k', 10 * 1024 * 1024)))$$),
	(24, $$SELECT action, "row" -> 'price' FROM inbox.upsert('hostile_items', jsonb_build_object('sku', 'big', 'price', ('1' || repeat('0', 100000))::numeric))$$),
	(25, $$SELECT action, jsonb_typeof("row" -> 'doc') FROM inbox.upsert('hostile_items', jsonb_build_object('sku', 'deep', 'doc', (repeat('[', 10000) || repeat(']', 10000))::jsonb))$$),
	(26, $$SELECT action, jsonb_typeof("row" -> 'doc') FROM inbox.upsert('hostile_items', jsonb_build_object('sku', 'deep', 'doc', (repeat('[', 10000) || repeat(']', 10000))::jsonb))$$),
	(27, $$SELECT action FROM inbox.upsert('hostile_items', '{"sku": "s", "note": "\u00e9\ud83d\ude00"}')$$),
	(28, $$SELECT * FROM inbox.upsert('hostile_items', (SELECT jsonb_object_agg('c' || g, g) FROM generate_series(1, 10000) g) || '{"sku": "a"}')$$),
	(29, $$SELECT * FROM inbox.upsert('pg_class', '{"oid": 1}')$$),
	(30, $$SELECT * FROM inbox.upsert('pg_catalog.pg_tables', '{"tablename": "x"}')$$),
	(31, $$SELECT * FROM inbox.upsert(0, '{"sku": "a"}')$$),
	(32, $$SELECT * FROM inbox.upsert(-1, '{"sku": "a"}')$$),
	(33, $$SELECT * FROM inbox.upsert(4294967295, '{"sku": "a"}')$$),
	(34, $$SELECT * FROM inbox.upsert_many(NULL, NULL, NULL)$$),
	(35, $$SELECT * FROM inbox.upsert_many('hostile_items', NULL)$$),
	(36, $$SELECT * FROM inbox.upsert_many('hostile_items', '[]')$$),
	(37, $$SELECT * FROM inbox.upsert_many('hostile_items', '{"sku": "a"}')$$),
	(38, $$SELECT * FROM inbox.upsert_many('hostile_items', '[{"sku": "a"}, null]')$$),
	(39, $$SELECT * FROM inbox.upsert_many('hostile_items', '[{"sku": "a"}, [1]]')$$),
	(40, $$SELECT * FROM inbox.upsert_many('hostile_items', 'null'::jsonb)$$),
	(41, $$SELECT action, count(*) FROM inbox.upsert_many('hostile_items',
	        (SELECT jsonb_agg(jsonb_build_object('sku', 'm' || (g % 100), 'qty', g / 50000)) FROM generate_series(1, 100000) g))
	      GROUP BY action ORDER BY action$$)
) v(n, q);

-- ------------------------------------------------------------------
-- attempt
-- ------------------------------------------------------------------
SELECT n, pg_temp.probe(q) FROM (VALUES
	(1, $$SELECT * FROM inbox.attempt(NULL)$$),
	(2, $$SELECT * FROM inbox.attempt('')$$),
	(3, $$SELECT * FROM inbox.attempt(';')$$),
	(4, $$SELECT * FROM inbox.attempt('SELECT 1; SELECT 2')$$),
	(5, $$SELECT * FROM inbox.attempt('COMMIT')$$),
	(6, $$SELECT * FROM inbox.attempt('ROLLBACK TO SAVEPOINT x')$$),
	(7, $$SELECT ok, sqlstate, message FROM inbox.attempt('SELECT 1/0')$$),
	(8, $$SELECT ok, sqlstate, message FROM inbox.attempt('SELEC 1')$$),
	(9, $$SELECT ok, sqlstate, left(message, 40) FROM inbox.attempt('SELECT ' || quote_literal(repeat('x', 10 * 1024 * 1024)) || '::int')$$),
	(10, $$SELECT ok, "rows" FROM inbox.attempt('SELECT 1 -- ' || repeat('x', 10 * 1024 * 1024))$$),
	(11, $$SELECT ok, "rows" FROM inbox.attempt('SELECT generate_series(1, 100000)')$$),
	(12, $$SELECT * FROM inbox.attempt('SELECT ' || repeat('(', 100000) || '1' || repeat(')', 100000))$$),
	(13, $$SELECT ok, sqlstate FROM inbox.attempt('SELECT ' || quote_literal(repeat('[', 100000)) || '::jsonb')$$),
	(14, $$SELECT ok, sqlstate, constraint_name FROM inbox.attempt('INSERT INTO hostile_items (sku) VALUES (''a'')')$$),
	(15, $$SELECT ok, sqlstate FROM inbox.attempt('SELECT chr(0)')$$),
	(16, $$SELECT ok, sqlstate FROM inbox.attempt('SELECT inbox.attempt(''SELECT 1/0'')')$$),
	-- a key too large for its index: PostgreSQL raises 54000, a class attempt re-raises
	(17, $$SELECT ok, sqlstate FROM inbox.attempt('INSERT INTO hostile_items (sku) VALUES (repeat(''k'', 10 * 1024 * 1024))')$$)
) v(n, q);

-- ------------------------------------------------------------------
-- counters
-- ------------------------------------------------------------------
SELECT pg_temp.probe($$SELECT count(*) >= 1 FROM inbox.ingest_counters()$$) AS counters,
       pg_temp.probe($$SELECT count(*) >= 1 FROM inbox.stats$$) AS stats_view,
       pg_temp.probe($$SELECT inbox.ingest_counters()$$) IS NOT NULL AS counters_as_scalar,
       pg_temp.probe($$SELECT inbox.reset_stats()$$) AS reset;

-- ------------------------------------------------------------------
-- expected outcomes leave the transaction usable: no exception block here
-- ------------------------------------------------------------------
CREATE TABLE hostile_log (n integer, note text);
BEGIN;
INSERT INTO hostile_log VALUES (1, 'before');
SELECT status FROM inbox.ingest_raw('hostile', 'tx-deep', repeat('[', 100000) || repeat(']', 100000));
SELECT status FROM inbox.ingest_raw('hostile', 'tx-nul', '{"a": "\u0000"}');
SELECT status FROM inbox.ingest('hostile', repeat('e', 10 * 1024 * 1024), '{}');
SELECT status FROM inbox.ingest(NULL, NULL, NULL);
SELECT status FROM inbox.ingest('hostile', 'known', '{"a": 1}');
SELECT status FROM inbox.ingest('hostile', 'known', '{"a": 2}');
SELECT status FROM inbox.ingest_raw('hostile-small', 'tx-big', '{"a": "' || repeat('x', 5000000) || '"}');
SELECT status, count(*) FROM inbox.ingest_many('hostile', ARRAY['known', NULL, 'tx-many'],
	ARRAY['{"a": 1}', '{}', NULL]::jsonb[]) GROUP BY status ORDER BY status;
SELECT ord, status FROM inbox.ingest_raw_many('hostile', ARRAY['known', 'tx-raw-bad', 'tx-raw-many', NULL],
	ARRAY['{"a": 2}', '{"a": ', '[1]', '{}'], ARRAY['null', NULL, '{}', '[]']::jsonb[]);
SELECT action FROM inbox.upsert('hostile_items', '{"sku": "a"}');
SELECT ok, sqlstate FROM inbox.attempt('INSERT INTO hostile_items (sku) VALUES (''a'')');
SELECT count(*) FROM inbox.claim('hostile-tx', 10, '1 second', ARRAY['nosuch']);
SELECT inbox.complete(-1, 'hostile-tx'), inbox.fail(-1, 'hostile-tx', NULL),
       inbox.extend_lease(-1, 'hostile-tx'), inbox.replay('{}'::bigint[]);
INSERT INTO hostile_log VALUES (2, 'after');
COMMIT;
SELECT n, note FROM hostile_log ORDER BY n;

-- the server is still up, and this session with it
SELECT 'alive' AS server;

DELETE FROM inbox.events WHERE source LIKE 'hostile%' OR source = E'tab\tsource' OR source = repeat('s', 63);
DELETE FROM inbox.sources WHERE source LIKE 'hostile%';
DROP TABLE hostile_items, hostile_log;
