#!/bin/bash
# Fuzzing: the client's parsers (test/fuzz/fuzz_*.c, libFuzzer harnesses
# built with clang -fsanitize=fuzzer,address,undefined, every error fatal)
# each run for STRESS_FUZZ_SECONDS (default 60) on a copy of its committed
# seed corpus (test/fuzz/corpus/NAME); any crash, sanitizer report, timeout
# (10 s an input) or RSS over 2 GB fails.  Before that, each harness is run
# once over its seed corpus (-runs=0): the regression seeds of what was
# found and fixed.  STRESS_FUZZ_SECONDS=0 runs only that (make test does).
# Then, unless STRESS_FUZZ_SECONDS=0, the server's JSON parser: the
# generator of test/sql/raw_json_fuzz.sql on STRESS_JSON_CASES (default
# 50,000) bodies from a random seed, ingest_raw against the cast to jsonb
# (accept or reject, stored value, digest), in a cluster of its own.
# Prints the figures (executions, coverage, corpus).  TAP.
set -uo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
. ./cluster.sh

seconds=${STRESS_FUZZ_SECONDS:-60}
pg_config=${PG_CONFIG:-pg_config}
build=$dir/build
keep=/tmp/pg_inbox_fuzz_artifacts

if make -C "$root/test/fuzz" -s OUT="$build" PG_CONFIG="$pg_config" >"$dir/build.log" 2>&1; then
	check "the harnesses build with clang -fsanitize=fuzzer,address,undefined" "0" "0"
else
	check "the harnesses build with clang -fsanitize=fuzzer,address,undefined" "0" "1"
	sed 's/^/#   /' "$dir/build.log" | tail -30
	tap_done
	exit 1
fi

# run NAME LABEL ARGS...: one libFuzzer run; a check that it ended cleanly
run() {
	local name=$1 label=$2 log rc reports
	shift 2
	log=$dir/$name.$label.log
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		"$build/fuzz_$name" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$dir/$name-" \
		"$@" >"$log" 2>&1
	rc=$?
	reports=$(grep -c 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:\|ERROR: libFuzzer\|deadly signal\|==ERROR' "$log")
	check "fuzz_$name, $label: no crash or sanitizer report" "0 0" "$rc $reports"
	if [ "$rc" -ne 0 ] || [ "$reports" -ne 0 ]; then
		grep -A30 'ERROR\|runtime error:' "$log" | head -60 | sed 's/^/#   /'
		mkdir -p "$keep"
		cp "$log" "$dir/$name"-* "$keep/" 2>/dev/null
		note "the log and the crashing inputs are copied to $keep"
	fi
}

for corpus in "$root"/test/fuzz/corpus/*/; do
	name=$(basename "$corpus")
	run "$name" "its $(find "$corpus" -type f | wc -l) seeds replayed" -runs=0 "$corpus"
	[ "$seconds" -gt 0 ] || continue
	cp -r "$corpus" "$dir/corpus-$name"
	run "$name" "$seconds s" -max_total_time="$seconds" -print_final_stats=1 "$dir/corpus-$name"
	# "#123456 DONE cov: 141 ft: 298 corp: 14/9130b ..." and the final stats
	note "  fuzz_$name: $(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/$name.$seconds s.log") executions in $(sed -n 's/^stat::.*//; s/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$dir/$name.$seconds s.log") s, $(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/$name.$seconds s.log")/s; $(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*/[0-9]*[KMb]*' "$dir/$name.$seconds s.log" | tail -1); peak RSS $(sed -n 's/^stat::peak_rss_mb: *//p' "$dir/$name.$seconds s.log") MB"
done
if [ "$seconds" -gt 0 ]; then
	cases=${STRESS_JSON_CASES:-50000}
	seed=0.$(( RANDOM * 32768 + RANDOM ))
	cluster_init
	server_start
	q -d postgres -c "CREATE EXTENSION pg_inbox"
	start=$(date +%s)
	out=$(q -d postgres -v cases="$cases" -v seed="$seed" 2>&1 <<EOF
\i $root/test/sql/include/json_fuzz.sql
CREATE TEMP TABLE fuzz_bad AS
SELECT c.* FROM fuzz_case f, pg_temp.check_body(f.n, f.body) c;
SELECT 'disagreements: ' || count(*) FROM fuzz_bad;
SELECT 'case ' || case_no || ': ' || problem || ': ' || body_start FROM fuzz_bad LIMIT 5;
EOF
)
	got=$(echo "$out" | sed -n 's/^disagreements: //p')
	check "ingest_raw agrees with the cast to jsonb on $cases generated bodies (seed $seed)" "0" "$got"
	[ "$got" = 0 ] || echo "$out" | grep -v '^disagreements' | tail -8 | sed 's/^/#   /'
	note "  raw JSON: $cases bodies in $(( $(date +%s) - start )) s, seed $seed (\\set seed $seed in test/sql/raw_json_fuzz.sql repeats it)"
	server_stop
fi
tap_done
