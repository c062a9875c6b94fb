/*
 * t_restart.c
 *	  A run of batches while the server is stopped and started again in the
 *	  middle of it: the run completes, and every event is stored exactly once.
 *
 * test/client/restart.sh makes the cluster and gives the command that
 * restarts it in INBOX_RESTART (run in a child process, so that this
 * process goes on calling while the server is down).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

#define BATCHES 20
#define PER_BATCH 200
#define RESTART_AFTER 5

/* Wait until the handle's idle connection has been closed by the server. */
static bool
wait_for_loss(pginbox_conn *h)
{
	PGconn	   *pg = pginbox_pgconn(h);
	struct timespec tick = {0, 20 * 1000 * 1000};

	for (int i = 0; i < 1500; i++)
	{
		if (!PQconsumeInput(pg) || PQstatus(pg) != CONNECTION_OK)
			return true;
		(void) PQisBusy(pg);
		nanosleep(&tick, NULL);
	}
	return false;
}

int
main(void)
{
	const char *restart = getenv("INBOX_RESTART");
	pginbox_options options;
	pginbox_conn *h;
	pginbox_conn *check;
	pginbox_event events[PER_BATCH];
	static char ids[BATCHES * PER_BATCH][16];
	const char *payload = "{\"type\": \"invoice.paid\", \"amount\": 1200}";
	int			answered = 0;
	int			failed_calls = 0;
	int			first_pid;
	int			status = -1;
	pid_t		child = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (restart == NULL)
		tap_bail("INBOX_RESTART is not set; run test/client/restart.sh");

	pginbox_options_init(&options);
	options.retry_total_ms = 20000;
	h = pginbox_connect(&options);
	if (pginbox_errkind(h) != PGINBOX_OK)
		tap_bail(pginbox_errmsg(h));
	PQclear(must_exec(h, "CREATE EXTENSION IF NOT EXISTS pg_inbox", 0, NULL));
	first_pid = PQbackendPID(pginbox_pgconn(h));

	for (int i = 0; i < BATCHES * PER_BATCH; i++)
		snprintf(ids[i], sizeof(ids[i]), "in-%d", i);
	for (int batch = 0; batch < BATCHES; batch++)
	{
		pginbox_batch *b;

		if (batch == RESTART_AFTER)
		{
			fflush(stdout);
			child = fork();
			if (child == 0)
			{
				execl("/bin/sh", "sh", "-c", restart, (char *) NULL);
				_exit(127);
			}
			/* the next batches meet a server that is down, then starting */
			ok(wait_for_loss(h), "the server closed the connection (it is shutting down)");
		}
		for (int i = 0; i < PER_BATCH; i++)
		{
			events[i].event_id = ids[batch * PER_BATCH + i];
			events[i].payload = payload;
		}
		if (pginbox_ingest_batch(h, "restart", events, PER_BATCH, &b) != 0)
		{
			failed_calls++;
			tap_diag("batch %d: %s: %s", batch, pginbox_sqlstate(h), pginbox_errmsg(h));
			continue;
		}
		for (size_t i = 0; i < b->n; i++)
			answered += b->results[i].status == PGINBOX_INSERTED;
		pginbox_batch_free(b);
		check_healthy(h, 0, "a batch");
	}
	if (child > 0)
		waitpid(child, &status, 0);
	ok(child > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the restart command succeeded");
	is_int(failed_calls, 0, "every batch succeeded");
	is_int(answered, BATCHES * PER_BATCH, "every event answered inserted");
	ok(PQbackendPID(pginbox_pgconn(h)) != first_pid, "the handle reconnected");

	check = connect_to(NULL);
	is_int(query_int(check, "SELECT count(*) FROM inbox.events WHERE source = 'restart'", 0, NULL),
		   BATCHES * PER_BATCH, "every event stored exactly once");
	pginbox_free(check);
	pginbox_free(h);
	return tap_done();
}
