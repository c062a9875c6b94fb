#!/bin/bash
# The Debian packages: dpkg-buildpackage builds them from a copy of the
# source tree (postgresql-NN-pg-inbox for each major pg_buildext supports
# here, libpginbox0, libpginbox-dev, pg-inbox), lintian finds nothing at its
# default level, and installed with dpkg they work: CREATE EXTENSION in a
# throw-away cluster, pg_inbox --version from /usr/bin, man -w pg_inbox,
# and the README's example program built with the installed pginbox.pc,
# run against that cluster.
#
# The packages install where `make install` of the development tree does
# (the extension's files, the library).  So the test moves the files that
# `make install` put there aside first, so that what it tests comes from the
# packages only, purges the packages at the end and puts those files back:
# the machine is as before, also when the test fails.  It needs root (dpkg)
# and takes about half a minute.
#
#   flock /tmp/pg_inbox.lock prove test/packages/packages.sh
#
# Prints TAP.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP dpkg -i needs root"
	exit 0
fi

work=$(mktemp -d)
saved=$work/saved
installed=()

n=0
check() {		# check "description" "expected" "actual"
	n=$((n + 1))
	if [ "$2" = "$3" ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		printf '#   expected: %s\n#        got: %s\n' "$2" "$3"
	fi
}

# the files `make install` of the development tree installed, relative to
# /, and pg_inbox's files in the usual places that no package owns (another
# tree's `make install`, with other directories): set aside while the
# packages are tested
make -s -C "$root" install DESTDIR="$work/dev" PG_CONFIG="$PG_CONFIG" >/dev/null 2>&1
libdir=$("$PG_CONFIG" --libdir)
aside=$( {
	(cd "$work/dev" && find . -type f -o -type l | sed 's|^\./||')
	for f in "$libdir"/libpginbox.* "$libdir"/pkgconfig/pginbox.pc \
		/usr/local/lib/libpginbox.* /usr/local/lib/pkgconfig/pginbox.pc \
		/usr/local/include/pginbox.h /usr/include/postgresql/pginbox.h /usr/include/pginbox.h \
		/usr/local/bin/pg_inbox /usr/bin/pg_inbox \
		/usr/local/man/man1/pg_inbox.1 /usr/local/share/man/man1/pg_inbox.1; do
		if { [ -e "$f" ] || [ -L "$f" ]; } && ! dpkg -S "$f" >/dev/null 2>&1; then
			echo "${f#/}"
		fi
	done
} | sort -u)

restore() {
	if [ ${#installed[@]} -gt 0 ]; then
		dpkg --purge "${installed[@]}" >/dev/null 2>&1
	fi
	if [ -d "$saved" ]; then
		(cd "$saved" && find . -type f -o -type l) | while read -r f; do
			mkdir -p "/$(dirname "$f")"
			mv -f "$saved/$f" "/$f"
		done
		ldconfig
	fi
	rm -rf "$work"
}
trap restore EXIT

# --- build, from a copy of the tree (dpkg-buildpackage writes into ..)
mkdir "$work/src"
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 tar cf -) | tar xf - -C "$work/src"
else
	(cd "$root" && tar cf - --exclude=./tmp_check .) | tar xf - -C "$work/src"
	make -s -C "$work/src" clean >/dev/null 2>&1
fi
start=$(date +%s)
(cd "$work/src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1
status=$?
check "dpkg-buildpackage -us -uc -b succeeds ($(($(date +%s) - start)) s)" 0 "$status"
[ "$status" = 0 ] || sed 's/^/# /' "$work/build.log" | tail -40

majors=$(cd "$work/src" && pg_buildext supported-versions)
version=$(cd "$work/src" && dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
want=""
for v in $majors; do want="$want postgresql-$v-pg-inbox"; done
want="$want libpginbox0 libpginbox-dev pg-inbox"
debs=()
for p in $want; do
	deb=$work/${p}_${version}_$arch.deb
	check "built $p" yes "$([ -f "$deb" ] && echo yes || echo no)"
	[ -f "$deb" ] && debs+=("$deb") && installed+=("$p")
done

lintian "$work"/*.changes >"$work/lintian" 2>&1
check "lintian: no errors or warnings" "" "$(grep -v '^running with root privileges' "$work/lintian" | head -10)"

# --- install
mkdir "$saved"
for f in $aside; do
	if [ -e "/$f" ] || [ -L "/$f" ]; then
		mkdir -p "$saved/$(dirname "$f")"
		mv "/$f" "$saved/$f"
	fi
done
ldconfig
dpkg -i "${debs[@]}" >"$work/dpkg.log" 2>&1
status=$?
check "dpkg -i of the packages" 0 "$status"
[ "$status" = 0 ] || sed 's/^/# /' "$work/dpkg.log"

# every file of the packages came from them, and they are where users look
for v in $majors; do
	check "PostgreSQL $v's pg_inbox.so belongs to postgresql-$v-pg-inbox" "postgresql-$v-pg-inbox" \
		"$(dpkg -S "$(/usr/lib/postgresql/"$v"/bin/pg_config --pkglibdir)/pg_inbox.so" 2>&1 | cut -d: -f1)"
done
check "pg_inbox is on PATH in /usr/bin" /usr/bin/pg_inbox "$(PATH=/usr/local/bin:/usr/bin:/bin command -v pg_inbox)"
client_version=$(sed -n 's/^#define PGINBOX_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)/\2/p' "$root/client/pginbox.h" | paste -sd.)
check "pg_inbox --version" "pg_inbox $client_version" "$(/usr/bin/pg_inbox --version 2>&1)"
check "man -w pg_inbox finds the package's page" /usr/share/man/man1/pg_inbox.1.gz "$(man -w pg_inbox 2>&1)"
check "pkg-config finds pginbox in the package's place" "/usr/include $client_version" \
	"$(pkg-config --variable=includedir pginbox 2>&1) $(pkg-config --modversion pginbox 2>&1)"

# the README's example program, as the README shows it, built against the
# installed pginbox.pc
awk '/^<!-- examples\/worker.c -->$/ { on = 1; next } on && /^```c$/ { copy = 1; next }
	copy && /^```$/ { exit } copy { print }' "$root/README.md" >"$work/worker.c"
# shellcheck disable=SC2046 # pkg-config prints flags
cc -std=c11 -Wall -Wextra -Werror "$work/worker.c" $(pkg-config --cflags --libs pginbox) \
	-o "$work/worker" 2>"$work/cc"
check "the README's example compiles against the installed pginbox.pc" "" "$(head -5 "$work/cc")"
check "the example links the packaged library" libpginbox0 \
	"$(dpkg -S "$(readlink -f "$(ldd "$work/worker" | sed -n 's/.*libpginbox\.so\.0 => \(.*\) (0x.*/\1/p')")" 2>&1 | cut -d: -f1)"

# a throw-away cluster per major: the extension, the command and the example
for v in $majors; do
	# shellcheck disable=SC2016 # $WORKER: the inner shell expands it
	# (make test runs this inside pg_virtualenv: its settings are not ours)
	out=$(env -u PG_CLUSTER_CONF_ROOT -u PGSYSCONFDIR -u PGHOST -u PGPORT -u PGUSER \
		-u PGDATABASE -u PGPASSWORD -u PGVERSION -u PG_CONFIG \
		PATH=/usr/bin:/bin WORKER="$work/worker" pg_virtualenv -v "$v" \
		-o shared_preload_libraries=pg_inbox sh -c '
		psql -qAtX -v ON_ERROR_STOP=1 -c "CREATE EXTENSION pg_inbox" \
			-c "CREATE TABLE handled (event_id text PRIMARY KEY, type text)" \
			-c "SELECT extversion FROM pg_extension WHERE extname = '\''pg_inbox'\''" &&
		printf "{\"id\": \"a\", \"type\": \"one\"}\n" | pg_inbox ingest -s example >/dev/null &&
		"$WORKER" 5' 2>"$work/venv.err")
	check "PostgreSQL $v: CREATE EXTENSION, pg_inbox ingest, the example worker" \
		"$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$root/pg_inbox.control")|handled example a (attempt 1)|1 event claimed" \
		"$(echo "$out" | grep -Ev '^(Creating new PostgreSQL cluster|Dropping cluster) ' | paste -sd'|')"
	sed 's/^/# /' "$work/venv.err"
done

# --- remove: nothing of the packages stays behind
pkg_files=$(dpkg -L "${installed[@]}" 2>/dev/null | sort -u)
dpkg --purge "${installed[@]}" >"$work/purge.log" 2>&1
check "dpkg --purge of the packages" 0 $?
installed=()
left=""
for f in $pkg_files; do
	if [ -f "$f" ] || [ -L "$f" ]; then left="$left $f"; fi
done
check "no file of the packages is left" "" "$left"

echo "1..$n"
