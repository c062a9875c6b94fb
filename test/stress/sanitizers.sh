#!/bin/bash
# Sanitizers: build the extension with -fsanitize=address,undefined in a
# copy of the tree, install it, start a cluster that loads it at start-up
# (PostgreSQL itself is not instrumented), run the
# regression, isolation and pgTAP suites against it, and fail on any
# sanitizer report in the server log or any backend that died.  The normal
# build is installed again at the end, whatever happened.
#
# It installs into the server's directories: run it under the install lock,
# as make stress does (flock /tmp/pg_inbox_install.lock make stress).  TAP.
set -uo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
. ./cluster.sh

pg_config=${PG_CONFIG:-pg_config}
build=$(mktemp -d /tmp/pg_inbox_asan.XXXXXX)
reinstall_normal() {
	cluster_cleanup
	make -C "$root" -s PG_CONFIG="$pg_config" install >/dev/null 2>&1 \
		|| echo "# could not install the normal build again"
	rm -rf "$build"
}
trap reinstall_normal EXIT

# Stack instrumentation is off (asan-stack=0): the runtime is not preloaded
# (see below), so it cannot see PostgreSQL's siglongjmp out of an ereport,
# and the poisoned stack frames it leaves behind make every later report a
# false one.  Heap and global accesses of the extension are checked.
flags="-fsanitize=address,undefined --param=asan-stack=0 -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
(cd "$root" && tar cf - Makefile pg_inbox.control extension/*.c extension/*.h sql test) | tar xf - -C "$build"
if make -C "$build" -s PG_CONFIG="$pg_config" PG_CFLAGS="$flags" \
		SHLIB_LINK="-fsanitize=address,undefined" >"$build/build.log" 2>&1 \
	&& make -C "$build" -s PG_CONFIG="$pg_config" install >>"$build/build.log" 2>&1; then
	check "the extension builds and installs with $flags" "0" "0"
else
	check "the extension builds and installs with $flags" "0" "1"
	sed 's/^/#   /' "$build/build.log" | tail -30
	tap_done
	exit 1
fi
libdir=$("$pg_config" --pkglibdir)
check "the installed library is the instrumented one" "1" \
	"$(ldd "$libdir/pg_inbox.so" | grep -c 'libasan')"

# The ASan runtime comes in with the library, which the postmaster loads
# (shared_preload_libraries) and its backends inherit: preloading libasan
# into the server with LD_PRELOAD makes "postgres" hang at start-up in
# glibc's bindtextdomain on Debian 12 (gcc 12): libgpg-error, linked in
# through libsystemd, deadlocks there in its constructor under ASan.  So
# the link-order check that asks for preloading is turned off.  PostgreSQL's own allocations are not leak-clean.
cluster_init "fsync = off"
SERVER_ENV="ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0:abort_on_error=1:log_path=$dir/asan \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$dir/ubsan" server_start
check "the server runs with the ASan runtime loaded" "t" \
	"$(grep -c libasan "/proc/$(head -1 "$dir/data/postmaster.pid")/maps" >/dev/null && echo t || echo f)"

# the suites, as make test runs them, from the copy
for suite in regress isolation; do
	if [ "$suite" = regress ]; then
		args="ISOLATION="
	else
		args="REGRESS="
	fi
	status=0
	make -C "$build" -s PG_CONFIG="$pg_config" installcheck $args >"$build/$suite.out" 2>&1 || status=$?
	check "$suite suite passes against the instrumented build" "0" "$status"
	note "  $(grep -cE '\.\.\. ok|^ok ' "$build/$suite.out") ok, $(grep -cE 'FAILED' "$build/$suite.out") failed"
	if [ "$status" -ne 0 ]; then
		grep -E 'FAILED' "$build/$suite.out" | sed 's/^/#   /'
		for diffs in "$build/regression.diffs" "$build/output_iso/regression.diffs"; do
			if [ -f "$diffs" ]; then sed 's/^/#   /' "$diffs" | head -40; fi
		done
	fi
done
createdb inbox_tap
q -d inbox_tap -c "CREATE EXTENSION pgtap"
status=0
pg_prove -d inbox_tap --ext .sql -r "$build/test/pgtap" >"$build/pgtap.out" 2>&1 || status=$?
check "pgTAP suites pass against the instrumented build" "0" "$status"
if [ "$status" -ne 0 ]; then sed 's/^/#   /' "$build/pgtap.out" | tail -30; fi

server_stop || true
reports=$(cat "$dir"/asan.* "$dir"/ubsan.* 2>/dev/null | grep -c 'ERROR: AddressSanitizer\|runtime error:\|SUMMARY:' || true)
reports=$((reports + $(grep -c 'ERROR: AddressSanitizer\|runtime error:' "$dir/log" || true)))
check "no AddressSanitizer or UBSan report" "0" "$reports"
if [ "$reports" -ne 0 ]; then
	cat "$dir"/asan.* "$dir"/ubsan.* "$dir/log" 2>/dev/null \
		| grep -A40 'ERROR: AddressSanitizer\|runtime error:' | sed 's/^/#   /' | head -120
	# kept for a closer look
	mkdir -p /tmp/pg_inbox_sanitizer_reports
	cp "$dir"/asan.* "$dir"/ubsan.* "$dir/log" /tmp/pg_inbox_sanitizer_reports/ 2>/dev/null || true
	note "reports and the server log copied to /tmp/pg_inbox_sanitizer_reports"
fi
died=$(grep -c 'terminated by signal\|terminated by exception' "$dir/log")
check "no server process died" "0" "$died"
if [ "$died" -ne 0 ]; then grep 'terminated by' "$dir/log" | sed 's/^/#   /' | head; fi
tap_done
