/*
 * ingest_loop.c: the library in a loop, for the client-memory stress part.
 * One handle makes N events in batches of BATCH with pginbox_ingest_batch:
 * event i has the id "evt_<i % KEYS>" (so ids come back), and one in 50 of
 * the repeats a changed payload (a conflict).  The connection comes from the
 * PG* variables.  Prints "events <n> inserted <n> duplicate <n> conflict <n>
 * rejected <n>" at the end; exit status 0, or 2 when a call failed.
 *
 *   ingest_loop N BATCH KEYS
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>

#include "pginbox.h"

int
main(int argc, char **argv)
{
	long		n = argc > 1 ? atol(argv[1]) : 100000;
	long		batch = argc > 2 ? atol(argv[2]) : 1000;
	long		keys = argc > 3 ? atol(argv[3]) : n * 7 / 10;
	pginbox_options options;
	pginbox_conn *conn;
	pginbox_event *events;
	char	  (*ids)[32];
	char	  (*payloads)[160];
	unsigned long counts[4] = {0, 0, 0, 0};
	long		done = 0;

	if (n < 1 || batch < 1 || keys < 1)
		return 2;
	events = calloc((size_t) batch, sizeof(*events));
	ids = calloc((size_t) batch, sizeof(*ids));
	payloads = calloc((size_t) batch, sizeof(*payloads));
	pginbox_options_init(&options);
	conn = pginbox_connect(&options);
	if (events == NULL || ids == NULL || payloads == NULL || conn == NULL ||
		pginbox_errkind(conn) != PGINBOX_OK)
	{
		fprintf(stderr, "ingest_loop: %s\n", conn ? pginbox_errmsg(conn) : "out of memory");
		return 2;
	}
	while (done < n)
	{
		long		m = n - done < batch ? n - done : batch;
		pginbox_batch *answers;

		for (long k = 0; k < m; k++)
		{
			long		i = done + k;

			snprintf(ids[k], sizeof(ids[k]), "evt_%ld", i % keys);
			snprintf(payloads[k], sizeof(payloads[k]),
					 "{\"id\": \"evt_%ld\", \"type\": \"invoice.paid\", \"data\": {\"amount\": %ld}}",
					 i % keys, (i % keys) * 100 + (i >= keys && i % 50 == 0));
			events[k].event_id = ids[k];
			events[k].payload = payloads[k];
		}
		if (pginbox_ingest_batch(conn, "loop", events, (size_t) m, &answers) != 0)
		{
			fprintf(stderr, "ingest_loop: after %ld events: %s\n", done, pginbox_errmsg(conn));
			return 2;
		}
		for (size_t k = 0; k < answers->n; k++)
			counts[answers->results[k].status]++;
		pginbox_batch_free(answers);
		done += m;
	}
	printf("events %ld inserted %lu duplicate %lu conflict %lu rejected %lu\n", done,
		   counts[PGINBOX_INSERTED], counts[PGINBOX_DUPLICATE], counts[PGINBOX_CONFLICT],
		   counts[PGINBOX_REJECTED]);
	pginbox_free(conn);
	free(events);
	free(ids);
	free(payloads);
	return 0;
}
