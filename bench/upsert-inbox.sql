-- upsert contender: inbox.upsert of the row of key :key and values :v into
-- bench.up_inbox (see bench/upsert-load.sql), one call per transaction
SELECT * FROM inbox.upsert('bench.up_inbox', jsonb_build_object('sku', 'sku_' || CAST(:key AS bigint), 'name', 'item ' || CAST(:v AS integer), 'qty', CAST(:v AS integer) % 1000, 'price_cents', CAST(:v AS integer) % 100000, 'updated_at', timestamptz '2026-01-01 00:00:00+00' + CAST(:v AS integer) * interval '1 second', 'attrs', jsonb_build_object('color', 'red', 'size', CAST(:v AS integer) % 10, 'v', CAST(:v AS integer))), '{sku}');
