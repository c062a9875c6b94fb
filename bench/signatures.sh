#!/bin/bash
# Verified ingest against plain ingest, with pgbench, on a throw-away
# cluster (pg_virtualenv).  Not part of make test; run it with the
# extension installed from this tree:
#
#   make install && bench/signatures.sh
#
# Contenders, one statement per transaction, new keys, pgbench -M prepared
# -c 2 -j 2, synchronous_commit off (so that the CPU cost shows, not WAL
# flushes):
#   plain     SELECT * FROM inbox.ingest_raw('plain', key, body, headers)
#   verified  SELECT * FROM inbox.ingest_verified('signed', body, headers),
#             source 'signed' with scheme github and one secret
# Both pass the same headers (X-GitHub-Delivery = the key, and the body's
# X-Hub-Signature-256, computed once: GitHub signs the body only, so one
# signature serves every key); ingest_raw stores them too.  The verified
# call HMACs the whole body, as the Standard Webhooks and Stripe schemes do
# (they add only the id and timestamp to it).  Bodies: 1 kB and 64 kB JSON.
# Each contender runs SIG_ROUNDS times for SIG_SECONDS, the order turning
# from round to round; the median tps counts.
#
# Then the HMAC alone: SIG_HMAC_CALLS calls of inbox.verify_github_signature
# over each body, timed in the server; the cost per kB is the difference of
# the two per-call times over the difference of the sizes (the arguments
# come from a subquery, so that the planner cannot fold the IMMUTABLE call
# into one constant).
#
# Prints one table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

PGVERSION=${PGVERSION:-15}
export SIG_SECONDS=${SIG_SECONDS:-10}
export SIG_ROUNDS=${SIG_ROUNDS:-3}
export SIG_HMAC_CALLS=${SIG_HMAC_CALLS:-2000}

if [ "${1:-}" != --in-cluster ]; then
	exec pg_virtualenv -t -v "$PGVERSION" -o shared_preload_libraries=pg_inbox \
		-o synchronous_commit=off -o autovacuum=off "$0" --in-cluster
fi

q() { psql -XqAt -v ON_ERROR_STOP=1 "$@"; }
# sign BODY: the X-Hub-Signature-256 of a body (psql interpolates variables
# only in what it reads, not in -c)
sign() { echo "SELECT 'sha256=' || encode(hmac(:'b', 'bench secret', 'sha256'), 'hex')" | q -v b="$1"; }
export PGDATABASE=sigbench
createdb sigbench
q -c 'CREATE EXTENSION pg_inbox' -c 'CREATE EXTENSION pgcrypto'
q -c "INSERT INTO inbox.sources (source, signature_scheme, max_payload_bytes) VALUES ('signed', 'github', 1048576), ('plain', NULL, 1048576)" \
  -c "INSERT INTO inbox.source_secrets (source, key_id, secret) VALUES ('signed', 'k1', 'bench secret')"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/plain.sql" <<'SQL'
\set k random(1, 9000000000000000)
SELECT status FROM inbox.ingest_raw('plain', :k::text, :body::text, jsonb_build_object('X-GitHub-Delivery', :k::text, 'X-Hub-Signature-256', :sig::text));
SQL
cat >"$work/verified.sql" <<'SQL'
\set k random(1, 9000000000000000)
SELECT status FROM inbox.ingest_verified('signed', :body::text, jsonb_build_object('X-GitHub-Delivery', :k::text, 'X-Hub-Signature-256', :sig::text));
SQL

body_of() {	# bytes: a JSON object of about that size, on one line
	q -c "SELECT json_build_object('id', 'evt', 'type', 'bench', 'data', repeat('x', $1 - 40))::text"
}

run() {	# contender body sig -> tps
	pgbench -n -M prepared -c 2 -j 2 -T "$SIG_SECONDS" -D body="$2" -D sig="$3" \
		-f "$work/$1.sql" 2>&1 | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-6s %12s %12s %7s\n' body plain_tps verified_tps ratio
for size in 1024 65536; do
	body=$(body_of "$size")
	sig=$(sign "$body")
	[ "$(echo "SELECT status FROM inbox.ingest_verified('signed', :'b', jsonb_build_object('X-GitHub-Delivery', 'check', 'X-Hub-Signature-256', :'s'))" |
		q -v b="$body" -v s="$sig")" = inserted ] ||
		{ echo "signatures: the verified contender does not verify" >&2; exit 1; }
	run plain "$body" "$sig" >/dev/null		# warm-up
	run verified "$body" "$sig" >/dev/null
	: >"$work/plain.tps"
	: >"$work/verified.tps"
	for r in $(seq "$SIG_ROUNDS"); do
		if [ $((r % 2)) = 1 ]; then order="plain verified"; else order="verified plain"; fi
		for c in $order; do
			run "$c" "$body" "$sig" >>"$work/$c.tps"
		done
		q -c 'TRUNCATE inbox.events' >/dev/null
	done
	p=$(median <"$work/plain.tps")
	v=$(median <"$work/verified.tps")
	printf '%-6s %12.0f %12.0f %7.2f\n' "$((size / 1024))kB" "$p" "$v" "$(echo "$v / $p" | bc -l)"
done

# the HMAC alone, in the server
for size in 1024 65536; do
	body=$(body_of "$size")
	sig=$(sign "$body")
	q -v b="$body" -v s="$sig" -v n="$SIG_HMAC_CALLS" >"$work/us.$size" <<'SQL'
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT count(*) FILTER (WHERE inbox.verify_github_signature(x.k, x.b, x.s))
FROM generate_series(1, :n), (SELECT 'bench secret'::text AS k, :'b'::text AS b, :'s'::text AS s OFFSET 0) x \g /dev/null
SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1e6 / :n)::numeric, 2);
SQL
done
us1=$(tail -1 "$work/us.1024")
us64=$(tail -1 "$work/us.65536")
echo "verify_github_signature: ${us1} us per call at 1 kB, ${us64} us at 64 kB; HMAC-SHA256 $(echo "scale=3; ($us64 - $us1) / 63" | bc -l) us per kB"
