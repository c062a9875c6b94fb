#!/bin/bash
# libpginbox across a server restart (t_restart.c, under valgrind).  A
# cluster of its own, made with initdb in a temporary directory and reached
# through a Unix socket there, so that restarting it disturbs nobody; the
# test stops and starts it from a child process in the middle of its run.
set -euo pipefail
# shellcheck source=test/client/common.bash
. "$(dirname "$0")/common.bash"

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
opts="-c listen_addresses='' -k $dir -p $port -c fsync=off"
as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "$opts" start >/dev/null

unset PGSERVICE PGSYSCONFDIR PGPASSWORD PGHOSTADDR
export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
# a fast shutdown, a second of nothing, then up again
ctl="$bindir/pg_ctl -D $dir/data -l $dir/log -w"
if [ "$(id -u)" = 0 ]; then ctl="runuser -u postgres -- $ctl"; fi
export INBOX_RESTART="$ctl -m fast stop >/dev/null && sleep 1 && $ctl -o \"$opts\" start >/dev/null"

run_tap "$build/t_restart"
