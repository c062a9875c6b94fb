/*
 * worker.c: claim a few events and handle each one in a transaction that
 * also writes the application's own table, so that "handled" and "done"
 * commit together or not at all.
 *
 *   cc worker.c $(pkg-config --cflags --libs pginbox) -o worker
 *   psql -c 'CREATE TABLE handled (event_id text PRIMARY KEY, type text)'
 *   ./worker 3          # the connection comes from PGHOST, PGDATABASE ...
 */
#include <stdio.h>
#include <stdlib.h>

#include <pginbox.h>

#define CONSUMER "example-worker"

/* The transaction's body: the caller's write, then the event marked done. */
static int
handle(pginbox_conn *conn, void *arg)
{
	const pginbox_claimed_event *event = arg;
	const char *params[2] = {event->event_id, event->payload};
	PGresult   *res;
	bool		held;

	if (pginbox_exec(conn,
					 "INSERT INTO handled (event_id, type) VALUES ($1, $2::jsonb ->> 'type')",
					 2, params, &res) != 0)
		return -1;
	PQclear(res);
	if (pginbox_complete(conn, event->id, CONSUMER, &held) != 0)
		return -1;
	return held ? 0 : 1;		/* the lease ran out and someone else has it: roll back */
}

int
main(int argc, char **argv)
{
	int			max_events = argc > 1 ? atoi(argv[1]) : 10;
	pginbox_options options;
	pginbox_conn *conn;
	pginbox_claimed *claimed;

	pginbox_options_init(&options);
	conn = pginbox_connect(&options);
	if (conn == NULL || pginbox_errkind(conn) != PGINBOX_OK)
	{
		fprintf(stderr, "worker: %s\n", conn ? pginbox_errmsg(conn) : "out of memory");
		pginbox_free(conn);
		return 2;
	}

	if (pginbox_claim(conn, CONSUMER, max_events, 60 * 1000, NULL, 0, &claimed) != 0)
	{
		fprintf(stderr, "worker: claim: %s (SQLSTATE %s)\n", pginbox_errmsg(conn), pginbox_sqlstate(conn));
		pginbox_free(conn);
		return 2;
	}
	for (size_t i = 0; i < claimed->n; i++)
	{
		const pginbox_claimed_event *event = &claimed->events[i];

		if (pginbox_transaction(conn, PGINBOX_READ_COMMITTED, handle, (void *) event) == 0)
			printf("handled %s %s (attempt %d)\n", event->source, event->event_id, event->attempt);
		else
		{
			char		why[256];
			pginbox_state state;

			/* the message belongs to the handle until its next call: copy it first */
			snprintf(why, sizeof(why), "%s", pginbox_errmsg(conn));
			fprintf(stderr, "worker: %s: %s\n", event->event_id, why);
			if (pginbox_fail(conn, event->id, CONSUMER, why, -1, &state) != 0)
				fprintf(stderr, "worker: fail: %s\n", pginbox_errmsg(conn));
		}
	}
	printf("%zu event%s claimed\n", claimed->n, claimed->n == 1 ? "" : "s");
	pginbox_claimed_free(claimed);
	pginbox_free(conn);
	return 0;
}
