#!/bin/bash
# The examples of docs/python.md (examples/python): the webhook handler with
# SQLAlchemy, psycopg2 and psycopg 3, the worker loop, upsert and the
# statement guard, and the load test (2,000 deliveries from 8 threads).
# Debian's python3 with python3-sqlalchemy, -psycopg2 and -psycopg
# (tools/ensure-deps installs them).  Runs against the cluster in
# PGHOST/PGPORT (pg_virtualenv); prints TAP.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 test/docs/tap_unittest.py examples/python
