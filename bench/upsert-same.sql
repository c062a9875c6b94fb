-- pg_inbox benchmark, upsert part, key generator for UNCHANGED rows
-- (prepended to a contender): one of the keys 1..upkeys loaded by
-- bench/upsert-load.sql, with v = key, the values it was loaded with.  Runs
-- before the update workload, which changes the values.
\set key random(1, :upkeys)
\set v :key
