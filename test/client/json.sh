#!/bin/bash
# The pg_inbox command's JSON line checker (t_json.c), under valgrind.  No
# server needed.
set -uo pipefail
# shellcheck source=test/client/common.bash
. "$(dirname "$0")/common.bash"
run_tap "$build/t_json"
