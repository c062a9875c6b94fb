-- pg_inbox benchmark, upsert part, key generator for NEW keys (prepended to
-- a contender): the counter of bench/keys-new.sql (a key no run has used),
-- and random values
\set n :n + 1
\set key :tag * 10000000000000 + :client_id * 100000000000 + :n
\set v random(1, 1000000000)
