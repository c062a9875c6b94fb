#!/bin/bash
# The examples of docs/node.md (examples/node): the webhook handler with
# node-postgres, the worker loop, upsert and the statement guard, and the
# load test (2,000 deliveries from 8 async workers).  pg comes from the npm
# registry, as pinned by examples/node/package-lock.json (npm ci).  Runs
# against the cluster in PGHOST/PGPORT (pg_virtualenv); prints TAP.
set -euo pipefail
cd "$(dirname "$0")/../../examples/node"
if ! npm ci --no-audit --no-fund --loglevel=error >/tmp/pg_inbox_npm_ci.$$ 2>&1; then
	echo "1..1"
	echo "not ok 1 - npm ci in examples/node"
	sed 's/^/#   /' /tmp/pg_inbox_npm_ci.$$
	rm -f /tmp/pg_inbox_npm_ci.$$
	exit 1
fi
rm -f /tmp/pg_inbox_npm_ci.$$
exec node --test --test-reporter=tap test/
