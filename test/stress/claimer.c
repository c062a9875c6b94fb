/*
 * claimer.c: a worker loop on libpginbox for the client-crash and
 * client-faults stress parts.  Claims batches of events, completes each in
 * its own call, and goes on through whatever the server does meanwhile
 * (crashes, restarts, terminated backends), until every event it can reach
 * is done: it stops after a claim found nothing, then again nothing once a
 * lease had time to run out.
 *
 *   claimer CONSUMER SOURCE LEASE_MS BATCH TIME_LIMIT_S
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
#include <time.h>

#include "pginbox.h"

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
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

	if (argc != 6)
	{
		fprintf(stderr, "usage: claimer CONSUMER SOURCE LEASE_MS BATCH TIME_LIMIT_S\n");
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
		for (size_t i = 0; i < claimed->n; i++)
		{
			bool		held;

			if (pginbox_complete(conn, claimed->events[i].id, consumer, &held) != 0)
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
			"%lu claim errors, %lu complete errors, %lu reconnections\n",
			consumer, claimed_n, done_held, done_not_held, claim_errors, complete_errors, reconnects);
	pginbox_free(conn);
	return status;
}
