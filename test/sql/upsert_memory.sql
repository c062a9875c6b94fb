--
-- inbox.upsert keeps no memory per call: a backend's memory does not grow
-- with the number of calls, with ALTER TABLE between calls (each drops the
-- table's prepared statements), or with many column sets (the cache of
-- prepared statements is bounded).
--
CREATE TABLE mem_kv (k integer PRIMARY KEY, v integer, w text);
CREATE TABLE mem_wide AS
SELECT g AS k FROM generate_series(1, 0) g;
ALTER TABLE mem_wide ADD PRIMARY KEY (k);
SELECT format('ALTER TABLE mem_wide ADD COLUMN c%s integer', g) FROM generate_series(1, 20) g \gexec

-- bytes of every memory context of this backend
CREATE FUNCTION mem_bytes() RETURNS bigint LANGUAGE sql
AS $$ SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts $$;

-- warm up: the statements of each column set are prepared once
SELECT count(*) FROM generate_series(1, 2000) g,
	inbox.upsert('mem_kv', jsonb_build_object('k', g % 500, 'v', g, 'w', 'x' || g)) u;
SELECT count(*) FROM inbox.upsert_many('mem_kv',
	(SELECT jsonb_agg(jsonb_build_object('k', g % 500, 'v', g)) FROM generate_series(1, 2000) g));
SELECT mem_bytes() AS before \gset

-- 60,000 single calls (inserts, updates, unchanged rows) and 60,000 batch
-- elements
SELECT u.action, count(*) FROM generate_series(1, 60000) g,
	inbox.upsert('mem_kv', jsonb_build_object('k', g % 3000, 'v', g / 3000, 'w', 'x')) u
GROUP BY 1 ORDER BY 1;
SELECT count(*) FROM generate_series(1, 6) b,
	inbox.upsert_many('mem_kv',
		(SELECT jsonb_agg(jsonb_build_object('k', g, 'v', b)) FROM generate_series(1, 10000) g));
SELECT mem_bytes() - :before < 1024 * 1024 AS no_growth_over_calls;

-- ALTER TABLE between calls, 200 times
SELECT mem_bytes() AS before \gset
DO $$
BEGIN
	FOR i IN 1 .. 200 LOOP
		EXECUTE format('ALTER TABLE mem_kv ALTER COLUMN w SET DEFAULT %L', 'd' || i);
		PERFORM inbox.upsert('mem_kv', jsonb_build_object('k', i, 'v', -i));
	END LOOP;
END
$$;
SELECT mem_bytes() - :before < 1024 * 1024 AS no_growth_over_alter_table;
SELECT w FROM mem_kv WHERE k = 1;

-- different column sets of one table, more than the cache keeps (256): the
-- first 1,000 fill it, the next 2,000 find it full and start it afresh
SELECT count(*) FROM generate_series(1, 1000) g,
	inbox.upsert('mem_wide',
		(SELECT jsonb_object_agg('c' || c, g) FROM generate_series(1, 20) c
		  WHERE (g >> (c % 11)) % 2 = 1 OR c = g % 20 + 1) || jsonb_build_object('k', g % 50)) u;
SELECT mem_bytes() AS before \gset
SELECT count(*) FROM generate_series(1001, 3000) g,
	inbox.upsert('mem_wide',
		(SELECT jsonb_object_agg('c' || c, g) FROM generate_series(1, 20) c
		  WHERE (g >> (c % 11)) % 2 = 1 OR c = g % 20 + 1) || jsonb_build_object('k', g % 50)) u;
SELECT mem_bytes() - :before < 1024 * 1024 AS cache_is_bounded;

DROP TABLE mem_kv, mem_wide;
DROP FUNCTION mem_bytes();
