#!/bin/bash
# The SQL of the documentation runs as written: every ```sql block of
# README.md and docs/*.md, top to bottom, in a fresh database per file, and
# the results it shows are what psql prints (test/docs/doc_sql.py says how).
# Runs against the cluster in PGHOST/PGPORT (pg_virtualenv); prints TAP.
set -euo pipefail
cd "$(dirname "$0")/../.."
shopt -s nullglob
exec /usr/bin/python3 test/docs/doc_sql.py README.md docs/*.md
