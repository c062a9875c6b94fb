#!/bin/bash
# In the root of another major (tools/run-major): the dump that the machine's
# own major made of populate.sql's database (PG_INBOX_DUMP) restores, and the
# restored database answers duplicates, conflicts and claims as before.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

db=inbox_majors_restored
trap 'dropdb --if-exists $db 2>/dev/null' EXIT
[ -r "${PG_INBOX_DUMP:-}" ] || { echo "Bail out! no dump in PG_INBOX_DUMP"; exit 1; }
echo "1..2"
echo "# dump made by: $(sed -n 's/^-- Dumped by pg_dump version /pg_dump /p' "$PG_INBOX_DUMP")"
restore 1 "$PG_INBOX_DUMP" $db
answers 2 $db "the restored database answers as before"
