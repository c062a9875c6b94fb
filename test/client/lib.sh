#!/bin/bash
# The C tests of libpginbox (t_lib.c) under valgrind, in the cluster that
# PG* points at (tools/run-suites runs this inside pg_virtualenv).
set -uo pipefail
# shellcheck source=test/client/common.bash
. "$(dirname "$0")/common.bash"
run_tap "$build/t_lib"
