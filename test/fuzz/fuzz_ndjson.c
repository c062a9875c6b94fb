/*
 * fuzz_ndjson.c
 *	  libFuzzer harness: the pg_inbox command's NDJSON line reader
 *	  (ingest_file in client/pg_inbox.c, included here for its static
 *	  functions) on an input of any bytes, read from a memfd: read_line, the
 *	  CR/LF trimming, a byte order mark, blank lines, the checker, the
 *	  batches.  No thread and no server: the batches
 *	  queued are taken off the queue and checked here.  The command's
 *	  messages go to /dev/null.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

static FILE *fuzz_stderr;

#undef stderr
#define stderr fuzz_stderr
#define main pg_inbox_main
#include "../../client/pg_inbox.c"
#undef main

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const inputs[1] = {"fuzz"};
	static int	fd = -1;
	Ingest		in;
	unsigned long queued = 0;
	unsigned long newlines = 0;

	if (fuzz_stderr == NULL)
		fuzz_stderr = fopen("/dev/null", "w");
	if (size == 0)
		return 0;
	memset(&in, 0, sizeof(in));
	in.source = "fuzz";
	in.inputs = inputs;
	in.n_inputs = 1;
	in.batch_size = 3;
	in.jobs = 0;
	/* room for every batch the input can make: nothing waits */
	in.queue_size = (int) (size / 3 + 2);
	in.queue = calloc((size_t) in.queue_size, sizeof(Batch *));
	if (in.queue == NULL || InboxJsonPathParse(size % 2 ? "id" : "data.object.id", &in.path) != 0)
		abort();
	pthread_mutex_init(&in.lock, NULL);
	pthread_cond_init(&in.changed, NULL);
	if (fd < 0)
		fd = memfd_create("fuzz_ndjson", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t) size ||
		lseek(fd, 0, SEEK_SET) != 0)
		abort();
	if (!ingest_file(&in, fd, 0) || !queue_current(&in))
		abort();

	for (size_t i = 0; i < size; i++)
		newlines += data[i] == '\n';
	/* every line counted, the last one with or without its newline */
	if (in.lines != newlines + (data[size - 1] != '\n'))
		abort();
	while (in.queue_count > 0)
	{
		Batch	   *b = in.queue[in.queue_head];

		if (b->n < 1 || b->n > in.batch_size)
			abort();
		for (int i = 0; i < b->n; i++)
		{
			/* a line sent holds no line end, and its id was found in it */
			if (b->items[i].line < 1 || b->items[i].line > in.lines ||
				strchr(b->items[i].payload, '\n') || b->items[i].id == NULL)
				abort();
		}
		queued += (unsigned long) b->n;
		free_batch(b);
		in.queue_head = (in.queue_head + 1) % in.queue_size;
		in.queue_count--;
	}
	if (queued + in.malformed + in.no_id > in.lines)
		abort();
	free(in.queue);
	InboxJsonPathFree(&in.path);
	pthread_mutex_destroy(&in.lock);
	pthread_cond_destroy(&in.changed);
	return 0;
}
