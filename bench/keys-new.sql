-- pg_inbox benchmark, key generator for NEW keys (prepended to a contender).
--
-- Every transaction must store a key never seen before, across both clients
-- and across all runs in the cluster.  A random key, as in
-- "\set k random(1, 1000000000000)", only makes collisions unlikely, and a
-- collision would silently turn a "new key" into a duplicate.  Instead each
-- client counts: pgbench gives every client its own copy of the variables
-- set with -D, and a client's variables live on from one transaction to the
-- next, so "-D n=0" plus "\set n :n + 1" is a per-client counter.  The key
-- is then  tag * 10^13 + client_id * 10^11 + n,  where tag (-D tag=...,
-- 1..999) is different for every pgbench run of the benchmark.  Distinct
-- (tag, client_id, n) give distinct keys as long as n < 10^11 and
-- client_id < 100; all are above the duplicate keys 1..dupkeys.
-- The contender turns it into event_id 'evt_<key>'.
\set n :n + 1
\set key :tag * 10000000000000 + :client_id * 100000000000 + :n
