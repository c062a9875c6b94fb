/*
 * claimer.c: a worker loop on libpginbox for the client-crash and
 * client-faults stress parts.  Claims batches of events, completes each in
 * its own call, and goes on through whatever the server does meanwhile
 * (crashes, restarts, terminated backends), until every event it can reach
 * is done: it stops after a claim found nothing, then again nothing once a
 * lease had time to run out.
 *
 *   claimer CONSUMER SOURCE LEASE_MS BATCH TIME_LIMIT_S [hold | tx]
 *
 * With "hold" it claims one batch, prints "HELD <id>" for each event, and
 * then waits to be killed: a worker that dies holding its events.  With
 * "tx" it handles each event as examples/worker.c does: pginbox_transaction
 * runs an INSERT into the table "handled" and the complete together (the
 * runner runs them again after a connection lost before COMMIT); "DONE
 * <id> u" then says that the connection was lost during COMMIT (08007: the
 * outcome is unknown).
 *
 * The connection comes from the PG* variables (PGAPPNAME names it, so that
 * the fault injector finds its backends).  Stdout: one line per answered
 * completion, "DONE <id> t" (the library said it was held and is now done)
 * or "DONE <id> f" (not held: a retry whose first try had committed, or a
 * lease that ran out), flushed at once.  Stderr: each failed call, then a
 * summary "# <consumer>: ..." with the counts.  Exit status 0 when it ran
 * out of events, 2 on an error that is not retryable, 3 at the time limit.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pginbox.h"

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

typedef struct Handled
{
	int64_t		id;
	const char *consumer;
	bool		held;
} Handled;

/* the transaction's body: the application's write, then the complete */
static int
handle(pginbox_conn *conn, void *arg)
{
	Handled    *h = arg;
	char		id[24];
	const char *params[1] = {id};
	PGresult   *res;

	snprintf(id, sizeof(id), "%" PRId64, h->id);
	if (pginbox_exec(conn, "INSERT INTO handled (id) VALUES ($1::bigint)", 1, params, &res) != 0)
		return -1;
	PQclear(res);
	if (pginbox_complete(conn, h->id, h->consumer, &h->held) != 0)
		return -1;
	return h->held ? 0 : 1;		/* no longer ours: roll the INSERT back */
}

static int	last_pid = 0;
static unsigned long reconnects = 0;

/* count the handle's changes of backend, which are its reconnections */
static void
note_backend(pginbox_conn *conn)
{
	PGconn	   *pg = pginbox_pgconn(conn);
	int			pid = pg ? PQbackendPID(pg) : 0;

	if (pid != 0 && last_pid != 0 && pid != last_pid)
		reconnects++;
	if (pid != 0)
		last_pid = pid;
}

int
main(int argc, char **argv)
{
	const char *consumer;
	const char *sources[1];
	long		lease_ms;
	int			batch;
	time_t		deadline;
	pginbox_conn *conn;
	unsigned long claimed_n = 0,
				done_held = 0,
				done_not_held = 0,
				claim_errors = 0,
				complete_errors = 0;
	int			empty = 0;
	int			status = 0;

	bool		hold = argc == 7 && strcmp(argv[6], "hold") == 0;
	bool		tx = argc == 7 && strcmp(argv[6], "tx") == 0;
	unsigned long unknown = 0;

	if (argc != 6 && !hold && !tx)
	{
		fprintf(stderr, "usage: claimer CONSUMER SOURCE LEASE_MS BATCH TIME_LIMIT_S [hold | tx]\n");
		return 2;
	}
	consumer = argv[1];
	sources[0] = argv[2];
	lease_ms = atol(argv[3]);
	batch = atoi(argv[4]);
	deadline = time(NULL) + atol(argv[5]);

	conn = pginbox_connect(NULL);
	if (conn == NULL || pginbox_errkind(conn) != PGINBOX_OK)
	{
		fprintf(stderr, "claimer: could not connect: %s\n", conn ? pginbox_errmsg(conn) : "out of memory");
		pginbox_free(conn);
		return 2;
	}
	note_backend(conn);
	for (;;)
	{
		pginbox_claimed *claimed;

		if (time(NULL) > deadline)
		{
			fprintf(stderr, "claimer: %s: time limit reached\n", consumer);
			status = 3;
			break;
		}
		if (pginbox_claim(conn, consumer, batch, lease_ms, sources, 1, &claimed) != 0)
		{
			note_backend(conn);
			claim_errors++;
			fprintf(stderr, "claimer: %s: claim: %s (SQLSTATE %s)\n", consumer,
					pginbox_errmsg(conn), pginbox_sqlstate(conn));
			if (!pginbox_retryable(conn))
			{
				status = 2;
				break;
			}
			sleep_ms(100);
			continue;
		}
		note_backend(conn);
		claimed_n += claimed->n;
		if (claimed->n == 0)
		{
			pginbox_claimed_free(claimed);
			/* nothing now; then nothing once any lease taken meanwhile ran out */
			if (++empty == 2)
				break;
			sleep_ms(lease_ms + 500);
			continue;
		}
		empty = 0;
		if (hold)
		{
			for (size_t i = 0; i < claimed->n; i++)
				printf("HELD %" PRId64 "\n", claimed->events[i].id);
			fflush(stdout);
			for (;;)
				pause();
		}
		for (size_t i = 0; i < claimed->n; i++)
		{
			bool		held;
			int			rc;

			if (tx)
			{
				Handled		h = {claimed->events[i].id, consumer, false};

				rc = pginbox_transaction(conn, PGINBOX_READ_COMMITTED, handle, &h);
				held = h.held;
				if (rc != 0 && pginbox_errkind(conn) == PGINBOX_ERR_CALLBACK)
					rc = 0;		/* not held: rolled back, as it should be */
				if (rc != 0 && strcmp(pginbox_sqlstate(conn), "08007") == 0)
				{
					note_backend(conn);
					unknown++;
					printf("DONE %" PRId64 " u\n", claimed->events[i].id);
					fflush(stdout);
					continue;
				}
			}
			else
				rc = pginbox_complete(conn, claimed->events[i].id, consumer, &held);
			if (rc != 0)
			{
				note_backend(conn);
				complete_errors++;
				fprintf(stderr, "claimer: %s: complete %" PRId64 ": %s (SQLSTATE %s)\n", consumer,
						claimed->events[i].id, pginbox_errmsg(conn), pginbox_sqlstate(conn));
				if (!pginbox_retryable(conn))
				{
					status = 2;
					break;
				}
				continue;		/* it comes back when its lease has run out */
			}
			note_backend(conn);
			printf("DONE %" PRId64 " %c\n", claimed->events[i].id, held ? 't' : 'f');
			fflush(stdout);
			if (held)
				done_held++;
			else
				done_not_held++;
		}
		pginbox_claimed_free(claimed);
		if (status != 0)
			break;
	}
	fprintf(stderr, "# %s: %lu claimed, %lu completed, %lu not held at complete, "
			"%lu claim errors, %lu complete errors, %lu commits unknown, %lu reconnections\n",
			consumer, claimed_n, done_held, done_not_held, claim_errors, complete_errors, unknown, reconnects);
	pginbox_free(conn);
	return status;
}
