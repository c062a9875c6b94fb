/*
 * t_lib.c
 *	  Every call of libpginbox against a real server: the answers, the
 *	  errors, reconnecting after pg_terminate_backend (between calls and in
 *	  the middle of a batch), the transaction runner (commit, rollback,
 *	  40001 and 40P01 retried, nesting refused), and after every call the
 *	  promise that the connection is never left in an aborted transaction.
 *
 * Runs in the cluster that PG* points at (tools/run-suites runs it inside
 * pg_virtualenv, under valgrind); makes its own database.
 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <unistd.h>

#include "tap.h"

#define DB "dbname=inbox_client_test"

static pginbox_conn *admin;		/* a second session, to look and to interfere */

static void
test_setup(void)
{
	pginbox_conn *pg = connect_to("dbname=postgres options='-c client_min_messages=warning'");

	PQclear(must_exec(pg, "DROP DATABASE IF EXISTS inbox_client_test", 0, NULL));
	PQclear(must_exec(pg, "CREATE DATABASE inbox_client_test", 0, NULL));
	pginbox_free(pg);
	admin = connect_to(DB);
	PQclear(must_exec(admin, "SET client_min_messages = warning", 0, NULL));
	PQclear(must_exec(admin, "CREATE EXTENSION pg_inbox", 0, NULL));
}

static void
test_version_and_connect(void)
{
	pginbox_options options;
	pginbox_conn *bad;

	is_int(pginbox_version(), PGINBOX_VERSION_NUM, "pginbox_version() is the header's version");

	pginbox_options_init(&options);
	options.conninfo = "dbname=inbox_client_no_such_database";
	bad = pginbox_connect(&options);
	ok(bad != NULL, "a failed connection still gives a handle");
	is_int(pginbox_errkind(bad), PGINBOX_ERR_CONNECTION, "failed connection: kind is connection");
	is_str(pginbox_sqlstate(bad), "08001", "failed connection: SQLSTATE 08001");
	ok(strstr(pginbox_errmsg(bad), "inbox_client_no_such_database") != NULL,
	   "failed connection: the message names the database");
	ok(pginbox_pgconn(bad) == NULL, "failed connection: no PGconn");
	pginbox_free(bad);
}

/* ---------------------------------------------------------------- connection strings */

static void
test_connect_forms(void)
{
	const char *forms[][2] = {
		{"inbox_client_test", "a database name alone"},
		{"dbname=inbox_client_test application_name=forms", "a key=value string"},
		{"postgresql:///inbox_client_test?application_name=forms", "a URI"},
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
	{
		pginbox_options o;
		pginbox_conn *h;
		char		name[160];
		char		pid[16];
		const char *params[1] = {pid};

		pginbox_options_init(&o);
		o.conninfo = forms[i][0];
		h = pginbox_connect(&o);
		snprintf(name, sizeof(name), "connect with %s", forms[i][1]);
		ok(h != NULL && pginbox_errkind(h) == PGINBOX_OK, "%s", name);
		if (h == NULL || pginbox_errkind(h) != PGINBOX_OK)
		{
			tap_diag("%s", h ? pginbox_errmsg(h) : "out of memory");
			tap_skip(2, "not connected");
			pginbox_free(h);
			continue;
		}
		snprintf(name, sizeof(name), "%s: the database it names", forms[i][1]);
		is_query(h, "SELECT current_database()", 0, NULL, "inbox_client_test", name);
		/* the reconnect path reads the same string the same way */
		snprintf(pid, sizeof(pid), "%d", PQbackendPID(pginbox_pgconn(h)));
		PQclear(must_exec(admin, "SELECT pg_terminate_backend($1::integer, 5000)", 1, params));
		snprintf(name, sizeof(name), "%s: the same database after a reconnection", forms[i][1]);
		is_query(h, "SELECT current_database()", 0, NULL, "inbox_client_test", name);
		pginbox_free(h);
	}
}

/* ---------------------------------------------------------------- notices */

typedef struct Notices
{
	int			n;
	char		log[4096];		/* "SEVERITY SQLSTATE message|detail|hint\n" each */
} Notices;

static void
collect_notice(void *arg, const pginbox_notice *notice)
{
	Notices    *ns = arg;
	size_t		len = strlen(ns->log);

	ns->n++;
	snprintf(ns->log + len, sizeof(ns->log) - len, "%s %s %s|%s|%s\n", notice->severity,
			 notice->sqlstate, notice->message, notice->detail ? notice->detail : "",
			 notice->hint ? notice->hint : "");
}

static void
not_to_be_called(void *arg, const pginbox_notice *notice)
{
	(void) notice;
	(*(int *) arg)++;
}

/* stderr into a file, and back: what the library printed in between */
static int	saved_stderr = -1;
static FILE *captured;

static void
capture_stderr(void)
{
	fflush(stderr);
	captured = tmpfile();
	saved_stderr = dup(STDERR_FILENO);
	if (captured == NULL || saved_stderr < 0)
		tap_bail("cannot capture stderr");
	dup2(fileno(captured), STDERR_FILENO);
}

static char *
release_stderr(void)
{
	char	   *text = calloc(1, 4096);
	size_t		n;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	rewind(captured);
	n = fread(text, 1, 4095, captured);
	text[n] = '\0';
	fclose(captured);
	return text;
}

#define RAISE_SQL "DO $$BEGIN RAISE NOTICE 'hello %', 1; " \
	"RAISE WARNING 'careful' USING DETAIL = 'A detail.', HINT = 'A hint.'; END$$"

/* notices and a termination on a handle: what reaches the callback (if any) */
static void
provoke_notices(pginbox_conn *h)
{
	char		pid[16];
	const char *params[1] = {pid};
	PGresult   *res = NULL;

	PQclear(must_exec(h, RAISE_SQL, 0, NULL));
	/* terminated while idle: the FATAL comes in when the next call looks */
	snprintf(pid, sizeof(pid), "%d", PQbackendPID(pginbox_pgconn(h)));
	PQclear(must_exec(admin, "SELECT pg_terminate_backend($1::integer, 5000)", 1, params));
	if (pginbox_exec(h, "SELECT 1", 0, NULL, &res) != 0)
		tap_diag("a statement after the termination failed: %s", pginbox_errmsg(h));
	PQclear(res);
	/* and on the new connection */
	PQclear(must_exec(h, "DO $$BEGIN RAISE NOTICE 'again'; END$$", 0, NULL));
}

static void
test_notices(void)
{
	pginbox_options o;
	pginbox_conn *h;
	Notices		ns;
	char	   *err;
	int			calls = 0;

	memset(&ns, 0, sizeof(ns));
	pginbox_options_init(&o);
	ok(o.notice_cb == NULL && o.notice_arg == NULL, "options: no notice callback by default");
	o.conninfo = DB;
	o.notice_cb = collect_notice;
	o.notice_arg = &ns;
	capture_stderr();
	h = pginbox_connect(&o);
	if (h == NULL || pginbox_errkind(h) != PGINBOX_OK)
		tap_bail("cannot connect");
	provoke_notices(h);
	err = release_stderr();
	is_str(err, "", "notices with a callback: nothing printed to stderr");
	free(err);
	tap_diag("notices received:\n%s", ns.log);
	is_int(ns.n, 4, "notices: the callback got four (NOTICE, WARNING, FATAL, NOTICE)");
	ok(strstr(ns.log, "NOTICE 00000 hello 1||\n") != NULL, "notices: a NOTICE, its SQLSTATE and message");
	ok(strstr(ns.log, "WARNING 01000 careful|A detail.|A hint.\n") != NULL,
	   "notices: a WARNING with its detail and hint");
	ok(strstr(ns.log, "FATAL 57P01 terminating connection due to administrator command||\n") != NULL,
	   "notices: the FATAL of a backend terminated while idle");
	ok(strstr(ns.log, "NOTICE 00000 again||\n") != NULL,
	   "notices: the connection made again has the callback too");
	pginbox_free(h);

	/* no callback: the same, and nothing anywhere */
	capture_stderr();
	h = connect_to(DB);
	provoke_notices(h);
	err = release_stderr();
	is_str(err, "", "notices without a callback: nothing printed to stderr");
	free(err);
	pginbox_free(h);

	/*
	 * A WARNING while the connection is being made (a database setting that
	 * no longer applies): the callback gets it too, as every reconnection's.
	 */
	{
		pginbox_conn *pg = connect_to("dbname=postgres options='-c client_min_messages=warning'");

		PQclear(must_exec(pg, "DROP DATABASE IF EXISTS inbox_client_warn", 0, NULL));
		PQclear(must_exec(pg, "CREATE DATABASE inbox_client_warn", 0, NULL));
		PQclear(must_exec(pg, "ALTER DATABASE inbox_client_warn SET default_tablespace = 'no_such_tablespace'", 0, NULL));
		pginbox_free(pg);
	}
	memset(&ns, 0, sizeof(ns));
	pginbox_options_init(&o);
	o.conninfo = "inbox_client_warn";
	o.notice_cb = collect_notice;
	o.notice_arg = &ns;
	capture_stderr();
	h = pginbox_connect(&o);
	err = release_stderr();
	ok(h != NULL && pginbox_errkind(h) == PGINBOX_OK, "a database whose setting warns at connection start: connected");
	is_str(err, "", "a WARNING at connection start: nothing printed to stderr");
	free(err);
	ok(ns.n == 1 && strncmp(ns.log, "WARNING 22023 invalid value for parameter \"default_tablespace\"", 62) == 0,
	   "a WARNING at connection start: the callback got it");
	tap_diag("%s", ns.log);
	pginbox_free(h);

	/*
	 * A program built against 0.1 knows a smaller struct: the unsized entry
	 * points write and read none of what follows it.
	 */
	memset(&o, 0xAA, sizeof(o));
	(pginbox_options_init) (&o);
	ok(o.retry_total_ms == 30000 && ((unsigned char *) &o)[offsetof(pginbox_options, notice_cb)] == 0xAA,
	   "0.1's pginbox_options_init: the defaults, and nothing past 0.1's fields");
	o.conninfo = DB;
	o.notice_cb = not_to_be_called;
	o.notice_arg = &calls;
	h = (pginbox_connect) (&o);
	ok(h != NULL && pginbox_errkind(h) == PGINBOX_OK, "0.1's pginbox_connect connects");
	if (h)
		PQclear(must_exec(h, RAISE_SQL, 0, NULL));
	is_int(calls, 0, "0.1's pginbox_connect: reads nothing past 0.1's fields");
	pginbox_free(h);
}

static void
test_ingest(pginbox_conn *h)
{
	pginbox_ingest_result r;
	int64_t		first;

	ok(pginbox_ingest(h, "stripe", "evt_1", "{\"type\": \"charge\", \"amount\": 1}", NULL, &r) == 0,
	   "ingest a new event");
	is_str(pginbox_status_name(r.status), "inserted", "new event: inserted");
	ok(r.id > 0, "new event: has an id");
	ok(r.received_at > INT64_C(1700000000000000), "new event: received_at in microseconds since 1970");
	ok(r.detail == NULL, "new event: no detail");
	is_int(pginbox_errkind(h), PGINBOX_OK, "success leaves no error");
	check_healthy(h, 0, "ingest");
	first = r.id;

	ok(pginbox_ingest(h, "stripe", "evt_1", "{\"amount\": 1.0, \"type\": \"charge\"}", NULL, &r) == 0,
	   "ingest the same event, keys in another order");
	is_str(pginbox_status_name(r.status), "duplicate", "redelivery: duplicate");
	is_int(r.id, first, "redelivery: the original's id");

	ok(pginbox_ingest(h, "stripe", "evt_1", "{\"type\": \"charge\", \"amount\": 2}", NULL, &r) == 0,
	   "ingest the same id with other content");
	is_str(pginbox_status_name(r.status), "conflict", "changed redelivery: conflict");
	is_int(r.id, first, "changed redelivery: the original's id");
	ok(r.detail != NULL && strlen(r.detail) > 0, "changed redelivery: a detail");

	ok(pginbox_ingest(h, "stripe", "evt_2", "{\"type\": ", NULL, &r) == 0,
	   "ingest a malformed body: not an error");
	is_str(pginbox_status_name(r.status), "rejected", "malformed body: rejected");
	is_int(r.id, 0, "malformed body: id 0");
	ok(r.detail && strstr(r.detail, "JSON") != NULL, "malformed body: the detail says why");
	check_healthy(h, 0, "a rejected ingest");

	ok(pginbox_ingest(h, "stripe", "evt_3", "{\"type\": \"refund\"}", "{\"stripe-signature\": \"t=1\"}", &r) == 0 &&
	   r.status == PGINBOX_INSERTED, "ingest with headers");
	is_query(admin, "SELECT headers->>'stripe-signature' FROM inbox.events WHERE event_id = 'evt_3'", 0, NULL,
		   "t=1", "headers stored");
}

/*
 * The github scheme, signed with HMAC-SHA256 computed independently:
 * printf '%s' '{"action":"opened","number":1}' |
 *     openssl dgst -sha256 -hmac "It's a Secret to Everybody"
 */
#define GH_BODY "{\"action\":\"opened\",\"number\":1}"
#define GH_SIG "sha256=1a763b1f352d220a314db46b42b1cbc50b0032b00015fd3d038d42c3666b7217"

static void
test_ingest_verified(pginbox_conn *h)
{
	pginbox_verified_result r;
	int64_t		first;

	PQclear(must_exec(admin, "INSERT INTO inbox.sources (source, signature_scheme) VALUES ('gh', 'github')", 0, NULL));
	PQclear(must_exec(admin, "INSERT INTO inbox.source_secrets (source, key_id, secret) "
					  "VALUES ('gh', 'k-2026', 'It''s a Secret to Everybody')", 0, NULL));

	ok(pginbox_ingest_verified(h, "gh", GH_BODY,
							   "{\"X-Hub-Signature-256\": \"" GH_SIG "\", \"X-GitHub-Delivery\": \"d-1\"}", &r) == 0,
	   "verified: a good signature");
	is_str(pginbox_status_name(r.status), "inserted", "good signature: inserted");
	ok(r.id > 0, "good signature: has an id");
	ok(r.received_at > INT64_C(1700000000000000), "good signature: received_at in microseconds");
	ok(r.detail == NULL && r.reason == NULL, "good signature: no detail, no reason");
	is_str(r.key_id ? r.key_id : "(null)", "k-2026", "good signature: the key id");
	is_query(admin, "SELECT verified_key FROM inbox.events WHERE source = 'gh' AND event_id = 'd-1'", 0, NULL,
			 "k-2026", "good signature: the event keeps its key id");
	check_healthy(h, 0, "ingest_verified");
	first = r.id;

	ok(pginbox_ingest_verified(h, "gh", GH_BODY,
							   "{\"x-hub-signature-256\": \"" GH_SIG "\", \"x-github-delivery\": \"d-1\"}", &r) == 0,
	   "verified: the same delivery again");
	is_str(pginbox_status_name(r.status), "duplicate", "redelivery: duplicate");
	is_int(r.id, first, "redelivery: the original's id");
	ok(r.reason == NULL, "redelivery: no reason");
	is_str(r.key_id ? r.key_id : "(null)", "k-2026", "redelivery: the key id");

	ok(pginbox_ingest_verified(h, "gh", "{\"action\":\"opened\",\"number\":2}",
							   "{\"X-Hub-Signature-256\": \"" GH_SIG "\", \"X-GitHub-Delivery\": \"d-2\"}", &r) == 0,
	   "verified: a tampered body is not an error");
	is_str(pginbox_status_name(r.status), "rejected", "tampered body: rejected");
	is_int(r.id, 0, "tampered body: id 0");
	is_str(r.reason ? r.reason : "(null)", "bad_signature", "tampered body: reason bad_signature");
	ok(r.detail != NULL && strlen(r.detail) > 0, "tampered body: a detail");
	ok(r.key_id == NULL, "tampered body: no key id");
	check_healthy(h, 0, "a rejected ingest_verified");

	ok(pginbox_ingest_verified(h, "gh", GH_BODY, NULL, &r) == 0, "verified: no headers");
	is_str(pginbox_status_name(r.status), "rejected", "no headers: rejected");
	is_str(r.reason ? r.reason : "(null)", "no_signature", "no headers: reason no_signature");
	ok(r.key_id == NULL, "no headers: no key id");

	is_query(admin, "SELECT count(*) FROM inbox.events WHERE source = 'gh'", 0, NULL,
			 "1", "only the good delivery is stored");

	ok(pginbox_ingest_verified(h, "gh", GH_BODY, "{\"X-Hub", &r) == -1,
	   "verified: headers that are not JSON fail the call");
	is_str(pginbox_sqlstate(h), "22P02", "headers not JSON: 22P02");
	check_healthy(h, 0, "a failed ingest_verified");
	ok(pginbox_ingest_verified(h, "gh", GH_BODY, NULL, NULL) == -1 &&
	   pginbox_errkind(h) == PGINBOX_ERR_USAGE, "verified: a NULL result is a usage error");
}

static void
test_batch(pginbox_conn *h)
{
	pginbox_event events[] = {
		{"d-1", "{\"action\": \"opened\"}"},
		{"d-2", "{\"action\": \"closed\"}"},
		{"d-1", "{\"action\": \"opened\"}"},
		{"", "{\"action\": \"x\"}"},
		{"d-2", "{\"action\": \"reopened\"}"},
		{"d-\"quoted\\", "[1, \"two\", {\"three\": null}]"},
	};
	const char *want[] = {"inserted", "inserted", "duplicate", "rejected", "conflict", "inserted"};
	pginbox_batch *b = NULL;
	pginbox_event bad[] = {{"d-9", "{\"x\": 1}"}, {"d-10", "{not json"}};

	ok(pginbox_ingest_batch(h, "github", events, 6, &b) == 0 && b != NULL, "ingest a batch of 6");
	if (b)
	{
		is_int(b->n, 6, "batch: one result per event");
		for (int i = 0; i < 6 && (size_t) i < b->n; i++)
			is_str(pginbox_status_name(b->results[i].status), want[i], "batch: result in order");
		is_int(b->results[2].id, b->results[0].id, "batch: a repeat inside the batch has the first one's id");
		ok(b->results[3].detail != NULL, "batch: the rejected element has a detail");
		ok(b->results[4].detail != NULL, "batch: the conflict has a detail");
	}
	pginbox_batch_free(b);
	check_healthy(h, 0, "a batch");
	is_query(admin, "SELECT event_id FROM inbox.events WHERE source = 'github' AND payload = '[1, \"two\", {\"three\": null}]'", 0, NULL,
		   "d-\"quoted\\", "batch: quotes and backslashes arrive intact");

	ok(pginbox_ingest_batch(h, "github", events, 0, &b) == 0 && b && b->n == 0, "an empty batch");
	pginbox_batch_free(b);

	ok(pginbox_ingest_batch(h, "github", bad, 2, &b) == -1 && b == NULL,
	   "a batch with a payload that is not JSON fails");
	is_str(pginbox_sqlstate(h), "22P02", "bad payload in a batch: SQLSTATE 22P02");
	is_int(pginbox_errkind(h), PGINBOX_ERR_SERVER, "bad payload in a batch: a server error");
	ok(!pginbox_retryable(h), "bad payload in a batch: not retryable");
	check_healthy(h, 0, "a failed batch");
	is_int(query_int(admin, "SELECT count(*) FROM inbox.events WHERE event_id = 'd-9'", 0, NULL), 0,
		   "a failed batch stores nothing");
}

static void
test_raw_batch(pginbox_conn *h)
{
	pginbox_raw_event events[] = {
		{"raw-1", "{\"action\": \"opened\"}", NULL},
		{"raw-2", "{not json", NULL},
		{"raw-1", "{\"action\":\"opened\"}", NULL},
		{"raw-3", "{\"n\": 1e1000000}", NULL},
		{"raw-4", "[1, \"two\"]", "{\"x-signature\": \"abc\"}"},
		{"raw-1", "{\"action\": \"closed\"}", NULL},
		{"", "{}", NULL},
	};
	const char *want[] = {"inserted", "rejected", "duplicate", "rejected", "inserted", "conflict", "rejected"};
	pginbox_batch *b = NULL;
	pginbox_raw_event bad_headers[] = {{"raw-9", "{}", "{not json"}};
	pginbox_raw_event null_body[] = {{"raw-9", NULL, NULL}};

	ok(pginbox_ingest_raw_batch(h, "raw", events, 7, &b) == 0 && b != NULL,
	   "raw batch of 7 with two bodies jsonb cannot take: succeeds");
	if (b)
	{
		is_int(b->n, 7, "raw batch: one result per event");
		for (int i = 0; i < 7 && (size_t) i < b->n; i++)
			is_str(pginbox_status_name(b->results[i].status), want[i], "raw batch: result in order");
		ok(b->results[1].detail && strstr(b->results[1].detail, "JSON") != NULL,
		   "raw batch: the malformed body's detail says why");
		ok(b->results[3].detail && strstr(b->results[3].detail, "numeric") != NULL,
		   "raw batch: so does the number out of range");
		is_int(b->results[2].id, b->results[0].id, "raw batch: a repeat has the first one's id");
		is_int(b->results[1].id, 0, "raw batch: a rejected body has id 0");
	}
	pginbox_batch_free(b);
	check_healthy(h, 0, "a raw batch");
	is_query(admin, "SELECT string_agg(event_id || '=' || payload::text || coalesce(' ' || (headers->>'x-signature'), ''), ', ' ORDER BY event_id) "
			 "FROM inbox.events WHERE source = 'raw'", 0, NULL,
			 "raw-1={\"action\": \"opened\"}, raw-4=[1, \"two\"] abc",
			 "raw batch: the good bodies and their headers are stored, the others not");

	ok(pginbox_ingest_raw_batch(h, "raw", events, 0, &b) == 0 && b && b->n == 0, "an empty raw batch");
	pginbox_batch_free(b);
	b = NULL;
	ok(pginbox_ingest_raw_batch(h, "raw", bad_headers, 1, &b) == -1 && b == NULL,
	   "raw batch: headers that are not JSON fail the batch");
	is_str(pginbox_sqlstate(h), "22P02", "raw batch with bad headers: SQLSTATE 22P02");
	check_healthy(h, 0, "a raw batch with bad headers");
	ok(pginbox_ingest_raw_batch(h, "raw", null_body, 1, &b) == -1 &&
	   pginbox_errkind(h) == PGINBOX_ERR_USAGE, "raw batch: a NULL body is a usage error");
	ok(pginbox_ingest_raw_batch(h, "raw", NULL, 1, &b) == -1 &&
	   pginbox_errkind(h) == PGINBOX_ERR_USAGE, "raw batch: NULL events is a usage error");
}

static void
test_lifecycle(pginbox_conn *h)
{
	pginbox_claimed *c = NULL;
	const char *only[] = {"nobody"};
	bool		held;
	pginbox_state state;
	pginbox_event dead_ev[] = {{"z-1", "{\"n\": 1}"}};
	pginbox_batch *b = NULL;

	ok(pginbox_claim(h, "worker-1", 0, 0, NULL, 0, &c) == -1, "claim of 0 events is an error");
	is_str(pginbox_sqlstate(h), "22023", "claim of 0 events: SQLSTATE 22023");
	ok(strlen(pginbox_errmsg(h)) > 0, "claim of 0 events: a message");
	ok(!pginbox_retryable(h), "claim of 0 events: not retryable");
	check_healthy(h, 0, "a failed claim");

	ok(pginbox_claim(h, "worker-1", 10, 60000, only, 1, &c) == 0 && c && c->n == 0,
	   "claim from a source without events: none");
	pginbox_claimed_free(c);

	ok(pginbox_claim(h, "worker-1", 2, 60000, NULL, 0, &c) == 0 && c != NULL, "claim 2 events");
	if (c && c->n == 2)
	{
		is_int(c->n, 2, "claim: 2 events");
		is_str(c->events[0].source, "stripe", "claim: oldest first, with its source");
		is_str(c->events[0].event_id, "evt_1", "claim: and its event id");
		is_int(c->events[0].attempt, 1, "claim: first attempt");
		ok(c->events[0].locked_until > c->events[0].received_at, "claim: locked until after it was received");
		ok(c->events[0].payload && strstr(c->events[0].payload, "charge"), "claim: the payload");
		ok(c->events[0].headers == NULL, "claim: no headers stored, NULL");

		ok(pginbox_complete(h, c->events[0].id, "worker-1", &held) == 0 && held, "complete a claimed event");
		ok(pginbox_complete(h, c->events[0].id, "worker-1", &held) == 0 && !held,
		   "complete it again: no longer held");
		ok(pginbox_fail(h, c->events[1].id, "worker-1", "downstream said 503", 1000, &state) == 0 &&
		   state == PGINBOX_STATE_PENDING, "fail a claimed event: pending again");
		ok(pginbox_fail(h, c->events[1].id, "worker-1", "again", -1, &state) == 0 &&
		   state == PGINBOX_STATE_NOT_HELD, "fail it again: not held");
		check_healthy(h, 0, "complete and fail");
	}
	else
		tap_skip(11, "claim did not answer 2 events");
	pginbox_claimed_free(c);

	/* an event of a source with one attempt dies on its first failure */
	PQclear(must_exec(admin, "INSERT INTO inbox.sources (source, max_attempts) VALUES ('once', 1)", 0, NULL));
	ok(pginbox_ingest_batch(h, "once", dead_ev, 1, &b) == 0, "ingest into a source with one attempt");
	pginbox_batch_free(b);
	c = NULL;
	ok(pginbox_claim(h, "worker-2", 1, 0, (const char *[]) {"once"}, 1, &c) == 0 && c && c->n == 1,
	   "claim it, with the default lease");
	if (c && c->n == 1)
		ok(pginbox_fail(h, c->events[0].id, "worker-2", "poison", -1, &state) == 0 &&
		   state == PGINBOX_STATE_DEAD, "fail it: dead");
	else
		tap_skip(1, "nothing claimed");
	pginbox_claimed_free(c);
}

static void
test_upsert(pginbox_conn *h)
{
	pginbox_upsert_result r;
	const char *cols[] = {"id"};

	/* inbox.upsert arrives with a later version of the extension */
	if (query_int(admin, "SELECT (to_regprocedure('inbox.upsert(regclass,jsonb,text[])') IS NOT NULL)::int", 0, NULL) == 0)
	{
		tap_skip(11, "inbox.upsert does not exist in this database");
		return;
	}
	PQclear(must_exec(admin, "CREATE TABLE public.orders (id integer PRIMARY KEY, status text)", 0, NULL));
	PQclear(must_exec(admin, "CREATE TABLE public.nokey (id integer, status text)", 0, NULL));

	ok(pginbox_upsert(h, "public.orders", "{\"id\": 1, \"status\": \"paid\"}", NULL, 0, &r) == 0,
	   "upsert a new row");
	is_str(pginbox_upsert_action_name(r.action), "inserted", "upsert: inserted");
	ok(r.row && strstr(r.row, "paid"), "upsert: the row as it stands");
	ok(pginbox_upsert(h, "public.orders", "{\"id\": 1, \"status\": \"paid\"}", cols, 1, &r) == 0 &&
	   r.action == PGINBOX_UPSERT_UNCHANGED, "upsert the same values, conflict columns given: unchanged");
	ok(pginbox_upsert(h, "public.orders", "{\"id\": 1, \"status\": \"refunded\"}", NULL, 0, &r) == 0 &&
	   r.action == PGINBOX_UPSERT_UPDATED, "upsert other values: updated");
	ok(r.row && strstr(r.row, "refunded"), "upsert: the updated row");
	ok(pginbox_upsert(h, "public.nokey", "{\"id\": 1}", NULL, 0, &r) == -1 &&
	   pginbox_errkind(h) == PGINBOX_ERR_SERVER, "upsert into a table without a key: a server error");
	ok(strlen(pginbox_sqlstate(h)) == 5, "upsert error: a SQLSTATE");
	check_healthy(h, 0, "a failed upsert");

	/* a BEFORE trigger that returns NULL: skipped, and no row */
	PQclear(must_exec(admin, "CREATE FUNCTION public.orders_none() RETURNS trigger"
					  " LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$", 0, NULL));
	PQclear(must_exec(admin, "CREATE TRIGGER orders_none BEFORE INSERT ON public.orders"
					  " FOR EACH ROW EXECUTE FUNCTION public.orders_none()", 0, NULL));
	ok(pginbox_upsert(h, "public.orders", "{\"id\": 2, \"status\": \"paid\"}", NULL, 0, &r) == 0 &&
	   r.action == PGINBOX_UPSERT_SKIPPED && r.row == NULL, "upsert suppressed by a trigger: skipped, no row");
	is_str(pginbox_upsert_action_name(r.action), "skipped", "upsert: the name of skipped");
}

static void
test_exec_and_callers_transactions(pginbox_conn *h)
{
	PGresult   *res = NULL;
	const char *params[] = {"41"};
	pginbox_ingest_result r;
	PGconn	   *pg;

	ok(pginbox_exec(h, "SELECT $1::integer + 1", 1, params, &res) == 0 && res, "exec with a parameter");
	is_str(res ? PQgetvalue(res, 0, 0) : NULL, "42", "exec: the answer");
	PQclear(res);
	ok(pginbox_exec(h, "SELECT 1 / 0", 0, NULL, &res) == -1 && res == NULL, "exec of a failing statement");
	is_str(pginbox_sqlstate(h), "22012", "exec: the server's SQLSTATE");
	check_healthy(h, 0, "a failed exec");

	/* a transaction the caller opened: a failure in it rolls it back */
	PQclear(must_exec(h, "BEGIN", 0, NULL));
	ok(pginbox_ingest(h, "tx", "t-1", "{}", NULL, &r) == 0, "ingest inside the caller's transaction");
	check_healthy(h, 1, "ingest inside the caller's transaction");
	ok(pginbox_exec(h, "SELECT 1 / 0", 0, NULL, &res) == -1, "a failing statement inside it");
	ok(strstr(pginbox_errdetail(h), "rolled back") != NULL, "the detail says the transaction was rolled back");
	check_healthy(h, 0, "a failure inside the caller's transaction");
	is_int(query_int(admin, "SELECT count(*) FROM inbox.events WHERE source = 'tx'", 0, NULL), 0,
		   "the rolled back transaction stored nothing");

	/* the caller's own statement on the PGconn fails: the next call cleans up */
	pg = pginbox_pgconn(h);
	PQclear(PQexec(pg, "BEGIN"));
	PQclear(PQexec(pg, "SELECT 1 / 0"));
	ok(PQtransactionStatus(pg) == PQTRANS_INERROR, "a statement on the PGconn aborted the transaction");
	ok(pginbox_ingest(h, "tx", "t-2", "{}", NULL, &r) == -1, "the next call fails");
	is_str(pginbox_sqlstate(h), "25P02", "and says 25P02");
	check_healthy(h, 0, "a call after an aborted transaction");
	ok(pginbox_ingest(h, "tx", "t-2", "{}", NULL, &r) == 0 && r.status == PGINBOX_INSERTED,
	   "the call after that works");
}

/* ---------------------------------------------------------------- the runner */

typedef struct TxState
{
	int			attempts;
	pginbox_conn *other;
	const char *key;
	pginbox_status status;
	int			nested_rc;
	char		nested_sqlstate[6];
} TxState;

static int
tx_commit_two(pginbox_conn *h, void *arg)
{
	TxState    *st = arg;
	pginbox_ingest_result r;

	st->attempts++;
	if (pginbox_ingest(h, "runner", "r-1", "{\"n\": 1}", NULL, &r) != 0)
		return -1;
	check_healthy(h, 1, "ingest in the runner");
	if (pginbox_ingest(h, "runner", "r-2", "{\"n\": 2}", NULL, &r) != 0)
		return -1;
	return 0;
}

static int
tx_give_up(pginbox_conn *h, void *arg)
{
	pginbox_ingest_result r;

	(void) arg;
	if (pginbox_ingest(h, "runner", "r-3", "{\"n\": 3}", NULL, &r) != 0)
		return -1;
	return 7;
}

static int
tx_ignore_error(pginbox_conn *h, void *arg)
{
	TxState    *st = arg;
	PGresult   *res;
	pginbox_ingest_result r;

	st->attempts++;
	(void) pginbox_exec(h, "SELECT 1 / 0", 0, NULL, &res);
	check_healthy(h, 0, "a failure in the runner (rolled back at once)");
	/* the callback goes on as if nothing happened */
	if (pginbox_ingest(h, "runner", "r-4", "{\"n\": 4}", NULL, &r) == 0)
		return 0;
	st->status = (pginbox_status) -1;
	snprintf(st->nested_sqlstate, sizeof(st->nested_sqlstate), "%s", pginbox_sqlstate(h));
	return 0;
}

/*
 * A real serialization failure: at REPEATABLE READ, the snapshot is taken,
 * then another session stores the key, then this transaction ingests it.
 */
static int
tx_serialization(pginbox_conn *h, void *arg)
{
	TxState    *st = arg;
	PGresult   *res;
	pginbox_ingest_result r;

	st->attempts++;
	if (pginbox_exec(h, "SELECT count(*) FROM inbox.events", 0, NULL, &res) != 0)
		return -1;
	PQclear(res);
	if (st->attempts == 1 &&
		(pginbox_ingest(st->other, "runner", st->key, "{\"n\": 5}", NULL, &r) != 0 ||
		 r.status != PGINBOX_INSERTED))
		return -1;
	if (pginbox_ingest(h, "runner", st->key, "{\"n\": 5}", NULL, &r) != 0)
		return -1;
	st->status = r.status;
	return 0;
}

static int
tx_deadlock_once(pginbox_conn *h, void *arg)
{
	TxState    *st = arg;
	PGresult   *res;
	pginbox_ingest_result r;

	st->attempts++;
	if (st->attempts == 1 &&
		pginbox_exec(h, "DO $$BEGIN RAISE EXCEPTION 'pretend' USING ERRCODE = '40P01'; END$$", 0, NULL, &res) != 0)
		return -1;
	if (pginbox_ingest(h, "runner", "r-6", "{\"n\": 6}", NULL, &r) != 0)
		return -1;
	return 0;
}

/*
 * the first attempt's backend is terminated from outside after its last
 * statement, while the transaction is idle: gone before COMMIT is sent
 */
static int
tx_lose_backend_before_commit(pginbox_conn *h, void *arg)
{
	TxState    *st = arg;
	pginbox_ingest_result r;
	char		pid[16];
	const char *params[1] = {pid};

	st->attempts++;
	if (pginbox_ingest(h, "runner", "r-9", "{\"n\": 9}", NULL, &r) != 0)
		return -1;
	if (st->attempts == 1)
	{
		snprintf(pid, sizeof(pid), "%d", PQbackendPID(pginbox_pgconn(h)));
		PQclear(must_exec(admin, "SELECT pg_terminate_backend($1::integer, 5000)", 1, params));
	}
	return 0;
}

/* the first attempt loses its backend in the middle of the transaction */
static int
tx_lose_backend_once(pginbox_conn *h, void *arg)
{
	TxState    *st = arg;
	PGresult   *res;
	pginbox_ingest_result r;

	st->attempts++;
	if (pginbox_ingest(h, "runner", "r-8", "{\"n\": 8}", NULL, &r) != 0)
		return -1;
	if (st->attempts == 1 &&
		pginbox_exec(h, "SELECT pg_terminate_backend(pg_backend_pid())", 0, NULL, &res) != 0)
		return -1;
	return 0;
}

static int
tx_always_40001(pginbox_conn *h, void *arg)
{
	TxState    *st = arg;
	PGresult   *res;

	st->attempts++;
	if (pginbox_exec(h, "DO $$BEGIN RAISE EXCEPTION 'pretend' USING ERRCODE = '40001'; END$$", 0, NULL, &res) != 0)
		return -1;
	PQclear(res);
	return 0;
}

static int
tx_inner(pginbox_conn *h, void *arg)
{
	(void) h;
	(void) arg;
	return 0;
}

static int
tx_nested(pginbox_conn *h, void *arg)
{
	TxState    *st = arg;
	pginbox_ingest_result r;

	st->nested_rc = pginbox_transaction(h, PGINBOX_READ_COMMITTED, tx_inner, NULL);
	snprintf(st->nested_sqlstate, sizeof(st->nested_sqlstate), "%s", pginbox_sqlstate(h));
	check_healthy(h, 1, "a nested runner call");
	if (pginbox_ingest(h, "runner", "r-7", "{\"n\": 7}", NULL, &r) != 0)
		return -1;
	return 0;
}

static int
tx_commits_itself(pginbox_conn *h, void *arg)
{
	PGresult   *res;

	(void) arg;
	if (pginbox_exec(h, "COMMIT", 0, NULL, &res) != 0)
		return -1;
	PQclear(res);
	return 0;
}

static void
test_runner(pginbox_conn *h)
{
	TxState		st;

	memset(&st, 0, sizeof(st));
	ok(pginbox_transaction(h, PGINBOX_READ_COMMITTED, tx_commit_two, &st) == 0, "runner: commit");
	is_int(st.attempts, 1, "runner: one attempt");
	is_int(query_int(admin, "SELECT count(*) FROM inbox.events WHERE source = 'runner'", 0, NULL), 2,
		   "runner: both events committed");
	check_healthy(h, 0, "the runner");

	ok(pginbox_transaction(h, PGINBOX_READ_COMMITTED, tx_give_up, &st) == -1, "runner: callback returns 7");
	is_int(pginbox_errkind(h), PGINBOX_ERR_CALLBACK, "runner: the error is the callback's");
	ok(strstr(pginbox_errmsg(h), "7") != NULL, "runner: the message has the callback's value");
	is_int(query_int(admin, "SELECT count(*) FROM inbox.events WHERE event_id = 'r-3'", 0, NULL), 0,
		   "runner: rolled back");
	check_healthy(h, 0, "a runner that rolled back");

	memset(&st, 0, sizeof(st));
	st.status = PGINBOX_INSERTED;
	ok(pginbox_transaction(h, PGINBOX_READ_COMMITTED, tx_ignore_error, &st) == -1,
	   "runner: a callback that ignores an error does not commit");
	is_str(pginbox_sqlstate(h), "22012", "runner: reports the error that rolled it back");
	is_int(st.attempts, 1, "runner: division by zero is not retried");
	is_str(st.nested_sqlstate, "25P02", "runner: calls after the error fail with 25P02");
	is_int(query_int(admin, "SELECT count(*) FROM inbox.events WHERE event_id = 'r-4'", 0, NULL), 0,
		   "runner: nothing after the error was stored");
	check_healthy(h, 0, "a runner whose callback ignored an error");

	memset(&st, 0, sizeof(st));
	st.other = admin;
	st.key = "r-5";
	ok(pginbox_transaction(h, PGINBOX_REPEATABLE_READ, tx_serialization, &st) == 0,
	   "runner: REPEATABLE READ race on one key succeeds");
	is_int(st.attempts, 2, "runner: 40001 made it run the callback twice");
	is_str(pginbox_status_name(st.status), "duplicate", "runner: the second attempt sees a duplicate");
	check_healthy(h, 0, "a retried runner");

	memset(&st, 0, sizeof(st));
	ok(pginbox_transaction(h, PGINBOX_SERIALIZABLE, tx_deadlock_once, &st) == 0,
	   "runner: 40P01 is retried");
	is_int(st.attempts, 2, "runner: two attempts after a deadlock");

	memset(&st, 0, sizeof(st));
	ok(pginbox_transaction(h, PGINBOX_READ_COMMITTED, tx_lose_backend_once, &st) == 0,
	   "runner: a connection lost before COMMIT runs the callback again on a new one");
	is_int(st.attempts, 2, "runner: two attempts after the backend was terminated");
	is_int(query_int(admin, "SELECT count(*) FROM inbox.events WHERE event_id = 'r-8'", 0, NULL), 1,
		   "runner: the second attempt's work is committed, once");
	check_healthy(h, 0, "a runner that lost its connection");

	memset(&st, 0, sizeof(st));
	ok(pginbox_transaction(h, PGINBOX_READ_COMMITTED, tx_lose_backend_before_commit, &st) == 0,
	   "runner: a backend terminated while the transaction was idle, before COMMIT, runs the callback again");
	is_int(st.attempts, 2, "runner: two attempts, not 08007 (the COMMIT was never sent)");
	is_int(query_int(admin, "SELECT count(*) FROM inbox.events WHERE event_id = 'r-9'", 0, NULL), 1,
		   "runner: the second attempt's work is committed, once");

	{
		pginbox_options o;
		pginbox_conn *h3;

		pginbox_options_init(&o);
		o.conninfo = DB;
		o.tx_max_attempts = 3;
		o.retry_initial_ms = 1;
		h3 = pginbox_connect(&o);
		memset(&st, 0, sizeof(st));
		ok(pginbox_transaction(h3, PGINBOX_READ_COMMITTED, tx_always_40001, &st) == -1,
		   "runner: 40001 every time fails in the end");
		is_int(st.attempts, 3, "runner: after tx_max_attempts attempts");
		is_str(pginbox_sqlstate(h3), "40001", "runner: with the last 40001");
		ok(pginbox_retryable(h3), "runner: which is retryable");
		check_healthy(h3, 0, "a runner out of attempts");
		pginbox_free(h3);
	}

	memset(&st, 0, sizeof(st));
	ok(pginbox_transaction(h, PGINBOX_READ_COMMITTED, tx_nested, &st) == 0,
	   "runner: the outer transaction commits after a nested call was refused");
	is_int(st.nested_rc, -1, "runner: a nested call fails");
	is_str(st.nested_sqlstate, "0A000", "runner: a nested call says 0A000");
	is_int(query_int(admin, "SELECT count(*) FROM inbox.events WHERE event_id = 'r-7'", 0, NULL), 1,
		   "runner: the outer transaction's work is committed");

	PQclear(must_exec(h, "BEGIN", 0, NULL));
	ok(pginbox_transaction(h, PGINBOX_READ_COMMITTED, tx_inner, NULL) == -1 &&
	   strcmp(pginbox_sqlstate(h), "0A000") == 0, "runner: refused inside the caller's transaction");
	check_healthy(h, 1, "a refused runner (the caller's transaction stays)");
	PQclear(must_exec(h, "ROLLBACK", 0, NULL));

	ok(pginbox_transaction(h, PGINBOX_READ_COMMITTED, tx_commits_itself, NULL) == -1 &&
	   pginbox_errkind(h) == PGINBOX_ERR_USAGE, "runner: a callback that commits by itself is an error");
	check_healthy(h, 0, "a callback that committed by itself");
}

/* ---------------------------------------------------------------- connection loss */

static void
test_terminate(pginbox_conn *h)
{
	char		pid[16];
	const char *params[1] = {pid};
	pginbox_ingest_result r;
	pginbox_claimed *c = NULL;
	pginbox_batch *b;
	pginbox_event events[100];
	char		ids[1000][16];
	char		payload[] = "{\"n\": 1}";
	int			inserted = 0;
	int			failed_calls = 0;

	/* killed while idle: the next call reconnects, whatever it is */
	snprintf(pid, sizeof(pid), "%d", PQbackendPID(pginbox_pgconn(h)));
	is_query(admin, "SELECT pg_terminate_backend($1::integer, 5000)", 1, params, "t",
		   "terminate the handle's backend while idle");
	ok(pginbox_ingest(h, "kill", "k-idle", "{}", NULL, &r) == 0 && r.status == PGINBOX_INSERTED,
	   "ingest after the backend was terminated: reconnected");
	ok(PQbackendPID(pginbox_pgconn(h)) != atoi(pid), "a new backend");

	snprintf(pid, sizeof(pid), "%d", PQbackendPID(pginbox_pgconn(h)));
	PQclear(must_exec(admin, "SELECT pg_terminate_backend($1::integer, 5000)", 1, params));
	ok(pginbox_claim(h, "worker-9", 1, 0, (const char *[]) {"none"}, 1, &c) == 0,
	   "claim after the backend was terminated while idle: reconnected (nothing had been sent)");
	pginbox_claimed_free(c);
	check_healthy(h, 0, "reconnecting");

	/*
	 * Killed in the middle of a batch: a trigger terminates its own backend
	 * when it meets event k-250, once (a sequence does not roll back).
	 */
	PQclear(must_exec(admin, "CREATE SEQUENCE public.kill_once", 0, NULL));
	PQclear(must_exec(admin,
					  "CREATE FUNCTION public.kill_once() RETURNS trigger LANGUAGE plpgsql AS $$ "
					  "BEGIN IF NEW.event_id = 'k-250' AND nextval('public.kill_once') = 1 THEN "
					  "PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(10); END IF; "
					  "RETURN NEW; END $$", 0, NULL));
	PQclear(must_exec(admin,
					  "CREATE TRIGGER kill_once BEFORE INSERT ON inbox.events "
					  "FOR EACH ROW EXECUTE FUNCTION public.kill_once()", 0, NULL));
	for (int i = 0; i < 1000; i++)
		snprintf(ids[i], sizeof(ids[i]), "k-%d", i);
	for (int batch = 0; batch < 10; batch++)
	{
		for (int i = 0; i < 100; i++)
		{
			events[i].event_id = ids[batch * 100 + i];
			events[i].payload = payload;
		}
		if (pginbox_ingest_batch(h, "kill", events, 100, &b) != 0)
		{
			failed_calls++;
			tap_diag("batch %d: %s", batch, pginbox_errmsg(h));
			continue;
		}
		for (size_t i = 0; i < b->n; i++)
			inserted += b->results[i].status == PGINBOX_INSERTED;
		pginbox_batch_free(b);
	}
	/* 1 when the trigger killed the backend, 2 when the retry passed it */
	is_int(query_int(admin, "SELECT last_value FROM public.kill_once", 0, NULL), 2,
		   "the backend was terminated in the middle of a batch, and the batch ran again");
	is_int(failed_calls, 0, "every batch succeeded, the terminated one by a retry");
	is_int(inserted, 1000, "every event answered inserted (the terminated batch had rolled back)");
	is_int(query_int(admin, "SELECT count(*) FROM inbox.events WHERE source = 'kill' AND event_id LIKE 'k-%' AND event_id <> 'k-idle'", 0, NULL),
		   1000, "every event stored exactly once");
	check_healthy(h, 0, "a batch that lost its backend");
	PQclear(must_exec(admin, "DROP TRIGGER kill_once ON inbox.events", 0, NULL));
}

int
main(void)
{
	pginbox_conn *h;

	setvbuf(stdout, NULL, _IOLBF, 0);
	test_setup();
	test_version_and_connect();
	test_connect_forms();
	test_notices();
	h = connect_to(DB);
	test_ingest(h);
	test_ingest_verified(h);
	test_batch(h);
	test_raw_batch(h);
	test_lifecycle(h);
	test_upsert(h);
	test_exec_and_callers_transactions(h);
	test_runner(h);
	test_terminate(h);
	pginbox_free(h);
	pginbox_free(admin);
	return tap_done();
}
