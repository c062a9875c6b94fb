/*
 * tx.c
 *	  The transaction runner: BEGIN, the caller's callback, COMMIT.
 *
 * The runner owns the transaction's boundaries.  Calls inside the callback
 * never retry on their own (what would have to be retried is the whole
 * transaction); a call that fails rolls the transaction back at once and
 * marks it aborted, and the runner then decides from that first error
 * whether to run the callback again: serialization failures, deadlocks and
 * a connection lost before COMMIT are retried, anything else is reported.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "pginbox_int.h"

static const char *const begin_sql[] = {
	[PGINBOX_READ_COMMITTED] = "BEGIN ISOLATION LEVEL READ COMMITTED",
	[PGINBOX_REPEATABLE_READ] = "BEGIN ISOLATION LEVEL REPEATABLE READ",
	[PGINBOX_SERIALIZABLE] = "BEGIN ISOLATION LEVEL SERIALIZABLE",
};

/* Errors after which the whole transaction may simply run again. */
static bool
transaction_retryable(const PgInboxError *e)
{
	return e->kind == PGINBOX_ERR_CONNECTION ||
		strcmp(e->sqlstate, "40001") == 0 || strcmp(e->sqlstate, "40P01") == 0;
}

/*
 * COMMIT.  Returns 1 when committed, 0 when the server refused (the error
 * set, the transaction over), -1 when the outcome is unknown (the
 * connection was lost on the way).
 */
static int
commit(pginbox_conn *h)
{
	PGresult   *res;
	ExecStatusType st;

	/*
	 * A backend terminated while the transaction sat idle has said so
	 * already: then it surely rolled back, and the callback can run again,
	 * instead of a COMMIT that fails with an outcome it cannot know.
	 */
	if (!InboxStillConnected(h->pg))
	{
		InboxSetError(h, PGINBOX_ERR_CONNECTION, "08006",
					  "the connection was lost before COMMIT was sent",
					  "The transaction was rolled back with it.");
		InboxDisconnect(h);
		return 0;
	}
	res = PQexec(h->pg, "COMMIT");
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), "COMMIT") == 0)
	{
		PQclear(res);
		return 1;
	}
	if (st == PGRES_COMMAND_OK)
	{
		/* COMMIT of an aborted transaction answers ROLLBACK; ours are never aborted here */
		PQclear(res);
		InboxSetError(h, PGINBOX_ERR_PROTOCOL, "", "COMMIT rolled the transaction back", NULL);
		return 0;
	}
	if (res && PQresultErrorField(res, PG_DIAG_SQLSTATE) &&
		!InboxConnectionLost(h->pg, PQresultErrorField(res, PG_DIAG_SQLSTATE)))
	{
		InboxSetError(h, PGINBOX_ERR_SERVER, PQresultErrorField(res, PG_DIAG_SQLSTATE),
					  PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY),
					  PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
		PQclear(res);
		InboxEnsureHealthy(h);
		return 0;
	}
	PQclear(res);
	InboxSetError(h, PGINBOX_ERR_CONNECTION, "08007",
				  "the connection was lost during COMMIT",
				  "The transaction may or may not have committed; it was not run again.");
	h->err.retryable = false;
	InboxDisconnect(h);
	return -1;
}

/* End the callback's transaction without committing; keeps the error. */
static void
rollback(pginbox_conn *h)
{
	if (h->pg && PQstatus(h->pg) == CONNECTION_OK &&
		PQtransactionStatus(h->pg) != PQTRANS_IDLE)
		PQclear(PQexec(h->pg, "ROLLBACK"));
	if (h->pg && PQtransactionStatus(h->pg) != PQTRANS_IDLE)
		InboxDisconnect(h);
}

PGINBOX_EXPORT int
pginbox_transaction(pginbox_conn *conn, pginbox_isolation isolation,
					pginbox_tx_fn fn, void *arg)
{
	int64_t		deadline;

	if (conn->in_runner)
	{
		/* the outer transaction is untouched: nothing was sent */
		InboxSetError(conn, PGINBOX_ERR_USAGE, "0A000",
					  "pginbox_transaction cannot be called from inside its own callback",
					  "The runner does not nest, and does not make a savepoint silently; do the work in the callback that is running.");
		return -1;
	}
	InboxClearError(conn);
	if (fn == NULL || (int) isolation < 0 || isolation > PGINBOX_SERIALIZABLE)
	{
		InboxSetError(conn, PGINBOX_ERR_USAGE, "22023",
					  "pginbox_transaction: fn must not be NULL, isolation must be one of pginbox_isolation", NULL);
		return -1;
	}
	if (conn->pg && PQtransactionStatus(conn->pg) != PQTRANS_IDLE)
	{
		InboxEnsureHealthy(conn);
		InboxSetError(conn, PGINBOX_ERR_USAGE, "0A000",
					  "pginbox_transaction cannot be called while a transaction is open on the connection",
					  "The runner opens its own transaction; end the caller's first.");
		return -1;
	}

	deadline = InboxNowMs() + conn->options.retry_total_ms;
	for (int attempt = 1;; attempt++)
	{
		PGresult   *res;
		int			rc;

		res = InboxRun(conn, begin_sql[isolation], 0, NULL, 0, INBOX_RETRY_IDEMPOTENT);
		if (res == NULL)
			return -1;
		PQclear(res);

		conn->in_runner = true;
		conn->tx_aborted = false;
		InboxFreeError(&conn->tx_cause);
		rc = fn(conn, arg);
		conn->in_runner = false;

		if (conn->tx_aborted)
		{
			/* a call failed and rolled back already: report what did it */
			InboxCopyError(&conn->err, &conn->tx_cause);
			rollback(conn);
		}
		else if (rc != 0)
		{
			/* the callback chose to roll back; keep a library error it saw */
			if (conn->err.kind == PGINBOX_OK)
			{
				char		msg[96];

				snprintf(msg, sizeof(msg), "the transaction callback returned %d", rc);
				InboxSetError(conn, PGINBOX_ERR_CALLBACK, "", msg, "The transaction was rolled back.");
			}
			rollback(conn);
			return -1;
		}
		else if (conn->pg == NULL || PQtransactionStatus(conn->pg) != PQTRANS_INTRANS)
		{
			/* the callback used the PGconn directly, and a statement failed */
			rollback(conn);
			InboxSetError(conn, PGINBOX_ERR_SERVER, "25P02",
						  "the transaction failed in a statement run on the PGconn directly, and was rolled back",
						  "Use pginbox_exec for the callback's own statements, so that the runner sees their errors.");
			return -1;
		}
		else
		{
			int			committed = commit(conn);

			if (committed > 0)
			{
				InboxClearError(conn);
				return 0;
			}
			if (committed < 0)
				return -1;
		}

		if (!transaction_retryable(&conn->err) || attempt >= conn->options.tx_max_attempts ||
			!InboxBackoff(conn, attempt - 1, deadline))
			return -1;
	}
}
