/*
 * tap.h
 *	  Test Anything Protocol output for the C tests of the client, and the
 *	  helpers they share.  The plan is printed at the end (tap_done), so a
 *	  test may count its checks as it goes.
 */
#ifndef INBOX_TAP_H
#define INBOX_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pginbox.h"

static int	tap_count = 0;
static int	tap_failures = 0;

static inline void tap_ok(int pass, int line, const char *fmt,...) __attribute__((format(printf, 3, 4)));

static inline void
tap_ok(int pass, int line, const char *fmt,...)
{
	va_list		ap;

	printf("%sok %d - ", pass ? "" : "not ", ++tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass)
	{
		tap_failures++;
		printf("#   failed at line %d\n", line);
	}
	fflush(stdout);
}

#define ok(cond, ...) tap_ok((cond) ? 1 : 0, __LINE__, __VA_ARGS__)

#define is_int(got, want, name) do { \
	long long	got_ = (long long) (got), want_ = (long long) (want); \
	tap_ok(got_ == want_, __LINE__, "%s", name); \
	if (got_ != want_) \
		printf("#   got: %lld\n#   expected: %lld\n", got_, want_); \
} while (0)

#define is_str(got, want, name) do { \
	const char *got_ = (got), *want_ = (want); \
	int			same_ = got_ && want_ ? strcmp(got_, want_) == 0 : got_ == want_; \
	tap_ok(same_, __LINE__, "%s", name); \
	if (!same_) \
		printf("#   got: \"%s\"\n#   expected: \"%s\"\n", got_ ? got_ : "(null)", want_ ? want_ : "(null)"); \
} while (0)

static inline void
tap_skip(int n, const char *why)
{
	for (int i = 0; i < n; i++)
		printf("ok %d # SKIP %s\n", ++tap_count, why);
}

static inline void
tap_diag(const char *fmt,...)
{
	va_list		ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failures ? 1 : 0;
}

/* Stop the test: the rest cannot run (the plan then does not match). */
static inline void
tap_bail(const char *why)
{
	printf("Bail out! %s\n", why);
	exit(2);
}

/*
 * The library's promise, checked after a call: the connection is not in an
 * aborted transaction, and it is in a transaction only when the caller
 * opened one (in_tx).
 */
static inline void
check_healthy(pginbox_conn *conn, int in_tx, const char *after)
{
	PGconn	   *pg = pginbox_pgconn(conn);
	PGTransactionStatusType st = pg ? PQtransactionStatus(pg) : PQTRANS_IDLE;

	tap_ok(st != PQTRANS_INERROR && st == (in_tx ? PQTRANS_INTRANS : PQTRANS_IDLE), __LINE__,
		   "connection healthy after %s", after);
	if (st == PQTRANS_INERROR)
		printf("#   left in an aborted transaction\n");
}

/* Run one statement that must work (test setup); bails out when it fails. */
static inline PGresult *
must_exec(pginbox_conn *conn, const char *sql, int n, const char *const *params)
{
	PGresult   *res;

	if (pginbox_exec(conn, sql, n, params, &res) != 0)
	{
		printf("# %s\n# %s: %s\n", sql, pginbox_sqlstate(conn), pginbox_errmsg(conn));
		tap_bail("setup statement failed");
	}
	return res;
}

/* The first value of a query's first row, as a malloc'd string. */
static inline char *
query_value(pginbox_conn *conn, const char *sql, int n, const char *const *params)
{
	PGresult   *res = must_exec(conn, sql, n, params);
	char	   *v = strdup(PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");

	PQclear(res);
	return v;
}

/* a query's first value compared with want; "" when there is no row */
#define is_query(conn, sql, n, params, want, name) do { \
	char	   *v_ = query_value(conn, sql, n, params); \
	is_str(v_, want, name); \
	free(v_); \
} while (0)

static inline long long
query_int(pginbox_conn *conn, const char *sql, int n, const char *const *params)
{
	char	   *v = query_value(conn, sql, n, params);
	long long	r = atoll(v);

	free(v);
	return r;
}

static inline pginbox_conn *
connect_to(const char *conninfo)
{
	pginbox_options options;
	pginbox_conn *conn;

	pginbox_options_init(&options);
	options.conninfo = conninfo;
	conn = pginbox_connect(&options);
	if (conn == NULL || pginbox_errkind(conn) != PGINBOX_OK)
	{
		printf("# %s\n", conn ? pginbox_errmsg(conn) : "out of memory");
		tap_bail("cannot connect");
	}
	return conn;
}

#endif							/* INBOX_TAP_H */
