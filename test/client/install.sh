#!/bin/bash
# make install puts the pg_inbox command where PATH reaches it and its man
# page where man finds it (tools/run-tests has run make install with the
# defaults); DESTDIR, prefix, bindir and mandir are honoured.  Needs no
# server.  Prints TAP.
set -uo pipefail
# shellcheck source=test/client/common.bash
. "$(dirname "$0")/common.bash"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

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

# 1. what a user types after make install
cmd=$(command -v pg_inbox)
check "command -v pg_inbox finds the installed command" 1 "$([ -n "$cmd" ] && echo 1)"
check "and it is this tree's build" "" "$(cmp "$cmd" "$pg_inbox" 2>&1)"
page=$(man -w pg_inbox 2>&1)
check "man -w pg_inbox finds the manual" 0 $?
check "and it is this tree's" "" "$(cmp "$page" "$root/client/pg_inbox.1" 2>&1)"
check "the manual names the version of this tree" 1 \
	"$(grep -c "^\.TH PG_INBOX 1 .* \"pg_inbox $("$pg_inbox" --version | cut -d' ' -f2)\"" "$root/client/pg_inbox.1")"

# 2. the directories can be moved
make -s -C "$root/client" install DESTDIR="$work/a" >"$work/out" 2>&1
check "DESTDIR: exit status 0" 0 $?
check "DESTDIR: the command and the manual under prefix /usr/local" "yes yes" \
	"$([ -x "$work/a/usr/local/bin/pg_inbox" ] && echo yes) $([ -f "$work/a/usr/local/share/man/man1/pg_inbox.1" ] && echo yes)"
check "DESTDIR: one line says where they went, and no hint about PATH" \
	"pg_inbox: installed the command as $work/a/usr/local/bin/pg_inbox, its manual as $work/a/usr/local/share/man/man1/pg_inbox.1" \
	"$(cat "$work/out")"
make -s -C "$root/client" install DESTDIR="$work/b" prefix=/opt/inbox >/dev/null 2>&1
check "prefix=/opt/inbox: bin/ and share/man/ under it" "yes yes" \
	"$([ -x "$work/b/opt/inbox/bin/pg_inbox" ] && echo yes) $([ -f "$work/b/opt/inbox/share/man/man1/pg_inbox.1" ] && echo yes)"
make -s -C "$root/client" install DESTDIR="$work/c" bindir=/x/bin mandir=/x/man >/dev/null 2>&1
check "bindir and mandir" "yes yes" \
	"$([ -x "$work/c/x/bin/pg_inbox" ] && echo yes) $([ -f "$work/c/x/man/man1/pg_inbox.1" ] && echo yes)"
# man reads the page as installed
check "man reads the installed page" 1 \
	"$(MANPATH="$work/a/usr/local/share/man" MANWIDTH=80 man -P cat pg_inbox 2>/dev/null | grep -c '^NAME')"

echo "1..$n"
