#!/bin/bash
# examples/demo.sql runs as its first lines say: in a new, empty database,
# and in one that has the extension already; it shows every answer of ingest.
# Runs against the cluster in PGHOST/PGPORT (pg_virtualenv); prints TAP.
set -euo pipefail
cd "$(dirname "$0")/../.."

db=inbox_doc_demo
trap 'dropdb --if-exists $db' EXIT
echo "1..3"
dropdb --if-exists $db 2>/dev/null
createdb $db
if out=$(psql -X -v ON_ERROR_STOP=1 -d $db -f examples/demo.sql 2>&1); then
	echo "ok 1 - demo.sql runs in an empty database"
else
	echo "not ok 1 - demo.sql runs in an empty database"
	echo "$out" | sed 's/^/#   /' | tail -20
fi
missing=
for status in inserted duplicate conflict rejected; do
	grep -q "^ $status " <<<"$out" || missing="$missing $status"
done
[ -z "$missing" ] && echo "ok 2 - demo.sql shows every answer of ingest" ||
	echo "not ok 2 - demo.sql shows every answer of ingest (missing:$missing)"
dropdb $db
createdb $db
psql -qX -d $db -c 'CREATE EXTENSION pg_inbox'
if out=$(psql -X -v ON_ERROR_STOP=1 -d $db -f examples/demo.sql 2>&1); then
	echo "ok 3 - demo.sql runs in a database that has the extension"
else
	echo "not ok 3 - demo.sql runs in a database that has the extension"
	echo "$out" | sed 's/^/#   /' | tail -20
fi
