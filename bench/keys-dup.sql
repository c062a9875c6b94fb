-- pg_inbox benchmark, key generator for DUPLICATES (prepended to a
-- contender): one of the keys 1..dupkeys (-D dupkeys=...) that were loaded
-- beforehand with the same payload, so every call is an exact duplicate.
\set key random(1, :dupkeys)
