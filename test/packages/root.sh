#!/bin/bash
# The extension's Debian package on another major, in its root
# (tools/run-major runs this there, as root, after the suites): built with
# dpkg-buildpackage from a copy of the tree (pg_buildext builds for the
# root's one major), installed with dpkg, CREATE EXTENSION pg_inbox and one
# ingest answered inserted, then duplicate, in a throw-away cluster, and
# purged again, also when a step fails.  Purging removes the extension's
# files that the suites' `make install` wrote before; nothing after this runs
# in the root, and the next run installs them again.
#
#   test/packages/root.sh MAJOR
#
# Prints TAP.
set -uo pipefail
major=${1:?usage: test/packages/root.sh MAJOR}
tree=$(cd "$(dirname "$0")/../.." && pwd)
pkg=postgresql-$major-pg-inbox

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP dpkg -i needs root"
	exit 0
fi

work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
	dpkg --purge "$pkg" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

n=0
check() {		# check "description" "expected" "actual"
	n=$((n + 1))
	if [ "$2" = "$3" ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		printf '#   expected: %s\n#        got: %s\n' "$2" "$3" >&2
	fi
}

# --- build, from a copy of the tree (dpkg-buildpackage writes into ..)
mkdir "$work/src"
(cd "$tree" && tar cf - --exclude=./tmp_check --exclude=./results --exclude=./output_iso .) |
	tar xf - -C "$work/src"
start=$(date +%s)
(cd "$work/src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1
status=$?
check "dpkg-buildpackage -us -uc -b on PostgreSQL $major ($(($(date +%s) - start)) s)" 0 "$status"
[ "$status" = 0 ] || tail -40 "$work/build.log" | sed 's/^/# /' >&2
version=$(cd "$work/src" && dpkg-parsechangelog -S Version)
deb=$work/${pkg}_${version}_$(dpkg --print-architecture).deb
check "built $pkg" yes "$([ -f "$deb" ] && echo yes || echo no)"

# --- install, use, purge
dpkg -i "$deb" >"$work/dpkg.log" 2>&1
status=$?
check "dpkg -i $pkg" 0 "$status"
[ "$status" = 0 ] || sed 's/^/# /' "$work/dpkg.log" >&2
owner=$(dpkg -S "/usr/share/postgresql/$major/extension/pg_inbox.control" 2>/dev/null | cut -d: -f1)
check "pg_inbox.control comes from $pkg" "$pkg" "$owner"

# (psql's answers in a file of their own: pg_virtualenv talks on stdout too)
install -o postgres /dev/null "$work/answers"
(cd / && runuser -u postgres -- pg_virtualenv -v "$major" -o shared_preload_libraries=pg_inbox \
	psql -qXAt -v ON_ERROR_STOP=1 -o "$work/answers" <<'SQL' >"$work/venv.log" 2>&1
CREATE EXTENSION pg_inbox;
SELECT status FROM inbox.ingest('stripe', 'evt_1', '{"type": "a"}');
SELECT status FROM inbox.ingest('stripe', 'evt_1', '{"type": "a"}');
SELECT current_setting('server_version_num')::int / 10000;
SQL
)
out=$(cat "$work/answers")
check "CREATE EXTENSION pg_inbox, ingest twice, on PostgreSQL $major" \
	"inserted duplicate $major" "$(echo $out)"
[ "$(echo $out)" = "inserted duplicate $major" ] || sed 's/^/# /' "$work/venv.log" >&2

dpkg --purge "$pkg" >"$work/purge.log" 2>&1
status=$?
check "dpkg --purge $pkg" 0 "$status"
check "$pkg is gone" "" "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -v '^not-installed$')"
check "no pg_inbox.control left" no \
	"$([ -e "/usr/share/postgresql/$major/extension/pg_inbox.control" ] && echo yes || echo no)"
echo "1..$n"
