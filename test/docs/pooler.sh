#!/bin/bash
# The Python examples' tests through pgbouncer in transaction mode, with a
# pool of 3 server connections for up to 8 clients, so that transactions
# change server connections (docs/poolers.md).  Then why psycopg 3 needs
# prepare_threshold=None there: without it, 4 threads on 4 connections,
# repeating one statement, fail.  Skipped without pgbouncer (Debian package
# pgbouncer, which tools/ensure-deps installs).  Runs against the cluster in
# PGHOST/PGPORT (pg_virtualenv); prints TAP.
set -euo pipefail
cd "$(dirname "$0")/../.."

bouncer=/usr/sbin/pgbouncer
if [ ! -x $bouncer ]; then
	echo "1..0 # SKIP pgbouncer is not installed"
	exit 0
fi

dir=$(mktemp -d)
stop() {
	[ -f "$dir/pgbouncer.pid" ] && kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null
	rm -rf "$dir"
}
trap stop EXIT
port=
for _ in $(seq 50); do
	p=$((20000 + RANDOM % 20000))
	if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
		port=$p
		break
	fi
done
cat >"$dir/pgbouncer.ini" <<-INI
	[databases]
	* = host=$PGHOST port=$PGPORT user=$PGUSER password=$PGPASSWORD
	[pgbouncer]
	listen_addr = 127.0.0.1
	listen_port = $port
	unix_socket_dir =
	auth_type = any
	pool_mode = transaction
	default_pool_size = 3
	max_client_conn = 100
	logfile = $dir/pgbouncer.log
	pidfile = $dir/pgbouncer.pid
INI
# pgbouncer refuses to run as root
if [ "$(id -u)" = 0 ]; then
	chown -R postgres: "$dir"
	runuser -u postgres -- $bouncer -d "$dir/pgbouncer.ini"
else
	$bouncer -d "$dir/pgbouncer.ini"
fi
for _ in $(seq 50); do
	psql -qXAt -h 127.0.0.1 -p "$port" -d postgres -c 'SELECT 1' >/dev/null 2>&1 && break
	sleep 0.1
done

# the examples' tests, with their numbering shifted by one for the last test
out=$(PGHOST=127.0.0.1 PGPORT=$port INBOX_VIA_POOLER=1 \
	/usr/bin/python3 test/docs/tap_unittest.py examples/python) && status=0 || status=$?
n=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' <<<"$out")
echo "1..$((n + 1))"
grep -v '^1\.\.' <<<"$out" | sed -E 's/^(ok|not ok) ([0-9]+) - /\1 \2 - via pgbouncer: /'

# psycopg 3 with its default prepare_threshold: the fifth execution of a
# statement on a connection prepares it on the server connection of that
# moment, and a later execution finds another one
if PGHOST=127.0.0.1 PGPORT=$port /usr/bin/python3 - <<-'PY'
	import sys, threading
	import psycopg
	failures = []
	def run():
	    try:
	        with psycopg.connect("dbname=postgres", autocommit=True) as conn:
	            for i in range(40):
	                conn.execute("SELECT %s::int + 1", (i,)).fetchone()
	    except psycopg.Error as exc:
	        failures.append(type(exc).__name__)
	threads = [threading.Thread(target=run) for _ in range(4)]
	[t.start() for t in threads]
	[t.join() for t in threads]
	print(f"# without prepare_threshold=None: {len(failures)} of 4 connections failed: {sorted(set(failures))}")
	sys.exit(0 if failures else 1)
PY
then
	echo "ok $((n + 1)) - psycopg 3 with its default prepare_threshold fails behind pgbouncer in transaction mode"
else
	echo "not ok $((n + 1)) - psycopg 3 with its default prepare_threshold fails behind pgbouncer in transaction mode"
fi
exit "$status"
