/*
 * pginbox_int.h
 *	  The handle of libpginbox and the helpers its files share.  Not installed.
 */
#ifndef PGINBOX_INT_H
#define PGINBOX_INT_H

#include "pginbox.h"

#define PGINBOX_EXPORT __attribute__((visibility("default")))

typedef struct PgInboxError
{
	pginbox_error_kind kind;
	char		sqlstate[6];
	bool		retryable;
	char	   *message;		/* malloc'd, or NULL for "" */
	char	   *detail;			/* malloc'd, or NULL for "" */
} PgInboxError;

struct pginbox_conn
{
	PGconn	   *pg;				/* NULL when not connected */
	bool		ever_connected; /* reconnecting is worth retrying */
	char	   *conninfo;		/* "" for the PG* variables */
	pginbox_options options;
	uint64_t	rng;			/* jitter: this handle's own generator */

	PgInboxError err;			/* the last call's error */

	/* the transaction runner */
	bool		in_runner;		/* inside a callback of pginbox_transaction */
	bool		tx_aborted;		/* a call in it failed; already rolled back */
	PgInboxError tx_cause;		/* the error that aborted it */

	/* strings that single-row results point to, valid until the next call */
	char	   *scratch;
	size_t		scratch_size;
};

/* How a statement may be retried by InboxRun. */
typedef enum InboxRetry
{
	INBOX_RETRY_IDEMPOTENT,		/* also after a connection lost in flight */
	INBOX_RETRY_UNSENT			/* only when it surely did not run */
} InboxRetry;

/* conn.c */
extern void InboxClearError(pginbox_conn *h);
extern void InboxSetError(pginbox_conn *h, pginbox_error_kind kind, const char *sqlstate,
						  const char *message, const char *detail);
extern void InboxCopyError(PgInboxError *dst, const PgInboxError *src);
extern void InboxFreeError(PgInboxError *e);
extern PGresult *InboxRun(pginbox_conn *h, const char *sql, int nparams,
						  const char *const *values, int result_format, InboxRetry retry);
extern PGresult *InboxRunParams(pginbox_conn *h, const char *sql, int nparams, const Oid *types,
								const char *const *values, const int *lengths, const int *formats,
								int result_format, InboxRetry retry);
extern void InboxEnsureHealthy(pginbox_conn *h);
extern void InboxAbortRunner(pginbox_conn *h);
extern bool InboxReconnect(pginbox_conn *h);
extern void InboxDisconnect(pginbox_conn *h);
extern bool InboxBackoff(pginbox_conn *h, int attempt, int64_t deadline_ms);
extern int64_t InboxNowMs(void);
extern char *InboxScratch(pginbox_conn *h, size_t size);
extern bool InboxConnectionLost(const PGconn *pg, const char *sqlstate);
extern bool InboxStillConnected(PGconn *pg);

/* calls.c */
extern char *InboxArrayLiteral(const char *const *items, size_t n, size_t stride);
extern char *InboxArrayBinary(const char *const *items, size_t n, size_t stride,
							  Oid element_type, bool jsonb, int *length);

#endif							/* PGINBOX_INT_H */
