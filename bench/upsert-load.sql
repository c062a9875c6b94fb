/*
 * pg_inbox benchmark: the tables of the upsert part, loaded.
 *
 * Run by tools/run-bench with psql in a throw-away cluster (after
 * baseline.sql, which makes the schema bench), with
 *   -v n=...   how many rows each table is loaded with
 *
 * Two tables of the same realistic shape: a bigint identity primary key, a
 * unique business key (sku) and five columns of text, integer, timestamptz
 * and jsonb.  bench.up_inbox is written with inbox.upsert, bench.up_sql with
 * the hand-written INSERT ... ON CONFLICT (sku) DO UPDATE.  Row k has the key
 * 'sku_<k>' and the values of v = k, computed as bench/upsert-inbox.sql and
 * bench/upsert-sql.sql compute them, so that the "unchanged" workload
 * (v = key) sends exactly the stored values.
 *
 * Prints one line, checked by run-bench: n|n|unchanged|0
 * (the rows of each table; what inbox.upsert answers for key 1 with v = 1;
 * the rows in which the two tables differ).
 */
\set ON_ERROR_STOP 1
SET synchronous_commit = off;
CREATE TABLE bench.up_inbox (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	sku text NOT NULL UNIQUE,
	name text NOT NULL,
	qty integer NOT NULL,
	price_cents integer NOT NULL,
	updated_at timestamptz NOT NULL,
	attrs jsonb NOT NULL
);
CREATE TABLE bench.up_sql (LIKE bench.up_inbox INCLUDING ALL);
INSERT INTO bench.up_inbox (sku, name, qty, price_cents, updated_at, attrs)
SELECT 'sku_' || k, 'item ' || k, k % 1000, k % 100000,
	   timestamptz '2026-01-01 00:00:00+00' + k * interval '1 second',
	   jsonb_build_object('color', 'red', 'size', k % 10, 'v', k)
  FROM generate_series(1, :n) AS k;
INSERT INTO bench.up_sql (sku, name, qty, price_cents, updated_at, attrs)
SELECT sku, name, qty, price_cents, updated_at, attrs FROM bench.up_inbox ORDER BY id;
VACUUM ANALYZE bench.up_inbox, bench.up_sql;
CHECKPOINT;
SELECT (SELECT count(*) FROM bench.up_inbox),
	   (SELECT count(*) FROM bench.up_sql),
	   (SELECT action FROM inbox.upsert('bench.up_inbox', jsonb_build_object(
			'sku', 'sku_' || 1, 'name', 'item ' || 1, 'qty', 1 % 1000, 'price_cents', 1 % 100000,
			'updated_at', timestamptz '2026-01-01 00:00:00+00' + 1 * interval '1 second',
			'attrs', jsonb_build_object('color', 'red', 'size', 1 % 10, 'v', 1)), '{sku}')),
	   (SELECT count(*) FROM ((SELECT sku, name, qty, price_cents, updated_at, attrs FROM bench.up_inbox
							  EXCEPT SELECT sku, name, qty, price_cents, updated_at, attrs FROM bench.up_sql)
							 UNION ALL
							 (SELECT sku, name, qty, price_cents, updated_at, attrs FROM bench.up_sql
							  EXCEPT SELECT sku, name, qty, price_cents, updated_at, attrs FROM bench.up_inbox)) d);
