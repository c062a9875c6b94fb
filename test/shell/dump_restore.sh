#!/bin/bash
# pg_dump keeps the events, the sources and the id sequence of pg_inbox, and a
# restored database goes on recognising duplicates and drawing new ids.
# Runs against the cluster in PGHOST/PGPORT (pg_virtualenv); prints TAP.
set -euo pipefail

src=inbox_dump_src
dst=inbox_dump_dst
dump=$(mktemp)
trap 'rm -f "$dump"; dropdb --if-exists $src; dropdb --if-exists $dst' EXIT
q() { psql -qAtX -v ON_ERROR_STOP=1 -d "$@"; }

dropdb --if-exists $src; dropdb --if-exists $dst
createdb $src
q $src -c "CREATE EXTENSION pg_inbox" \
	-c "SELECT count(*) FROM generate_series(1, 5) g, inbox.ingest('s', 'e' || g, jsonb_build_object('n', g))" \
	-c "INSERT INTO inbox.sources (source, max_payload_bytes) VALUES ('s', 1000)" >/dev/null
pg_dump $src >"$dump"
createdb $dst
q $dst -f "$dump" >/dev/null

echo "1..4"
n=$(q $dst -c "SELECT count(*) FROM inbox.events")
[ "$n" = 5 ] && echo "ok 1 - events restored" || echo "not ok 1 - events restored ($n)"
n=$(q $dst -c "SELECT max_payload_bytes FROM inbox.sources WHERE source = 's'")
[ "$n" = 1000 ] && echo "ok 2 - sources restored" || echo "not ok 2 - sources restored ($n)"
r=$(q $dst -c "SELECT status || ' ' || id FROM inbox.ingest('s', 'e3', '{\"n\": 3}')")
[ "$r" = "duplicate 3" ] && echo "ok 3 - duplicate recognised after restore" || echo "not ok 3 - duplicate after restore ($r)"
r=$(q $dst -c "SELECT status || ' ' || id FROM inbox.ingest('s', 'e6', '{}')")
[ "$r" = "inserted 6" ] && echo "ok 4 - ids continue after restore" || echo "not ok 4 - ids continue after restore ($r)"
