/*
 * pginbox.h
 *	  libpginbox: a thin C client of the pg_inbox extension, on libpq.
 *
 * One opaque handle (pginbox_conn) owns one libpq connection.  Handles share
 * nothing: use one handle per thread, or guard a shared one yourself.
 *
 * Return convention: every call that can fail returns 0 on success and -1 on
 * failure, and then leaves an error on the handle, read with
 * pginbox_errkind(), pginbox_sqlstate(), pginbox_errmsg(),
 * pginbox_errdetail() and pginbox_retryable() until the next call on that
 * handle.
 *
 * Ownership: strings inside a result that a call fills in (a detail, a row)
 * belong to the handle and stay valid until the next call on it.  Results
 * that a call allocates (pginbox_batch, pginbox_claimed, a PGresult from
 * pginbox_exec) belong to the caller, who frees them with their own free
 * function; the strings inside them live as long as they do.
 *
 * Guarantee: when any call returns, the connection is idle or inside a
 * healthy transaction that the caller opened; it is never left in an aborted
 * transaction.  A call that fails inside a transaction rolls it back (an
 * aborted transaction can only be rolled back), and says so in the error.
 */
#ifndef PGINBOX_H
#define PGINBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#ifdef __cplusplus
extern "C"
{
#endif

#define PGINBOX_VERSION_MAJOR 0
#define PGINBOX_VERSION_MINOR 2
#define PGINBOX_VERSION_PATCH 0
/* 100 * 100 * major + 100 * minor + patch, as pginbox_version() returns it */
#define PGINBOX_VERSION_NUM \
	(PGINBOX_VERSION_MAJOR * 10000 + PGINBOX_VERSION_MINOR * 100 + PGINBOX_VERSION_PATCH)

/* the version of the library that is linked in, as PGINBOX_VERSION_NUM */
extern int	pginbox_version(void);

typedef struct pginbox_conn pginbox_conn;

/*
 * A message the server sent that is not an error of a call: a NOTICE or
 * WARNING raised by a statement, a WARNING at connection start, or the
 * FATAL a backend sends when it is terminated while the connection is idle
 * (the next call then reconnects).  libpq's own notices come the same way.
 * The strings are valid during the callback only.
 */
typedef struct pginbox_notice
{
	const char *severity;		/* "NOTICE", "WARNING", "FATAL" ... never translated */
	const char *sqlstate;		/* "" when there is none (libpq's own) */
	const char *message;		/* the primary message, without a trailing newline */
	const char *detail;			/* NULL when none */
	const char *hint;			/* NULL when none */
} pginbox_notice;

/*
 * Called with each notice, on the thread that made the call that received
 * it, from inside that call: it must not call the library on the same
 * handle.
 */
typedef void (*pginbox_notice_fn) (void *arg, const pginbox_notice *notice);

/*
 * Connection and retry settings.  Fill with pginbox_options_init() first,
 * then change what you need.  Fields are added at the end in later versions:
 * pginbox_options_init() and pginbox_connect() are macros that pass the
 * size of the struct the caller was compiled with, so that a program built
 * against an older header keeps working with a newer library.
 */
typedef struct pginbox_options
{
	/*
	 * What psql's -d takes: a database name, a libpq connection string
	 * ("host=db dbname=app") or a URI ("postgresql://db/app"); NULL or ""
	 * uses the PG* variables.  A name alone is only the database: host, user
	 * and the rest still come from the PG* variables.
	 */
	const char *conninfo;
	/* first delay before a retry, in milliseconds (default 50) */
	int			retry_initial_ms;
	/* cap of any one delay (default 2000); delays double up to it */
	int			retry_max_ms;
	/* limit on the total time one call spends retrying (default 30000); 0: never retry */
	int			retry_total_ms;
	/* attempts of a transaction runner callback, the first included (default 5) */
	int			tx_max_attempts;

	/* added in 0.2 */

	/*
	 * Where the server's notices and warnings go, on every connection the
	 * handle makes (the first one and each reconnection), from the start of
	 * the connection.  NULL (the default): they are dropped.  The library
	 * never prints anything itself.
	 */
	pginbox_notice_fn notice_cb;
	void	   *notice_arg;		/* passed to notice_cb */
} pginbox_options;

extern void pginbox_options_init_sized(pginbox_options *options, size_t size);

#define pginbox_options_init(options) \
	pginbox_options_init_sized((options), sizeof(pginbox_options))

/*
 * Connect.  Returns a handle even when the connection failed (check
 * pginbox_errkind(), which is then PGINBOX_ERR_CONNECTION; later calls try
 * again), and NULL only when out of memory.  options may be NULL (the
 * defaults).  The handle keeps a copy of the conninfo string.  A
 * connect_timeout in the connection string bounds the wait for each host;
 * when it runs out, the attempt ends (later calls try again).
 */
extern pginbox_conn *pginbox_connect_sized(const pginbox_options *options, size_t size);

#define pginbox_connect(options) \
	pginbox_connect_sized((options), sizeof(pginbox_options))

/*
 * (pginbox_options_init and pginbox_connect are also functions, the entry
 * points of programs built against 0.1: they know the fields of 0.1 only.)
 */
extern void (pginbox_options_init) (pginbox_options *options);
extern pginbox_conn *(pginbox_connect) (const pginbox_options *options);

/* Close the connection and free the handle and everything it owns. */
extern void pginbox_free(pginbox_conn *conn);

/*
 * The libpq connection, for the caller's own statements (prefer
 * pginbox_exec, which keeps the guarantee above).  Owned by the handle; it
 * changes when the handle reconnects, so do not keep it across calls.  NULL
 * when the handle is not connected.
 */
extern PGconn *pginbox_pgconn(pginbox_conn *conn);

/* ---------------------------------------------------------------- errors */

typedef enum pginbox_error_kind
{
	PGINBOX_OK = 0,
	PGINBOX_ERR_CONNECTION,		/* could not connect, or the connection was lost */
	PGINBOX_ERR_SERVER,			/* the server raised an error; see the SQLSTATE */
	PGINBOX_ERR_USAGE,			/* a bad argument, or a call where it is not allowed */
	PGINBOX_ERR_CALLBACK,		/* a transaction callback returned non-zero by itself */
	PGINBOX_ERR_PROTOCOL,		/* an answer of an unexpected shape */
	PGINBOX_ERR_NOMEM			/* out of memory */
} pginbox_error_kind;

/* The last call's error; PGINBOX_OK after a call that succeeded. */
extern pginbox_error_kind pginbox_errkind(const pginbox_conn *conn);

/*
 * The five-character SQLSTATE of the last error: the server's, or the
 * library's own ("08006" connection lost, "08001" cannot connect, "08007"
 * commit outcome unknown, "25P02" transaction rolled back after an earlier
 * error, "0A000" nested transaction runner, "22023" bad argument); "" when
 * there is none.  Never NULL.
 */
extern const char *pginbox_sqlstate(const pginbox_conn *conn);

/* The primary message, and the detail ("" when none).  Never NULL. */
extern const char *pginbox_errmsg(const pginbox_conn *conn);
extern const char *pginbox_errdetail(const pginbox_conn *conn);

/*
 * Whether doing the same again later may succeed: connection loss, 40001
 * serialization_failure, 40P01 deadlock_detected, 57P01 admin_shutdown,
 * 57P02 crash_shutdown, 57P03 cannot_connect_now, 53300
 * too_many_connections.  The library has already retried what it could
 * within retry_total_ms.
 */
extern bool pginbox_retryable(const pginbox_conn *conn);

/* ---------------------------------------------------------------- ingest */

typedef enum pginbox_status
{
	PGINBOX_INSERTED,			/* a new event; id is its id */
	PGINBOX_DUPLICATE,			/* stored before with an equal payload; id is the original's */
	PGINBOX_CONFLICT,			/* stored before with another payload; kept as it was */
	PGINBOX_REJECTED			/* unusable input; nothing stored; id is 0 */
} pginbox_status;

/* "inserted", "duplicate", "conflict", "rejected" */
extern const char *pginbox_status_name(pginbox_status status);

typedef struct pginbox_ingest_result
{
	pginbox_status status;
	int64_t		id;				/* inbox.events.id; 0 when rejected */
	int64_t		received_at;	/* microseconds since 1970-01-01 UTC; 0 when rejected */
	const char *detail;			/* why, for conflict and rejected; NULL otherwise */
} pginbox_ingest_result;

/*
 * Ingest one event (inbox.ingest_raw): body is the raw JSON text (a body
 * that is not valid JSON comes back rejected), headers is JSON text or NULL.
 * result->detail belongs to the handle.  Retried across a lost connection.
 */
extern int	pginbox_ingest(pginbox_conn *conn, const char *source, const char *event_id,
						   const char *body, const char *headers,
						   pginbox_ingest_result *result);

typedef struct pginbox_verified_result
{
	pginbox_status status;
	int64_t		id;				/* inbox.events.id; 0 when rejected */
	int64_t		received_at;	/* microseconds since 1970-01-01 UTC; 0 when rejected */
	const char *detail;			/* why, for conflict and rejected; NULL otherwise */
	const char *reason;			/* rejected: no_signature, bad_signature, timestamp,
								 * no_secret, no_event_id, too_large, invalid;
								 * NULL otherwise */
	const char *key_id;			/* the secret that verified the delivery; NULL when none did */
} pginbox_verified_result;

/*
 * Verify a signed delivery against its source's scheme and secrets and, if
 * it verifies, ingest it (inbox.ingest_verified, since 0.4.0 of the
 * extension; see the README, "Signatures").  body is the raw body exactly
 * as received, headers the received headers as a JSON object (NULL: no
 * headers, which is rejected with reason no_signature).  A delivery that
 * does not verify is not an error: it is result->status PGINBOX_REJECTED
 * with result->reason saying why.  The strings in result belong to the
 * handle.  Retried across a lost connection (a redelivery answers
 * duplicate).  Added in 0.2.
 */
extern int	pginbox_ingest_verified(pginbox_conn *conn, const char *source,
									const char *body, const char *headers,
									pginbox_verified_result *result);

typedef struct pginbox_event
{
	const char *event_id;
	const char *payload;		/* JSON text; must be valid JSON (see the README) */
} pginbox_event;

typedef struct pginbox_batch
{
	size_t		n;				/* as many as events were given */
	pginbox_ingest_result *results; /* results[i] answers events[i] */
} pginbox_batch;

/*
 * Ingest n events of one source in one statement (inbox.ingest_many).  On
 * success *batch is set to a result that the caller frees with
 * pginbox_batch_free().  One payload that is not valid JSON fails the whole
 * batch with SQLSTATE 22P02.  Retried across a lost connection: a retry of a
 * batch whose first try had committed answers duplicate for its events.
 */
extern int	pginbox_ingest_batch(pginbox_conn *conn, const char *source,
								 const pginbox_event *events, size_t n,
								 pginbox_batch **batch);
extern void pginbox_batch_free(pginbox_batch *batch);

typedef struct pginbox_raw_event
{
	const char *event_id;
	const char *body;			/* the body as received; not valid JSON: that event is rejected */
	const char *headers;		/* JSON text, or NULL */
} pginbox_raw_event;

/*
 * Ingest n raw bodies of one source in one statement
 * (inbox.ingest_raw_many, since 0.4.0 of the extension): like
 * pginbox_ingest_batch, but a body that is not valid JSON, or that jsonb
 * cannot hold (a number out of numeric's range, \u0000), is one rejected
 * result and the rest of the batch is stored.  Headers, when given, must
 * be valid JSON (one that is not fails the batch with 22P02); a body must
 * not be NULL, and must be valid in the client encoding.  Retried across a
 * lost connection, as pginbox_ingest_batch.  Added in 0.2.
 */
extern int	pginbox_ingest_raw_batch(pginbox_conn *conn, const char *source,
									 const pginbox_raw_event *events, size_t n,
									 pginbox_batch **batch);

/* ---------------------------------------------------------------- upsert */

typedef enum pginbox_upsert_action
{
	PGINBOX_UPSERT_INSERTED,
	PGINBOX_UPSERT_UPDATED,
	PGINBOX_UPSERT_UNCHANGED,	/* the row already held those values; nothing written */
	PGINBOX_UPSERT_SKIPPED		/* a BEFORE trigger returned NULL; nothing written;
								 * row is NULL when no row has the key */
} pginbox_upsert_action;

/* "inserted", "updated", "unchanged", "skipped" */
extern const char *pginbox_upsert_action_name(pginbox_upsert_action action);

typedef struct pginbox_upsert_result
{
	pginbox_upsert_action action;
	const char *row;			/* the row as it now stands, JSON text */
} pginbox_upsert_result;

/*
 * Insert or update one row of table (a name as regclass reads it, e.g.
 * "public.orders") from the JSON object data (inbox.upsert).
 * conflict_columns (n_conflict names) may be NULL to use the primary key or
 * the only unique index.  result->row belongs to the handle.  Retried across
 * a lost connection.
 */
extern int	pginbox_upsert(pginbox_conn *conn, const char *table, const char *data,
						   const char *const *conflict_columns, int n_conflict,
						   pginbox_upsert_result *result);

/* ---------------------------------------------------------------- processing */

typedef struct pginbox_claimed_event
{
	int64_t		id;
	const char *source;
	const char *event_id;
	int			attempt;		/* 1 on the first claim */
	int64_t		received_at;	/* microseconds since 1970-01-01 UTC */
	int64_t		locked_until;	/* microseconds since 1970-01-01 UTC */
	const char *headers;		/* JSON text, or NULL */
	const char *payload;		/* JSON text */
} pginbox_claimed_event;

typedef struct pginbox_claimed
{
	size_t		n;
	pginbox_claimed_event *events;
} pginbox_claimed;

/*
 * Claim up to max_events events for consumer, for lease_ms milliseconds (0:
 * five minutes), from the given sources (NULL: all).  On success *claimed is
 * set to a result the caller frees with pginbox_claimed_free() (n may be 0).
 * Not retried after the request was sent: events claimed by a lost call come
 * back once their lease has run out.
 */
extern int	pginbox_claim(pginbox_conn *conn, const char *consumer, int max_events,
						  long lease_ms, const char *const *sources, int n_sources,
						  pginbox_claimed **claimed);
extern void pginbox_claimed_free(pginbox_claimed *claimed);

/*
 * Mark a claimed event done.  *held is set to false when consumer no longer
 * held it (nothing was changed).  Retried across a lost connection: a retry
 * whose first try had committed reports false.
 */
extern int	pginbox_complete(pginbox_conn *conn, int64_t id, const char *consumer,
							 bool *held);

typedef enum pginbox_state
{
	PGINBOX_STATE_NOT_HELD,		/* consumer no longer held the event; nothing changed */
	PGINBOX_STATE_PENDING,		/* will be retried */
	PGINBOX_STATE_DEAD			/* attempt limit reached */
} pginbox_state;

/*
 * Record a failure of a claimed event (inbox.fail): retry_in_ms < 0 lets the
 * server pick the delay (backoff with jitter).  *state is the event's new
 * state.  Retried across a lost connection, like pginbox_complete.
 */
extern int	pginbox_fail(pginbox_conn *conn, int64_t id, const char *consumer,
						 const char *error, long retry_in_ms, pginbox_state *state);

/* ---------------------------------------------------------------- statements and transactions */

/*
 * Run one statement of the caller's, with text parameters $1 .. $n.  On
 * success *result is set to the libpq result, which the caller frees with
 * PQclear().  Never retried after it was sent.
 */
extern int	pginbox_exec(pginbox_conn *conn, const char *sql, int n_params,
						 const char *const *params, PGresult **result);

typedef enum pginbox_isolation
{
	PGINBOX_READ_COMMITTED,
	PGINBOX_REPEATABLE_READ,
	PGINBOX_SERIALIZABLE
} pginbox_isolation;

/* A transaction's body: return 0 to commit, anything else to roll back. */
typedef int (*pginbox_tx_fn) (pginbox_conn *conn, void *arg);

/*
 * The transaction runner: BEGIN, fn(conn, arg), COMMIT.  Rolls back when fn
 * returns non-zero or any call inside it failed (such a failure has already
 * rolled the transaction back; later calls in fn then fail with 25P02).
 * Runs fn again, after a backoff, on 40001 and 40P01 and on a connection
 * lost before COMMIT was sent (also a backend that was terminated while the
 * transaction was idle after fn), up to tx_max_attempts times and
 * retry_total_ms: fn must be safe to run more than once.  A connection lost
 * during COMMIT is not retried (SQLSTATE 08007: it may have committed).
 * Calling it from inside fn on the same handle fails with 0A000, and so
 * does calling it while the caller has a transaction open.
 */
extern int	pginbox_transaction(pginbox_conn *conn, pginbox_isolation isolation,
								pginbox_tx_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif							/* PGINBOX_H */
