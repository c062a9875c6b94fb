-- contender: PL/pgSQL the usual way, INSERT and EXCEPTION WHEN
-- unique_violation (bench.ingest_plpgsql in baseline.sql), one per transaction
SELECT * FROM bench.ingest_plpgsql('bench', 'evt_' || :key, :payload);
