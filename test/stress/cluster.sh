# Sourced by the stress scripts: a throw-away cluster of the script's own, as
# test/shell/stats_preload.sh makes one (initdb in a temporary directory,
# reached only through a Unix socket there, so that it meets no other
# cluster's port, socket or pid file), plus TAP helpers.
#
#   cluster_init [postgresql.conf lines]   initdb, pg_inbox preloaded
#   server_start / server_stop             pg_ctl, waiting
#   server_kill                            SIGKILL to this cluster's postmaster
#                                          (its pid from postmaster.pid), then
#                                          wait until its backends are gone
#   q [psql args]                          psql -qAtX, stop on error
#   check "description" "expected" "got"   one TAP line
#   note "text"                            a TAP comment (# text)

bindir=$("${PG_CONFIG:-pg_config}" --bindir)
dir=$(mktemp -d /tmp/pg_inbox_stress.XXXXXX)
port=$((20000 + RANDOM % 20000))
tapn=0
tapfailed=0

as_owner() {		# initdb and pg_ctl refuse to run as root
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cluster_cleanup() {
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}
trap cluster_cleanup EXIT

cluster_init() {
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
		--no-sync --no-instructions >/dev/null
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$dir'"
		echo "port = $port"
		echo "shared_preload_libraries = 'pg_inbox'"
		echo "max_connections = 60"
		for line in "$@"; do echo "$line"; done
	} | as_owner tee -a "$dir/data/postgresql.conf" >/dev/null
}

server_start() {
	as_owner env ${SERVER_ENV:-} "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 120 start >/dev/null
}

server_stop() {
	as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 120 stop >/dev/null
}

server_kill() {
	local pid i
	pid=$(head -1 "$dir/data/postmaster.pid")
	kill -KILL "$pid"
	# the backends notice that their postmaster died and exit; the new
	# postmaster refuses to start while they hold its shared memory
	for i in $(seq 1 600); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "$pid"
}

# start after a crash: retried while backends of the killed postmaster still
# hold the old shared memory
server_restart_after_crash() {
	local i
	for i in $(seq 1 120); do
		if server_start 2>/dev/null; then
			return 0
		fi
		sleep 0.5
	done
	echo "# the server did not start again; its log:"
	sed 's/^/#   /' "$dir/log" | tail -30
	return 1
}

unset PGSERVICE PGSYSCONFDIR PGPASSWORD PGHOSTADDR PGDATABASE PGSSLMODE
export PGHOST=$dir PGPORT=$port PGUSER=postgres

q() { psql -qAtX -v ON_ERROR_STOP=1 "$@"; }

check() {		# check "description" "expected" "actual"
	tapn=$((tapn + 1))
	if [ "$2" = "$3" ]; then
		echo "ok $tapn - $1"
	else
		tapfailed=$((tapfailed + 1))
		echo "not ok $tapn - $1"
		printf '#   expected: %s\n#        got: %s\n' "$2" "$3" | head -40
	fi
}

note() { echo "# $*"; }

tap_done() {
	echo "1..$tapn"
	[ "$tapfailed" -eq 0 ]
}
