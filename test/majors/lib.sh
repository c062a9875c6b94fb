# Functions of the dump and restore tests across majors (sourced).
# Against the cluster in PGHOST/PGPORT (pg_virtualenv); print TAP lines.
dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

q() { psql -qAtX -v ON_ERROR_STOP=1 -d "$@"; }

# answers N DB WHAT: test N, that DB answers as answers.out says
answers() {
	local out
	out=$(mktemp)
	if psql -qX -d "$2" -f "$dir/answers.sql" >"$out" 2>&1 && diff -u "$dir/answers.out" "$out" >"$out.diff"; then
		echo "ok $1 - $3"
	else
		echo "not ok $1 - $3"
		sed 's/^/# /' "$out.diff" "$out" | head -80
	fi
	rm -f "$out" "$out.diff"
}

# restore N DUMP DB: test N, that DUMP (plain pg_dump output) restores into
# a new database DB without an error
restore() {
	local err
	dropdb --if-exists "$3" 2>/dev/null
	createdb "$3"
	err=$(psql -qX -v ON_ERROR_STOP=1 -d "$3" -f "$2" 2>&1 >/dev/null) || true
	if [ -z "$err" ]; then
		echo "ok $1 - restored on PostgreSQL $(q "$3" -c 'SHOW server_version_num' | cut -c1-2)"
	else
		echo "not ok $1 - restore"
		echo "$err" | sed 's/^/# /' | head -40
	fi
}
