/*-------------------------------------------------------------------------
 *
 * payload.c
 *	  The payload digest and a JSON parser that reports instead of raising.
 *
 * The digest is a SHA-256 over a canonical serialisation of a jsonb value:
 * two values that are equal under jsonb's "=" get the same digest, because
 * jsonb already sorts and de-duplicates object keys, and numbers are fed in
 * the normalised form in which 1, 1.0 and 1.00 are the same text.  Deciding
 * between "duplicate" and "conflict" then compares 32 bytes instead of
 * detoasting a stored payload.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "common/cryptohash.h"
#include "catalog/namespace.h"
#include "common/jsonapi.h"
#include "port/pg_bswap.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "compat.h"
#include "pg_inbox.h"

/* numeric.c's NUMERIC_DSCALE_MAX, and its decimal digits per NBASE digit */
#define INBOX_NUMERIC_MAX_DSCALE	0x3FFF
#define INBOX_NUMERIC_DEC_DIGITS	4

/* room left on the stack below the deepest level of the JSON parser */
#define INBOX_STACK_MARGIN			(8 * 1024L)

/* stay well below jsonb's limit of 256 MB per container */
#define INBOX_JSONB_MAX_ESTIMATE	(255 * 1024 * 1024)

static void
digest_update(pg_cryptohash_ctx *ctx, const void *data, size_t len)
{
	if (pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0)
		elog(ERROR, "could not update SHA-256 digest: %s",
			 pg_cryptohash_error(ctx));
}

/*
 * Feed a tag, a length and the bytes.  The length goes in network byte order
 * and strings in UTF-8 (see digest_scalar), so that a digest computed on one
 * server matches the one computed after a restore on another.
 */
static void
digest_tagged(pg_cryptohash_ctx *ctx, char tag, const void *data, uint32 len)
{
	uint32		netlen = pg_hton32(len);

	digest_update(ctx, &tag, 1);
	digest_update(ctx, &netlen, sizeof(netlen));
	if (len > 0)
		digest_update(ctx, data, len);
}

static void
digest_string(pg_cryptohash_ctx *ctx, char tag, const char *str, int len)
{
	if (GetDatabaseEncoding() != PG_UTF8 && GetDatabaseEncoding() != PG_SQL_ASCII)
	{
		char	   *utf8 = pg_server_to_any(str, len, PG_UTF8);

		if (utf8 != str)
		{
			digest_tagged(ctx, tag, utf8, strlen(utf8));
			pfree(utf8);
			return;
		}
	}
	digest_tagged(ctx, tag, str, len);
}

static void
digest_scalar(pg_cryptohash_ctx *ctx, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			digest_tagged(ctx, 'n', NULL, 0);
			break;
		case jbvBool:
			digest_tagged(ctx, v->val.boolean ? 't' : 'f', NULL, 0);
			break;
		case jbvString:
			digest_string(ctx, 's', v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			{
				char	   *norm = numeric_normalize(v->val.numeric);

				digest_tagged(ctx, 'd', norm, strlen(norm));
				pfree(norm);
			}
			break;
		default:
			elog(ERROR, "unexpected jsonb scalar type: %d", (int) v->type);
	}
}

/*
 * Fill digest (INBOX_DIGEST_LEN bytes) with the canonical digest of jb.
 */
void
InboxPayloadDigest(Jsonb *jb, uint8 *digest)
{
	pg_cryptohash_ctx *ctx;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	ctx = pg_cryptohash_create(PG_SHA256);
	if (pg_cryptohash_init(ctx) < 0)
		elog(ERROR, "could not initialize SHA-256 digest: %s",
			 pg_cryptohash_error(ctx));

	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_ARRAY:
				{
					uint32		n = (uint32) v.val.array.nElems;

					digest_tagged(ctx, v.val.array.rawScalar ? 'r' : '[',
								  &n, sizeof(n));
				}
				break;
			case WJB_BEGIN_OBJECT:
				{
					uint32		n = (uint32) v.val.object.nPairs;

					digest_tagged(ctx, '{', &n, sizeof(n));
				}
				break;
			case WJB_END_ARRAY:
				digest_tagged(ctx, ']', NULL, 0);
				break;
			case WJB_END_OBJECT:
				digest_tagged(ctx, '}', NULL, 0);
				break;
			case WJB_KEY:
				digest_tagged(ctx, 'k', NULL, 0);
				digest_scalar(ctx, &v);
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				digest_scalar(ctx, &v);
				break;
			case WJB_DONE:
				break;
		}
	}

	if (pg_cryptohash_final(ctx, digest, INBOX_DIGEST_LEN) < 0)
		elog(ERROR, "could not finalize SHA-256 digest: %s",
			 pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
}

/*
 * Name of the JSON type at the root of jb, for messages.
 */
const char *
InboxJsonTypeName(Jsonb *jb)
{
	if (JB_ROOT_IS_OBJECT(jb))
		return "object";
	if (JB_ROOT_IS_ARRAY(jb) && !JB_ROOT_IS_SCALAR(jb))
		return "array";
	{
		JsonbValue	v;

		if (!JsonbExtractScalar(&jb->root, &v))
			return "unknown";
		switch (v.type)
		{
			case jbvNull:
				return "null";
			case jbvBool:
				return "boolean";
			case jbvNumeric:
				return "number";
			case jbvString:
				return "string";
			default:
				return "unknown";
		}
	}
}

/*
 * The parser below builds a jsonb the way jsonb_in() does, but records the
 * first problem in the state instead of raising an error: the caller turns it
 * into a "rejected" answer, and its transaction goes on.  Everything that
 * would make jsonb_in() raise is caught before it gets that far: syntax and
 * escape errors are returned by pg_parse_json(), nesting deeper than the
 * parser's stack allows is refused by a pre-scan, and numbers that numeric
 * cannot hold are checked here.
 */
typedef struct InboxParseState
{
	JsonbParseState *parse;
	JsonbValue *res;
	char	   *problem;		/* first problem found, or NULL */
	const char *root_scalar;	/* JSON type of a bare scalar document */
	Size		estimate;		/* upper bound of the jsonb's size */
} InboxParseState;

static bool
parse_failed(InboxParseState *st, Size cost)
{
	if (st->problem != NULL)
		return true;
	st->estimate += cost;
	if (st->estimate > INBOX_JSONB_MAX_ESTIMATE)
	{
		st->problem = psprintf("the JSON value is too large to store as jsonb");
		return true;
	}
	return false;
}

static INBOX_JSON_ACTION
parse_object_start(void *state)
{
	InboxParseState *st = (InboxParseState *) state;

	if (!parse_failed(st, 16))
		st->res = pushJsonbValue(&st->parse, WJB_BEGIN_OBJECT, NULL);
	INBOX_JSON_ACTION_RETURN;
}

static INBOX_JSON_ACTION
parse_object_end(void *state)
{
	InboxParseState *st = (InboxParseState *) state;

	if (!parse_failed(st, 0))
		st->res = pushJsonbValue(&st->parse, WJB_END_OBJECT, NULL);
	INBOX_JSON_ACTION_RETURN;
}

static INBOX_JSON_ACTION
parse_array_start(void *state)
{
	InboxParseState *st = (InboxParseState *) state;

	if (!parse_failed(st, 16))
		st->res = pushJsonbValue(&st->parse, WJB_BEGIN_ARRAY, NULL);
	INBOX_JSON_ACTION_RETURN;
}

static INBOX_JSON_ACTION
parse_array_end(void *state)
{
	InboxParseState *st = (InboxParseState *) state;

	if (!parse_failed(st, 0))
		st->res = pushJsonbValue(&st->parse, WJB_END_ARRAY, NULL);
	INBOX_JSON_ACTION_RETURN;
}

static INBOX_JSON_ACTION
parse_object_field_start(void *state, char *fname, bool isnull)
{
	InboxParseState *st = (InboxParseState *) state;
	JsonbValue	v;
	size_t		len = strlen(fname);

	if (parse_failed(st, len + 16))
		INBOX_JSON_ACTION_RETURN;
	v.type = jbvString;
	v.val.string.len = (int) len;
	v.val.string.val = fname;
	st->res = pushJsonbValue(&st->parse, WJB_KEY, &v);
	INBOX_JSON_ACTION_RETURN;
}

/*
 * Would numeric_in() accept this JSON number token?  The token already
 * matches JSON's number grammar: -?digits(.digits)?([eE][+-]?digits)?
 *
 * These are numeric_in()'s own limits (set_var_from_str() and
 * make_result() in numeric.c), so that ingest_raw accepts exactly the
 * numbers that the cast to jsonb accepts: an exponent, as strtol() reads
 * it, within INBOX_NUMERIC_MAX_EXPONENT either way (the bound moved by one
 * in PostgreSQL 16, see compat.h), whatever the digits; a display
 * scale (digits after the point, less the exponent) of at most
 * NUMERIC_DSCALE_MAX, even for zero; and, unless the value is zero, a
 * weight of its first nonzero digit, in base-10000 digits, that fits int16.
 * A zero's weight is not counted: 0e200000 is 0.
 */
static bool
json_number_fits_numeric(const char *token)
{
	const char *p = token;
	int64		int_digits = 0;
	int64		frac_digits = 0;
	int64		first_nonzero = -1;
	long		exponent = 0;
	int64		dscale;
	int64		dweight;
	int64		weight;

	if (*p == '-')
		p++;
	for (; *p >= '0' && *p <= '9'; p++)
	{
		if (*p != '0' && first_nonzero < 0)
			first_nonzero = int_digits;
		int_digits++;
	}
	if (*p == '.')
	{
		for (p++; *p >= '0' && *p <= '9'; p++)
		{
			if (*p != '0' && first_nonzero < 0)
				first_nonzero = int_digits + frac_digits;
			frac_digits++;
		}
	}
	if (*p == 'e' || *p == 'E')
	{
		exponent = strtol(p + 1, NULL, 10);
		if (exponent > INBOX_NUMERIC_MAX_EXPONENT ||
			exponent < -INBOX_NUMERIC_MAX_EXPONENT)
			return false;
	}

	dscale = frac_digits - exponent;
	if (dscale > INBOX_NUMERIC_MAX_DSCALE)
		return false;
	if (first_nonzero < 0)
		return true;

	/* the decimal weight of the first nonzero digit, then in base 10000 */
	dweight = int_digits - 1 - first_nonzero + exponent;
	if (dweight >= 0)
		weight = dweight / INBOX_NUMERIC_DEC_DIGITS;
	else
		weight = -((-dweight - 1) / INBOX_NUMERIC_DEC_DIGITS + 1);
	return weight >= PG_INT16_MIN && weight <= PG_INT16_MAX;
}

static INBOX_JSON_ACTION
parse_scalar(void *state, char *token, JsonTokenType tokentype)
{
	InboxParseState *st = (InboxParseState *) state;
	JsonbValue	v;
	size_t		len = strlen(token);

	if (parse_failed(st, len + 16))
		INBOX_JSON_ACTION_RETURN;

	if (st->parse == NULL)
	{
		/* a bare scalar as the whole document: the caller rejects it */
		switch (tokentype)
		{
			case JSON_TOKEN_STRING:
				st->root_scalar = "string";
				break;
			case JSON_TOKEN_NUMBER:
				st->root_scalar = "number";
				break;
			case JSON_TOKEN_TRUE:
			case JSON_TOKEN_FALSE:
				st->root_scalar = "boolean";
				break;
			default:
				st->root_scalar = "null";
				break;
		}
		INBOX_JSON_ACTION_RETURN;
	}

	switch (tokentype)
	{
		case JSON_TOKEN_STRING:
			v.type = jbvString;
			v.val.string.len = (int) len;
			v.val.string.val = token;
			break;
		case JSON_TOKEN_NUMBER:
			if (!json_number_fits_numeric(token))
			{
				st->problem = psprintf("the number %.40s%s is out of the range of type numeric",
									   token, len > 40 ? "..." : "");
				INBOX_JSON_ACTION_RETURN;
			}
			v.type = jbvNumeric;
			v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																CStringGetDatum(token),
																ObjectIdGetDatum(InvalidOid),
																Int32GetDatum(-1)));
			break;
		case JSON_TOKEN_TRUE:
			v.type = jbvBool;
			v.val.boolean = true;
			break;
		case JSON_TOKEN_FALSE:
			v.type = jbvBool;
			v.val.boolean = false;
			break;
		case JSON_TOKEN_NULL:
			v.type = jbvNull;
			break;
		default:
			elog(ERROR, "unexpected JSON token type: %d", (int) tokentype);
	}

	if (st->parse->contVal.type == jbvArray)
		st->res = pushJsonbValue(&st->parse, WJB_ELEM, &v);
	else
		st->res = pushJsonbValue(&st->parse, WJB_VALUE, &v);
	INBOX_JSON_ACTION_RETURN;
}

/*
 * How deep arrays and objects may nest.  pg_parse_json() recurses once per
 * level and raises "stack depth limit exceeded" past max_stack_depth, an
 * error that would abort the caller's transaction; the cast to jsonb stops
 * there too.  So measure, once per backend, the stack that one level of an
 * array and of an object takes, and allow as much nesting as the stack left
 * below this call holds.  Building the jsonb afterwards (convertToJsonb)
 * takes less stack per level than parsing.
 */
typedef struct InboxStackProbe
{
	int			depth;
	uintptr_t	first;			/* a stack address at the first level */
	uintptr_t	last;			/* and at the deepest */
} InboxStackProbe;

#define INBOX_PROBE_LEVELS	33

static long inbox_json_array_bytes = 0;
static long inbox_json_object_bytes = 0;

static INBOX_JSON_ACTION
probe_level(void *state)
{
	InboxStackProbe *pr = (InboxStackProbe *) state;
	volatile char here = 0;

	if (++pr->depth == 1)
		pr->first = (uintptr_t) &here;
	pr->last = (uintptr_t) &here;
	INBOX_JSON_ACTION_RETURN;
}

static long
probe_bytes_per_level(const char *open, const char *middle, const char *close)
{
	StringInfoData doc;
	JsonSemAction sem;
	InboxStackProbe pr;
	JsonLexContext *lex;
	int			i;

	initStringInfo(&doc);
	for (i = 0; i < INBOX_PROBE_LEVELS; i++)
		appendStringInfoString(&doc, open);
	appendStringInfoString(&doc, middle);
	for (i = 0; i < INBOX_PROBE_LEVELS; i++)
		appendStringInfoString(&doc, close);

	memset(&pr, 0, sizeof(pr));
	memset(&sem, 0, sizeof(sem));
	sem.semstate = &pr;
	sem.array_start = probe_level;
	sem.object_start = probe_level;
	lex = InboxMakeJsonLexContext(doc.data, doc.len, PG_UTF8);
	if (pg_parse_json(lex, &sem) != JSON_SUCCESS || pr.depth != INBOX_PROBE_LEVELS)
		elog(ERROR, "could not measure the JSON parser's stack use");
	pfree(doc.data);
	return (long) ((pr.first > pr.last ? pr.first - pr.last : pr.last - pr.first) /
				   (INBOX_PROBE_LEVELS - 1)) + 1;
}

/* bytes of stack left for pg_parse_json()'s recursion, called from here */
static long
json_stack_left(void)
{
	volatile char here = 0;
	pg_stack_base_t base;
	long		used;

	if (inbox_json_array_bytes == 0)
	{
		inbox_json_array_bytes = probe_bytes_per_level("[", "", "]");
		inbox_json_object_bytes = probe_bytes_per_level("{\"a\":", "1", "}");
	}

	base = set_stack_base();
	restore_stack_base(base);
#if defined(__ia64__) || defined(__ia64)
	if (base.stack_base_ptr == NULL)
		return INBOX_MAX_JSON_DEPTH * Max(inbox_json_array_bytes, inbox_json_object_bytes);
	used = (long) (base.stack_base_ptr - (char *) &here);
#else
	if (base == NULL)
		return INBOX_MAX_JSON_DEPTH * Max(inbox_json_array_bytes, inbox_json_object_bytes);
	used = (long) (base - (char *) &here);
#endif
	if (used < 0)
		used = -used;
	return max_stack_depth * 1024L - used - INBOX_STACK_MARGIN;
}

/*
 * Would parsing json take more than left bytes of stack?  Adds up what each
 * array and object open at a point takes, outside strings.  Where a closing
 * bracket does not match, the parser stops there anyway.
 */
static bool
json_nests_too_deep(const char *json, int len, long left)
{
	long		need = 0;
	bool		in_string = false;
	int			i;

	for (i = 0; i < len; i++)
	{
		char		c = json[i];

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		switch (c)
		{
			case '"':
				in_string = true;
				break;
			case '[':
				need += inbox_json_array_bytes;
				if (need > left)
					return true;
				break;
			case '{':
				need += inbox_json_object_bytes;
				if (need > left)
					return true;
				break;
			case ']':
				need -= inbox_json_array_bytes;
				break;
			case '}':
				need -= inbox_json_object_bytes;
				break;
			default:
				break;
		}
	}
	return false;
}

/*
 * Deepest nesting of arrays and objects in json, counting outside strings,
 * for messages.  Stops counting once limit is passed.
 */
static int
json_max_depth(const char *json, int len, int limit)
{
	int			depth = 0;
	int			max = 0;
	bool		in_string = false;
	int			i;

	for (i = 0; i < len; i++)
	{
		char		c = json[i];

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		switch (c)
		{
			case '"':
				in_string = true;
				break;
			case '[':
			case '{':
				if (++depth > max)
				{
					max = depth;
					if (max > limit)
						return max;
				}
				break;
			case ']':
			case '}':
				depth--;
				break;
			default:
				break;
		}
	}
	return max;
}

static int
hex4(const char *p)
{
	int			v = 0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		char		c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* can the server encoding hold code point cp? */
static bool
server_can_hold(pg_wchar cp)
{
	int			enc = GetDatabaseEncoding();
	Oid			proc;
	unsigned char utf8[8];
	unsigned char out[8 * MAX_CONVERSION_GROWTH + 1];
	int			len;

	if (enc == PG_UTF8 || cp <= 0x7F)
		return true;
	if (enc == PG_SQL_ASCII)
		return false;
	proc = FindDefaultConversionProc(PG_UTF8, enc);
	if (!OidIsValid(proc))
		return false;
	memset(utf8, 0, sizeof(utf8));
	unicode_to_utf8(cp, utf8);
	len = pg_utf_mblen(utf8);
	return DatumGetInt32(OidFunctionCall6(proc,
										  Int32GetDatum(PG_UTF8),
										  Int32GetDatum(enc),
										  CStringGetDatum((char *) utf8),
										  CStringGetDatum((char *) out),
										  Int32GetDatum(len),
										  BoolGetDatum(true))) == len;
}

/*
 * In a database that is not UTF-8, PostgreSQL 15's JSON parser raises an
 * error (instead of returning one) for a \uXXXX escape whose character the
 * database encoding cannot hold.  Find such an escape first.
 */
static char *
untranslatable_escape(const char *json, int len)
{
	bool		in_string = false;
	int			i;

	if (GetDatabaseEncoding() == PG_UTF8)
		return NULL;

	for (i = 0; i < len; i++)
	{
		if (!in_string)
		{
			if (json[i] == '"')
				in_string = true;
			continue;
		}
		if (json[i] == '"')
			in_string = false;
		else if (json[i] == '\\' && i + 1 < len)
		{
			if (json[i + 1] == 'u' && i + 5 < len)
			{
				int			cp = hex4(json + i + 2);

				i += 5;
				if (cp < 0)
					continue;	/* the parser reports it */
				if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < len &&
					json[i + 1] == '\\' && json[i + 2] == 'u')
				{
					int			lo = hex4(json + i + 3);

					if (lo >= 0xDC00 && lo <= 0xDFFF)
					{
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						i += 6;
					}
				}
				if (cp >= 0xD800 && cp <= 0xDFFF)
					continue;	/* a lone surrogate: the parser reports it */
				if (!server_can_hold((pg_wchar) cp))
					return psprintf("the body contains the escape of U+%04X, which the database encoding %s cannot hold",
									cp, GetDatabaseEncodingName());
			}
			else
				i++;
		}
	}
	return NULL;
}

/*
 * Parse json (len bytes, server encoding) into a jsonb object or array.
 * Returns NULL and sets *problem to a sentence when the text is unusable.
 */
Jsonb *
InboxParseJson(const char *json, int len, char **problem)
{
	JsonLexContext *lex;
	JsonSemAction sem;
	InboxParseState st;
	JsonParseErrorType err;

	*problem = NULL;

	if (json_nests_too_deep(json, len, json_stack_left()))
	{
		*problem = psprintf("the body nests arrays and objects %d levels deep, deeper than max_stack_depth allows",
							json_max_depth(json, len, INT_MAX));
		return NULL;
	}

	*problem = untranslatable_escape(json, len);
	if (*problem != NULL)
		return NULL;

	memset(&st, 0, sizeof(st));
	memset(&sem, 0, sizeof(sem));
	sem.semstate = &st;
	sem.object_start = parse_object_start;
	sem.object_end = parse_object_end;
	sem.array_start = parse_array_start;
	sem.array_end = parse_array_end;
	sem.object_field_start = parse_object_field_start;
	sem.scalar = parse_scalar;

	lex = InboxMakeJsonLexContext(json, len, GetDatabaseEncoding());
	err = pg_parse_json(lex, &sem);
	if (err != JSON_SUCCESS)
	{
		*problem = psprintf("the body is not valid JSON: %s",
							json_errdetail(err, lex));
		return NULL;
	}
	if (st.problem != NULL)
	{
		*problem = st.problem;
		return NULL;
	}
	if (st.root_scalar != NULL || st.res == NULL)
	{
		*problem = psprintf("payload must be a JSON object or array, not %s",
							st.root_scalar ? st.root_scalar : "empty");
		return NULL;
	}
	return JsonbValueToJsonb(st.res);
}
