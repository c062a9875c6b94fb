#!/bin/bash
# tools/pg-root leaves nothing behind: a command that fails and one that is
# interrupted end with no mount under the root and no process in it, and the
# command saw /proc, /dev, /dev/shm and /dev/pts.  Needs root and the root
# of the major given (tools/pg-root ensure MAJOR); prints TAP.
set -uo pipefail
cd "$(dirname "$0")/../.."

major=${1:?usage: test/majors/pg_root.sh MAJOR}
root=$(tools/pg-root path "$major")
mounts() { findmnt -rn -o TARGET | awk -v d="$root" '$0 == d || index($0, d "/") == 1'; }
procs() {
	local pid
	for pid in $(ls /proc | grep -E '^[0-9]+$'); do
		[ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$root" ] && echo "$pid"
	done
}
ok() { if [ "$2" = 0 ]; then echo "ok $1 - $3"; else echo "not ok $1 - $3"; fi; }

echo "1..4"
tools/pg-root run "$major" sh -c 'test -d /proc/self && test -c /dev/null && findmnt -rn -o TARGET | grep -qx /dev/shm && findmnt -rn -o TARGET | grep -qx /dev/pts'
ok 1 $? "the command sees /proc, /dev, /dev/shm and /dev/pts"

tools/pg-root run "$major" sh -c 'exit 3'
status=$?
[ "$status" = 3 ] && [ -z "$(mounts)" ]
ok 2 $? "a failing command: its status ($status), and no mount left"

# a server and a sleeper in the root, then SIGTERM to pg-root alone
tools/pg-root run "$major" runuser -u postgres -- pg_virtualenv -v "$major" sleep 300 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 60); do
	for p in $(procs); do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = sleep ] && break 2; done
	sleep 0.5
done
[ -n "$(mounts)" ]
ok 3 $? "while it runs, its mounts are there"
kill -TERM "$pid"
wait "$pid"
[ -z "$(mounts)" ] && [ -z "$(procs)" ]
ok 4 $? "interrupted: no mount and no process left in the root"
mounts | sed 's/^/# left: /'
