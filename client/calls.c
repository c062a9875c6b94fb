/*
 * calls.c
 *	  The typed calls of the extension's functions: ingest, batches, upsert,
 *	  claim, complete, fail, and the caller's own statements.
 *
 * Parameters go out as text and are always bound ($n), never spliced into
 * the SQL.  Results come back in binary, so that ids and times arrive as the
 * integers they are, whatever DateStyle and TimeZone the session has.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pginbox_int.h"

/* microseconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch */
#define POSTGRES_EPOCH_OFFSET_US INT64_C(946684800000000)

#define BINARY 1
#define TEXT 0

/* ---------------------------------------------------------------- names */

PGINBOX_EXPORT const char *
pginbox_status_name(pginbox_status status)
{
	switch (status)
	{
		case PGINBOX_INSERTED:
			return "inserted";
		case PGINBOX_DUPLICATE:
			return "duplicate";
		case PGINBOX_CONFLICT:
			return "conflict";
		case PGINBOX_REJECTED:
			return "rejected";
	}
	return "?";
}

PGINBOX_EXPORT const char *
pginbox_upsert_action_name(pginbox_upsert_action action)
{
	switch (action)
	{
		case PGINBOX_UPSERT_INSERTED:
			return "inserted";
		case PGINBOX_UPSERT_UPDATED:
			return "updated";
		case PGINBOX_UPSERT_UNCHANGED:
			return "unchanged";
		case PGINBOX_UPSERT_SKIPPED:
			return "skipped";
	}
	return "?";
}

static bool
parse_status(const char *s, pginbox_status *status)
{
	static const pginbox_status all[] = {
		PGINBOX_INSERTED, PGINBOX_DUPLICATE, PGINBOX_CONFLICT, PGINBOX_REJECTED
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
	{
		if (strcmp(s, pginbox_status_name(all[i])) == 0)
		{
			*status = all[i];
			return true;
		}
	}
	return false;
}

/* ---------------------------------------------------------------- binary values */

static bool
field_ok(const PGresult *r, int row, int col, int len)
{
	return PQgetisnull(r, row, col) || PQgetlength(r, row, col) == len;
}

static uint64_t
get_be(const PGresult *r, int row, int col, int len)
{
	const unsigned char *p = (const unsigned char *) PQgetvalue(r, row, col);
	uint64_t	v = 0;

	for (int i = 0; i < len; i++)
		v = (v << 8) | p[i];
	return v;
}

static int64_t
get_int8(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : (int64_t) get_be(r, row, col, 8);
}

static int32_t
get_int4(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : (int32_t) (uint32_t) get_be(r, row, col, 4);
}

/*
 * timestamptz as microseconds since 1970; 0 for NULL.  'infinity' and
 * '-infinity' (INT64_MAX and INT64_MIN since 2000) stay INT64_MAX and
 * INT64_MIN; so does anything that would overflow on the way.
 */
static int64_t
get_time(const PGresult *r, int row, int col)
{
	int64_t		t;

	if (PQgetisnull(r, row, col))
		return 0;
	t = get_int8(r, row, col);
	if (t == INT64_MIN)
		return INT64_MIN;
	if (t > INT64_MAX - POSTGRES_EPOCH_OFFSET_US)
		return INT64_MAX;
	return t + POSTGRES_EPOCH_OFFSET_US;
}

/* text: libpq ends every value with a NUL; NULL for SQL NULL */
static const char *
get_text(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* jsonb in binary is a version byte (1) and the JSON text */
static bool
jsonb_ok(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ||
		(PQgetlength(r, row, col) >= 1 && PQgetvalue(r, row, col)[0] == 1);
}

static const char *
get_jsonb(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col) + 1;
}

static int
protocol_error(pginbox_conn *h, PGresult *res, const char *what)
{
	PQclear(res);
	InboxSetError(h, PGINBOX_ERR_PROTOCOL, "", "unexpected answer from the server", what);
	return -1;
}

static int
usage_error(pginbox_conn *h, const char *message)
{
	InboxSetError(h, PGINBOX_ERR_USAGE, "22023", message, NULL);
	return -1;
}

static int
nomem(pginbox_conn *h, PGresult *res)
{
	PQclear(res);
	InboxSetError(h, PGINBOX_ERR_NOMEM, "", "out of memory", NULL);
	return -1;
}

/*
 * An array literal of n strings, for a text[] or jsonb[] parameter: item i
 * is the const char * found at (char *) items + i * stride, so that a field
 * of an array of structs can be read in place.  NULL items become NULL
 * elements.  Returns malloc'd memory, or NULL when out of memory.
 */
char *
InboxArrayLiteral(const char *const *items, size_t n, size_t stride)
{
	size_t		len = 3;
	char	   *out;
	char	   *p;

	for (size_t i = 0; i < n; i++)
	{
		const char *s = *(const char *const *) ((const char *) items + i * stride);

		if (s == NULL)
			len += 5;
		else
			for (len += 3; *s; s++)
				len += (*s == '"' || *s == '\\') ? 2 : 1;
	}
	p = out = malloc(len);
	if (out == NULL)
		return NULL;
	*p++ = '{';
	for (size_t i = 0; i < n; i++)
	{
		const char *s = *(const char *const *) ((const char *) items + i * stride);

		if (i > 0)
			*p++ = ',';
		if (s == NULL)
		{
			memcpy(p, "NULL", 4);
			p += 4;
			continue;
		}
		*p++ = '"';
		for (; *s; s++)
		{
			if (*s == '"' || *s == '\\')
				*p++ = '\\';
			*p++ = *s;
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return out;
}

/* the built-in type OIDs of the batch's parameters (fixed in pg_type.dat) */
#define TEXTOID 25
#define JSONBOID 3802
#define TEXTARRAYOID 1009
#define JSONBARRAYOID 3807
/* the first byte of a jsonb value in binary: the format's version */
#define JSONB_BINARY_VERSION 1

static char *
put_be32(char *p, uint32_t v)
{
	*p++ = (char) (v >> 24);
	*p++ = (char) (v >> 16);
	*p++ = (char) (v >> 8);
	*p++ = (char) v;
	return p;
}

/*
 * A one-dimensional array of n strings in PostgreSQL's binary format
 * (array_recv): no quoting on either side, and nothing for the server to
 * unescape.  Items are read as InboxArrayLiteral reads them; with jsonb,
 * each element is the version byte and the JSON text (jsonb_recv).  Returns
 * malloc'd memory and its length, or NULL when out of memory or too large.
 */
char *
InboxArrayBinary(const char *const *items, size_t n, size_t stride, Oid element_type,
				 bool jsonb, int *length)
{
	size_t		len = 20;
	bool		nulls = false;
	char	   *out;
	char	   *p;

	for (size_t i = 0; i < n; i++)
	{
		const char *s = *(const char *const *) ((const char *) items + i * stride);

		len += 4 + (s ? strlen(s) + (jsonb ? 1 : 0) : 0);
		nulls |= s == NULL;
	}
	if (len > INT32_MAX)
		return NULL;
	p = out = malloc(len);
	if (out == NULL)
		return NULL;
	p = put_be32(p, n > 0 ? 1 : 0);	/* dimensions */
	p = put_be32(p, nulls ? 1 : 0);
	p = put_be32(p, element_type);
	if (n > 0)
	{
		p = put_be32(p, (uint32_t) n);
		p = put_be32(p, 1);		/* lower bound */
	}
	for (size_t i = 0; i < n; i++)
	{
		const char *s = *(const char *const *) ((const char *) items + i * stride);
		size_t		sl;

		if (s == NULL)
		{
			p = put_be32(p, UINT32_MAX);	/* -1: NULL */
			continue;
		}
		sl = strlen(s);
		p = put_be32(p, (uint32_t) (sl + (jsonb ? 1 : 0)));
		if (jsonb)
			*p++ = JSONB_BINARY_VERSION;
		memcpy(p, s, sl);
		p += sl;
	}
	*length = (int) (p - out);
	return out;
}

/* ---------------------------------------------------------------- ingest */

/* Check the shape of an answer (status, id, received_at, detail) from column first */
static bool
ingest_row_ok(const PGresult *r, int row, int first)
{
	return field_ok(r, row, first + 1, 8) && field_ok(r, row, first + 2, 8) &&
		!PQgetisnull(r, row, first);
}

PGINBOX_EXPORT int
pginbox_ingest(pginbox_conn *conn, const char *source, const char *event_id,
			   const char *body, const char *headers, pginbox_ingest_result *result)
{
	const char *values[4] = {source, event_id, body, headers};
	PGresult   *res;
	const char *detail;
	char	   *copy = NULL;

	InboxClearError(conn);
	if (result == NULL)
		return usage_error(conn, "pginbox_ingest: result must not be NULL");
	res = InboxRun(conn,
				   "SELECT status, id, received_at, detail FROM inbox.ingest_raw($1, $2, $3, $4::jsonb)",
				   4, values, BINARY, INBOX_RETRY_IDEMPOTENT);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1 || PQnfields(res) != 4 || !ingest_row_ok(res, 0, 0) ||
		!parse_status(PQgetvalue(res, 0, 0), &result->status))
		return protocol_error(conn, res, "inbox.ingest_raw did not answer one row (status, id, received_at, detail)");
	result->id = get_int8(res, 0, 1);
	result->received_at = get_time(res, 0, 2);
	detail = get_text(res, 0, 3);
	if (detail)
	{
		copy = InboxScratch(conn, strlen(detail) + 1);
		if (copy == NULL)
			return nomem(conn, res);
		strcpy(copy, detail);
	}
	result->detail = copy;
	PQclear(res);
	return 0;
}

PGINBOX_EXPORT int
pginbox_ingest_verified(pginbox_conn *conn, const char *source, const char *body,
						const char *headers, pginbox_verified_result *result)
{
	const char *values[3] = {source, body, headers};
	const char *text[3];
	char	   *copies[3] = {NULL, NULL, NULL};
	size_t		size = 0;
	PGresult   *res;
	char	   *p;

	InboxClearError(conn);
	if (result == NULL)
		return usage_error(conn, "pginbox_ingest_verified: result must not be NULL");
	res = InboxRun(conn,
				   "SELECT status, id, received_at, detail, reason, key_id FROM inbox.ingest_verified($1, $2, $3::jsonb)",
				   3, values, BINARY, INBOX_RETRY_IDEMPOTENT);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1 || PQnfields(res) != 6 || !ingest_row_ok(res, 0, 0) ||
		!parse_status(PQgetvalue(res, 0, 0), &result->status))
		return protocol_error(conn, res, "inbox.ingest_verified did not answer one row (status, id, received_at, detail, reason, key_id)");
	result->id = get_int8(res, 0, 1);
	result->received_at = get_time(res, 0, 2);

	/* the three strings, in one scratch buffer of the handle */
	for (int i = 0; i < 3; i++)
	{
		text[i] = get_text(res, 0, 3 + i);
		if (text[i])
			size += strlen(text[i]) + 1;
	}
	p = size > 0 ? InboxScratch(conn, size) : NULL;
	if (size > 0 && p == NULL)
		return nomem(conn, res);
	for (int i = 0; i < 3; i++)
	{
		if (text[i] == NULL)
			continue;
		strcpy(p, text[i]);
		copies[i] = p;
		p += strlen(text[i]) + 1;
	}
	result->detail = copies[0];
	result->reason = copies[1];
	result->key_id = copies[2];
	PQclear(res);
	return 0;
}

/*
 * The answer of inbox.ingest_many or inbox.ingest_raw_many (one row (ord,
 * status, id, received_at, detail) per event, in order) as a pginbox_batch
 * in one allocation.  Clears res.
 */
static int
batch_from_result(pginbox_conn *conn, PGresult *res, size_t n, const char *function,
				  pginbox_batch **batch)
{
	size_t		strings = 0;
	pginbox_batch *b;
	char	   *p;
	char		what[160];

	if ((size_t) PQntuples(res) != n || PQnfields(res) != 5)
	{
		snprintf(what, sizeof(what), "%s did not answer one row (ord, status, id, received_at, detail) per event", function);
		return protocol_error(conn, res, what);
	}
	for (int i = 0; i < PQntuples(res); i++)
	{
		if (!field_ok(res, i, 0, 4) || get_int4(res, i, 0) != i + 1 || !ingest_row_ok(res, i, 1))
		{
			snprintf(what, sizeof(what), "%s answered rows out of order", function);
			return protocol_error(conn, res, what);
		}
		if (!PQgetisnull(res, i, 4))
			strings += PQgetlength(res, i, 4) + 1;
	}

	/* one allocation: the struct, the results, then the details */
	b = malloc(sizeof(pginbox_batch) + n * sizeof(pginbox_ingest_result) + strings);
	if (b == NULL)
		return nomem(conn, res);
	b->n = n;
	b->results = (pginbox_ingest_result *) (b + 1);
	p = (char *) (b->results + n);
	for (size_t i = 0; i < n; i++)
	{
		pginbox_ingest_result *r = &b->results[i];
		const char *detail = get_text(res, (int) i, 4);

		if (!parse_status(PQgetvalue(res, (int) i, 1), &r->status))
		{
			free(b);
			snprintf(what, sizeof(what), "%s answered an unknown status", function);
			return protocol_error(conn, res, what);
		}
		r->id = get_int8(res, (int) i, 2);
		r->received_at = get_time(res, (int) i, 3);
		r->detail = NULL;
		if (detail)
		{
			strcpy(p, detail);
			r->detail = p;
			p += strlen(detail) + 1;
		}
	}
	PQclear(res);
	*batch = b;
	return 0;
}

PGINBOX_EXPORT int
pginbox_ingest_batch(pginbox_conn *conn, const char *source, const pginbox_event *events,
					 size_t n, pginbox_batch **batch)
{
	static const Oid types[3] = {TEXTOID, TEXTARRAYOID, JSONBARRAYOID};
	static const int formats[3] = {0, 1, 1};
	const char *values[3];
	int			lengths[3] = {0, 0, 0};
	char	   *ids;
	char	   *payloads;
	PGresult   *res;

	InboxClearError(conn);
	if (batch == NULL || (events == NULL && n > 0))
		return usage_error(conn, "pginbox_ingest_batch: events and batch must not be NULL");
	*batch = NULL;
	/* binary arrays: the payloads travel as they are, unescaped */
	ids = InboxArrayBinary(&events[0].event_id, n, sizeof(pginbox_event), TEXTOID, false, &lengths[1]);
	payloads = InboxArrayBinary(&events[0].payload, n, sizeof(pginbox_event), JSONBOID, true, &lengths[2]);
	if (ids == NULL || payloads == NULL)
	{
		free(ids);
		free(payloads);
		return nomem(conn, NULL);
	}
	values[0] = source;
	values[1] = ids;
	values[2] = payloads;
	res = InboxRunParams(conn,
						 "SELECT ord, status, id, received_at, detail FROM inbox.ingest_many($1, $2, $3)",
						 3, types, values, lengths, formats, BINARY, INBOX_RETRY_IDEMPOTENT);
	free(ids);
	free(payloads);
	if (res == NULL)
		return -1;
	return batch_from_result(conn, res, n, "inbox.ingest_many", batch);
}

PGINBOX_EXPORT int
pginbox_ingest_raw_batch(pginbox_conn *conn, const char *source, const pginbox_raw_event *events,
						 size_t n, pginbox_batch **batch)
{
	static const Oid types[4] = {TEXTOID, TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID};
	static const int formats[4] = {0, 1, 1, 1};
	const char *values[4] = {NULL, NULL, NULL, NULL};
	int			lengths[4] = {0, 0, 0, 0};
	char	   *ids;
	char	   *bodies;
	char	   *headers = NULL;
	bool		any_headers = false;
	PGresult   *res;

	InboxClearError(conn);
	if (batch == NULL || (events == NULL && n > 0))
		return usage_error(conn, "pginbox_ingest_raw_batch: events and batch must not be NULL");
	*batch = NULL;
	for (size_t i = 0; i < n; i++)
	{
		if (events[i].body == NULL)
			return usage_error(conn, "pginbox_ingest_raw_batch: a body must not be NULL");
		any_headers |= events[i].headers != NULL;
	}
	/* binary arrays: the bodies travel as they are, and are parsed one by one by the server */
	ids = InboxArrayBinary(&events[0].event_id, n, sizeof(pginbox_raw_event), TEXTOID, false, &lengths[1]);
	bodies = InboxArrayBinary(&events[0].body, n, sizeof(pginbox_raw_event), TEXTOID, false, &lengths[2]);
	/* no headers at all: a NULL array, nothing for the server to read */
	if (any_headers)
		headers = InboxArrayBinary(&events[0].headers, n, sizeof(pginbox_raw_event), JSONBOID, true, &lengths[3]);
	if (ids == NULL || bodies == NULL || (any_headers && headers == NULL))
	{
		free(ids);
		free(bodies);
		free(headers);
		return nomem(conn, NULL);
	}
	values[0] = source;
	values[1] = ids;
	values[2] = bodies;
	values[3] = headers;
	res = InboxRunParams(conn,
						 "SELECT ord, status, id, received_at, detail FROM inbox.ingest_raw_many($1, $2, $3, $4)",
						 4, types, values, lengths, formats, BINARY, INBOX_RETRY_IDEMPOTENT);
	free(ids);
	free(bodies);
	free(headers);
	if (res == NULL)
		return -1;
	return batch_from_result(conn, res, n, "inbox.ingest_raw_many", batch);
}

PGINBOX_EXPORT void
pginbox_batch_free(pginbox_batch *batch)
{
	free(batch);
}

/* ---------------------------------------------------------------- upsert */

PGINBOX_EXPORT int
pginbox_upsert(pginbox_conn *conn, const char *table, const char *data,
			   const char *const *conflict_columns, int n_conflict,
			   pginbox_upsert_result *result)
{
	const char *values[3];
	char	   *columns = NULL;
	PGresult   *res;
	const char *action;
	const char *row;
	char	   *copy;

	InboxClearError(conn);
	if (result == NULL || table == NULL || data == NULL || n_conflict < 0 ||
		(conflict_columns == NULL && n_conflict > 0))
		return usage_error(conn, "pginbox_upsert: table, data and result must not be NULL");
	if (conflict_columns)
	{
		columns = InboxArrayLiteral(conflict_columns, (size_t) n_conflict, sizeof(char *));
		if (columns == NULL)
			return nomem(conn, NULL);
	}
	values[0] = table;
	values[1] = data;
	values[2] = columns;
	res = InboxRun(conn,
				   "SELECT action, \"row\" FROM inbox.upsert($1::regclass, $2::jsonb, $3::text[])",
				   3, values, BINARY, INBOX_RETRY_IDEMPOTENT);
	free(columns);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1 || PQnfields(res) != 2 || PQgetisnull(res, 0, 0) || !jsonb_ok(res, 0, 1))
		return protocol_error(conn, res, "inbox.upsert did not answer one row (action, row)");
	action = PQgetvalue(res, 0, 0);
	if (strcmp(action, "inserted") == 0)
		result->action = PGINBOX_UPSERT_INSERTED;
	else if (strcmp(action, "updated") == 0)
		result->action = PGINBOX_UPSERT_UPDATED;
	else if (strcmp(action, "unchanged") == 0)
		result->action = PGINBOX_UPSERT_UNCHANGED;
	else if (strcmp(action, "skipped") == 0)
		result->action = PGINBOX_UPSERT_SKIPPED;
	else
		return protocol_error(conn, res, "inbox.upsert answered an unknown action");
	row = get_jsonb(res, 0, 1);
	copy = InboxScratch(conn, row ? strlen(row) + 1 : 1);
	if (copy == NULL)
		return nomem(conn, res);
	strcpy(copy, row ? row : "");
	result->row = row ? copy : NULL;
	PQclear(res);
	return 0;
}

/* ---------------------------------------------------------------- processing */

static void
format_interval(char *buf, size_t size, long ms)
{
	snprintf(buf, size, "%ld milliseconds", ms);
}

PGINBOX_EXPORT int
pginbox_claim(pginbox_conn *conn, const char *consumer, int max_events, long lease_ms,
			  const char *const *sources, int n_sources, pginbox_claimed **claimed)
{
	char		max[16];
	char		lease[48];
	char	   *source_list = NULL;
	const char *values[4];
	PGresult   *res;
	size_t		strings = 0;
	size_t		n;
	pginbox_claimed *c;
	char	   *p;

	InboxClearError(conn);
	if (claimed == NULL || n_sources < 0 || (sources == NULL && n_sources > 0))
		return usage_error(conn, "pginbox_claim: claimed must not be NULL");
	*claimed = NULL;
	snprintf(max, sizeof(max), "%d", max_events);
	if (lease_ms == 0)
		snprintf(lease, sizeof(lease), "5 minutes");
	else
		format_interval(lease, sizeof(lease), lease_ms);
	if (sources)
	{
		source_list = InboxArrayLiteral(sources, (size_t) n_sources, sizeof(char *));
		if (source_list == NULL)
			return nomem(conn, NULL);
	}
	values[0] = consumer;
	values[1] = max;
	values[2] = lease;
	values[3] = source_list;
	res = InboxRun(conn,
				   "SELECT id, source, event_id, attempt, received_at, locked_until, headers, payload "
				   "FROM inbox.claim($1, $2::integer, $3::interval, $4::text[])",
				   4, values, BINARY, INBOX_RETRY_UNSENT);
	free(source_list);
	if (res == NULL)
		return -1;

	n = (size_t) PQntuples(res);
	if (PQnfields(res) != 8)
		return protocol_error(conn, res, "inbox.claim did not answer its eight columns");
	for (size_t i = 0; i < n; i++)
	{
		int			row = (int) i;

		if (!field_ok(res, row, 0, 8) || !field_ok(res, row, 3, 4) || !field_ok(res, row, 4, 8) ||
			!field_ok(res, row, 5, 8) || !jsonb_ok(res, row, 6) || !jsonb_ok(res, row, 7))
			return protocol_error(conn, res, "inbox.claim answered a column of an unexpected type");
		for (int col = 1; col <= 7; col++)
			if (col != 3 && col != 4 && col != 5 && !PQgetisnull(res, row, col))
				strings += PQgetlength(res, row, col) + 1;
	}

	c = malloc(sizeof(pginbox_claimed) + n * sizeof(pginbox_claimed_event) + strings);
	if (c == NULL)
		return nomem(conn, res);
	c->n = n;
	c->events = (pginbox_claimed_event *) (c + 1);
	p = (char *) (c->events + n);
	for (size_t i = 0; i < n; i++)
	{
		pginbox_claimed_event *e = &c->events[i];
		int			row = (int) i;
		const char *s[4] = {
			get_text(res, row, 1), get_text(res, row, 2),
			get_jsonb(res, row, 6), get_jsonb(res, row, 7)
		};
		const char **dst[4] = {&e->source, &e->event_id, &e->headers, &e->payload};

		e->id = get_int8(res, row, 0);
		e->attempt = get_int4(res, row, 3);
		e->received_at = get_time(res, row, 4);
		e->locked_until = get_time(res, row, 5);
		for (int k = 0; k < 4; k++)
		{
			*dst[k] = NULL;
			if (s[k])
			{
				strcpy(p, s[k]);
				*dst[k] = p;
				p += strlen(s[k]) + 1;
			}
		}
	}
	PQclear(res);
	*claimed = c;
	return 0;
}

PGINBOX_EXPORT void
pginbox_claimed_free(pginbox_claimed *claimed)
{
	free(claimed);
}

PGINBOX_EXPORT int
pginbox_complete(pginbox_conn *conn, int64_t id, const char *consumer, bool *held)
{
	char		idbuf[24];
	const char *values[2] = {idbuf, consumer};
	PGresult   *res;

	InboxClearError(conn);
	if (held == NULL)
		return usage_error(conn, "pginbox_complete: held must not be NULL");
	snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
	res = InboxRun(conn, "SELECT inbox.complete($1::bigint, $2)", 2, values, BINARY,
				   INBOX_RETRY_IDEMPOTENT);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1 || PQnfields(res) != 1 || PQgetisnull(res, 0, 0) || !field_ok(res, 0, 0, 1))
		return protocol_error(conn, res, "inbox.complete did not answer true or false");
	*held = PQgetvalue(res, 0, 0)[0] != 0;
	PQclear(res);
	return 0;
}

PGINBOX_EXPORT int
pginbox_fail(pginbox_conn *conn, int64_t id, const char *consumer, const char *error,
			 long retry_in_ms, pginbox_state *state)
{
	char		idbuf[24];
	char		retry_in[48];
	const char *values[4] = {idbuf, consumer, error, NULL};
	PGresult   *res;
	const char *s;

	InboxClearError(conn);
	if (state == NULL)
		return usage_error(conn, "pginbox_fail: state must not be NULL");
	snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
	if (retry_in_ms >= 0)
	{
		format_interval(retry_in, sizeof(retry_in), retry_in_ms);
		values[3] = retry_in;
	}
	res = InboxRun(conn, "SELECT inbox.fail($1::bigint, $2, $3, $4::interval)", 4, values, BINARY,
				   INBOX_RETRY_IDEMPOTENT);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1 || PQnfields(res) != 1)
		return protocol_error(conn, res, "inbox.fail did not answer one value");
	s = get_text(res, 0, 0);
	if (s == NULL)
		*state = PGINBOX_STATE_NOT_HELD;
	else if (strcmp(s, "pending") == 0)
		*state = PGINBOX_STATE_PENDING;
	else if (strcmp(s, "dead") == 0)
		*state = PGINBOX_STATE_DEAD;
	else
		return protocol_error(conn, res, "inbox.fail answered an unknown state");
	PQclear(res);
	return 0;
}

/* ---------------------------------------------------------------- the caller's statements */

PGINBOX_EXPORT int
pginbox_exec(pginbox_conn *conn, const char *sql, int n_params, const char *const *params,
			 PGresult **result)
{
	PGresult   *res;

	InboxClearError(conn);
	if (result == NULL || sql == NULL || n_params < 0 || (params == NULL && n_params > 0))
		return usage_error(conn, "pginbox_exec: sql and result must not be NULL");
	*result = NULL;
	res = InboxRun(conn, sql, n_params, params, TEXT, INBOX_RETRY_UNSENT);
	if (res == NULL)
		return -1;
	if (conn->in_runner && PQtransactionStatus(conn->pg) == PQTRANS_IDLE)
	{
		PQclear(res);
		InboxSetError(conn, PGINBOX_ERR_USAGE, "0A000",
					  "a statement ended the transaction of pginbox_transaction",
					  "The runner owns BEGIN, COMMIT and ROLLBACK; return from the callback instead.");
		InboxAbortRunner(conn);
		return -1;
	}
	*result = res;
	return 0;
}
