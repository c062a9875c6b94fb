# Sourced by client-crash.sh and client-faults.sh, after cluster.sh: the
# loads they put on the client library and the pg_inbox command, and the
# checks of the end state they share.
#
#   build_claimer                  compile claimer.c into $dir/claimer
#   make_input N FILE              N lines of NDJSON: new events, exact
#                                  redeliveries (every 10th line), changed
#                                  ones (every 50th), malformed lines (every
#                                  1000th) and lines without an id (1500th);
#                                  the valid keys go to FILE.keys
#   load_answers TABLE FILE...     --answers files into a new table
#   check_answers SOURCE TABLE     what the command was told is stored, once,
#                                  under the id it was told
#   check_complete SOURCE FILE     the stored keys are the input's valid keys
#   check_rerun SOURCE FILE        the same input again stores nothing new
#   check_worked SOURCE N OUT...   claimer outputs: every event done, each
#                                  told held-and-done at most once

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
pg_inbox=$root/client/pg_inbox

since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

build_claimer() {
	make -s -C "$root/client" PG_CONFIG="${PG_CONFIG:-pg_config}" libpginbox.a pg_inbox >/dev/null
	cc -std=c11 -Wall -Wextra -Werror -O2 -I"$root/client" -I"$("${PG_CONFIG:-pg_config}" --includedir)" \
		-o "$dir/claimer" "$root/test/stress/claimer.c" "$root/client/libpginbox.a" \
		-L"$("${PG_CONFIG:-pg_config}" --libdir)" -lpq
}

make_input() {
	awk -v n="$1" -v keys="$2.keys" 'BEGIN {
		k = 0
		for (i = 1; i <= n; i++) {
			if (i % 1000 == 0) { print "{\"id\": \"broken\", "; continue }
			if (i % 1500 == 0) { print "{\"type\": \"no id\"}"; continue }
			if (i % 50 == 0 && k > 0) { j = int(k / 2) + 1; v = -j }
			else if (i % 10 == 0 && k > 0) { j = int(k / 3) + 1; v = j }
			else { j = ++k; v = j; print "e" j >keys }
			printf "{\"id\": \"e%d\", \"type\": \"order.paid\", \"n\": %d, \"pad\": \"%s\"}\n", j, v, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		}
	}' >"$2"
}

load_answers() {
	local table=$1
	shift
	q -c "CREATE TABLE $table (line bigint, key text, status text, id bigint)"
	cat "$@" | q -c "COPY $table FROM STDIN"
}

check_answers() {		# check_answers SOURCE TABLE
	check "$1: every answer was inserted, duplicate or conflict" "0" \
		"$(q -c "SELECT count(*) FROM $2 WHERE status NOT IN ('inserted', 'duplicate', 'conflict')")"
	check "$1: every event the command was told was stored is there, under the id it was told" "0" \
		"$(q -c "SELECT count(*) FROM $2 a LEFT JOIN inbox.events e ON e.source = '$1' AND e.event_id = a.key
		         WHERE e.id IS DISTINCT FROM a.id")"
	check "$1: each stored key is there exactly once" "0" \
		"$(q -c "SELECT count(*) FROM (SELECT event_id FROM inbox.events WHERE source = '$1'
		         GROUP BY event_id HAVING count(*) > 1) x")"
}

check_complete() {		# check_complete SOURCE INPUT
	q -c "CREATE TABLE keys_$1 (key text)"
	q -c "COPY keys_$1 FROM STDIN" <"$2.keys"
	check "$1: the stored keys are the input's valid keys, each once" "$(wc -l <"$2.keys") 0 0" \
		"$(q -c "SELECT (SELECT count(*) FROM inbox.events WHERE source = '$1'),
		         (SELECT count(*) FROM keys_$1 k WHERE NOT EXISTS
		            (SELECT FROM inbox.events e WHERE e.source = '$1' AND e.event_id = k.key)),
		         (SELECT count(*) FROM inbox.events e WHERE e.source = '$1' AND NOT EXISTS
		            (SELECT FROM keys_$1 k WHERE k.key = e.event_id))" | tr '|' ' ')"
}

# check_rerun SOURCE INPUT ANSWERS_TABLE: the same input once more
check_rerun() {
	local before valid rc
	before=$(q -c "SELECT count(*) FROM inbox.events WHERE source = '$1'")
	valid=$(grep -c '"id": "e' "$2")
	rc=0
	"$pg_inbox" ingest -s "$1" --answers "$dir/rerun.$1" "$2" >"$dir/rerun.$1.out" 2>"$dir/rerun.$1.err" || rc=$?
	check "$1: the rerun ends with exit status 1 (the malformed and id-less lines)" 1 "$rc"
	load_answers "rerun_$1" "$dir/rerun.$1"
	check "$1: the rerun answers every valid line once, none inserted, each under the stored id" \
		"$valid $valid 0 0" \
		"$(q -c "SELECT count(*), count(DISTINCT line), count(*) FILTER (WHERE status NOT IN ('duplicate', 'conflict')),
		         count(*) FILTER (WHERE id IS DISTINCT FROM (SELECT e.id FROM inbox.events e
		                                 WHERE e.source = '$1' AND e.event_id = r.key))
		         FROM rerun_$1 r" | tr '|' ' ')"
	check "$1: and stores nothing new" "$before" \
		"$(q -c "SELECT count(*) FROM inbox.events WHERE source = '$1'")"
	if [ -n "${3:-}" ]; then
		check "$1: every line answered before is answered the same id again" "0" \
			"$(q -c "SELECT count(*) FROM $3 a JOIN rerun_$1 r USING (line) WHERE a.id <> r.id OR a.key <> r.key")"
	fi
}

# check_worked SOURCE N CLAIMER_OUTPUT...: the claimers ran until nothing was
# left, so every event is done; an event told done-and-held is told so once
check_worked() {
	local source=$1 n=$2
	shift 2
	q -c "CREATE TABLE worked_$source (id bigint, held text)"
	cat "$@" | awk '$1 == "DONE" {print $2 "\t" $3}' | q -c "COPY worked_$source FROM STDIN"
	check "$source: every event is done (none stays processing or pending)" "$n 0" \
		"$(q -c "SELECT count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state <> 'done')
		         FROM inbox.events WHERE source = '$source'" | tr '|' ' ')"
	check "$source: no event was told held-and-done twice" "0" \
		"$(q -c "SELECT count(*) FROM (SELECT id FROM worked_$source WHERE held = 't' GROUP BY id HAVING count(*) > 1) x")"
	check "$source: every event told held-and-done is done" "0" \
		"$(q -c "SELECT count(*) FROM worked_$source w LEFT JOIN inbox.events e USING (id)
		         WHERE w.held = 't' AND e.state IS DISTINCT FROM 'done'")"
	check "$source: every done event had a completion answered (held, not held on a retry, or unknown: lost in COMMIT)" "0" \
		"$(q -c "SELECT count(*) FROM inbox.events e WHERE source = '$source'
		         AND NOT EXISTS (SELECT FROM worked_$source w WHERE w.id = e.id)")"
}
