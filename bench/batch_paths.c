/*
 * batch_paths.c: the two ways a client can send a batch of events, timed
 * on the same events (run by tools/run-bench, part "client").
 *
 *   array     one call of inbox.ingest_many per batch, as
 *             pginbox_ingest_batch sends it
 *   pipeline  libpq pipeline mode: one prepared inbox.ingest per event,
 *             a Sync per batch (so a batch is one transaction, as above)
 *
 * Usage: batch_paths EVENTS BATCH PAYLOAD_FILE.  Empties inbox.events before
 * each path (the keys are the same) and prints "path<TAB>events/s".
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pginbox.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "batch_paths: %s: %s\n", what, why);
	exit(1);
}

static void
empty_inbox(pginbox_conn *conn)
{
	PGresult   *res;

	if (pginbox_exec(conn, "TRUNCATE inbox.events", 0, NULL, &res) != 0)
		die("truncate", pginbox_errmsg(conn));
	PQclear(res);
	if (pginbox_exec(conn, "CHECKPOINT", 0, NULL, &res) != 0)
		die("checkpoint", pginbox_errmsg(conn));
	PQclear(res);
}

static double
run_array(pginbox_conn *conn, pginbox_event *events, int n, int batch)
{
	double		start = now();

	for (int i = 0; i < n; i += batch)
	{
		pginbox_batch *b;
		int			k = n - i < batch ? n - i : batch;

		if (pginbox_ingest_batch(conn, "paths", events + i, (size_t) k, &b) != 0)
			die("array", pginbox_errmsg(conn));
		for (size_t j = 0; j < b->n; j++)
			if (b->results[j].status != PGINBOX_INSERTED)
				die("array", "an event was not inserted");
		pginbox_batch_free(b);
	}
	return n / (now() - start);
}

static double
run_pipeline(PGconn *pg, pginbox_event *events, int n, int batch)
{
	double		start = now();
	PGresult   *res;

	/* prepared once per connection (the warm-up run prepares it) */
	res = PQdescribePrepared(pg, "ingest");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		PQclear(res);
		res = PQprepare(pg, "ingest", "SELECT status, id, received_at, detail FROM inbox.ingest($1, $2, $3::jsonb)", 3, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			die("prepare", PQerrorMessage(pg));
	}
	PQclear(res);
	if (!PQenterPipelineMode(pg))
		die("pipeline", PQerrorMessage(pg));
	for (int i = 0; i < n; i += batch)
	{
		int			k = n - i < batch ? n - i : batch;

		for (int j = 0; j < k; j++)
		{
			const char *values[3] = {"paths", events[i + j].event_id, events[i + j].payload};

			if (!PQsendQueryPrepared(pg, "ingest", 3, values, NULL, NULL, 1))
				die("send", PQerrorMessage(pg));
		}
		if (!PQpipelineSync(pg))
			die("sync", PQerrorMessage(pg));
		/* each query: its result, then NULL; then the Sync's result */
		for (int j = 0; j < k; j++)
		{
			res = PQgetResult(pg);
			if (PQresultStatus(res) != PGRES_TUPLES_OK || strcmp(PQgetvalue(res, 0, 0), "inserted") != 0)
				die("pipeline", "an event was not inserted");
			PQclear(res);
			res = PQgetResult(pg);
			PQclear(res);
		}
		res = PQgetResult(pg);
		if (PQresultStatus(res) != PGRES_PIPELINE_SYNC)
			die("pipeline", "no sync");
		PQclear(res);
	}
	PQexitPipelineMode(pg);
	return n / (now() - start);
}

int
main(int argc, char **argv)
{
	int			n;
	int			batch;
	FILE	   *f;
	static char payload[65536];
	size_t		len;
	pginbox_conn *conn;
	pginbox_event *events;
	char	  **ids;
	double		array_rate;
	double		pipeline_rate;

	if (argc != 4 || (n = atoi(argv[1])) < 1 || (batch = atoi(argv[2])) < 1)
		die("usage", "batch_paths EVENTS BATCH PAYLOAD_FILE");
	f = fopen(argv[3], "r");
	if (f == NULL)
		die(argv[3], "cannot open");
	len = fread(payload, 1, sizeof(payload) - 1, f);
	fclose(f);
	payload[len] = '\0';

	events = calloc((size_t) n, sizeof(pginbox_event));
	ids = calloc((size_t) n, sizeof(char *));
	for (int i = 0; i < n; i++)
	{
		ids[i] = malloc(24);
		snprintf(ids[i], 24, "p-%d", i);
		events[i].event_id = ids[i];
		events[i].payload = payload;
	}
	conn = pginbox_connect(NULL);
	if (pginbox_errkind(conn) != PGINBOX_OK)
		die("connect", pginbox_errmsg(conn));

	/* each path once to warm up, then measured, array first and last */
	empty_inbox(conn);
	(void) run_array(conn, events, n / 10, batch);
	empty_inbox(conn);
	(void) run_pipeline(pginbox_pgconn(conn), events, n / 10, batch);
	empty_inbox(conn);
	array_rate = run_array(conn, events, n, batch) / 2;
	empty_inbox(conn);
	pipeline_rate = run_pipeline(pginbox_pgconn(conn), events, n, batch);
	empty_inbox(conn);
	array_rate += run_array(conn, events, n, batch) / 2;
	empty_inbox(conn);

	printf("array\t%.0f\npipeline\t%.0f\n", array_rate, pipeline_rate);
	for (int i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	free(events);
	pginbox_free(conn);
	return 0;
}
