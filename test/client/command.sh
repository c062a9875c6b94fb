#!/bin/bash
# The pg_inbox command: counts on a generated NDJSON file with known numbers
# of new, repeated, changed, malformed, id-less and rejected lines, the line
# numbers it reports, a second run, standard input, the progress line only on
# a terminal, stats, --help, and every exit code.  One run under valgrind.
# In the cluster that PG* points at (tools/run-suites runs it inside
# pg_virtualenv); makes its own database.  Prints TAP.
set -uo pipefail
# shellcheck source=test/client/common.bash
. "$(dirname "$0")/common.bash"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PGDATABASE=inbox_command_test
psql -qX -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE" -c "CREATE DATABASE $PGDATABASE" 2>/dev/null
psql -qX -c 'CREATE EXTENSION pg_inbox'

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
# the count of one outcome in a summary
count() { sed -n "s/^  $1  *\([0-9]*\) .*/\1/p" "$2"; }
counts() {		# counts SUMMARY: "inserted duplicate conflict rejected malformed no-id"
	echo "$(count inserted "$1") $(count duplicate "$1") $(count conflict "$1")" \
		"$(count rejected "$1") $(count malformed "$1") $(count 'no id' "$1")"
}

# The input: 200 new events, 40 exact redeliveries, 10 redeliveries with the
# keys in another order and other white space, 25 changed redeliveries, 3
# events the server rejects (an empty id, an id of 300 bytes), 12 malformed
# lines and 6 without an id, mixed; blank lines are skipped.  The line
# numbers of the bad ones go to bad.txt.
awk -v bad="$work/bad.txt" '
	function ev(i, amount) { return sprintf("{\"id\": \"evt_%d\", \"type\": \"invoice.paid\", \"data\": {\"object\": {\"id\": \"in_%d\", \"amount\": %d}}}", i, i, amount) }
	function out(s) { print s; line++ }
	function mark(kind) { printf "%s %d\n", kind, line + 1 >bad }
	BEGIN {
		split("{\"id\": \"m1\", |{\"id\": \"m2\" \"x\": 1}|not json at all|{\"id\": \"m4\", \"a\": [1, 2}|{\"id\": \"m5\", \"s\": \"tab\there\"}|{\"id\": \"m6\"} trailing|{\"id\": \"m7\", \"n\": 01}|{\"id\": \"m8\", \"e\": \"\\q\"}|{\"id\": \"m9\", \"u\": \"\\ud800\"}|{\"id\": \"m10\", \"z\": \"\\u0000\"}|{\"id\": \"m11\", \"t\": tru}|[", m, "|")
		split("{\"type\": \"ping\"}|{\"id\": null}|{\"id\": {\"nested\": 1}}|[{\"id\": \"in-an-array\"}]|{\"id\": true}|\"just a string\"", noid, "|")
		long = sprintf("%300s", ""); gsub(/ /, "x", long)
		split("{\"id\": \"\", \"type\": \"empty id\"}|{\"id\": \"" long "\"}|{\"id\": \"\"}", rej, "|")
		mi = 1; ni = 1; ri = 1
		for (i = 1; i <= 200; i++) {
			out(ev(i, i * 100))
			if (i % 16 == 0 && mi <= 12) { mark("malformed"); out(m[mi++]) }
			if (i % 33 == 0 && ni <= 6) { mark("noid"); out(noid[ni++]) }
			if (i % 70 == 0 && ri <= 3) { mark("rejected"); out(rej[ri++]) }
			if (i % 50 == 0) out("")
		}
		for (i = 1; i <= 40; i++) out(ev(i, i * 100))
		for (i = 41; i <= 50; i++)
			out(sprintf("{ \"data\": {\"object\": {\"amount\": %d, \"id\": \"in_%d\"}},  \"type\": \"invoice.paid\", \"id\": \"evt_%d\" }", i * 100, i, i))
		for (i = 51; i <= 75; i++) out(ev(i, i * 100 + 1))
		while (mi <= 12) { mark("malformed"); out(m[mi++]) }
		while (ni <= 6) { mark("noid"); out(noid[ni++]) }
		while (ri <= 3) { mark("rejected"); out(rej[ri++]) }
	}' >"$work/events.ndjson"
lines=$(wc -l <"$work/events.ndjson")

# 1. the first run
"$pg_inbox" ingest --source billing "$work/events.ndjson" >"$work/out1" 2>"$work/err1"
check "first run: exit status 1 (some lines malformed, without id or rejected)" 1 $?
check "first run: counts by outcome" "200 50 25 3 12 6" "$(counts "$work/out1")"
check "first run: the summary counts the lines read" 1 "$(grep -c "$lines lines read from 1 input" "$work/out1")"
check "first run: malformed lines reported with their line numbers" \
	"$(sed -n 's/^malformed //p' "$work/bad.txt" | tr '\n' ' ')" \
	"$(sed -n 's/.*events\.ndjson:\([0-9]*\): malformed: .*/\1/p' "$work/err1" | tr '\n' ' ')"
check "first run: lines without an id reported with their line numbers" \
	"$(sed -n 's/^noid //p' "$work/bad.txt" | tr '\n' ' ')" \
	"$(sed -n 's/.*events\.ndjson:\([0-9]*\): no event id: .*/\1/p' "$work/err1" | tr '\n' ' ')"
check "first run: rejected lines reported with their line numbers" \
	"$(sed -n 's/^rejected //p' "$work/bad.txt" | tr '\n' ' ')" \
	"$(sed -n 's/.*events\.ndjson:\([0-9]*\): rejected: .*/\1/p' "$work/err1" | tr '\n' ' ')"
check "first run: a malformed line says what is wrong" 1 \
	"$(grep -c 'malformed: \\u0000 at byte .* cannot be stored in jsonb' "$work/err1")"
check "first run: no progress line when stderr is not a terminal" 0 "$(grep -c 'events/s' "$work/err1")"
check "first run: the events are in the table, once each" 200 \
	"$(psql -qAtX -c "SELECT count(*) FROM inbox.events WHERE source = 'billing'")"
check "first run: a changed redelivery left the stored event as it was" 5100 \
	"$(psql -qAtX -c "SELECT payload->'data'->'object'->>'amount' FROM inbox.events WHERE source = 'billing' AND event_id = 'evt_51'")"

# 2. the same file again: every event comes back as a duplicate
"$pg_inbox" ingest --source billing --batch 7 "$work/events.ndjson" >"$work/out2" 2>"$work/err2"
check "second run, batches of 7: exit status 1" 1 $?
check "second run: every event a duplicate" "0 250 25 3 12 6" "$(counts "$work/out2")"

# 2b. three connections at once: the same counts (which of two deliveries
# of a key is stored first may change, not how many of each there are)
"$pg_inbox" ingest --source billing-jobs --jobs 3 --batch 7 "$work/events.ndjson" >"$work/out2b" 2>"$work/err2b"
check "--jobs 3: exit status 1" 1 $?
check "--jobs 3: counts" "200 50 25 3 12 6" "$(counts "$work/out2b")"
check "--jobs 3: malformed lines still reported with their line numbers" \
	"$(sed -n 's/^malformed //p' "$work/bad.txt" | tr '\n' ' ')" \
	"$(sed -n 's/.*events\.ndjson:\([0-9]*\): malformed: .*/\1/p' "$work/err2b" | tr '\n' ' ')"
check "--jobs 3: every event stored once" 200 \
	"$(psql -qAtX -c "SELECT count(*) FROM inbox.events WHERE source = 'billing-jobs'")"
"$pg_inbox" ingest -s x --jobs 0 >/dev/null 2>&1
check "--jobs 0: exit status 3" 3 $?

# 3. standard input, and - among files, into other sources
"$pg_inbox" ingest -s stdin-source <"$work/events.ndjson" >"$work/out3" 2>"$work/err3"
check "standard input: exit status 1" 1 $?
check "standard input: counts" "200 50 25 3 12 6" "$(counts "$work/out3")"
check "standard input: reported as stdin" 12 "$(grep -c 'stdin:[0-9]*: malformed' "$work/err3")"
head -100 "$work/events.ndjson" | grep '^{"id": "evt_' >"$work/clean.ndjson"
tail -1 "$work/clean.ndjson" | "$pg_inbox" ingest -s mixed "$work/clean.ndjson" - "$work/clean.ndjson" >"$work/out4" 2>"$work/err4"
check "files and - together, all good: exit status 0" 0 $?
clean=$(wc -l <"$work/clean.ndjson")
check "files and - together: counts" "$clean $((clean + 1)) 0 0 0 0" "$(counts "$work/out4")"
check "files and - together: three inputs" 1 "$(grep -c 'from 3 inputs' "$work/out4")"

# 4. --id-field with a dotted path
"$pg_inbox" ingest -s by-object --id-field data.object.id "$work/clean.ndjson" >"$work/out5" 2>&1
check "--id-field data.object.id: exit status 0" 0 $?
check "--id-field data.object.id: the id taken from the path" 1 \
	"$(psql -qAtX -c "SELECT count(*) FROM inbox.events WHERE source = 'by-object' AND event_id = 'in_7'")"

# 4b. --answers: one line per answered event, "line, id, status, id", appended
"$pg_inbox" ingest -s answers --batch 7 --answers "$work/answers" "$work/events.ndjson" >/dev/null 2>&1
check "--answers: exit status 1" 1 $?
check "--answers: a line per event answered (not per malformed or id-less line)" 278 "$(wc -l <"$work/answers")"
check "--answers: the statuses add up as in the summary" "200 50 25 3" \
	"$(for s in inserted duplicate conflict rejected; do awk -F'\t' -v s="$s" '$3 == s' "$work/answers" | wc -l; done | paste -sd' ')"
check "--answers: the first line" "$(printf '1\tevt_1\tinserted\t%s' \
	"$(psql -qAtX -c "SELECT id FROM inbox.events WHERE source = 'answers' AND event_id = 'evt_1'")")" \
	"$(head -1 "$work/answers")"
check "--answers: rejected lines with their line numbers and id 0" \
	"$(sed -n 's/^rejected \(.*\)/\1 0/p' "$work/bad.txt" | paste -sd' ')" \
	"$(awk -F'\t' '$3 == "rejected" {print $1, $4}' "$work/answers" | paste -sd' ')"
check "--answers: every other line has the stored event's id" 0 \
	"$(psql -qAtX -c "CREATE TEMP TABLE a (line int, key text, status text, id bigint)" \
		-c "\\copy a FROM '$work/answers'" \
		-c "SELECT count(*) FROM a LEFT JOIN inbox.events e ON e.source = 'answers' AND e.event_id = a.key
		    WHERE a.status <> 'rejected' AND e.id IS DISTINCT FROM a.id")"
"$pg_inbox" ingest -s answers --jobs 3 --batch 7 --answers "$work/answers" "$work/events.ndjson" >/dev/null 2>&1
check "--answers: a second run appends its answers, none inserted" "556 0" \
	"$(wc -l <"$work/answers") $(tail -278 "$work/answers" | awk -F'\t' '$3 == "inserted"' | wc -l)"
printf '{"id": "tab\\there\\\\x\\ny"}\n' >"$work/odd.ndjson"
"$pg_inbox" ingest -s answers-odd --answers "$work/odd-answers" "$work/odd.ndjson" >/dev/null 2>&1
check "--answers: an id with a tab, a backslash and a newline is escaped as COPY reads it" \
	$'1\ttab\\there\\\\x\\ny\tinserted' "$(cut -f1-3 "$work/odd-answers")"
check "--answers: and COPY reads it back as the stored id" 1 \
	"$(psql -qAtX -c "CREATE TEMP TABLE a (line int, key text, status text, id bigint)" \
		-c "\\copy a FROM '$work/odd-answers'" \
		-c "SELECT count(*) FROM a JOIN inbox.events e ON e.source = 'answers-odd' AND e.event_id = a.key AND e.id = a.id")"
"$pg_inbox" ingest -s x --answers "$work/no-such-dir/answers" "$work/clean.ndjson" >/dev/null 2>"$work/err"
check "--answers in a directory that does not exist: exit status 2" 2 $?
check "--answers in a directory that does not exist: says so" 1 "$(grep -c '^pg_inbox: error: could not open' "$work/err")"

# 5. a progress line on a terminal
script -qec "$pg_inbox ingest -s tty $work/clean.ndjson" /dev/null >"$work/tty" 2>&1
check "on a terminal: a progress line with the rate" 1 "$(grep -c 'events/s' "$work/tty")"

# 6. stats
"$pg_inbox" stats >"$work/stats" 2>&1
check "stats: exit status 0" 0 $?
check "stats: a header with the view's columns" 1 "$(grep -c '^ source *| pending *| processing *| done *| dead ' "$work/stats")"
check "stats: the billing row, 200 pending" 1 "$(grep -cE '^ billing +\| +200 \|' "$work/stats")"

# 7. help and usage errors
"$pg_inbox" ingest --help >"$work/help" 2>&1
check "ingest --help: exit status 0" 0 $?
check "ingest --help: names its options" 6 "$(grep -oE -- '--(source|id-field|batch|jobs|dbname|answers)' "$work/help" | sort -u | wc -l)"
"$pg_inbox" stats --help >/dev/null 2>&1
check "stats --help: exit status 0" 0 $?
"$pg_inbox" --help >/dev/null 2>&1
check "--help: exit status 0" 0 $?
"$pg_inbox" ingest "$work/clean.ndjson" >/dev/null 2>"$work/err"
check "ingest without --source: exit status 3" 3 $?
check "ingest without --source: says so" 1 "$(grep -c 'pg_inbox: error: --source is required' "$work/err")"
"$pg_inbox" ingest -s x --batch 0 >/dev/null 2>&1
check "--batch 0: exit status 3" 3 $?
"$pg_inbox" ingest -s x --no-such-option >/dev/null 2>&1
check "an unknown option: exit status 3" 3 $?
"$pg_inbox" frobnicate >/dev/null 2>&1
check "an unknown command: exit status 3" 3 $?
"$pg_inbox" >/dev/null 2>&1
check "no command: exit status 3" 3 $?

# 8. what stops a run
"$pg_inbox" ingest -s x -d "host=$work port=1" <"$work/clean.ndjson" >/dev/null 2>"$work/err"
check "cannot connect: exit status 2" 2 $?
check "cannot connect: says so" 1 "$(grep -c '^pg_inbox: error: could not connect' "$work/err")"
"$pg_inbox" ingest -s x "$work/no-such-file" >/dev/null 2>"$work/err"
check "a file that does not exist: exit status 2" 2 $?
psql -qX -d postgres -c "DROP DATABASE IF EXISTS inbox_command_noext" -c "CREATE DATABASE inbox_command_noext" 2>/dev/null
"$pg_inbox" ingest -s x -d dbname=inbox_command_noext "$work/clean.ndjson" >/dev/null 2>"$work/err"
check "a database without the extension: exit status 2" 2 $?
check "a database without the extension: a hint" 1 "$(grep -c 'hint: Is the extension installed' "$work/err")"
"$pg_inbox" stats -d dbname=inbox_command_noext >/dev/null 2>&1
check "stats without the extension: exit status 2" 2 $?

# 9. under valgrind: a run with every kind of line, and stats
if [ -n "$VALGRIND" ]; then
	# shellcheck disable=SC2086 # VALGRIND is a command line
	$VALGRIND "$pg_inbox" ingest -s valgrind --batch 50 --answers "$work/vg-answers" "$work/events.ndjson" >/dev/null 2>"$work/vg"
	check "valgrind: ingest has no memory errors or leaks" 1 $?
	grep -v '^pg_inbox: ' "$work/vg" | sed 's/^/# /' | head -40
	# shellcheck disable=SC2086
	$VALGRIND "$pg_inbox" ingest -s valgrind-jobs --batch 50 --jobs 2 "$work/events.ndjson" >/dev/null 2>"$work/vg"
	check "valgrind: ingest --jobs 2 has no memory errors or leaks" 1 $?
	grep -v '^pg_inbox: ' "$work/vg" | sed 's/^/# /' | head -40
	# shellcheck disable=SC2086
	$VALGRIND "$pg_inbox" stats >/dev/null 2>"$work/vg"
	check "valgrind: stats has no memory errors or leaks" 0 $?
fi

echo "1..$n"
