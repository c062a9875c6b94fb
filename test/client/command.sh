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

# 2b. three connections at once: what --jobs keeps (inserted, rejected,
# malformed, no id, and the sum of duplicate and conflict; the split of that
# sum depends on which version of an event commits first)
"$pg_inbox" ingest --source billing-jobs --jobs 3 --batch 7 "$work/events.ndjson" >"$work/out2b" 2>"$work/err2b"
check "--jobs 3: exit status 1" 1 $?
check "--jobs 3: counts (duplicate + conflict as one)" "200 75 3 12 6" \
	"$(count inserted "$work/out2b") $(( $(count duplicate "$work/out2b") + $(count conflict "$work/out2b") ))\
 $(count rejected "$work/out2b") $(count malformed "$work/out2b") $(count 'no id' "$work/out2b")"
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
check "--answers in a directory that does not exist: exit status 3 (before connecting)" 3 $?
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
check "ingest --help: names its options" 10 "$(grep -oE -- '--(source|id-field|batch|jobs|dbname|answers|warnings|quiet|raw|no-raw)' "$work/help" | sort -u | wc -l)"
check "ingest --help: names the exit status of an interrupted run" 1 "$(grep -c '130 interrupted by SIGINT; 143 interrupted by SIGTERM' "$work/help")"
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
psql -qX -d postgres -c "DROP DATABASE IF EXISTS inbox_command_noext" -c "CREATE DATABASE inbox_command_noext" 2>/dev/null
"$pg_inbox" ingest -s x -d dbname=inbox_command_noext "$work/clean.ndjson" >/dev/null 2>"$work/err"
check "a database without the extension: exit status 2" 2 $?
check "a database without the extension: a hint" 1 "$(grep -c 'hint: Is the extension installed' "$work/err")"
"$pg_inbox" stats -d dbname=inbox_command_noext >/dev/null 2>&1
check "stats without the extension: exit status 2" 2 $?

# 8b. -d takes what psql's -d takes: a name, a key=value string, a URI
# (PGDATABASE points elsewhere, so the name must be the one that is used)
psql -qX -d postgres -c "DROP DATABASE IF EXISTS inbox_command_forms" -c "CREATE DATABASE inbox_command_forms" 2>/dev/null
psql -qX -d inbox_command_forms -c 'CREATE EXTENSION pg_inbox'
i=0
for form in "-d inbox_command_forms" "--dbname=inbox_command_forms" \
	"-d dbname=inbox_command_forms" "--dbname=dbname=inbox_command_forms" \
	"-d postgresql:///inbox_command_forms" "--dbname=postgresql:///inbox_command_forms?application_name=forms"; do
	i=$((i + 1))
	# shellcheck disable=SC2086 # $form is two words or one
	"$pg_inbox" ingest -s "forms-$i" $form "$work/clean.ndjson" >/dev/null 2>"$work/err"
	check "ingest $form: exit status 0" "0 " "$? $(head -1 "$work/err")"
	check "ingest $form: stored in that database" "$clean" \
		"$(psql -qAtX -d inbox_command_forms -c "SELECT count(*) FROM inbox.events WHERE source = 'forms-$i'")"
	# shellcheck disable=SC2086
	"$pg_inbox" stats $form >"$work/stats" 2>"$work/err"
	check "stats $form: exit status 0" "0 " "$? $(head -1 "$work/err")"
	check "stats $form: that database's rows" 1 "$(grep -cE "^ forms-$i +\\| +$clean \\|" "$work/stats")"
done

# 8c. what is checked before connecting (-d names a server that is not
# there: a check that connected first would exit 2)
nowhere="host=$work port=1"
"$pg_inbox" ingest -s "" -d "$nowhere" "$work/clean.ndjson" >/dev/null 2>"$work/err"
check "--source empty: exit status 3, before connecting" "3 1" "$? $(grep -c '^pg_inbox: error: --source must be 1 to 63 bytes long, not 0$' "$work/err")"
long64=$(printf '%064d' 0)
"$pg_inbox" ingest -s "$long64" -d "$nowhere" "$work/clean.ndjson" >/dev/null 2>"$work/err"
check "--source of 64 bytes: exit status 3, before connecting" "3 1" "$? $(grep -c 'error: --source must be 1 to 63 bytes long, not 64$' "$work/err")"
"$pg_inbox" ingest -s "${long64:1}" "$work/clean.ndjson" >/dev/null 2>&1
check "--source of 63 bytes: taken" "0 $clean" "$? $(psql -qAtX -c "SELECT count(*) FROM inbox.events WHERE source = '${long64:1}'")"
"$pg_inbox" ingest -s x -d "$nowhere" "$work/no-such-file" >/dev/null 2>"$work/err"
check "a file that does not exist: exit status 3, before connecting" "3 1" \
	"$? $(grep -c "^pg_inbox: error: could not open \"$work/no-such-file\": No such file or directory\$" "$work/err")"
"$pg_inbox" ingest -s late-missing "$work/clean.ndjson" "$work/no-such-file" >/dev/null 2>&1
check "a missing second file: exit status 3, and the first one was not ingested" "3 0" \
	"$? $(psql -qAtX -c "SELECT count(*) FROM inbox.events WHERE source = 'late-missing'")"
"$pg_inbox" ingest -s x -d "$nowhere" "$work" >/dev/null 2>"$work/err"
check "a directory: exit status 3, before connecting" "3 1" "$? $(grep -c 'error: could not read .*: it is a directory' "$work/err")"
"$pg_inbox" ingest -s x -d "$nowhere" --warnings "$work/no-such-dir/w" "$work/clean.ndjson" >/dev/null 2>"$work/err"
check "--warnings in a directory that does not exist: exit status 3, before connecting" "3 1" \
	"$? $(grep -c '^pg_inbox: error: could not open .* (--warnings): ' "$work/err")"

# inputs that cannot be opened twice keep the descriptor of their check:
# a fifo its writer writes once, a pipe as bash's <(...) gives it
mkfifo "$work/once"
cat "$work/clean.ndjson" >"$work/once" &
"$pg_inbox" ingest -s fifo-once "$work/once" >"$work/out" 2>&1
check "a fifo written once: every line read" "0 $clean" "$? $(count inserted "$work/out")"
wait
"$pg_inbox" ingest -s subst <(cat "$work/clean.ndjson") >"$work/out" 2>&1
check "a pipe as <(...): every line read" "0 $clean" "$? $(count inserted "$work/out")"

# 8d. a UTF-8 byte order mark at the start of a file, and of standard input
printf '\357\273\277{"id": "bom-1"}\n{"id": "bom-2"}\n' >"$work/bom.ndjson"
"$pg_inbox" ingest -s bom "$work/bom.ndjson" >"$work/out" 2>"$work/err"
check "a file with a byte order mark: exit status 0, both stored" "0 2 0" \
	"$? $(count inserted "$work/out") $(count malformed "$work/out")"
"$pg_inbox" ingest -s bom-stdin <"$work/bom.ndjson" >"$work/out" 2>"$work/err"
check "standard input with a byte order mark: exit status 0, both stored" "0 2" "$? $(count inserted "$work/out")"
check "the event ids do not hold the mark" "bom-1 bom-2" \
	"$(psql -qAtX -c "SELECT string_agg(event_id, ' ' ORDER BY event_id) FROM inbox.events WHERE source = 'bom'")"
printf '{"id": "mid"}\n\357\273\277{"id": "bom-later"}\n' >"$work/bom-later.ndjson"
"$pg_inbox" ingest -s bom-later "$work/bom-later.ndjson" >"$work/out" 2>"$work/err"
check "a byte order mark after the first line is malformed" "1 1" "$? $(count malformed "$work/out")"

# 8e. --quiet and --warnings
"$pg_inbox" ingest -q -s quiet "$work/events.ndjson" >"$work/out" 2>"$work/err"
check "--quiet: exit status 1, the summary, nothing on stderr" "1 200 50 25 3 12 6 0" \
	"$? $(counts "$work/out") $(wc -l <"$work/err")"
script -qec "$pg_inbox ingest --quiet -s quiet-tty $work/clean.ndjson" /dev/null >"$work/tty" 2>&1
check "--quiet on a terminal: no progress line" 0 "$(grep -c 'events/s;' "$work/tty")"
"$pg_inbox" ingest -s warnings --warnings "$work/warnings" "$work/events.ndjson" >"$work/out" 2>"$work/err"
check "--warnings: exit status 1, nothing on stderr" "1 0" "$? $(wc -l <"$work/err")"
check "--warnings: the file has the lines stderr would have had" \
	"$(sed 's/^\(pg_inbox: warning: [^:]*:[0-9]*: [a-z ]*\):.*/\1/' "$work/err1" | sort)" \
	"$(sed 's/^\(pg_inbox: warning: [^:]*:[0-9]*: [a-z ]*\):.*/\1/' "$work/warnings" | sort)"
"$pg_inbox" ingest -q -s warnings-q --warnings "$work/warnings-q" "$work/events.ndjson" >/dev/null 2>"$work/err"
check "--quiet --warnings: the file still has them, stderr nothing" "$(wc -l <"$work/warnings") 0" \
	"$(wc -l <"$work/warnings-q") $(wc -l <"$work/err")"
"$pg_inbox" ingest -q -s x -d "$nowhere" "$work/clean.ndjson" >/dev/null 2>"$work/err"
check "--quiet: errors are still printed" 1 "$(grep -c '^pg_inbox: error: could not connect' "$work/err")"

# 8f. the server's notices and warnings, and a backend terminated between
# batches: everything on stderr is prefixed
psql -qX -c "CREATE FUNCTION public.noisy() RETURNS trigger LANGUAGE plpgsql AS \$\$
	BEGIN IF NEW.source = 'noisy' AND NEW.event_id = 'evt_3' THEN
		RAISE NOTICE 'noisy notice'; RAISE WARNING 'noisy warning' USING HINT = 'A hint.'; END IF;
	RETURN NEW; END \$\$" \
	-c "CREATE TRIGGER noisy BEFORE INSERT ON inbox.events FOR EACH ROW EXECUTE FUNCTION public.noisy()"
"$pg_inbox" ingest -s noisy "$work/clean.ndjson" >/dev/null 2>"$work/err"
check "server notices: exit status 0" 0 $?
check "server notices: printed, prefixed" \
	"pg_inbox: notice: from the server: noisy notice|pg_inbox: warning: from the server: noisy warning|pg_inbox: hint: A hint." \
	"$(paste -sd'|' "$work/err")"
"$pg_inbox" ingest -q -s noisy-quiet "$work/clean.ndjson" >/dev/null 2>"$work/err"
check "server notices with --quiet: none" 0 "$(wc -l <"$work/err")"
psql -qX -c "DROP TRIGGER noisy ON inbox.events"

# 8g. SIGINT and SIGTERM.  30,000 events, one a line, ids in line order.
seq 1 30000 | awk '{ printf "{\"id\": \"ev_%d\", \"n\": %d}\n", $1, $1 }' >"$work/big.ndjson"
stored() { psql -qAtX -c "SELECT count(*) FROM inbox.events WHERE source = '$1'"; }
# no gap: the events stored are exactly ev_1 .. ev_N
stored_prefix() { psql -qAtX -c "SELECT count(*) = coalesce(max(substr(event_id, 4)::int), 0) FROM inbox.events WHERE source = '$1'"; }
resume_line() { sed -n 's/^resume from line \([0-9]*\) of .*/\1/p' "$1"; }
wait_for() {		# wait_for SQL VALUE: up to 30 s
	for _ in $(seq 300); do
		[ "$(psql -qAtX -c "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	echo "# timed out waiting for: $1 = $2"
}

# (1) a batch in flight: a trigger makes the batch of ev_5500 sleep; SIGINT
# then.  That batch is finished, nothing after it is sent.
psql -qX -c "CREATE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS \$\$
	BEGIN IF NEW.source LIKE 'sig-%' AND NEW.event_id = 'ev_5500' THEN PERFORM pg_sleep(3); END IF;
	RETURN NEW; END \$\$" \
	-c "CREATE TRIGGER slow BEFORE INSERT ON inbox.events FOR EACH ROW EXECUTE FUNCTION public.slow()"
for jobs in 1 3; do
	src=sig-int-$jobs
	# (a job started with & ignores SIGINT, unless told otherwise)
	env --default-signal=INT "$pg_inbox" ingest -s "$src" --jobs "$jobs" "$work/big.ndjson" >"$work/out" 2>"$work/err" &
	pid=$!
	wait_for "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'" 1
	kill -INT "$pid"
	wait "$pid"
	check "SIGINT, --jobs $jobs: exit status 130" 130 $?
	check "SIGINT, --jobs $jobs: the summary says so" 1 "$(grep -c '^source "'"$src"'": .*, interrupted by SIGINT$' "$work/out")"
	resume=$(resume_line "$work/out")
	check "SIGINT, --jobs $jobs: the batch in flight was finished, the summary counts what is stored" \
		"$(stored "$src") $(stored "$src")" "$(count inserted "$work/out") $((resume - 1))"
	check "SIGINT, --jobs $jobs: the batch of the sleeping event was stored" t \
		"$(psql -qAtX -c "SELECT count(*) = 1 FROM inbox.events WHERE source = '$src' AND event_id = 'ev_5500'")"
	check "SIGINT, --jobs $jobs: stopped early, every line before the resume line stored, none after" "t t" \
		"$([ "$resume" -lt 30000 ] && echo t) $(stored_prefix "$src")"
	tail -n +"$resume" "$work/big.ndjson" | "$pg_inbox" ingest -s "$src" --jobs "$jobs" >"$work/out2" 2>&1
	check "SIGINT, --jobs $jobs: resuming from the line completes the set, nothing twice" "0 30000 0 30000" \
		"$? $(( $(count inserted "$work/out2") + resume - 1 )) $(count duplicate "$work/out2") $(stored "$src")"
done
# SIGINT ignored from the start (a job run with & by a shell): it stays ignored
"$pg_inbox" ingest -s sig-ignored "$work/big.ndjson" >"$work/out" 2>"$work/err" &
pid=$!
wait_for "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'" 1
kill -INT "$pid"
wait "$pid"
check "SIGINT ignored from the start: stays ignored, the run completes" "0 30000" "$? $(count inserted "$work/out")"
psql -qX -c "DROP TRIGGER slow ON inbox.events"

# (2) reading a slow standard input (a fifo): SIGTERM while waiting for
# more.  Before that, the backend is terminated while idle between batches:
# the next batch goes to a new connection, and its FATAL is printed prefixed.
mkfifo "$work/fifo"
"$pg_inbox" ingest -s sig-term <"$work/fifo" >"$work/out" 2>"$work/err" &
pid=$!
exec 3>"$work/fifo"
head -n 1500 "$work/big.ndjson" >&3
wait_for "SELECT count(*) FROM inbox.events WHERE source = 'sig-term'" 1000
psql -qAtX -c "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
	WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%ingest_many%'" >/dev/null
sed -n '1501,2500p' "$work/big.ndjson" >&3
wait_for "SELECT count(*) FROM inbox.events WHERE source = 'sig-term'" 2000
kill -TERM "$pid"
wait "$pid"
check "SIGTERM while reading a fifo: exit status 143" 143 $?
exec 3>&-
check "SIGTERM: the batch being filled was not sent; resume from the line after the last stored" \
	"2000 2001 2000 t" "$(count inserted "$work/out") $(resume_line "$work/out") $(stored sig-term) $(stored_prefix sig-term)"
check "SIGTERM: resume from line 2001 of stdin" 1 "$(grep -c '^resume from line 2001 of stdin: ' "$work/out")"
check "a backend terminated between batches: said once, prefixed" 1 \
	"$(grep -c '^pg_inbox: notice: the server ended a connection: terminating connection due to administrator command (SQLSTATE 57P01)$' "$work/err")"
check "nothing unprefixed on stderr" "" "$(grep -v '^pg_inbox: ' "$work/err")"
tail -n +2001 "$work/big.ndjson" | "$pg_inbox" ingest -s sig-term >"$work/out2" 2>&1
check "SIGTERM: resuming completes the set" "0 28000 30000 t" \
	"$? $(count inserted "$work/out2") $(stored sig-term) $(stored_prefix sig-term)"

# (3) a signal before a line was read: resume from the first line
mkfifo "$work/fifo2"
env --default-signal=INT "$pg_inbox" ingest -s sig-early "$work/big.ndjson" "$work/fifo2" >"$work/out" 2>"$work/err" &
pid=$!
exec 4>"$work/fifo2"
wait_for "SELECT count(*) FROM inbox.events WHERE source = 'sig-early'" 30000
kill -INT "$pid"
wait "$pid"
check "SIGINT while waiting for the second input: exit status 130" 130 $?
exec 4>&-
check "SIGINT while waiting for the second input: resume from its first line" 1 \
	"$(grep -c "^resume from line 1 of $work/fifo2: " "$work/out")"

# (4) a thread that cannot be started (ulimit -u as nobody): the run stops
# before reading, with its summary
if [ "$(id -u)" = 0 ] && [ -z "$(ps -u nobody -o pid=)" ]; then
	runuser -u nobody -- bash -c "ulimit -u 1 && exec $pg_inbox ingest -s threads --jobs 3" \
		<"$work/clean.ndjson" >"$work/out" 2>"$work/err"
	check "a thread that cannot be started: exit status 2, said so" "2 1" \
		"$? $(grep -c '^pg_inbox: error: could not start a thread: ' "$work/err")"
	check "a thread that cannot be started: nothing sent, the summary printed" "0 1" \
		"$(stored threads) $(grep -c '^resume from line 1 of stdin: ' "$work/out")"
else
	n=$((n + 2)); echo "ok $((n - 1)) # SKIP not root, or nobody runs processes"; echo "ok $n # SKIP"
fi

# 8h. a line the client's check passes but jsonb cannot hold (a number out
# of numeric's range): by default the batch jsonb refused goes again to
# inbox.ingest_raw_many; --raw sends every batch there; --no-raw never
printf '{"id": "big-1"}\n{"id": "big-2", "n": 1e1000000}\n{"id": "big-3"}\n' >"$work/bignum.ndjson"
"$pg_inbox" ingest -s bignum "$work/bignum.ndjson" >"$work/out" 2>"$work/err"
check "default: a body jsonb cannot take is rejected (its batch sent again raw), the rest stored; exit status 1" "1 2 1 2" \
	"$? $(count inserted "$work/out") $(count rejected "$work/out") $(stored bignum)"
check "default: the rejection says why, with its line" 1 \
	"$(grep -c 'bignum.ndjson:2: rejected: .*numeric' "$work/err")"
"$pg_inbox" ingest --raw -s bignum-raw "$work/bignum.ndjson" >/dev/null 2>&1
check "--raw: the same" "1 2" "$? $(stored bignum-raw)"
"$pg_inbox" ingest --no-raw -s bignum-jsonb "$work/bignum.ndjson" >"$work/out" 2>"$work/err"
check "--no-raw (jsonb[] batch): the whole batch fails, the run stops; exit status 2" "2 0 1" \
	"$? $(stored bignum-jsonb) $(grep -c '^resume from line 1 of .*bignum.ndjson: ' "$work/out")"
# an extension without inbox.ingest_raw_many (0.3.0)
psql -qX -d postgres -c "DROP DATABASE IF EXISTS inbox_command_old" -c "CREATE DATABASE inbox_command_old" 2>/dev/null
psql -qX -d inbox_command_old -c "CREATE EXTENSION pg_inbox VERSION '0.3.0'"
"$pg_inbox" ingest -s old -d inbox_command_old "$work/clean.ndjson" >"$work/out" 2>"$work/err"
check "an extension without the raw batch: the default works, nothing said" "0 $clean 0" \
	"$? $(count inserted "$work/out") $(wc -l <"$work/err")"
"$pg_inbox" ingest --raw -s old-raw -d inbox_command_old "$work/clean.ndjson" >/dev/null 2>"$work/err"
check "an extension without the raw batch: --raw stops before sending, exit status 2, with a hint" "2 1" \
	"$? $(grep -c '^pg_inbox: hint: Run ALTER EXTENSION pg_inbox UPDATE' "$work/err")"
"$pg_inbox" ingest -s old-big -d inbox_command_old "$work/bignum.ndjson" >/dev/null 2>"$work/err"
check "an extension without the raw batch: a batch jsonb refuses stops the run" 2 $?

# 9. under valgrind: a run with every kind of line, and stats
# 9. --verified: recorded signed deliveries, github scheme; the signature
# computed independently:
#   printf '%s' '{"action":"opened","number":1}' | openssl dgst -sha256 -hmac "It's a Secret to Everybody"
psql -qX -c "INSERT INTO inbox.sources (source, signature_scheme) VALUES ('gh-cmd', 'github')" \
	-c "INSERT INTO inbox.source_secrets (source, key_id, secret) VALUES ('gh-cmd', 'k1', 'It''s a Secret to Everybody')"
sig=sha256=1a763b1f352d220a314db46b42b1cbc50b0032b00015fd3d038d42c3666b7217
good='{"headers": {"X-Hub-Signature-256": "'$sig'", "X-GitHub-Delivery": "d-1"}, "body": "{\"action\":\"opened\",\"number\":1}"}'
{
	echo "$good"
	echo '{"headers": {"X-Hub-Signature-256": "'$sig'", "X-GitHub-Delivery": "d-2"}, "body": "{\"action\":\"opened\",\"number\":2}"}'
	echo "$good"
	echo '{"body": "{\"action\":\"opened\",\"number\":1}"}'
	echo '{"headers": {}, "body": 5}'
} >"$work/deliveries.ndjson"
"$pg_inbox" ingest --verified -s gh-cmd "$work/deliveries.ndjson" >"$work/out9" 2>"$work/err9"
check "--verified: exit status 1 (a tampered, an unsigned and a malformed line)" 1 $?
check "--verified: counts by outcome" "1 1 0 2 1 0" "$(counts "$work/out9")"
check "--verified: rejected lines reported with their line numbers and reasons" \
	"2 bad_signature 4 no_signature" \
	"$(sed -n 's/.*deliveries\.ndjson:\([0-9]*\): rejected (\([a-z_]*\)): .*/\1 \2/p' "$work/err9" | paste -sd' ')"
check "--verified: the malformed line reported" 1 "$(grep -c 'deliveries\.ndjson:5: malformed: field "body" is not a string' "$work/err9")"
check "--verified: one event stored, with its key id" "d-1 k1" \
	"$(psql -qXAt -F' ' -c "SELECT event_id, verified_key FROM inbox.events WHERE source = 'gh-cmd'")"
head -n 1 "$work/deliveries.ndjson" | "$pg_inbox" ingest --verified -s gh-cmd >"$work/out9b" 2>"$work/err9b"
check "--verified: a redelivered line alone: exit status 0" 0 $?
check "--verified: a redelivered line alone: duplicate" "0 1 0 0 0 0" "$(counts "$work/out9b")"
"$pg_inbox" ingest --verified --raw -s gh-cmd "$work/deliveries.ndjson" >/dev/null 2>&1
check "--verified with --raw: usage error" 3 $?

if [ -n "$VALGRIND" ]; then
	# shellcheck disable=SC2086 # VALGRIND is a command line
	$VALGRIND "$pg_inbox" ingest -s valgrind --batch 50 --answers "$work/vg-answers" "$work/events.ndjson" >/dev/null 2>"$work/vg"
	check "valgrind: ingest has no memory errors or leaks" 1 $?
	grep -v '^pg_inbox: ' "$work/vg" | sed 's/^/# /' | head -40
	# shellcheck disable=SC2086
	$VALGRIND "$pg_inbox" ingest -s valgrind-jobs --batch 50 --jobs 2 --no-raw "$work/events.ndjson" >/dev/null 2>"$work/vg"
	check "valgrind: ingest --jobs 2 --no-raw has no memory errors or leaks" 1 $?
	grep -v '^pg_inbox: ' "$work/vg" | sed 's/^/# /' | head -40
	# shellcheck disable=SC2086
	$VALGRIND "$pg_inbox" ingest -q -s valgrind-warnings --warnings "$work/vg-warnings" "$work/bom.ndjson" "$work/events.ndjson" >/dev/null 2>"$work/vg"
	check "valgrind: ingest --quiet --warnings has no memory errors or leaks" 1 $?
	grep -v '^pg_inbox: ' "$work/vg" | sed 's/^/# /' | head -40
	# interrupted while waiting for standard input (valgrind runs the program in its own process)
	mkfifo "$work/vg-fifo"
	# shellcheck disable=SC2086
	env --default-signal=INT $VALGRIND "$pg_inbox" ingest -s valgrind-signal --jobs 2 --batch 100 <"$work/vg-fifo" >/dev/null 2>"$work/vg" &
	pid=$!
	exec 3>"$work/vg-fifo"
	head -n 250 "$work/big.ndjson" >&3
	wait_for "SELECT count(*) FROM inbox.events WHERE source = 'valgrind-signal'" 200
	kill -INT "$pid"
	wait "$pid"
	check "valgrind: an interrupted ingest has no memory errors or leaks (exit status 130)" 130 $?
	exec 3>&-
	grep -v '^pg_inbox: ' "$work/vg" | sed 's/^/# /' | head -40
	# shellcheck disable=SC2086
	$VALGRIND "$pg_inbox" ingest --verified -s gh-cmd "$work/deliveries.ndjson" >/dev/null 2>"$work/vg"
	check "valgrind: ingest --verified has no memory errors or leaks (exit status 1)" 1 $?
	grep -v '^pg_inbox: ' "$work/vg" | sed 's/^/# /' | head -40
	# shellcheck disable=SC2086
	$VALGRIND "$pg_inbox" stats >/dev/null 2>"$work/vg"
	check "valgrind: stats has no memory errors or leaks" 0 $?
fi

echo "1..$n"
