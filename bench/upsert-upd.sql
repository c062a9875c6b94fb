-- pg_inbox benchmark, upsert part, key generator for UPDATES (prepended to a
-- contender): one of the keys 1..upkeys loaded by bench/upsert-load.sql, with
-- random values (the same as the stored ones once in 10^9)
\set key random(1, :upkeys)
\set v random(1, 1000000000)
