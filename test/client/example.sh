#!/bin/bash
# The example program of the README (examples/worker.c): the README shows
# the file as it is; it compiles against the installed library through
# pkg-config (header, pginbox.pc, the shared library); it works, under
# valgrind too; and the shared library exports exactly client/exports.txt.
# In the cluster that PG* points at.  Prints TAP.
set -uo pipefail
# shellcheck source=test/client/common.bash
. "$(dirname "$0")/common.bash"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PGDATABASE=inbox_example_test
psql -qX -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE" -c "CREATE DATABASE $PGDATABASE" 2>/dev/null
psql -qX -c 'CREATE EXTENSION pg_inbox' -c 'CREATE TABLE handled (event_id text PRIMARY KEY, type text)'

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

# the block that follows the marker line in the README, without its fences
awk '/^<!-- examples\/worker.c -->$/ { on = 1; next } on && /^```c$/ { copy = 1; next }
	copy && /^```$/ { exit } copy { print }' "$root/README.md" >"$work/readme-worker.c"
check "the README shows examples/worker.c as it is" "" "$(diff "$root/examples/worker.c" "$work/readme-worker.c" | head -5)"

libdir=$("${PG_CONFIG:-pg_config}" --libdir)
export PKG_CONFIG_PATH=$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
check "pkg-config knows the installed pginbox" "$(sed -n 's/^Version: //p' "$root/client/pginbox.pc")" \
	"$(pkg-config --modversion pginbox 2>&1)"
# shellcheck disable=SC2046 # pkg-config prints flags
cc -std=c11 -Wall -Wextra -Werror "$root/examples/worker.c" $(pkg-config --cflags --libs pginbox) \
	-o "$work/worker" 2>"$work/cc"
check "the example compiles against the installed library, warnings as errors" "" "$(head -5 "$work/cc")"
# (/lib may be /usr/lib under another name: compare the files the paths reach)
check "the installed worker uses the installed shared library" "$(readlink -f "$libdir/libpginbox.so.0")" \
	"$(readlink -f "$(ldd "$work/worker" | sed -n 's/.*libpginbox\.so\.0 => \(.*\) (0x.*/\1/p')")"

printf '{"id": "a", "type": "one"}\n{"id": "b", "type": "two"}\n{"id": "c", "type": "three"}\n' |
	"$pg_inbox" ingest -s example >/dev/null
"$work/worker" 2 >"$work/out" 2>&1
check "the worker: exit status 0" 0 $?
check "the worker: handles two events, oldest first" \
	"handled example a (attempt 1)|handled example b (attempt 1)|2 events claimed" "$(paste -sd'|' "$work/out")"
check "the worker: its rows and the events' done committed together" "a:one:done b:two:done c::pending" \
	"$(psql -qAtX -c "SELECT string_agg(e.event_id || ':' || coalesce(h.type, '') || ':' || e.state, ' ' ORDER BY e.event_id)
		FROM inbox.events e LEFT JOIN handled h USING (event_id)")"

# an event whose handling fails: the runner rolls back, the worker records the failure
psql -qAtX -c "INSERT INTO handled VALUES ('c', 'taken')"
# shellcheck disable=SC2086 # VALGRIND is a command line
$VALGRIND "$build/worker" 5 >"$work/out" 2>"$work/err"
status=$?
check "the build tree's worker under valgrind: no memory errors or leaks" 0 "$status"
check "the failing event: reported" 1 "$(grep -c 'worker: c: duplicate key value' "$work/err")"
check "the failing event: back to pending, with its error, and no row written" "pending|1|taken" \
	"$(psql -qAtX -c "SELECT e.state, jsonb_array_length(e.errors), h.type FROM inbox.events e JOIN handled h USING (event_id) WHERE event_id = 'c'")"

check "the shared library exports exactly exports.txt" "$(grep -v '^#' "$root/client/exports.txt" | sort)" \
	"$(nm -D --defined-only "$root/client/libpginbox.so" | awk '$2 == "T" { print $3 }' | sort)"

echo "1..$n"
