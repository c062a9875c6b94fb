#!/bin/bash
# The client under AddressSanitizer and UndefinedBehaviorSanitizer: the
# library, the pg_inbox command and the client's C tests built with
# -fsanitize=address,undefined (every error fatal, leaks reported) in a copy
# of client/, test/client/ and examples/ (the normal build and the installed
# files are not touched), then the client's tests run from the copy against
# a throw-away cluster, without valgrind (INBOX_SANITIZED=1): t_lib, t_json,
# t_restart (its own cluster) and the command's tests.  Fails on any test
# that fails and on any sanitizer report of any process.  TAP.
set -uo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
. ./cluster.sh

pg_config=${PG_CONFIG:-pg_config}
tree=$dir/tree
reports=$dir/reports
mkdir -p "$tree" "$reports"
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"

(cd "$root" && tar cf - client test/client examples README.md) | tar xf - -C "$tree"
make -C "$tree/client" -s clean >/dev/null 2>&1
if make -C "$tree/client" -s PG_CONFIG="$pg_config" CFLAGS="-O1 -g $flags" LDFLAGS="$flags" \
		all tests >"$dir/build.log" 2>&1; then
	check "the library, the command and the C tests build with $flags" "0" "0"
else
	check "the library, the command and the C tests build with $flags" "0" "1"
	sed 's/^/#   /' "$dir/build.log" | tail -30
	tap_done
	exit 1
fi
check "the command is the instrumented one" "1" "$(ldd "$tree/client/pg_inbox" | grep -c libasan)"
check "t_lib is the instrumented one" "1" "$(ldd "$tree/client/build/t_lib" | grep -c libasan)"

cluster_init "fsync = off"
server_start

# every report of every process goes to a file of its own, and exits 99
export INBOX_SANITIZED=1
export ASAN_OPTIONS="exitcode=99:detect_leaks=1:log_path=$reports/asan"
export UBSAN_OPTIONS="exitcode=99:print_stacktrace=1:log_path=$reports/ubsan"
status=0
prove -v "$tree/test/client/json.sh" "$tree/test/client/lib.sh" "$tree/test/client/restart.sh" \
	"$tree/test/client/command.sh" >"$dir/prove.out" 2>&1 || status=$?
check "t_json, t_lib, t_restart and the command's tests pass with the instrumented build" "0" "$status"
note "  $(grep -c '^ok [0-9]' "$dir/prove.out") checks ok, $(grep -c '^not ok [0-9]' "$dir/prove.out") not ok; $(grep -E '^Files=' "$dir/prove.out")"
if [ "$status" -ne 0 ]; then
	grep -E '^not ok' -A3 "$dir/prove.out" | head -40 | sed 's/^/#   /'
fi
found=$(cat "$reports"/* 2>/dev/null | grep -c 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' || true)
check "no AddressSanitizer, LeakSanitizer or UBSan report" "0" "$found"
if [ "$found" -ne 0 ]; then
	cat "$reports"/* | head -80 | sed 's/^/#   /'
	mkdir -p /tmp/pg_inbox_sanitizer_reports
	cp "$reports"/* /tmp/pg_inbox_sanitizer_reports/
	note "reports copied to /tmp/pg_inbox_sanitizer_reports"
fi
server_stop || true
tap_done
