/*
 * conn.c
 *	  The handle: connecting, errors, and running one statement with the
 *	  retries the call allows.
 *
 * Every statement of the library goes through InboxRun, which is where the
 * two promises of the library are kept: a lost connection is reconnected and
 * the statement retried when that cannot do it twice, and no call returns
 * with the connection inside an aborted transaction.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pginbox_int.h"

PGINBOX_EXPORT int
pginbox_version(void)
{
	return PGINBOX_VERSION_NUM;
}

/* the size of pginbox_options in 0.1, whose programs call the unsized entry points */
#define OPTIONS_SIZE_0_1 offsetof(pginbox_options, notice_cb)

static void
options_defaults(pginbox_options *options)
{
	memset(options, 0, sizeof(*options));
	options->conninfo = NULL;
	options->retry_initial_ms = 50;
	options->retry_max_ms = 2000;
	options->retry_total_ms = 30000;
	options->tx_max_attempts = 5;
	options->notice_cb = NULL;
	options->notice_arg = NULL;
}

/*
 * Fill the first size bytes of the caller's struct (the struct as the
 * caller's header declared it): never more than the caller has, and never
 * more than this library knows.
 */
PGINBOX_EXPORT void
pginbox_options_init_sized(pginbox_options *options, size_t size)
{
	pginbox_options defaults;

	options_defaults(&defaults);
	memcpy(options, &defaults, size < sizeof(defaults) ? size : sizeof(defaults));
}

PGINBOX_EXPORT void
(pginbox_options_init) (pginbox_options *options)
{
	pginbox_options_init_sized(options, OPTIONS_SIZE_0_1);
}

int64_t
InboxNowMs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* splitmix64: a small generator per handle, so that no state is global */
static uint64_t
next_random(pginbox_conn *h)
{
	uint64_t	z = (h->rng += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/*
 * The delay before retry number attempt (from 0): the initial delay doubled
 * per attempt up to the cap, then a random point in its upper half, so that
 * clients that lost the server together do not come back together.
 */
static int64_t
backoff_ms(pginbox_conn *h, int attempt)
{
	int64_t		delay = h->options.retry_initial_ms > 0 ? h->options.retry_initial_ms : 1;
	int64_t		cap = h->options.retry_max_ms > 0 ? h->options.retry_max_ms : 1;

	while (attempt-- > 0 && delay < cap)
		delay *= 2;
	if (delay > cap)
		delay = cap;
	return delay / 2 + (int64_t) (next_random(h) % (uint64_t) (delay / 2 + 1));
}

/*
 * Sleep before retry number attempt, unless that would end after deadline.
 * Returns false (and does not sleep) when there is no time left.
 */
bool
InboxBackoff(pginbox_conn *h, int attempt, int64_t deadline)
{
	int64_t		delay = backoff_ms(h, attempt);
	struct timespec ts;

	if (InboxNowMs() + delay > deadline)
		return false;
	ts.tv_sec = delay / 1000;
	ts.tv_nsec = (delay % 1000) * 1000000;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return true;
}

/* ---------------------------------------------------------------- errors */

void
InboxFreeError(PgInboxError *e)
{
	free(e->message);
	free(e->detail);
	memset(e, 0, sizeof(*e));
}

void
InboxClearError(pginbox_conn *h)
{
	InboxFreeError(&h->err);
}

void
InboxCopyError(PgInboxError *dst, const PgInboxError *src)
{
	InboxFreeError(dst);
	dst->kind = src->kind;
	memcpy(dst->sqlstate, src->sqlstate, sizeof(dst->sqlstate));
	dst->retryable = src->retryable;
	dst->message = src->message ? strdup(src->message) : NULL;
	dst->detail = src->detail ? strdup(src->detail) : NULL;
}

static bool
sqlstate_retryable(const char *s)
{
	return strncmp(s, "08", 2) == 0 ||
		strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0 ||
		strcmp(s, "57P01") == 0 || strcmp(s, "57P02") == 0 ||
		strcmp(s, "57P03") == 0 || strcmp(s, "53300") == 0;
}

/* a copy of s without the trailing newline libpq leaves on its messages */
static char *
trimmed(const char *s)
{
	char	   *c;
	size_t		len;

	if (s == NULL || *s == '\0')
		return NULL;
	c = strdup(s);
	if (c == NULL)
		return NULL;
	len = strlen(c);
	while (len > 0 && (c[len - 1] == '\n' || c[len - 1] == ' '))
		c[--len] = '\0';
	return c;
}

void
InboxSetError(pginbox_conn *h, pginbox_error_kind kind, const char *sqlstate,
			  const char *message, const char *detail)
{
	InboxFreeError(&h->err);
	h->err.kind = kind;
	snprintf(h->err.sqlstate, sizeof(h->err.sqlstate), "%s", sqlstate ? sqlstate : "");
	h->err.retryable = kind == PGINBOX_ERR_CONNECTION || sqlstate_retryable(h->err.sqlstate);
	h->err.message = trimmed(message);
	h->err.detail = trimmed(detail);
}

/* Add a sentence to the detail of the current error. */
static void
append_detail(pginbox_conn *h, const char *sentence)
{
	size_t		len = h->err.detail ? strlen(h->err.detail) : 0;
	char	   *d = malloc(len + strlen(sentence) + 2);

	if (d == NULL)
		return;
	if (len > 0)
		sprintf(d, "%s %s", h->err.detail, sentence);
	else
		strcpy(d, sentence);
	free(h->err.detail);
	h->err.detail = d;
}

/*
 * Whether a failed statement lost its connection: libpq says so, or the
 * server said it is closing it (57P01 terminated by an administrator, 57P02
 * crash of another backend).
 */
bool
InboxConnectionLost(const PGconn *pg, const char *sqlstate)
{
	return PQstatus(pg) != CONNECTION_OK ||
		strncmp(sqlstate, "08", 2) == 0 ||
		strcmp(sqlstate, "57P01") == 0 || strcmp(sqlstate, "57P02") == 0;
}

static void
set_error_from_result(pginbox_conn *h, const PGresult *res)
{
	const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (sqlstate == NULL)
	{
		/* not from the server: libpq's own error, nearly always a lost connection */
		bool		lost = PQstatus(h->pg) != CONNECTION_OK;

		InboxSetError(h, lost ? PGINBOX_ERR_CONNECTION : PGINBOX_ERR_PROTOCOL,
					  lost ? "08006" : "", PQerrorMessage(h->pg), NULL);
		return;
	}
	InboxSetError(h, InboxConnectionLost(h->pg, sqlstate) ? PGINBOX_ERR_CONNECTION : PGINBOX_ERR_SERVER,
				  sqlstate, primary ? primary : PQresultErrorMessage(res),
				  PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
}

PGINBOX_EXPORT pginbox_error_kind
pginbox_errkind(const pginbox_conn *conn)
{
	return conn->err.kind;
}

PGINBOX_EXPORT const char *
pginbox_sqlstate(const pginbox_conn *conn)
{
	return conn->err.sqlstate;
}

PGINBOX_EXPORT const char *
pginbox_errmsg(const pginbox_conn *conn)
{
	return conn->err.message ? conn->err.message : "";
}

PGINBOX_EXPORT const char *
pginbox_errdetail(const pginbox_conn *conn)
{
	return conn->err.detail ? conn->err.detail : "";
}

PGINBOX_EXPORT bool
pginbox_retryable(const pginbox_conn *conn)
{
	return conn->err.retryable;
}

/* ---------------------------------------------------------------- the connection */

void
InboxDisconnect(pginbox_conn *h)
{
	if (h->pg)
		PQfinish(h->pg);
	h->pg = NULL;
}

/* a field of a notice, without the newline libpq may leave at its end */
static const char *
notice_field(const PGresult *res, int field)
{
	const char *v = PQresultErrorField(res, field);

	return v && *v ? v : NULL;
}

/*
 * libpq's notice receiver on every connection of the handle: the notice
 * goes to the caller's notice_cb, or nowhere.  (libpq's default prints it
 * to stderr, unprefixed, which is what a library must not do.)
 */
static void
notice_receiver(void *arg, const PGresult *res)
{
	pginbox_conn *h = arg;
	pginbox_notice n;
	char	   *message;
	const char *primary;

	if (h->options.notice_cb == NULL)
		return;
	n.severity = notice_field(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	if (n.severity == NULL)
		n.severity = notice_field(res, PG_DIAG_SEVERITY);
	if (n.severity == NULL)
		n.severity = "NOTICE";
	n.sqlstate = notice_field(res, PG_DIAG_SQLSTATE);
	if (n.sqlstate == NULL)
		n.sqlstate = "";
	primary = notice_field(res, PG_DIAG_MESSAGE_PRIMARY);
	message = trimmed(primary ? primary : PQresultErrorMessage(res));
	n.message = message ? message : "";
	n.detail = notice_field(res, PG_DIAG_MESSAGE_DETAIL);
	n.hint = notice_field(res, PG_DIAG_MESSAGE_HINT);
	h->options.notice_cb(h->options.notice_arg, &n);
	free(message);
}

/*
 * connect_timeout of a connection being made, in milliseconds, as libpq
 * reads it (at least 2 seconds); -1 when there is none.
 */
static int
connect_timeout_ms(PGconn *pg)
{
	PQconninfoOption *opts = PQconninfo(pg);
	int			timeout = -1;

	if (opts == NULL)
		return -1;
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		if (strcmp(o->keyword, "connect_timeout") == 0 && o->val && *o->val)
		{
			long		v = strtol(o->val, NULL, 10);

			if (v > 0)
				timeout = (int) ((v < 2 ? 2 : v > 86400 ? 86400 : v) * 1000);
		}
	}
	PQconninfoFree(opts);
	return timeout;
}

/*
 * Make a connection with the notice receiver in place from its start: a
 * WARNING at connection start reaches the caller's notice_cb like any
 * other.  PQconnectdbParams would install libpq's default receiver for that
 * time, so the connection is made with PQconnectStartParams and
 * PQconnectPoll.  The string is what psql's -d takes (expand_dbname).
 * Returns false when the timeout ran out (the connection is then bad).
 */
static bool
connect_with_receiver(pginbox_conn *h)
{
	static const char *const keywords[] = {"dbname", NULL};
	const char *values[2] = {h->conninfo, NULL};
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	int			timeout;
	int64_t		deadline;
	char	   *host = NULL;

	h->pg = PQconnectStartParams(keywords, values, 1);
	if (h->pg == NULL)
		return true;
	PQsetNoticeReceiver(h->pg, notice_receiver, h);
	if (PQstatus(h->pg) == CONNECTION_BAD)
		return true;
	timeout = connect_timeout_ms(h->pg);
	deadline = InboxNowMs() + timeout;
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED)
	{
		struct pollfd pfd;
		int			rc;
		const char *now_host = PQhost(h->pg);

		/* libpq's timeout is per host: a new host starts a new one */
		if (timeout >= 0 && now_host && (host == NULL || strcmp(host, now_host) != 0))
		{
			free(host);
			host = strdup(now_host);
			deadline = InboxNowMs() + timeout;
		}
		pfd.fd = PQsocket(h->pg);
		pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		pfd.revents = 0;
		rc = poll(&pfd, 1, timeout < 0 ? -1 : (int) (deadline > InboxNowMs() ? deadline - InboxNowMs() : 0));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0)
		{
			free(host);
			return false;
		}
		st = PQconnectPoll(h->pg);
	}
	free(host);
	return true;
}

/* Connect (again); false with the error set when that failed. */
bool
InboxReconnect(pginbox_conn *h)
{
	bool		in_time;

	InboxDisconnect(h);
	in_time = connect_with_receiver(h);
	if (h->pg == NULL)
	{
		InboxSetError(h, PGINBOX_ERR_NOMEM, "", "out of memory", NULL);
		return false;
	}
	if (!in_time || PQstatus(h->pg) != CONNECTION_OK)
	{
		InboxSetError(h, PGINBOX_ERR_CONNECTION, "08001",
					  in_time ? PQerrorMessage(h->pg) : "timeout expired", NULL);
		InboxDisconnect(h);
		return false;
	}
	h->ever_connected = true;
	return true;
}

PGINBOX_EXPORT pginbox_conn *
pginbox_connect_sized(const pginbox_options *options, size_t size)
{
	pginbox_conn *h = calloc(1, sizeof(pginbox_conn));

	if (h == NULL)
		return NULL;
	/* the defaults, then as much of the caller's struct as both sides know */
	options_defaults(&h->options);
	if (options)
		memcpy(&h->options, options, size < sizeof(h->options) ? size : sizeof(h->options));
	h->conninfo = strdup(h->options.conninfo ? h->options.conninfo : "");
	if (h->conninfo == NULL)
	{
		free(h);
		return NULL;
	}
	/* the options keep no pointer into the caller's memory */
	h->options.conninfo = h->conninfo;
	h->rng = (uint64_t) InboxNowMs() ^ ((uint64_t) getpid() << 32) ^ (uint64_t) (uintptr_t) h;
	(void) InboxReconnect(h);
	return h;
}

PGINBOX_EXPORT pginbox_conn *
(pginbox_connect) (const pginbox_options *options)
{
	return pginbox_connect_sized(options, OPTIONS_SIZE_0_1);
}

PGINBOX_EXPORT void
pginbox_free(pginbox_conn *conn)
{
	if (conn == NULL)
		return;
	InboxDisconnect(conn);
	InboxFreeError(&conn->err);
	InboxFreeError(&conn->tx_cause);
	free(conn->scratch);
	free(conn->conninfo);
	free(conn);
}

PGINBOX_EXPORT PGconn *
pginbox_pgconn(pginbox_conn *conn)
{
	return conn->pg;
}

char *
InboxScratch(pginbox_conn *h, size_t size)
{
	if (size > h->scratch_size)
	{
		char	   *p = realloc(h->scratch, size);

		if (p == NULL)
			return NULL;
		h->scratch = p;
		h->scratch_size = size;
	}
	return h->scratch;
}

/*
 * Mark the runner's transaction as gone: the callback's later calls fail at
 * once, and the runner reports this error.
 */
void
InboxAbortRunner(pginbox_conn *h)
{
	if (h->in_runner && !h->tx_aborted)
	{
		h->tx_aborted = true;
		InboxCopyError(&h->tx_cause, &h->err);
	}
}

/*
 * Roll back an aborted transaction, so that no call returns with the
 * connection in one.  The error already on the handle stays.
 */
void
InboxEnsureHealthy(pginbox_conn *h)
{
	PGresult   *res;

	if (h->pg == NULL || PQtransactionStatus(h->pg) != PQTRANS_INERROR)
		return;
	res = PQexec(h->pg, "ROLLBACK");
	PQclear(res);
	if (PQtransactionStatus(h->pg) != PQTRANS_IDLE)
		InboxDisconnect(h);		/* cannot happen short of a lost connection */
}

/*
 * Whether an idle connection is still there, without waiting: read what the
 * server sent (a backend being terminated sends an error, then closes the
 * socket), let libpq parse it, then read again to meet the end of the
 * stream.
 */
bool
InboxStillConnected(PGconn *pg)
{
	for (int i = 0; i < 2; i++)
	{
		if (!PQconsumeInput(pg) || PQstatus(pg) != CONNECTION_OK)
			return false;
		(void) PQisBusy(pg);
	}
	return PQstatus(pg) == CONNECTION_OK;
}

/*
 * Run one statement with text parameters and return its result, or NULL
 * with the error set.
 *
 * Outside a transaction, a statement that fails with a retryable error that
 * the server sent (40001, 40P01) surely did not run, and is run again after
 * a backoff; so is one that could not be sent because the connection was
 * gone and could not be made again.  A statement that lost its connection in
 * flight may or may not have run: it is run again only when retry is
 * INBOX_RETRY_IDEMPOTENT.  All of it within retry_total_ms.
 *
 * Inside a transaction nothing is retried: the transaction is what would
 * have to be run again, which is the runner's business.  A failure there
 * leaves the transaction aborted, and it is rolled back at once.
 */
PGresult *
InboxRun(pginbox_conn *h, const char *sql, int nparams, const char *const *values,
		 int result_format, InboxRetry retry)
{
	return InboxRunParams(h, sql, nparams, NULL, values, NULL, NULL, result_format, retry);
}

/* InboxRun with parameter types, lengths and formats, as PQexecParams takes them */
PGresult *
InboxRunParams(pginbox_conn *h, const char *sql, int nparams, const Oid *types,
			   const char *const *values, const int *lengths, const int *formats,
			   int result_format, InboxRetry retry)
{
	int64_t		deadline = InboxNowMs() + h->options.retry_total_ms;
	int			attempt = 0;

	for (;;)
	{
		PGresult   *res;
		ExecStatusType st;
		bool		in_tx;

		if (h->in_runner && h->tx_aborted)
		{
			InboxSetError(h, PGINBOX_ERR_SERVER, "25P02",
						  "the transaction was rolled back after an earlier error",
						  "Return from the transaction callback: pginbox_transaction reports the error that rolled it back.");
			return NULL;
		}
		if (h->pg == NULL || PQstatus(h->pg) != CONNECTION_OK)
		{
			if (h->in_runner)
			{
				InboxSetError(h, PGINBOX_ERR_CONNECTION, "08006",
							  "the connection was lost during the transaction", NULL);
				InboxAbortRunner(h);
				return NULL;
			}
			if (!InboxReconnect(h))
			{
				/* a handle that never connected has nothing to come back to */
				if (!h->ever_connected)
					return NULL;
				goto retry;
			}
		}

		/*
		 * Outside a transaction, a backend that was terminated while the
		 * connection was idle has said so already: read that before sending,
		 * so that the call goes to a new connection instead of failing after
		 * it was sent (which would stop a call that is not idempotent).
		 */
		if (PQtransactionStatus(h->pg) == PQTRANS_IDLE && !h->in_runner &&
			!InboxStillConnected(h->pg))
		{
			if (!InboxReconnect(h))
				goto retry;
		}

		switch (PQtransactionStatus(h->pg))
		{
			case PQTRANS_IDLE:
				in_tx = false;
				break;
			case PQTRANS_INERROR:
				/* a statement of the caller's own failed before this call */
				InboxEnsureHealthy(h);
				InboxSetError(h, PGINBOX_ERR_SERVER, "25P02",
							  "the transaction had already failed, and was rolled back",
							  "A statement run on the connection before this call failed.");
				InboxAbortRunner(h);
				return NULL;
			default:
				in_tx = true;
				break;
		}

		res = PQexecParams(h->pg, sql, nparams, types, values, lengths, formats, result_format);
		st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
			return res;
		set_error_from_result(h, res);
		PQclear(res);

		if (h->err.kind == PGINBOX_ERR_CONNECTION)
		{
			InboxDisconnect(h);
			if (in_tx)
			{
				append_detail(h, "The transaction that was open was lost with the connection.");
				InboxAbortRunner(h);
				return NULL;
			}
			if (retry != INBOX_RETRY_IDEMPOTENT)
				return NULL;
		}
		else if (in_tx)
		{
			if (PQtransactionStatus(h->pg) == PQTRANS_INERROR)
			{
				InboxEnsureHealthy(h);
				append_detail(h, "The transaction was rolled back.");
				InboxAbortRunner(h);
			}
			return NULL;
		}

retry:
		if (!h->err.retryable || !InboxBackoff(h, attempt++, deadline))
			return NULL;
	}
}
