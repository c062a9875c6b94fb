#!/bin/bash
# The database of test/majors/populate.sql, dumped: its answers to
# duplicates, conflicts and claims (test/majors/answers.out) are the same on
# the database and on its restore.  With PG_INBOX_DUMP set, the dump is kept
# there: tools/run-tests restores it on the other majors (test/majors/restore.sh).
# Runs against the cluster in PGHOST/PGPORT (pg_virtualenv); prints TAP.
set -euo pipefail
. "$(dirname "$0")/../majors/lib.sh"

src=inbox_majors_src
dst=inbox_majors_dst
dump=${PG_INBOX_DUMP:-$(mktemp)}
trap '[ -n "${PG_INBOX_DUMP:-}" ] || rm -f "$dump"; dropdb --if-exists $src; dropdb --if-exists $dst' EXIT

echo "1..4"
dropdb --if-exists $src 2>/dev/null
createdb $src
if psql -qX -d $src -f "$dir/populate.sql" >/dev/null && pg_dump $src >"$dump"; then
	echo "ok 1 - populated and dumped"
else
	echo "not ok 1 - populated and dumped"
fi
restore 2 "$dump" $dst
answers 3 $src "the database answers as answers.out says"
answers 4 $dst "its restore answers the same"
