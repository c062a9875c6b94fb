-- contender: the raw statement, into bench.events (see baseline.sql; the
-- digest is a constant 32-byte value), one per transaction
INSERT INTO bench.events (source, event_id, payload_digest, payload) VALUES ('bench', 'evt_' || :key, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea, :payload) ON CONFLICT (source, event_id) DO NOTHING RETURNING id;
