# Sourced by the client's test scripts: where the programs are, and how a C
# test program is run under valgrind with its verdict added to its TAP.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$root/client/build
pg_inbox=$root/client/pg_inbox

# memcheck: any invalid access, or any definite or indirect leak, is an error
# (exit 99).  INBOX_VALGRIND= (empty) runs the programs without it.
VALGRIND=${INBOX_VALGRIND-valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99}
checker=valgrind
# INBOX_SANITIZED=1: the programs are an ASan/UBSan build, run without
# valgrind; a sanitizer report must exit 99 (exitcode=99 in ASAN_OPTIONS and
# UBSAN_OPTIONS, as test/stress/client_sanitizers.sh sets them)
if [ -n "${INBOX_SANITIZED:-}" ]; then
	VALGRIND=
	checker=ASan/UBSan
fi

# run_tap PROGRAM [ARG...]: the program prints TAP with its plan at the end;
# pass its checks through, then add one for valgrind's (or the sanitizers') verdict and one for
# the program having finished, and print the plan of them all.
run_tap() {
	local log out rc n
	log=$(mktemp)
	# shellcheck disable=SC2086 # VALGRIND is a command line
	out=$($VALGRIND "$@" 2>"$log")
	rc=$?
	# -a: a check's name may hold any byte; grep must not call it binary
	printf '%s\n' "$out" | grep -av '^1\.\.[0-9]*$'
	n=$(printf '%s\n' "$out" | grep -acE '^(not )?ok ')
	if [ "$rc" = 99 ]; then
		echo "not ok $((n + 1)) - $checker: $(basename "$1") has memory errors or leaks"
		sed 's/^/# /' "$log"
	else
		echo "ok $((n + 1)) - $checker: $(basename "$1") has no memory errors or leaks"
	fi
	if printf '%s\n' "$out" | grep -aq "^1\.\.$n\$" && [ "$rc" != 2 ]; then
		echo "ok $((n + 2)) - $(basename "$1") ran to its end"
	else
		echo "not ok $((n + 2)) - $(basename "$1") stopped early (exit status $rc)"
		tail -20 "$log" | sed 's/^/# /'
	fi
	echo "1..$((n + 2))"
	rm -f "$log"
}
