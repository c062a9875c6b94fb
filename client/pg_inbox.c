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
 *	3  usage: a bad option or argument, or a file named on the command line
 *	   that cannot be opened (checked before connecting)
 *	130, 143  interrupted by SIGINT or SIGTERM (128 + the signal's number):
 *	   the batches in flight were finished, and the summary says where to
 *	   resume
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "pginbox.h"

#define EXIT_ALL_INGESTED 0
#define EXIT_SOME_BAD 1
#define EXIT_STOPPED 2
#define EXIT_USAGE 3
/* interrupted: 128 + the signal's number, as a shell reports it */
#define EXIT_SIGNAL_BASE 128

/* what the server takes as a source (INBOX_MAX_SOURCE_BYTES) */
#define MAX_SOURCE_BYTES 63

#define DEFAULT_BATCH 1000
#define MAX_BATCH 10000
#define MAX_JOBS 16
#define FLEXIBLE_ARRAY_MEMBER	/* C99 */
/* how often the progress line is redrawn, in seconds */
#define PROGRESS_INTERVAL 0.25

static const char *progname = "pg_inbox";

/* ---------------------------------------------------------------- messages */

static bool progress_shown = false;
/* --quiet: only the summary and errors */
static bool quiet = false;
/* --warnings: where the per-line warnings go (NULL: stderr) */
static FILE *warnings_file = NULL;
static bool warnings_failed = false;
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

/*
 * A warning about one line of the input: to the --warnings file, or to
 * stderr unless --quiet.
 */
static void
line_warning(const char *fmt,...) __attribute__((format(printf, 1, 2)));

static void
line_warning(const char *fmt,...)
{
	va_list		ap;

	if (warnings_file == NULL && quiet)
		return;
	pthread_mutex_lock(&output_lock);
	if (warnings_file)
	{
		fprintf(warnings_file, "%s: warning: ", progname);
		va_start(ap, fmt);
		vfprintf(warnings_file, fmt, ap);
		va_end(ap);
		fputc('\n', warnings_file);
		if (ferror(warnings_file))
			warnings_failed = true;
	}
	else
	{
		clear_progress();
		fprintf(stderr, "%s: warning: ", progname);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	pthread_mutex_unlock(&output_lock);
}

/*
 * The server's notices (libpginbox's notice_cb): prefixed like everything
 * else, and not at all with --quiet.  A backend that ends a connection
 * while it is idle says so with a FATAL; the library connects again.
 */
static void
print_notice(void *arg, const pginbox_notice *n)
{
	(void) arg;
	if (quiet)
		return;
	if (strcmp(n->severity, "FATAL") == 0 || strcmp(n->severity, "PANIC") == 0 ||
		strcmp(n->severity, "ERROR") == 0)
		message("notice", "the server ended a connection: %s%s%s%s", n->message,
				*n->sqlstate ? " (SQLSTATE " : "", n->sqlstate, *n->sqlstate ? ")" : "");
	else if (strcmp(n->severity, "WARNING") == 0)
		message("warning", "from the server: %s", n->message);
	else
		message("notice", "from the server: %s", n->message);
	if (n->detail)
		message("detail", "%s", n->detail);
	if (n->hint)
		message("hint", "%s", n->hint);
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
	options.notice_cb = print_notice;
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
			"standard input when there is none or FILE is -, and ingests the events in\n"
			"batches, with inbox.ingest_many.\n\n"
			"Usage:\n"
			"  %s ingest --source NAME [OPTION]... [FILE]...\n\n"
			"Options:\n"
			"  -s, --source=NAME      the source of every event, 1 to %d bytes (required)\n"
			"  -i, --id-field=PATH    the field that holds the event id, a dotted path\n"
			"                         such as data.object.id (default: id)\n"
			"  -b, --batch=N          events per batch, 1 to %d (default: %d)\n"
			"  -j, --jobs=N           batches sent at once, on N connections, 1 to %d\n"
			"                         (default: 1)\n"
			"  -d, --dbname=DBNAME    database name, connection string or URI\n"
			"      --answers=FILE     append the server's answer for each event to FILE,\n"
			"                         one line each: line number, event id, status, id\n"
			"                         (tab-separated), written once its batch is answered\n"
			"      --warnings=FILE    append the warnings about single lines (malformed,\n"
			"                         no id, conflict, rejected) to FILE instead of\n"
			"                         standard error\n"
			"  -q, --quiet            print only the summary and errors: no warnings about\n"
			"                         lines (unless --warnings), no progress, no notices\n"
			"      --raw              send every batch as text (inbox.ingest_raw_many), where\n"
			"                         a line jsonb cannot take is one rejected event\n"
			"      --no-raw           send every batch as jsonb (inbox.ingest_many) only:\n"
			"                         such a line fails its batch, and the run stops\n"
			"                         (default: as jsonb, and a batch that jsonb refuses\n"
			"                         again as text, where the extension can)\n"
			"      --verified         each line is a recorded signed delivery,\n"
			"                         {\"headers\": {...}, \"body\": \"<the raw body>\"},\n"
			"                         verified and ingested by inbox.ingest_verified, one\n"
			"                         call a line; a rejected line's warning names the\n"
			"                         reason (bad_signature ...); not with --raw, --no-raw\n"
			"                         or --id-field\n"
			"  -?, --help             show this help, then exit\n\n"
			"Malformed lines and lines without an id are reported with their line\n"
			"numbers and counted, and the run goes on; so are events the server rejects.\n"
			"A summary by outcome is printed at the end.  A UTF-8 byte order mark at the\n"
			"start of an input is skipped.\n\n"
			"SIGINT (Ctrl-C) or SIGTERM stops reading; the batches being sent are\n"
			"finished, nothing more is sent, and the summary says the line to resume from\n"
			"(every line before it was answered or reported).  A second signal ends the\n"
			"run at once.\n\n"
			"Exit status: 0 every event line was ingested (inserted, duplicate or\n"
			"conflict); 1 some lines were malformed, had no id or were rejected; 2 could\n"
			"not connect, or the run stopped early; 3 usage error, or a FILE that cannot\n"
			"be opened; 130 interrupted by SIGINT; 143 interrupted by SIGTERM.\n",
			progname, progname, MAX_SOURCE_BYTES, MAX_BATCH, DEFAULT_BATCH, MAX_JOBS);
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
			"  -d, --dbname=DBNAME    database name, connection string or URI\n"
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
	char	   *id;				/* NULL with --verified: the server finds it */
	char	   *payload;		/* with --verified, the body as received */
	char	   *headers;		/* with --verified, the headers (JSON), or NULL */
	const char *file;			/* argv[i] or "stdin": lives as long as the run */
	int			input;			/* which input, counting from 0 */
	unsigned long line;
} Pending;

/* A batch read from the input, on its way to a connection. */
typedef struct Batch
{
	int			n;
	Pending		items[FLEXIBLE_ARRAY_MEMBER];
} Batch;

/*
 * Which call a batch goes to: inbox.ingest_many (jsonb[]; the faster), or
 * inbox.ingest_raw_many (text[]; a body jsonb cannot take is one rejected
 * event rather than a failed batch).
 */
typedef enum RawMode
{
	RAW_NEVER,					/* --no-raw, or an extension without the raw batch */
	RAW_FALLBACK,				/* the default: a batch that fails with a data
								 * exception (class 22) goes again as raw bodies */
	RAW_ALWAYS					/* --raw */
} RawMode;

/*
 * The run.  The main thread reads and checks lines and queues full batches;
 * each of --jobs threads owns one connection (a handle is used by one thread
 * at a time) and sends the batches it takes from the queue.  lock guards the
 * queue, the counts, the flags and the resume point; output_lock (in
 * message()) keeps lines of stderr whole.
 */
typedef struct Ingest
{
	const char *source;
	InboxJsonPath path;
	RawMode		raw;			/* when batches go to inbox.ingest_raw_many */
	bool		verified;		/* --verified: inbox.ingest_verified, line by line */
	InboxJsonPath body_path;	/* with --verified: "body" and "headers" */
	InboxJsonPath headers_path;
	int			batch_size;
	int			jobs;
	pginbox_conn **conns;
	pthread_t  *threads;
	int			threads_started;

	const char *const *inputs;	/* the names, in order ("-" is stdin) */
	int			n_inputs;
	int		   *fds;			/* inputs kept open since they were checked, or -1 */

	Batch	   *current;		/* being filled by the main thread */

	pthread_mutex_t lock;
	pthread_cond_t changed;		/* the queue or a flag changed */
	Batch	  **queue;			/* a ring of queue_size */
	int			queue_size;
	int			queue_head;
	int			queue_count;
	bool		closing;		/* nothing more will be queued */
	bool		stopped;		/* a batch failed: the run ends */
	bool		abandon;		/* interrupted: send nothing more from the queue */
	FILE	   *answers;		/* --answers, or NULL */

	unsigned long lines;
	unsigned long files;
	unsigned long counts[4];	/* by pginbox_status */
	unsigned long malformed;
	unsigned long no_id;

	/* where reading got to: the next line to read, in input read_input */
	int			read_input;
	unsigned long read_line;
	/* the first line read but not answered (in reading order), if any */
	bool		have_unanswered;
	int			unanswered_input;
	unsigned long unanswered_line;

	double		started;
	double		last_progress;
	bool		progress;
} Ingest;

/* ---------------------------------------------------------------- signals */

/*
 * SIGINT and SIGTERM: the handler only records the signal and writes a byte
 * to a pipe (both async-signal-safe); the reading loop polls the pipe with
 * its input, and the other waits look at the flag.  SA_RESETHAND: a second
 * signal ends the process at once.
 */
static volatile sig_atomic_t got_signal = 0;
static int	signal_pipe[2] = {-1, -1};

static void
on_signal(int signo)
{
	int			save_errno = errno;
	ssize_t		rc;

	got_signal = signo;
	rc = write(signal_pipe[1], "", 1);
	(void) rc;
	errno = save_errno;
}

static bool
install_signal_handlers(void)
{
	struct sigaction sa;

	if (pipe(signal_pipe) != 0)
		return false;
	for (int i = 0; i < 2; i++)
	{
		int			fl = fcntl(signal_pipe[i], F_GETFL);

		if (fl < 0 || fcntl(signal_pipe[i], F_SETFL, fl | O_NONBLOCK) != 0 ||
			fcntl(signal_pipe[i], F_SETFD, FD_CLOEXEC) != 0)
			return false;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESETHAND | SA_RESTART;
	for (int i = 0; i < 2; i++)
	{
		int			signo = i == 0 ? SIGINT : SIGTERM;
		struct sigaction old;

		/* a signal ignored from the start stays ignored (a job run with & or nohup) */
		if (sigaction(signo, NULL, &old) != 0)
			return false;
		if (old.sa_handler != SIG_IGN && sigaction(signo, &sa, NULL) != 0)
			return false;
	}
	return true;
}

static void
remove_signal_handlers(void)
{
	struct sigaction sa;

	for (int i = 0; i < 2; i++)
	{
		int			signo = i == 0 ? SIGINT : SIGTERM;

		/* ours (not yet reset by a signal) back to the default; an ignored one stays */
		if (sigaction(signo, NULL, &sa) == 0 && sa.sa_handler == on_signal)
		{
			sa.sa_handler = SIG_DFL;
			sigaction(signo, &sa, NULL);
		}
	}
	for (int i = 0; i < 2; i++)
	{
		if (signal_pipe[i] >= 0)
			close(signal_pipe[i]);
		signal_pipe[i] = -1;
	}
}

static const char *
signal_name(int signo)
{
	return signo == SIGINT ? "SIGINT" : signo == SIGTERM ? "SIGTERM" : "a signal";
}

/* ---------------------------------------------------------------- reading */

/*
 * An input read through its file descriptor, so that waiting for more of it
 * can also wait for a signal (the reading loop polls both).
 */
typedef struct Input
{
	int			fd;
	char	   *buf;
	size_t		cap;
	size_t		start;			/* the next line begins here */
	size_t		end;			/* bytes read end here */
	bool		eof;
} Input;

typedef enum ReadResult
{
	READ_LINE,
	READ_EOF,
	READ_ERROR,					/* errno is set */
	READ_INTERRUPTED
} ReadResult;

/*
 * The next line, without its newline, NUL-terminated in the input's buffer
 * (valid until the next call); *len counts its bytes.
 */
static ReadResult
read_line(Input *f, char **line, size_t *len)
{
	for (;;)
	{
		char	   *nl = f->end > f->start ? memchr(f->buf + f->start, '\n', f->end - f->start) : NULL;
		struct pollfd pfd[2];
		ssize_t		got;

		if (nl || (f->eof && f->end > f->start))
		{
			size_t		n = nl ? (size_t) (nl - (f->buf + f->start)) : f->end - f->start;

			*line = f->buf + f->start;
			*len = n;
			f->start += n + (nl ? 1 : 0);
			if (nl)
				*nl = '\0';
			else
			{
				/* the last line has no newline: make room for the NUL */
				if (f->end == f->cap)
				{
					char	   *b = realloc(f->buf, f->cap + 1);

					if (b == NULL)
						return READ_ERROR;
					f->buf = b;
					f->cap++;
					*line = f->buf + f->start - n;
				}
				f->buf[f->end] = '\0';
			}
			return READ_LINE;
		}
		if (f->eof)
			return READ_EOF;
		if (got_signal)
			return READ_INTERRUPTED;
		/* keep the partial line, at the start of a buffer with room after it */
		if (f->start > 0)
		{
			memmove(f->buf, f->buf + f->start, f->end - f->start);
			f->end -= f->start;
			f->start = 0;
		}
		if (f->end == f->cap)
		{
			size_t		cap = f->cap ? f->cap * 2 : 65536;
			char	   *b = realloc(f->buf, cap);

			if (b == NULL)
			{
				errno = ENOMEM;
				return READ_ERROR;
			}
			f->buf = b;
			f->cap = cap;
		}
		pfd[0].fd = f->fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = signal_pipe[0];
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if (poll(pfd, 2, -1) < 0)
		{
			if (errno == EINTR)
				continue;
			return READ_ERROR;
		}
		if (got_signal)
			return READ_INTERRUPTED;
		got = read(f->fd, f->buf + f->end, f->cap - f->end);
		if (got < 0)
		{
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return READ_ERROR;
		}
		if (got == 0)
			f->eof = true;
		f->end += (size_t) got;
	}
}

/* ---------------------------------------------------------------- progress and summary */

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

static const char *
input_name(const Ingest *in, int i)
{
	return strcmp(in->inputs[i], "-") == 0 ? "stdin" : in->inputs[i];
}

/*
 * The summary.  A run that stopped before its end (an error, a signal) also
 * says where to resume: the first line that was read but not answered, or
 * else where reading stopped.  Every line before it was answered by the
 * server or reported (malformed, no id); from it on, nothing is known.
 */
static void
print_summary(const Ingest *in, bool complete, int signo)
{
	double		elapsed = now_seconds() - in->started;
	unsigned long events = in->counts[0] + in->counts[1] + in->counts[2] + in->counts[3];

	pthread_mutex_lock(&output_lock);
	clear_progress();
	pthread_mutex_unlock(&output_lock);
	printf("source \"%s\": %lu line%s read from %lu input%s in %.1f s (%.0f events/s)%s%s\n",
		   in->source, in->lines, in->lines == 1 ? "" : "s", in->files, in->files == 1 ? "" : "s",
		   elapsed, elapsed > 0 ? events / elapsed : 0.0,
		   signo ? ", interrupted by " : "", signo ? signal_name(signo) : "");
	printf("  inserted   %10lu  new events, stored\n", in->counts[PGINBOX_INSERTED]);
	printf("  duplicate  %10lu  stored before with the same content\n", in->counts[PGINBOX_DUPLICATE]);
	printf("  conflict   %10lu  stored before with other content (kept as it was)\n", in->counts[PGINBOX_CONFLICT]);
	printf("  rejected   %10lu  refused by the server, nothing stored\n", in->counts[PGINBOX_REJECTED]);
	printf("  malformed  %10lu  not valid JSON, not sent\n", in->malformed);
	printf("  no id      %10lu  no usable event id, not sent\n", in->no_id);
	if (!complete)
	{
		int			input = in->have_unanswered ? in->unanswered_input : in->read_input;
		unsigned long line = in->have_unanswered ? in->unanswered_line : in->read_line;

		if (input < in->n_inputs)
			printf("resume from line %lu of %s%s: every line before it was answered or reported\n",
				   line, input_name(in, input),
				   input + 1 < in->n_inputs ? ", then the inputs after it" : "");
		else
			printf("resume: nothing; every line was answered or reported\n");
	}
	fflush(stdout);
}

/* Lines of p's batch and after it are not known to be stored (lock held, or one thread). */
static void
note_unanswered(Ingest *in, const Pending *p)
{
	if (!in->have_unanswered || p->input < in->unanswered_input ||
		(p->input == in->unanswered_input && p->line < in->unanswered_line))
	{
		in->have_unanswered = true;
		in->unanswered_input = p->input;
		in->unanswered_line = p->line;
	}
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
		free(b->items[i].headers);
	}
	free(b);
}

/* Write s as COPY's text format writes a field: \\, tab, newline, return escaped. */
static void
put_field(FILE *f, const char *s)
{
	for (; s && *s; s++)
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

/* inbox.ingest_raw_many for a batch; raw has room for it */
static int
send_raw(Ingest *in, pginbox_conn *conn, Batch *b, pginbox_raw_event *raw, pginbox_batch **answers)
{
	for (int i = 0; i < b->n; i++)
	{
		raw[i].event_id = b->items[i].id;
		raw[i].body = b->items[i].payload;
		raw[i].headers = NULL;
	}
	return pginbox_ingest_raw_batch(conn, in->source, raw, (size_t) b->n, answers);
}

/*
 * --verified: each delivery of the batch to inbox.ingest_verified, one call
 * each, counting the answers as they come; false when a call failed (the
 * lines before it were answered and counted).
 */
static bool
send_verified(Ingest *in, pginbox_conn *conn, Batch *b)
{
	for (int i = 0; i < b->n; i++)
	{
		const Pending *p = &b->items[i];
		pginbox_verified_result r;

		if (pginbox_ingest_verified(conn, in->source, p->payload, p->headers, &r) != 0)
		{
			pthread_mutex_lock(&in->lock);
			if (!in->stopped)
			{
				report_error(conn, "ingest failed");
				message("detail", "Line %s:%lu and the %d after it in its batch were not sent; the summary counts the lines that were.",
						p->file, p->line, b->n - i - 1);
			}
			note_unanswered(in, p);
			in->stopped = true;
			pthread_cond_broadcast(&in->changed);
			pthread_mutex_unlock(&in->lock);
			return false;
		}
		pthread_mutex_lock(&in->lock);
		in->counts[r.status]++;
		if (r.status == PGINBOX_REJECTED)
			line_warning("%s:%lu: rejected (%s): %s", p->file, p->line,
						 r.reason ? r.reason : "", r.detail ? r.detail : "");
		else if (r.status == PGINBOX_CONFLICT)
			line_warning("%s:%lu: conflict: %s", p->file, p->line, r.detail ? r.detail : "");
		if (in->answers)
		{
			fprintf(in->answers, "%lu\t\t%s\t%" PRId64 "\n", p->line,
					pginbox_status_name(r.status), r.id);
			if ((fflush(in->answers) != 0 || ferror(in->answers)) && !in->stopped)
			{
				message("error", "could not write the answers file: %s", strerror(errno));
				in->stopped = true;
				pthread_cond_broadcast(&in->changed);
			}
		}
		pthread_mutex_unlock(&in->lock);
	}
	return true;
}

/*
 * Send one batch on conn and count its answers; false when it failed.
 * events has room for a batch of pginbox_raw_event (the larger of the two
 * kinds).
 */
static bool
send_batch(Ingest *in, pginbox_conn *conn, Batch *b, void *events)
{
	pginbox_batch *answers;
	int			rc;

	if (in->verified)
		return send_verified(in, conn, b);
	if (in->raw == RAW_ALWAYS)
		rc = send_raw(in, conn, b, events, &answers);
	else
	{
		pginbox_event *ev = events;

		for (int i = 0; i < b->n; i++)
		{
			ev[i].event_id = b->items[i].id;
			ev[i].payload = b->items[i].payload;
		}
		rc = pginbox_ingest_batch(conn, in->source, ev, (size_t) b->n, &answers);

		/*
		 * A body the command's check passed but jsonb refused (a number
		 * beyond numeric's range) failed the whole batch, which stored
		 * nothing: the batch goes again as raw bodies, where that line is
		 * one rejected event.
		 */
		if (rc != 0 && in->raw == RAW_FALLBACK && pginbox_errkind(conn) == PGINBOX_ERR_SERVER &&
			strncmp(pginbox_sqlstate(conn), "22", 2) == 0)
			rc = send_raw(in, conn, b, events, &answers);
	}
	if (rc != 0)
	{
		pthread_mutex_lock(&in->lock);
		/* the first failure is reported; the others are its echoes */
		if (!in->stopped)
		{
			report_error(conn, "ingest failed");
			message("detail", "The batch of lines %s:%lu to %s:%lu was not stored; the summary counts the batches that were.",
					b->items[0].file, b->items[0].line, b->items[b->n - 1].file, b->items[b->n - 1].line);
		}
		note_unanswered(in, &b->items[0]);
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
			line_warning("%s:%lu: %s: %s", p->file, p->line,
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

/*
 * A sending thread: takes batches from the queue until it is closed and
 * empty, or the run stops or is interrupted (then the batch it is sending
 * is finished, and no other is taken).
 */
static void *
worker_main(void *arg)
{
	Worker	   *w = arg;
	Ingest	   *in = w->in;
	void	   *events = calloc((size_t) in->batch_size, sizeof(pginbox_raw_event));

	for (;;)
	{
		Batch	   *b = NULL;

		pthread_mutex_lock(&in->lock);
		while (in->queue_count == 0 && !in->closing && !in->stopped && !in->abandon)
			pthread_cond_wait(&in->changed, &in->lock);
		if (in->queue_count > 0 && !in->stopped && !in->abandon)
		{
			b = in->queue[in->queue_head];
			in->queue_head = (in->queue_head + 1) % in->queue_size;
			in->queue_count--;
			pthread_cond_broadcast(&in->changed);
		}
		pthread_mutex_unlock(&in->lock);
		if (b == NULL)
			break;				/* closed and empty, stopped, or interrupted */
		if (events == NULL)
		{
			message("error", "out of memory");
			pthread_mutex_lock(&in->lock);
			note_unanswered(in, &b->items[0]);
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

/*
 * Queue the batch being filled (waiting for room); false when the run must
 * stop, or was interrupted (the batch then stays in in->current, unsent).
 */
static bool
queue_current(Ingest *in)
{
	bool		ok;

	if (in->current == NULL || in->current->n == 0)
		return true;
	pthread_mutex_lock(&in->lock);
	while (in->queue_count == in->queue_size && !in->stopped && !got_signal)
	{
		/* a signal handler cannot signal a condition variable: look now and then */
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000;
		if (ts.tv_nsec >= 1000000000)
		{
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		(void) pthread_cond_timedwait(&in->changed, &in->lock, &ts);
	}
	ok = !in->stopped && !got_signal;
	if (ok)
	{
		in->queue[(in->queue_head + in->queue_count) % in->queue_size] = in->current;
		in->queue_count++;
		in->current = NULL;
		pthread_cond_broadcast(&in->changed);
	}
	pthread_mutex_unlock(&in->lock);
	show_progress(in, false);
	return ok;
}

/*
 * --verified: a line is a recorded delivery, {"headers": {...}, "body":
 * "<the raw body>"}.  *body is the body unescaped, *headers the headers'
 * JSON text, or NULL when there are none (or they are null), both malloc'd;
 * false, with why[], when the line is not such a delivery.
 */
static bool
read_delivery(const Ingest *in, const char *line, size_t n, char **body, char **headers,
			  char *why, size_t why_size)
{
	char	   *raw = NULL;

	*body = NULL;
	*headers = NULL;
	switch (InboxJsonRaw(line, n, &in->headers_path, &raw, why, why_size))
	{
		case INBOX_JSON_MALFORMED:
			return false;
		case INBOX_JSON_NO_ID:
			break;
		case INBOX_JSON_ID:
			if (strcmp(raw, "null") == 0)
				free(raw);
			else if (raw[0] == '{')
				*headers = raw;
			else
			{
				free(raw);
				snprintf(why, why_size, "field \"headers\" is not an object");
				return false;
			}
			break;
	}
	raw = NULL;
	if (InboxJsonRaw(line, n, &in->body_path, &raw, why, why_size) != INBOX_JSON_ID ||
		raw[0] != '"')
	{
		if (raw != NULL)
			snprintf(why, why_size, "field \"body\" is not a string");
		free(raw);
		free(*headers);
		*headers = NULL;
		return false;
	}
	free(raw);
	if (InboxJsonScan(line, n, &in->body_path, body, why, why_size) != INBOX_JSON_ID)
	{
		free(*headers);
		*headers = NULL;
		return false;
	}
	return true;
}

/* Read one input to its end; false when the run must stop or was interrupted. */
static bool
ingest_file(Ingest *in, int fd, int input)
{
	Input		f;
	char	   *line;
	size_t		n;
	unsigned long line_no = 0;
	bool		ok = true;
	const char *name = input_name(in, input);
	ReadResult	rr = READ_EOF;

	memset(&f, 0, sizeof(f));
	f.fd = fd;
	in->files++;
	in->read_input = input;
	in->read_line = 1;
	while (!got_signal && (rr = read_line(&f, &line, &n)) == READ_LINE)
	{
		char		why[256];
		char	   *id;
		char	   *headers;
		Pending    *p;

		line_no++;
		in->lines++;
		in->read_line = line_no + 1;
		/* a UTF-8 byte order mark at the start of an input is not part of the JSON */
		if (line_no == 1 && n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
		{
			line += 3;
			n -= 3;
		}
		while (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (strspn(line, " \t") == n)
			continue;			/* blank lines separate nothing in NDJSON; skip them */

		headers = NULL;
		if (in->verified)
		{
			if (!read_delivery(in, line, n, &id, &headers, why, sizeof(why)))
			{
				in->malformed++;
				line_warning("%s:%lu: malformed: %s", name, line_no, why);
				continue;
			}
		}
		else
			switch (InboxJsonScan(line, n, &in->path, &id, why, sizeof(why)))
		{
			case INBOX_JSON_MALFORMED:
				in->malformed++;
				line_warning("%s:%lu: malformed: %s", name, line_no, why);
				continue;
			case INBOX_JSON_NO_ID:
				in->no_id++;
				line_warning("%s:%lu: no event id: %s", name, line_no, why);
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
				free(headers);
				message("error", "out of memory");
				ok = false;
				break;
			}
			in->current->n = 0;
		}
		p = &in->current->items[in->current->n];
		p->id = in->verified ? NULL : id;
		p->payload = in->verified ? id : strndup(line, n);
		p->headers = headers;
		p->file = name;
		p->input = input;
		p->line = line_no;
		if (p->payload == NULL)
		{
			free(id);
			free(headers);
			message("error", "out of memory");
			ok = false;
			break;
		}
		if (++in->current->n == in->batch_size && !(ok = queue_current(in)))
			break;
	}
	if (ok && !got_signal && rr == READ_ERROR)
	{
		message("error", "could not read \"%s\": %s", name, strerror(errno));
		ok = false;
	}
	if (ok && !got_signal)
	{
		/* the whole input was read: a resumed run starts with the next one */
		in->read_input = input + 1;
		in->read_line = 1;
	}
	free(f.buf);
	return ok && !got_signal;
}

/*
 * Check that every input can be opened for reading, before connecting: a
 * typo in a file name is a usage error, not a run that stops half way.  A
 * regular file is closed again and opened when its turn comes (there may be
 * more files than descriptors); anything else (a fifo, a /dev/fd/N of a
 * pipe) stays open, since a second open would not find the same data.
 */
static bool
check_inputs(Ingest *in)
{
	for (int i = 0; i < in->n_inputs; i++)
	{
		struct stat st;
		int			fd;

		in->fds[i] = -1;
		if (strcmp(in->inputs[i], "-") == 0)
			continue;
		fd = open(in->inputs[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
		{
			message("error", "could not open \"%s\": %s", in->inputs[i], strerror(errno));
			return false;
		}
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		{
			message("error", "could not read \"%s\": it is a directory", in->inputs[i]);
			close(fd);
			return false;
		}
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			close(fd);
		else
			in->fds[i] = fd;
	}
	return true;
}

/* Close the inputs that check_inputs kept open and that were not read. */
static void
close_inputs(Ingest *in)
{
	for (int i = 0; in->fds && i < in->n_inputs; i++)
	{
		if (in->fds[i] >= 0)
			close(in->fds[i]);
		in->fds[i] = -1;
	}
	free(in->fds);
	in->fds = NULL;
}

/* Open an output file named by an option (appended to); NULL, reported, when it cannot be. */
static FILE *
open_output(const char *option, const char *path)
{
	FILE	   *f = fopen(path, "a");

	if (f == NULL)
		message("error", "could not open \"%s\" (%s): %s", path, option, strerror(errno));
	return f;
}

/*
 * --raw, --no-raw, or else the default: inbox.ingest_many, and the raw
 * batch for a batch that jsonb refused, where the extension has it (0.4.0
 * and later).  false, reported, when --raw was asked for and the extension
 * lacks it.
 */
static bool
choose_call(Ingest *in, pginbox_conn *conn, int raw_choice)
{
	static const char *const params[1] = {"inbox.ingest_raw_many(text, text[], text[], jsonb[])"};
	PGresult   *res;
	bool		has_raw;

	in->raw = RAW_NEVER;
	if (raw_choice == 0)
		return true;
	if (pginbox_exec(conn, "SELECT pg_catalog.to_regprocedure($1) IS NOT NULL", 1, params, &res) != 0)
	{
		report_error(conn, "could not look for inbox.ingest_raw_many");
		return false;
	}
	has_raw = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!has_raw && raw_choice == 1)
	{
		message("error", "--raw needs inbox.ingest_raw_many, which this database's pg_inbox does not have");
		message("hint", "Run ALTER EXTENSION pg_inbox UPDATE, or leave out --raw.");
		return false;
	}
	if (has_raw)
		in->raw = raw_choice == 1 ? RAW_ALWAYS : RAW_FALLBACK;
	return true;
}

/* Free what the run holds; the threads have been joined. */
static void
ingest_cleanup(Ingest *in, Worker *workers)
{
	close_inputs(in);
	while (in->queue && in->queue_count > 0)
	{
		free_batch(in->queue[in->queue_head]);
		in->queue_head = (in->queue_head + 1) % in->queue_size;
		in->queue_count--;
	}
	free_batch(in->current);
	in->current = NULL;
	for (int i = 0; in->conns && i < in->jobs; i++)
		pginbox_free(in->conns[i]);
	InboxJsonPathFree(&in->path);
	InboxJsonPathFree(&in->body_path);
	InboxJsonPathFree(&in->headers_path);
	free(in->conns);
	free(in->threads);
	free(workers);
	free(in->queue);
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
		{"warnings", required_argument, NULL, 'W'},
		{"quiet", no_argument, NULL, 'q'},
		{"raw", no_argument, NULL, 'R'},
		{"no-raw", no_argument, NULL, 'N'},
		{"verified", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'H'},
		{NULL, 0, NULL, 0}
	};
	static const char *const stdin_only[] = {"-"};
	Ingest		in;
	const char *answers = NULL;
	const char *warnings = NULL;
	Worker	   *workers = NULL;
	const char *id_field = "id";
	const char *conninfo = NULL;
	bool		ok = true;
	bool		complete;
	int			signo;
	int			c;
	sigset_t	block;
	sigset_t	old_mask;
	int			raw_choice = -1;	/* --raw 1, --no-raw 0, neither -1 */

	memset(&in, 0, sizeof(in));
	in.batch_size = DEFAULT_BATCH;
	in.jobs = 1;
	in.read_line = 1;
	opterr = 0;
	if (argc > 1 && strcmp(argv[1], "-?") == 0)
	{
		usage_ingest(stdout);
		return EXIT_ALL_INGESTED;
	}
	while ((c = getopt_long(argc, argv, "s:i:b:j:d:q", long_options, NULL)) != -1)
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
			case 'W':
				warnings = optarg;
				break;
			case 'q':
				quiet = true;
				break;
			case 'R':
				raw_choice = 1;
				break;
			case 'N':
				raw_choice = 0;
				break;
			case 'V':
				in.verified = true;
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
	/* everything that can be checked is checked before connecting */
	if (in.source == NULL)
	{
		message("error", "--source is required");
		try_help("ingest");
		return EXIT_USAGE;
	}
	if (*in.source == '\0' || strlen(in.source) > MAX_SOURCE_BYTES)
	{
		message("error", "--source must be 1 to %d bytes long, not %zu", MAX_SOURCE_BYTES, strlen(in.source));
		try_help("ingest");
		return EXIT_USAGE;
	}
	if (in.verified && (raw_choice != -1 || strcmp(id_field, "id") != 0))
	{
		message("error", "--verified cannot be combined with --raw, --no-raw or --id-field");
		try_help("ingest");
		return EXIT_USAGE;
	}
	if (in.verified &&
		(InboxJsonPathParse("body", &in.body_path) != 0 ||
		 InboxJsonPathParse("headers", &in.headers_path) != 0))
	{
		InboxJsonPathFree(&in.body_path);
		message("error", "out of memory");
		return EXIT_STOPPED;
	}
	if (InboxJsonPathParse(id_field, &in.path) != 0)
	{
		message("error", "--id-field must be a dotted path of keys, such as data.object.id, not \"%s\"", id_field);
		try_help("ingest");
		return EXIT_USAGE;
	}
	if (optind < argc)
	{
		in.inputs = (const char *const *) argv + optind;
		in.n_inputs = argc - optind;
	}
	else
	{
		in.inputs = stdin_only;
		in.n_inputs = 1;
	}
	in.fds = malloc(sizeof(int) * (size_t) in.n_inputs);
	if (in.fds == NULL)
	{
		message("error", "out of memory");
		InboxJsonPathFree(&in.path);
		return EXIT_STOPPED;
	}
	if (!check_inputs(&in))
	{
		close_inputs(&in);
		InboxJsonPathFree(&in.path);
		return EXIT_USAGE;
	}
	if (answers && (in.answers = open_output("--answers", answers)) == NULL)
	{
		close_inputs(&in);
		InboxJsonPathFree(&in.path);
		return EXIT_USAGE;
	}
	if (warnings && (warnings_file = open_output("--warnings", warnings)) == NULL)
	{
		if (in.answers)
			fclose(in.answers);
		close_inputs(&in);
		InboxJsonPathFree(&in.path);
		return EXIT_USAGE;
	}

	in.conns = calloc((size_t) in.jobs, sizeof(pginbox_conn *));
	in.threads = calloc((size_t) in.jobs, sizeof(pthread_t));
	workers = calloc((size_t) in.jobs, sizeof(Worker));
	in.queue_size = 2 * in.jobs;
	in.queue = calloc((size_t) in.queue_size, sizeof(Batch *));
	if (in.conns == NULL || in.threads == NULL || workers == NULL || in.queue == NULL ||
		!install_signal_handlers())
	{
		message("error", "out of memory, or no pipe for signals: %s", strerror(errno));
		ok = false;
	}
	/* every connection first: one that cannot be made ends the run before it starts */
	for (int i = 0; ok && i < in.jobs; i++)
	{
		in.conns[i] = connect_to(conninfo);
		ok = in.conns[i] != NULL;
	}
	if (ok)
		ok = in.verified || choose_call(&in, in.conns[0], raw_choice);
	if (!ok)
	{
		remove_signal_handlers();
		ingest_cleanup(&in, workers);
		if (in.answers)
			fclose(in.answers);
		if (warnings_file)
			fclose(warnings_file);
		return EXIT_STOPPED;
	}

	pthread_mutex_init(&in.lock, NULL);
	pthread_cond_init(&in.changed, NULL);
	in.progress = !quiet && isatty(STDERR_FILENO);
	in.started = now_seconds();
	/* the sending threads leave the signals to the reading one */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old_mask);
	for (int i = 0; i < in.jobs; i++)
	{
		int			rc;

		workers[i].in = &in;
		workers[i].conn = in.conns[i];
		rc = pthread_create(&in.threads[i], NULL, worker_main, &workers[i]);
		if (rc != 0)
		{
			message("error", "could not start a thread: %s", strerror(rc));
			ok = false;
			break;
		}
		in.threads_started++;
	}
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);

	for (int i = 0; ok && i < in.n_inputs; i++)
	{
		int			fd;

		if (strcmp(in.inputs[i], "-") == 0)
		{
			ok = ingest_file(&in, STDIN_FILENO, i);
			continue;
		}
		fd = in.fds[i] >= 0 ? in.fds[i] : open(in.inputs[i], O_RDONLY | O_CLOEXEC);
		in.fds[i] = -1;
		if (fd < 0)
		{
			message("error", "could not open \"%s\": %s", in.inputs[i], strerror(errno));
			in.read_input = i;
			in.read_line = 1;
			ok = false;
			break;
		}
		ok = ingest_file(&in, fd, i);
		close(fd);
	}

	/*
	 * The last batch, then let the threads finish what is queued.  When the
	 * run was interrupted, the threads finish the batches they are sending
	 * and take no other.
	 */
	if (ok)
		ok = queue_current(&in);
	pthread_mutex_lock(&in.lock);
	in.closing = true;
	in.abandon = got_signal != 0;
	pthread_cond_broadcast(&in.changed);
	pthread_mutex_unlock(&in.lock);
	for (int i = 0; i < in.threads_started; i++)
		pthread_join(in.threads[i], NULL);
	signo = got_signal;
	remove_signal_handlers();
	/* what was read and not sent: the queue, and the batch being filled */
	for (int k = 0; k < in.queue_count; k++)
		note_unanswered(&in, &in.queue[(in.queue_head + k) % in.queue_size]->items[0]);
	if (in.current && in.current->n > 0)
		note_unanswered(&in, &in.current->items[0]);
	complete = ok && !in.stopped && !signo;

	show_progress(&in, true);
	print_summary(&in, complete, signo);
	ingest_cleanup(&in, workers);
	pthread_mutex_destroy(&in.lock);
	pthread_cond_destroy(&in.changed);
	if (in.answers && fclose(in.answers) != 0)
	{
		message("error", "could not write the answers file: %s", strerror(errno));
		complete = false;
	}
	if (warnings_file && (fclose(warnings_file) != 0 || warnings_failed))
	{
		message("error", "could not write the warnings file: %s", strerror(errno));
		complete = false;
	}
	warnings_file = NULL;
	if (signo)
		return EXIT_SIGNAL_BASE + signo;
	if (!complete)
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
