-- contender: inbox.ingest (a C function), one call per transaction
SELECT * FROM inbox.ingest('bench', 'evt_' || :key, :payload);
