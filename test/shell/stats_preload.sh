#!/bin/bash
# The statistics with and without pg_inbox in shared_preload_libraries.
#
# Without it, ingest works and is not counted: inbox.ingest_counters() has no
# rows, inbox.stats says counters_available = false with NULL counters,
# pg_inbox.max_sources does not exist, and inbox.reset_stats() raises 55000
# with a hint.  With it and pg_inbox.max_sources = 2, the third source is
# counted under source NULL, each database sees its own counters only, a
# reset makes room again, and a third database finds no room for its own
# row.
#
# The suite's cluster preloads pg_inbox with the default max_sources, so
# this script makes a throw-away cluster of its own: initdb in a temporary
# directory, reached only through a Unix socket in that directory, so that
# it meets no other cluster's port, socket or pid file.  Prints TAP.
set -euo pipefail

bindir=$("${PG_CONFIG:-pg_config}" --bindir)
dir=$(mktemp -d)
as_owner() {		# initdb and pg_ctl refuse to run as root
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
stop() {
	as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap stop EXIT
[ "$(id -u)" = 0 ] && chown postgres: "$dir"
port=$((20000 + RANDOM % 20000))
as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
	--no-sync --no-instructions >/dev/null
server() {		# server start|restart [postgres options]
	local action=$1
	shift
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -m fast -o \
		"-c listen_addresses='' -k $dir -p $port -c fsync=off $*" "$action" >/dev/null
}
server start "-c shared_preload_libraries=''"

unset PGSERVICE PGSYSCONFDIR PGPASSWORD PGHOSTADDR PGDATABASE
export PGHOST=$dir PGPORT=$port PGUSER=postgres

q() { psql -qAtX -v ON_ERROR_STOP=1 "$@"; }
n=0
check() {		# check "description" "expected" "actual"
	n=$((n + 1))
	if [ "$2" = "$3" ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		printf '#   expected: %s\n#        got: %s\n' "$2" "$3"
	fi
}

# Each phase runs in one session; every query answers one line.  error_of()
# gives the SQLSTATE and hint of a statement's error.
functions="
SET check_function_bodies = off;
CREATE FUNCTION pg_temp.error_of(statement text) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
	state text;
	hint text;
BEGIN
	EXECUTE statement;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, hint = PG_EXCEPTION_HINT;
	RETURN state || ' ' || hint;
END;
\$\$;
CREATE FUNCTION pg_temp.counters() RETURNS text LANGUAGE sql AS \$\$
	SELECT string_agg(concat_ws('|', coalesce(source, 'NULL'), inserted, duplicate, conflict, rejected),
					  ' ' ORDER BY source COLLATE \"C\" NULLS LAST)
	FROM inbox.ingest_counters();
\$\$;"

echo "1..16"

# ---- without pg_inbox preloaded
mapfile -t got < <(q -d postgres <<SQL
$functions
SHOW shared_preload_libraries;
CREATE EXTENSION pg_inbox;
SELECT string_agg(status, ' ' ORDER BY n) FROM (
	SELECT 1, status FROM inbox.ingest('s', 'e1', '{}') UNION ALL
	SELECT 2, status FROM inbox.ingest('s', 'e1', '{}') UNION ALL
	SELECT 3, status FROM inbox.ingest(NULL, 'e2', '{}')) AS r(n, status);
SELECT count(*) FROM inbox.ingest_counters();
SELECT source, pending, counters_available FROM inbox.stats;
SELECT inserted IS NULL AND duplicate IS NULL AND conflict IS NULL
	AND rejected IS NULL AND stats_reset IS NULL FROM inbox.stats;
SELECT coalesce(current_setting('pg_inbox.max_sources', true), 'undefined');
SELECT pg_temp.error_of('SELECT inbox.reset_stats()');
SQL
)
check "the cluster does not preload pg_inbox" "" "${got[0]-}"
check "ingest works" "inserted duplicate rejected" "${got[1]-}"
check "ingest_counters() returns no rows" "0" "${got[2]-}"
check "the view has the events and counters_available = false" "s|1|f" "${got[3]-}"
check "the view's counters and stats_reset are NULL" "t" "${got[4]-}"
check "pg_inbox.max_sources exists only when preloaded" "undefined" "${got[5]-}"
check "reset_stats() raises 55000 with a hint naming shared_preload_libraries" \
	"55000 Add pg_inbox to shared_preload_libraries in postgresql.conf and restart the server." \
	"${got[6]-}"

# ---- with pg_inbox preloaded, room for two sources
server restart "-c shared_preload_libraries=pg_inbox -c pg_inbox.max_sources=2"
q -d postgres -c "CREATE DATABASE other" -c "CREATE DATABASE third"
q -d other -c "CREATE EXTENSION pg_inbox"
q -d third -c "CREATE EXTENSION pg_inbox"
mapfile -t got < <(q -d postgres <<SQL
$functions
SHOW pg_inbox.max_sources;
SELECT pg_temp.error_of('SET pg_inbox.max_sources = 3');
SELECT pg_temp.counters();
SELECT count(*) FROM inbox.ingest('a', 'e1', '{}');
SELECT count(*) FROM inbox.ingest('b', 'e1', '{}');
SELECT count(*) FROM inbox.ingest('c', 'e1', '{}');
SELECT count(*) FROM inbox.ingest('a', 'e1', '{}');
SELECT count(*) FROM inbox.ingest(NULL, 'e1', '{}');
SELECT pg_temp.counters();
SELECT string_agg(concat_ws('|', coalesce(source, 'NULL'), inserted, duplicate, pending),
				  ' ' ORDER BY source COLLATE "C" NULLS LAST)
FROM inbox.stats;
SQL
)
check "pg_inbox.max_sources is set at server start" "2" "${got[0]-}"
check "pg_inbox.max_sources cannot be changed without a restart" "55P02 " "${got[1]-}"
check "the counters start empty" "NULL|0|0|0|0" "${got[2]-}"
check "a source beyond max_sources is counted under NULL" \
	"a|1|1|0|0 b|1|0|0|0 NULL|1|0|0|1" "${got[8]-}"
check "the view shows the uncounted source with zeros, and the NULL row" \
	"a|1|1|1 b|1|0|1 c|0|0|1 s|0|0|1 NULL|1|0|0" "${got[9]-}"

mapfile -t got < <(q -d other <<SQL
$functions
SELECT count(*) FROM inbox.ingest('x', 'e1', '{}');
SELECT pg_temp.counters();
\\c postgres
$functions
SELECT inbox.reset_stats();
SELECT pg_temp.counters();
\\c other
$functions
SELECT count(*) FROM inbox.ingest('y', 'e1', '{}');
SELECT pg_temp.counters();
\\c third
$functions
SELECT pg_temp.error_of('SELECT inbox.reset_stats()');
SQL
)
check "another database counts on its own, under NULL when the table is full" \
	"NULL|1|0|0|0" "${got[1]-}"
check "a reset clears the counters of its own database" "NULL|0|0|0|0" "${got[3]-}"
check "and makes room for the sources of another" "y|1|0|0|0 NULL|1|0|0|0" "${got[5]-}"
check "a reset in a database beyond max_sources databases raises 53400" \
	"53400 Raise pg_inbox.max_sources and restart the server." "${got[6]-}"
