/*
 * pg_inbox.c
 *	  The pg_inbox command: ingest NDJSON, show the statistics.
 *
 * ingest reads and checks lines on the main thread and sends full batches
 * from --jobs threads, each with its own libpginbox handle, so that reading
 * overlaps with the server's work.
 *
 * Exit codes (also in the man page and the README):
 *	0  every event line was ingested (inserted, duplicate or conflict)
 *	1  the run completed, but some lines were malformed, had no event id, or
 *	   were rejected by the server
 *	2  could not connect, or the run stopped early (a file that cannot be
 *	   read, a connection lost for longer than the retry limit, a server
 *	   error such as a missing extension)
 *	3  usage: a bad option or argument
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "pginbox.h"

#define EXIT_ALL_INGESTED 0
#define EXIT_SOME_BAD 1
#define EXIT_STOPPED 2
#define EXIT_USAGE 3

#define DEFAULT_BATCH 1000
#define MAX_BATCH 10000
#define MAX_JOBS 16
#define FLEXIBLE_ARRAY_MEMBER	/* C99 */
/* how often the progress line is redrawn, in seconds */
#define PROGRESS_INTERVAL 0.25

static const char *progname = "pg_inbox";

/* ---------------------------------------------------------------- messages */

static bool progress_shown = false;
/* lines of stderr come from several threads: each is written whole */
static pthread_mutex_t output_lock = PTHREAD_MUTEX_INITIALIZER;

/* Clear the progress line before anything else is written to stderr. */
static void
clear_progress(void)
{
	if (progress_shown)
	{
		fputs("\r\033[K", stderr);
		progress_shown = false;
	}
}

static void
message(const char *level, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
message(const char *level, const char *fmt,...)
{
	va_list		ap;

	pthread_mutex_lock(&output_lock);
	clear_progress();
	fprintf(stderr, "%s: %s: ", progname, level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&output_lock);
}

/* The error on the handle, as PostgreSQL's tools print theirs. */
static void
report_error(pginbox_conn *conn, const char *what)
{
	if (*pginbox_sqlstate(conn))
		message("error", "%s: %s (SQLSTATE %s)", what, pginbox_errmsg(conn), pginbox_sqlstate(conn));
	else
		message("error", "%s: %s", what, pginbox_errmsg(conn));
	if (*pginbox_errdetail(conn))
		message("detail", "%s", pginbox_errdetail(conn));
	if (strcmp(pginbox_sqlstate(conn), "42883") == 0 || strcmp(pginbox_sqlstate(conn), "3F000") == 0)
		message("hint", "Is the extension installed in this database? Run CREATE EXTENSION pg_inbox.");
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Connect; NULL (the error reported) when that failed. */
static pginbox_conn *
connect_to(const char *conninfo)
{
	pginbox_options options;
	pginbox_conn *conn;

	pginbox_options_init(&options);
	options.conninfo = conninfo;
	conn = pginbox_connect(&options);
	if (conn == NULL)
	{
		message("error", "out of memory");
		return NULL;
	}
	if (pginbox_errkind(conn) != PGINBOX_OK)
	{
		report_error(conn, "could not connect");
		pginbox_free(conn);
		return NULL;
	}
	return conn;
}

/* ---------------------------------------------------------------- help */

static void
usage(FILE *out)
{
	fprintf(out,
			"%s stores events in PostgreSQL through the pg_inbox extension.\n\n"
			"Usage:\n"
			"  %s ingest --source NAME [OPTION]... [FILE]...\n"
			"  %s stats [OPTION]...\n\n"
			"Commands:\n"
			"  ingest    ingest NDJSON events, one per line, from files or standard input\n"
			"  stats     show the inbox.stats view\n\n"
			"Options:\n"
			"  -V, --version   show the version, then exit\n"
			"  -?, --help      show this help, then exit\n\n"
			"\"%s COMMAND --help\" shows the options of a command.  The connection is\n"
			"given with -d, or with the usual PG* environment variables.\n",
			progname, progname, progname, progname);
}

static void
usage_ingest(FILE *out)
{
	fprintf(out,
			"%s ingest reads NDJSON (one JSON event per line) from the FILEs, or from\n"
			"standard input when there is none or FILE is -, and ingests each event with\n"
			"inbox.ingest_many, in batches.\n\n"
			"Usage:\n"
			"  %s ingest --source NAME [OPTION]... [FILE]...\n\n"
			"Options:\n"
			"  -s, --source=NAME      the source of every event (required)\n"
			"  -i, --id-field=PATH    the field that holds the event id, a dotted path\n"
			"                         such as data.object.id (default: id)\n"
			"  -b, --batch=N          events per batch, 1 to %d (default: %d)\n"
			"  -j, --jobs=N           batches sent at once, on N connections, 1 to %d\n"
			"                         (default: 1)\n"
			"  -d, --dbname=CONNINFO  database name or connection string\n"
			"      --answers=FILE     append the server's answer for each event to FILE,\n"
			"                         one line each: line number, event id, status, id\n"
			"                         (tab-separated), written once its batch is answered\n"
			"  -?, --help             show this help, then exit\n\n"
			"Malformed lines and lines without an id are reported with their line\n"
			"numbers and counted, and the run goes on; so are events the server rejects.\n"
			"A summary by outcome is printed at the end.\n\n"
			"Exit status: 0 every event line was ingested (inserted, duplicate or\n"
			"conflict); 1 some lines were malformed, had no id or were rejected; 2 could\n"
			"not connect, or the run stopped early; 3 usage error.\n",
			progname, progname, MAX_BATCH, DEFAULT_BATCH, MAX_JOBS);
}

static void
usage_stats(FILE *out)
{
	fprintf(out,
			"%s stats prints the inbox.stats view: per source, the events by state,\n"
			"the age of the oldest pending event and the answers of ingest.\n\n"
			"Usage:\n"
			"  %s stats [OPTION]...\n\n"
			"Options:\n"
			"  -d, --dbname=CONNINFO  database name or connection string\n"
			"  -?, --help             show this help, then exit\n\n"
			"Exit status: 0 printed; 2 could not connect, or the query failed; 3 usage error.\n",
			progname, progname);
}

static void
try_help(const char *command)
{
	message("hint", "Try \"%s%s%s --help\" for more information.",
			progname, command ? " " : "", command ? command : "");
}

/* ---------------------------------------------------------------- ingest */

typedef struct Pending
{
	char	   *id;
	char	   *payload;
	const char *file;			/* argv[i] or "stdin": lives as long as the run */
	unsigned long line;
} Pending;

/* A batch read from the input, on its way to a connection. */
typedef struct Batch
{
	int			n;
	Pending		items[FLEXIBLE_ARRAY_MEMBER];
} Batch;

/*
 * The run.  The main thread reads and checks lines and queues full batches;
 * each of --jobs threads owns one connection (a handle is used by one thread
 * at a time) and sends the batches it takes from the queue.  lock guards the
 * queue, the counts and the flags; output_lock (in message()) keeps lines of
 * stderr whole.
 */
typedef struct Ingest
{
	const char *source;
	InboxJsonPath path;
	int			batch_size;
	int			jobs;
	pginbox_conn **conns;
	pthread_t  *threads;

	Batch	   *current;		/* being filled by the main thread */

	pthread_mutex_t lock;
	pthread_cond_t changed;		/* the queue or a flag changed */
	Batch	  **queue;			/* a ring of queue_size */
	int			queue_size;
	int			queue_head;
	int			queue_count;
	bool		closing;		/* nothing more will be queued */
	bool		stopped;		/* a batch failed: the run ends */
	FILE	   *answers;		/* --answers, or NULL */

	unsigned long lines;
	unsigned long files;
	unsigned long counts[4];	/* by pginbox_status */
	unsigned long malformed;
	unsigned long no_id;

	double		started;
	double		last_progress;
	bool		progress;
} Ingest;

static void
show_progress(Ingest *in, bool force)
{
	double		now = now_seconds();
	double		elapsed = now - in->started;
	unsigned long counts[4];
	unsigned long events;

	if (!in->progress || (!force && now - in->last_progress < PROGRESS_INTERVAL))
		return;
	in->last_progress = now;
	pthread_mutex_lock(&in->lock);
	memcpy(counts, in->counts, sizeof(counts));
	pthread_mutex_unlock(&in->lock);
	events = counts[0] + counts[1] + counts[2] + counts[3];
	pthread_mutex_lock(&output_lock);
	fprintf(stderr, "\r\033[K%lu lines: %lu inserted, %lu duplicate, %lu conflict, %lu rejected, "
			"%lu malformed, %lu no id; %.0f events/s",
			in->lines, counts[PGINBOX_INSERTED], counts[PGINBOX_DUPLICATE],
			counts[PGINBOX_CONFLICT], counts[PGINBOX_REJECTED], in->malformed, in->no_id,
			elapsed > 0 ? events / elapsed : 0.0);
	progress_shown = true;
	pthread_mutex_unlock(&output_lock);
}

static void
print_summary(const Ingest *in)
{
	double		elapsed = now_seconds() - in->started;
	unsigned long events = in->counts[0] + in->counts[1] + in->counts[2] + in->counts[3];

	clear_progress();
	printf("source \"%s\": %lu line%s read from %lu input%s in %.1f s (%.0f events/s)\n",
		   in->source, in->lines, in->lines == 1 ? "" : "s", in->files, in->files == 1 ? "" : "s",
		   elapsed, elapsed > 0 ? events / elapsed : 0.0);
	printf("  inserted   %10lu  new events, stored\n", in->counts[PGINBOX_INSERTED]);
	printf("  duplicate  %10lu  stored before with the same content\n", in->counts[PGINBOX_DUPLICATE]);
	printf("  conflict   %10lu  stored before with other content (kept as it was)\n", in->counts[PGINBOX_CONFLICT]);
	printf("  rejected   %10lu  refused by the server, nothing stored\n", in->counts[PGINBOX_REJECTED]);
	printf("  malformed  %10lu  not valid JSON, not sent\n", in->malformed);
	printf("  no id      %10lu  no usable event id, not sent\n", in->no_id);
	fflush(stdout);
}

static void
free_batch(Batch *b)
{
	if (b == NULL)
		return;
	for (int i = 0; i < b->n; i++)
	{
		free(b->items[i].id);
		free(b->items[i].payload);
	}
	free(b);
}

/* Write s as COPY's text format writes a field: \\, tab, newline, return escaped. */
static void
put_field(FILE *f, const char *s)
{
	for (; *s; s++)
	{
		switch (*s)
		{
			case '\\':
				fputs("\\\\", f);
				break;
			case '\t':
				fputs("\\t", f);
				break;
			case '\n':
				fputs("\\n", f);
				break;
			case '\r':
				fputs("\\r", f);
				break;
			default:
				fputc(*s, f);
		}
	}
}

/* Send one batch on conn and count its answers; false when it failed. */
static bool
send_batch(Ingest *in, pginbox_conn *conn, Batch *b, pginbox_event *events)
{
	pginbox_batch *answers;

	for (int i = 0; i < b->n; i++)
	{
		events[i].event_id = b->items[i].id;
		events[i].payload = b->items[i].payload;
	}
	if (pginbox_ingest_batch(conn, in->source, events, (size_t) b->n, &answers) != 0)
	{
		pthread_mutex_lock(&in->lock);
		/* the first failure is reported; the others are its echoes */
		if (!in->stopped)
		{
			report_error(conn, "ingest failed");
			message("detail", "The batch of lines %s:%lu to %s:%lu was not stored; the summary counts the batches that were.",
					b->items[0].file, b->items[0].line, b->items[b->n - 1].file, b->items[b->n - 1].line);
		}
		in->stopped = true;
		pthread_cond_broadcast(&in->changed);
		pthread_mutex_unlock(&in->lock);
		return false;
	}
	pthread_mutex_lock(&in->lock);
	for (size_t i = 0; i < answers->n; i++)
	{
		const pginbox_ingest_result *r = &answers->results[i];
		const Pending *p = &b->items[i];

		in->counts[r->status]++;
		if (r->status == PGINBOX_REJECTED || r->status == PGINBOX_CONFLICT)
			message("warning", "%s:%lu: %s: %s", p->file, p->line,
					pginbox_status_name(r->status), r->detail ? r->detail : "");
		if (in->answers)
		{
			fprintf(in->answers, "%lu\t", p->line);
			put_field(in->answers, p->id);
			fprintf(in->answers, "\t%s\t%" PRId64 "\n", pginbox_status_name(r->status), r->id);
		}
	}
	/* the batch's answers reach the file before the next batch is sent */
	if (in->answers && (fflush(in->answers) != 0 || ferror(in->answers)) && !in->stopped)
	{
		message("error", "could not write the answers file: %s", strerror(errno));
		in->stopped = true;
		pthread_cond_broadcast(&in->changed);
	}
	pthread_mutex_unlock(&in->lock);
	pginbox_batch_free(answers);
	return true;
}

typedef struct Worker
{
	Ingest	   *in;
	pginbox_conn *conn;
} Worker;

/* A sending thread: takes batches from the queue until it is closed and empty. */
static void *
worker_main(void *arg)
{
	Worker	   *w = arg;
	Ingest	   *in = w->in;
	pginbox_event *events = calloc((size_t) in->batch_size, sizeof(pginbox_event));

	for (;;)
	{
		Batch	   *b = NULL;

		pthread_mutex_lock(&in->lock);
		while (in->queue_count == 0 && !in->closing && !in->stopped)
			pthread_cond_wait(&in->changed, &in->lock);
		if (in->queue_count > 0 && !in->stopped)
		{
			b = in->queue[in->queue_head];
			in->queue_head = (in->queue_head + 1) % in->queue_size;
			in->queue_count--;
			pthread_cond_broadcast(&in->changed);
		}
		pthread_mutex_unlock(&in->lock);
		if (b == NULL)
			break;				/* closed and empty, or stopped */
		if (events == NULL)
		{
			message("error", "out of memory");
			pthread_mutex_lock(&in->lock);
			in->stopped = true;
			pthread_cond_broadcast(&in->changed);
			pthread_mutex_unlock(&in->lock);
			free_batch(b);
			break;
		}
		(void) send_batch(in, w->conn, b, events);
		free_batch(b);
	}
	free(events);
	return NULL;
}

/* Queue the batch being filled (waiting for room); false when the run must stop. */
static bool
queue_current(Ingest *in)
{
	bool		ok;

	if (in->current == NULL || in->current->n == 0)
		return true;
	pthread_mutex_lock(&in->lock);
	while (in->queue_count == in->queue_size && !in->stopped)
		pthread_cond_wait(&in->changed, &in->lock);
	ok = !in->stopped;
	if (ok)
	{
		in->queue[(in->queue_head + in->queue_count) % in->queue_size] = in->current;
		in->queue_count++;
		pthread_cond_broadcast(&in->changed);
	}
	pthread_mutex_unlock(&in->lock);
	if (!ok)
		free_batch(in->current);
	in->current = NULL;
	show_progress(in, false);
	return ok;
}

/* Read one input to its end; false when the run must stop. */
static bool
ingest_file(Ingest *in, FILE *f, const char *name)
{
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	unsigned long line_no = 0;
	bool		ok = true;

	in->files++;
	while ((len = getline(&line, &cap, f)) >= 0)
	{
		char		why[256];
		char	   *id;
		size_t		n = (size_t) len;
		Pending    *p;

		line_no++;
		in->lines++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (strspn(line, " \t") == n)
			continue;			/* blank lines separate nothing in NDJSON; skip them */

		switch (InboxJsonScan(line, n, &in->path, &id, why, sizeof(why)))
		{
			case INBOX_JSON_MALFORMED:
				in->malformed++;
				message("warning", "%s:%lu: malformed: %s", name, line_no, why);
				continue;
			case INBOX_JSON_NO_ID:
				in->no_id++;
				message("warning", "%s:%lu: no event id: %s", name, line_no, why);
				continue;
			case INBOX_JSON_ID:
				break;
		}
		if (in->current == NULL)
		{
			in->current = malloc(offsetof(Batch, items) + sizeof(Pending) * (size_t) in->batch_size);
			if (in->current == NULL)
			{
				free(id);
				message("error", "out of memory");
				ok = false;
				break;
			}
			in->current->n = 0;
		}
		p = &in->current->items[in->current->n];
		p->id = id;
		p->payload = strndup(line, n);
		p->file = name;
		p->line = line_no;
		if (p->payload == NULL)
		{
			free(id);
			message("error", "out of memory");
			ok = false;
			break;
		}
		if (++in->current->n == in->batch_size && !(ok = queue_current(in)))
			break;
	}
	if (ok && ferror(f))
	{
		message("error", "could not read \"%s\": %s", name, strerror(errno));
		ok = false;
	}
	free(line);
	return ok;
}

static int
cmd_ingest(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"source", required_argument, NULL, 's'},
		{"id-field", required_argument, NULL, 'i'},
		{"batch", required_argument, NULL, 'b'},
		{"jobs", required_argument, NULL, 'j'},
		{"dbname", required_argument, NULL, 'd'},
		{"answers", required_argument, NULL, 'A'},
		{"help", no_argument, NULL, 'H'},
		{NULL, 0, NULL, 0}
	};
	Ingest		in;
	const char *answers = NULL;
	Worker	   *workers;
	const char *id_field = "id";
	const char *conninfo = NULL;
	bool		ok = true;
	int			c;

	memset(&in, 0, sizeof(in));
	in.batch_size = DEFAULT_BATCH;
	in.jobs = 1;
	opterr = 0;
	if (argc > 1 && strcmp(argv[1], "-?") == 0)
	{
		usage_ingest(stdout);
		return EXIT_ALL_INGESTED;
	}
	while ((c = getopt_long(argc, argv, "s:i:b:j:d:", long_options, NULL)) != -1)
	{
		char	   *end;
		long		v;

		switch (c)
		{
			case 's':
				in.source = optarg;
				break;
			case 'i':
				id_field = optarg;
				break;
			case 'b':
				errno = 0;
				v = strtol(optarg, &end, 10);
				if (errno || *end || v < 1 || v > MAX_BATCH)
				{
					message("error", "--batch must be a whole number from 1 to %d, not \"%s\"", MAX_BATCH, optarg);
					try_help("ingest");
					return EXIT_USAGE;
				}
				in.batch_size = (int) v;
				break;
			case 'j':
				errno = 0;
				v = strtol(optarg, &end, 10);
				if (errno || *end || v < 1 || v > MAX_JOBS)
				{
					message("error", "--jobs must be a whole number from 1 to %d, not \"%s\"", MAX_JOBS, optarg);
					try_help("ingest");
					return EXIT_USAGE;
				}
				in.jobs = (int) v;
				break;
			case 'd':
				conninfo = optarg;
				break;
			case 'A':
				answers = optarg;
				break;
			case 'H':
				usage_ingest(stdout);
				return EXIT_ALL_INGESTED;
			case '?':
				message("error", "unknown or incomplete option \"%s\"", argv[optind - 1]);
				try_help("ingest");
				return EXIT_USAGE;
			default:
				try_help("ingest");
				return EXIT_USAGE;
		}
	}
	if (in.source == NULL || *in.source == '\0')
	{
		message("error", "--source is required");
		try_help("ingest");
		return EXIT_USAGE;
	}
	if (InboxJsonPathParse(id_field, &in.path) != 0)
	{
		message("error", "--id-field must be a dotted path of keys, such as data.object.id, not \"%s\"", id_field);
		try_help("ingest");
		return EXIT_USAGE;
	}

	if (answers)
	{
		in.answers = fopen(answers, "a");
		if (in.answers == NULL)
		{
			message("error", "could not open \"%s\": %s", answers, strerror(errno));
			InboxJsonPathFree(&in.path);
			return EXIT_STOPPED;
		}
	}

	/* every connection first: one that cannot be made ends the run before it starts */
	in.conns = calloc((size_t) in.jobs, sizeof(pginbox_conn *));
	in.threads = calloc((size_t) in.jobs, sizeof(pthread_t));
	workers = calloc((size_t) in.jobs, sizeof(Worker));
	in.queue_size = 2 * in.jobs;
	in.queue = calloc((size_t) in.queue_size, sizeof(Batch *));
	if (in.conns == NULL || in.threads == NULL || workers == NULL || in.queue == NULL)
	{
		message("error", "out of memory");
		return EXIT_STOPPED;
	}
	for (int i = 0; i < in.jobs; i++)
	{
		in.conns[i] = connect_to(conninfo);
		if (in.conns[i] == NULL)
		{
			for (int k = 0; k < i; k++)
				pginbox_free(in.conns[k]);
			if (in.answers)
				fclose(in.answers);
			InboxJsonPathFree(&in.path);
			free(in.conns);
			free(in.threads);
			free(workers);
			free(in.queue);
			return EXIT_STOPPED;
		}
	}
	pthread_mutex_init(&in.lock, NULL);
	pthread_cond_init(&in.changed, NULL);
	in.progress = isatty(STDERR_FILENO);
	in.started = now_seconds();
	for (int i = 0; i < in.jobs; i++)
	{
		workers[i].in = &in;
		workers[i].conn = in.conns[i];
		if (pthread_create(&in.threads[i], NULL, worker_main, &workers[i]) != 0)
		{
			message("error", "could not start a thread");
			return EXIT_STOPPED;
		}
	}

	if (optind >= argc)
		ok = ingest_file(&in, stdin, "stdin");
	for (int i = optind; ok && i < argc; i++)
	{
		FILE	   *f;

		if (strcmp(argv[i], "-") == 0)
		{
			ok = ingest_file(&in, stdin, "stdin");
			continue;
		}
		f = fopen(argv[i], "r");
		if (f == NULL)
		{
			message("error", "could not open \"%s\": %s", argv[i], strerror(errno));
			ok = false;
			break;
		}
		ok = ingest_file(&in, f, argv[i]);
		fclose(f);
	}

	/* the last batch, then let the threads finish what is queued */
	if (ok)
		ok = queue_current(&in);
	else
		free_batch(in.current);
	pthread_mutex_lock(&in.lock);
	in.closing = true;
	pthread_cond_broadcast(&in.changed);
	pthread_mutex_unlock(&in.lock);
	for (int i = 0; i < in.jobs; i++)
		pthread_join(in.threads[i], NULL);
	/* a batch that failed stopped the run; what it left queued was never sent */
	ok = ok && !in.stopped;
	while (in.queue_count > 0)
	{
		free_batch(in.queue[in.queue_head]);
		in.queue_head = (in.queue_head + 1) % in.queue_size;
		in.queue_count--;
	}

	show_progress(&in, true);
	print_summary(&in);
	for (int i = 0; i < in.jobs; i++)
		pginbox_free(in.conns[i]);
	pthread_mutex_destroy(&in.lock);
	pthread_cond_destroy(&in.changed);
	InboxJsonPathFree(&in.path);
	free(in.conns);
	free(in.threads);
	free(workers);
	free(in.queue);
	if (in.answers && fclose(in.answers) != 0)
	{
		message("error", "could not write the answers file: %s", strerror(errno));
		ok = false;
	}
	if (!ok)
		return EXIT_STOPPED;
	return (in.malformed || in.no_id || in.counts[PGINBOX_REJECTED]) ? EXIT_SOME_BAD : EXIT_ALL_INGESTED;
}

/* ---------------------------------------------------------------- stats */

static bool
numeric_type(Oid type)
{
	/* int2, int4, int8, float4, float8, numeric */
	return type == 21 || type == 23 || type == 20 || type == 700 || type == 701 || type == 1700;
}

/* Print a result as an aligned table, as psql does. */
static void
print_table(const PGresult *res)
{
	int			nf = PQnfields(res);
	int			nt = PQntuples(res);
	int		   *width = calloc((size_t) nf, sizeof(int));

	if (width == NULL)
		return;
	for (int j = 0; j < nf; j++)
	{
		width[j] = (int) strlen(PQfname(res, j));
		for (int i = 0; i < nt; i++)
			if (PQgetlength(res, i, j) > width[j])
				width[j] = PQgetlength(res, i, j);
	}
	for (int j = 0; j < nf; j++)
		printf("%s%-*s", j ? " | " : " ", width[j], PQfname(res, j));
	printf("\n");
	for (int j = 0; j < nf; j++)
	{
		printf("%s", j ? "-+-" : "-");
		for (int k = 0; k < width[j]; k++)
			putchar('-');
	}
	printf("-\n");
	for (int i = 0; i < nt; i++)
	{
		for (int j = 0; j < nf; j++)
		{
			/* right-align numbers; pad text, but not at the end of the line */
			int			w = numeric_type(PQftype(res, j)) ? width[j] :
				j == nf - 1 ? 0 : -width[j];

			printf("%s%*s", j ? " | " : " ", w, PQgetvalue(res, i, j));
		}
		printf("\n");
	}
	printf("(%d row%s)\n", nt, nt == 1 ? "" : "s");
	free(width);
}

static int
cmd_stats(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"dbname", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'H'},
		{NULL, 0, NULL, 0}
	};
	const char *conninfo = NULL;
	pginbox_conn *conn;
	PGresult   *res;
	int			c;

	opterr = 0;
	if (argc > 1 && strcmp(argv[1], "-?") == 0)
	{
		usage_stats(stdout);
		return 0;
	}
	while ((c = getopt_long(argc, argv, "d:", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				conninfo = optarg;
				break;
			case 'H':
				usage_stats(stdout);
				return 0;
			case '?':
				message("error", "unknown or incomplete option \"%s\"", argv[optind - 1]);
				try_help("stats");
				return EXIT_USAGE;
			default:
				try_help("stats");
				return EXIT_USAGE;
		}
	}
	if (optind < argc)
	{
		message("error", "too many arguments, starting with \"%s\"", argv[optind]);
		try_help("stats");
		return EXIT_USAGE;
	}
	conn = connect_to(conninfo);
	if (conn == NULL)
		return EXIT_STOPPED;
	if (pginbox_exec(conn, "SELECT * FROM inbox.stats ORDER BY source NULLS LAST", 0, NULL, &res) != 0)
	{
		report_error(conn, "could not read inbox.stats");
		pginbox_free(conn);
		return EXIT_STOPPED;
	}
	print_table(res);
	PQclear(res);
	pginbox_free(conn);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *command;

	if (argc < 2)
	{
		message("error", "no command given");
		try_help(NULL);
		return EXIT_USAGE;
	}
	command = argv[1];
	if (strcmp(command, "--help") == 0 || strcmp(command, "-?") == 0 || strcmp(command, "help") == 0)
	{
		usage(stdout);
		return 0;
	}
	if (strcmp(command, "--version") == 0 || strcmp(command, "-V") == 0)
	{
		printf("pg_inbox %d.%d.%d\n", PGINBOX_VERSION_MAJOR, PGINBOX_VERSION_MINOR, PGINBOX_VERSION_PATCH);
		return 0;
	}
	/* the command's own options follow it: getopt starts after its name */
	if (strcmp(command, "ingest") == 0)
		return cmd_ingest(argc - 1, argv + 1);
	if (strcmp(command, "stats") == 0)
		return cmd_stats(argc - 1, argv + 1);
	message("error", "unknown command \"%s\"", command);
	try_help(NULL);
	return EXIT_USAGE;
}
