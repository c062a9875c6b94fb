/*
 * fuzz_answers.c
 *	  libFuzzer harness: how libpginbox reads the server's answers
 *	  (client/calls.c).  The statement runner (InboxRun, InboxRunParams) is
 *	  replaced, at link time (--wrap), by one that makes a PGresult from the
 *	  input: the number of columns and rows, and each field NULL or some
 *	  bytes.  Every typed call then reads that answer as if the server had
 *	  sent it: it must take it or refuse it as a protocol error, never read
 *	  or write out of bounds.
 *
 *	  Input: byte 0 picks the call, byte 1 the columns (0-9), byte 2 the
 *	  rows (0-15); then per field a length byte (255: NULL; otherwise that
 *	  many bytes follow, fewer at the end of the input).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pginbox_int.h"

static const uint8_t *in_data;
static size_t in_size;

PGresult   *__wrap_InboxRun(pginbox_conn *h, const char *sql, int nparams,
							const char *const *values, int result_format, InboxRetry retry);
PGresult   *__wrap_InboxRunParams(pginbox_conn *h, const char *sql, int nparams, const Oid *types,
								  const char *const *values, const int *lengths, const int *formats,
								  int result_format, InboxRetry retry);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The answer the input describes; NULL (an error on the handle) when it says so. */
static PGresult *
answer(pginbox_conn *h, int result_format)
{
	PGresAttDesc attrs[9];
	PGresult   *res;
	size_t		pos = 3;
	int			nf;
	int			nt;

	if (in_size < 3)
	{
		InboxSetError(h, PGINBOX_ERR_SERVER, "XX000", "fuzz: no answer", NULL);
		return NULL;
	}
	nf = in_data[1] % 10;
	nt = in_data[2] % 16;
	res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	if (res == NULL)
		abort();
	memset(attrs, 0, sizeof(attrs));
	for (int j = 0; j < nf; j++)
	{
		attrs[j].name = (char *) "f";
		attrs[j].format = result_format;
		attrs[j].typlen = -1;
	}
	if (nf > 0 && !PQsetResultAttrs(res, nf, attrs))
		abort();
	for (int i = 0; i < nt && nf > 0; i++)
		for (int j = 0; j < nf; j++)
		{
			int			len = pos < in_size ? in_data[pos++] : 255;

			if (len == 255)
			{
				if (!PQsetvalue(res, i, j, NULL, -1))
					abort();
				continue;
			}
			if ((size_t) len > in_size - pos)
				len = (int) (in_size - pos);
			if (!PQsetvalue(res, i, j, (char *) in_data + pos, len))
				abort();
			pos += (size_t) len;
		}
	return res;
}

PGresult *
__wrap_InboxRun(pginbox_conn *h, const char *sql, int nparams, const char *const *values,
				int result_format, InboxRetry retry)
{
	(void) sql, (void) nparams, (void) values, (void) retry;
	return answer(h, result_format);
}

PGresult *
__wrap_InboxRunParams(pginbox_conn *h, const char *sql, int nparams, const Oid *types,
					  const char *const *values, const int *lengths, const int *formats,
					  int result_format, InboxRetry retry)
{
	(void) sql, (void) nparams, (void) types, (void) values, (void) lengths, (void) formats, (void) retry;
	return answer(h, result_format);
}

/* every string an answer hands out is read to its end */
static size_t
touch(const char *s)
{
	return s ? strlen(s) : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pginbox_conn *h = calloc(1, sizeof(pginbox_conn));
	volatile size_t sink = 0;

	if (h == NULL)
		return 0;
	pginbox_options_init(&h->options);
	in_data = data;
	in_size = size;
	switch (size > 0 ? data[0] % 7 : 0)
	{
		case 0:
			{
				pginbox_ingest_result r;

				if (pginbox_ingest(h, "src", "id", "{}", NULL, &r) == 0)
					sink += touch(r.detail) + (size_t) r.status;
				break;
			}
		case 1:
			{
				pginbox_event ev[3] = {{"a", "{}"}, {"b", "[]"}, {"c", "1"}};
				pginbox_batch *b = NULL;
				size_t		n = size > 1 ? data[1] % 4 : 0;

				/* the answer's row count is its own: the call must check it */
				if (pginbox_ingest_batch(h, "src", ev, n, &b) == 0)
				{
					if (b->n != n)
						abort();
					for (size_t i = 0; i < b->n; i++)
						sink += touch(b->results[i].detail) + (size_t) b->results[i].status;
					pginbox_batch_free(b);
				}
				break;
			}
		case 2:
			{
				pginbox_upsert_result r;
				const char *cols[1] = {"k"};

				if (pginbox_upsert(h, "t", "{}", cols, 1, &r) == 0)
					sink += touch(r.row);
				break;
			}
		case 3:
			{
				pginbox_claimed *c = NULL;

				if (pginbox_claim(h, "w", 10, 0, NULL, 0, &c) == 0)
				{
					for (size_t i = 0; i < c->n; i++)
						sink += touch(c->events[i].source) + touch(c->events[i].event_id) +
							touch(c->events[i].headers) + touch(c->events[i].payload);
					pginbox_claimed_free(c);
				}
				break;
			}
		case 4:
			{
				bool		held;

				if (pginbox_complete(h, 1, "w", &held) == 0)
					sink += held;
				break;
			}
		case 5:
			{
				pginbox_state st;

				if (pginbox_fail(h, 1, "w", "boom", 1000, &st) == 0)
					sink += (size_t) st;
				break;
			}
		case 6:
			{
				PGresult   *res = NULL;

				if (pginbox_exec(h, "SELECT 1", 0, NULL, &res) == 0)
					PQclear(res);
				break;
			}
	}
	/* the error, if any, is readable */
	sink += touch(pginbox_errmsg(h)) + touch(pginbox_errdetail(h)) + touch(pginbox_sqlstate(h));
	(void) sink;
	pginbox_free(h);
	return 0;
}
