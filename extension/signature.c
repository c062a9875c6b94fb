/*-------------------------------------------------------------------------
 *
 * signature.c
 *	  Webhook signatures: inbox.verify_signature (Standard Webhooks),
 *	  inbox.verify_stripe_signature, inbox.verify_github_signature, and
 *	  inbox.ingest_verified, which verifies a delivery against its source's
 *	  secrets and ingests it in the same call.
 *
 * All three schemes are an HMAC-SHA256 computed with PostgreSQL's own
 * common library (OpenSSL underneath when the server is built with it),
 * encoded as the scheme encodes it (base64 or lower-case hex) and compared
 * with each signature the header carries in constant time.  Nothing here
 * raises for what a sender sent: a delivery that does not verify is an
 * answer, and so is a malformed header or secret.
 *
 * inbox.ingest_verified reads inbox.sources and inbox.source_secrets
 * directly, as ingest reads inbox.sources for the payload limit, without
 * requiring SELECT on them from the caller: a writer verifies against
 * secrets it cannot read.  The secrets never leave this file: no function
 * returns them, no message includes them, and the copies taken here are
 * zeroed before they are freed.  The README's "Security" section argues
 * this; test/pgtap/signature_privileges.sql holds it to it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "common/hmac.h"
#include "common/int.h"
#include "common/sha2.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "pg_inbox.h"

PG_FUNCTION_INFO_V1(verify_signature);
PG_FUNCTION_INFO_V1(verify_stripe_signature);
PG_FUNCTION_INFO_V1(verify_github_signature);
PG_FUNCTION_INFO_V1(ingest_verified);

#define SIG_DIGEST_LEN	PG_SHA256_DIGEST_LENGTH
#define SIG_B64_LEN		44			/* base64 of 32 bytes, padded */
#define SIG_HEX_LEN		64

#define STANDARD_SECRET_PREFIX	"whsec_"
#define GITHUB_PREFIX			"sha256="

/* the columns of inbox.ingest_verified's answer */
#define VERIFIED_COLUMNS	6

typedef enum InboxScheme
{
	SCHEME_STANDARD,
	SCHEME_STRIPE,
	SCHEME_GITHUB
} InboxScheme;

/* why a delivery was rejected; the names are the "reason" column */
typedef enum InboxReason
{
	REASON_NONE,
	REASON_NO_SIGNATURE,
	REASON_BAD_SIGNATURE,
	REASON_TIMESTAMP,
	REASON_NO_SECRET,
	REASON_NO_EVENT_ID,
	REASON_TOO_LARGE,
	REASON_INVALID
} InboxReason;

static const char *const reason_names[] = {
	NULL, "no_signature", "bad_signature", "timestamp", "no_secret",
	"no_event_id", "too_large", "invalid"
};

/* one signature candidate of a header: a pointer into it and a length */
typedef struct SigCandidate
{
	const char *sig;
	int			len;
} SigCandidate;

/* an active secret of a source */
typedef struct SourceSecret
{
	char	   *key_id;
	char	   *secret;			/* as stored; zeroed before it is freed */
	int			len;
} SourceSecret;

/* what inbox.sources says about a source's signatures */
typedef struct SourceConfig
{
	bool		found;			/* the source has a row */
	bool		has_scheme;		/* ... with a known scheme */
	InboxScheme scheme;
	int64		tolerance;		/* microseconds */
	int32		max_payload;
	Datum	   *path;			/* event_id_path, or NULL */
	int			npath;
} SourceConfig;

/*
 * Compare two strings of equal length in time that depends on the length
 * only.
 */
static bool
equal_in_constant_time(const char *a, const char *b, int len)
{
	uint8		diff = 0;
	int			i;

	for (i = 0; i < len; i++)
		diff |= (uint8) a[i] ^ (uint8) b[i];
	return diff == 0;
}

/*
 * HMAC-SHA256 of the concatenation of nparts parts under key.  A failure of
 * the library (out of memory) is an error; its message names no input.
 */
static void
hmac_sha256(const uint8 *key, int keylen, const char *const *parts,
			const size_t *lens, int nparts, uint8 *digest)
{
	pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);
	int			i;

	if (ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (pg_hmac_init(ctx, key, keylen) < 0)
		goto fail;
	for (i = 0; i < nparts; i++)
		if (pg_hmac_update(ctx, (const uint8 *) parts[i], lens[i]) < 0)
			goto fail;
	if (pg_hmac_final(ctx, digest, SIG_DIGEST_LEN) < 0)
		goto fail;
	pg_hmac_free(ctx);
	return;

fail:
	{
		char	   *msg = pstrdup(pg_hmac_error(ctx));

		pg_hmac_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute HMAC-SHA256: %s", msg)));
	}
}

static void
digest_to_base64(const uint8 *digest, char *out)
{
	int			len = pg_b64_encode((const void *) digest, SIG_DIGEST_LEN,
									out, SIG_B64_LEN + 1);

	if (len != SIG_B64_LEN)
		elog(ERROR, "could not encode a digest in base64");
	out[SIG_B64_LEN] = '\0';
}

static void
digest_to_hex(const uint8 *digest, char *out)
{
	static const char hex[] = "0123456789abcdef";
	int			i;

	for (i = 0; i < SIG_DIGEST_LEN; i++)
	{
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 0x0f];
	}
	out[SIG_HEX_LEN] = '\0';
}

/*
 * Does one of the candidates equal expected (of length len)?  Every
 * candidate of the right length is compared in constant time.
 */
static bool
any_candidate_matches(const SigCandidate *cands, int ncands,
					  const char *expected, int len)
{
	bool		match = false;
	int			i;

	for (i = 0; i < ncands; i++)
		if (cands[i].len == len &&
			equal_in_constant_time(cands[i].sig, expected, len))
			match = true;
	return match;
}

/*
 * A Unix timestamp as the headers carry it: 1 to 18 decimal digits and
 * nothing else.  Returns false for anything else.
 */
static bool
parse_timestamp(const char *s, int len, int64 *ts)
{
	int64		v = 0;
	int			i;

	if (len < 1 || len > 18)
		return false;
	for (i = 0; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ts = v;
	return true;
}

/*
 * The tolerance in microseconds; a negative one is a programming error.
 * Months count as 30 days, as interval comparison does; a tolerance too
 * large to count in microseconds is unlimited.
 */
static int64
tolerance_usecs(const Interval *iv)
{
	int64		days;
	int64		span;

	if (DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(iv),
										 DirectFunctionCall3(interval_in,
															 CStringGetDatum("0"),
															 ObjectIdGetDatum(InvalidOid),
															 Int32GetDatum(-1)))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tolerance must not be negative")));
	if (pg_mul_s64_overflow((int64) iv->month, DAYS_PER_MONTH, &days) ||
		pg_add_s64_overflow(days, (int64) iv->day, &days) ||
		pg_mul_s64_overflow(days, USECS_PER_DAY, &span) ||
		pg_add_s64_overflow(span, iv->time, &span))
		return PG_INT64_MAX;
	return span;
}

/*
 * Is the Unix timestamp ts within tolerance of the server's clock, on
 * either side?  Whole seconds, as the senders count.
 */
static bool
timestamp_within(int64 ts, int64 tolerance)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		t;
	int64		diff;

	now -= now % USECS_PER_SEC;
	if (pg_sub_s64_overflow(ts,
							(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY,
							&t) ||
		pg_mul_s64_overflow(t, USECS_PER_SEC, &t) ||
		pg_sub_s64_overflow(now, t, &diff))
		return false;
	return diff <= tolerance && diff >= -tolerance;
}

/*
 * Decode a Standard Webhooks secret: base64, optionally after "whsec_".
 * Returns the key in palloc'd memory and its length in *keylen, or NULL
 * for a secret that is empty or not base64.
 */
static uint8 *
standard_key(const char *secret, int len, int *keylen)
{
	int			prefix = strlen(STANDARD_SECRET_PREFIX);
	uint8	   *key;
	int			n;

	if (len >= prefix && memcmp(secret, STANDARD_SECRET_PREFIX, prefix) == 0)
	{
		secret += prefix;
		len -= prefix;
	}
	if (len == 0)
		return NULL;
	key = palloc(pg_b64_dec_len(len) + 1);
	n = pg_b64_decode(secret, len, (void *) key, pg_b64_dec_len(len) + 1);
	if (n <= 0)
	{
		explicit_bzero(key, pg_b64_dec_len(len) + 1);
		pfree(key);
		return NULL;
	}
	*keylen = n;
	return key;
}

/*
 * The v1 signatures of a webhook-signature header: space-separated
 * "version,base64" pairs; other versions are skipped.  Returns how many.
 */
static int
standard_candidates(const char *header, int len, SigCandidate *cands, int max)
{
	int			n = 0;
	int			i = 0;

	while (i < len && n < max)
	{
		int			start;
		int			end;

		while (i < len && header[i] == ' ')
			i++;
		start = i;
		while (i < len && header[i] != ' ')
			i++;
		end = i;
		if (end - start > 3 && memcmp(header + start, "v1,", 3) == 0)
		{
			cands[n].sig = header + start + 3;
			cands[n].len = end - start - 3;
			n++;
		}
	}
	return n;
}

/*
 * Does the Standard Webhooks signature header match the signature of
 * "id.timestamp.body" under key?
 */
static bool
standard_matches(const uint8 *key, int keylen, const char *id, int idlen,
				 const char *ts, int tslen, const char *body, int bodylen,
				 const SigCandidate *cands, int ncands)
{
	const char *parts[5] = {id, ".", ts, ".", body};
	size_t		lens[5] = {idlen, 1, tslen, 1, bodylen};
	uint8		digest[SIG_DIGEST_LEN];
	char		expected[SIG_B64_LEN + 1];

	hmac_sha256(key, keylen, parts, lens, 5, digest);
	digest_to_base64(digest, expected);
	return any_candidate_matches(cands, ncands, expected, SIG_B64_LEN);
}

/*
 * A Stripe-Signature header: comma-separated "key=value" items, the
 * timestamp in t and the signatures in v1 (other schemes, such as v0, are
 * skipped).  Returns false when there is no t or no v1.
 */
static bool
stripe_parse(const char *header, int len, const char **ts, int *tslen,
			 SigCandidate *cands, int max, int *ncands)
{
	int			i = 0;

	*ts = NULL;
	*ncands = 0;
	while (i <= len)
	{
		int			start = i;

		while (i < len && header[i] != ',')
			i++;
		if (i - start > 2 && header[start] == 't' && header[start + 1] == '=' &&
			*ts == NULL)
		{
			*ts = header + start + 2;
			*tslen = i - start - 2;
		}
		else if (i - start > 3 && memcmp(header + start, "v1=", 3) == 0 &&
				 *ncands < max)
		{
			cands[*ncands].sig = header + start + 3;
			cands[*ncands].len = i - start - 3;
			(*ncands)++;
		}
		i++;
	}
	return *ts != NULL && *ncands > 0;
}

static bool
hex_matches(const uint8 *key, int keylen, const char *const *parts,
			const size_t *lens, int nparts, const SigCandidate *cands,
			int ncands)
{
	uint8		digest[SIG_DIGEST_LEN];
	char		expected[SIG_HEX_LEN + 1];

	hmac_sha256(key, keylen, parts, lens, nparts, digest);
	digest_to_hex(digest, expected);
	return any_candidate_matches(cands, ncands, expected, SIG_HEX_LEN);
}

static bool
any_null_argument(FunctionCallInfo fcinfo)
{
	int			i;

	for (i = 0; i < PG_NARGS(); i++)
		if (PG_ARGISNULL(i))
			return true;
	return false;
}

/* at most this many signatures of one header are looked at */
#define MAX_CANDIDATES	32

/*
 * inbox.verify_signature(secret text, msg_id text, msg_timestamp bigint,
 *						  body text, signature_header text,
 *						  tolerance interval): Standard Webhooks.
 *
 * NULL for NULL input, answered here rather than by declaring the function
 * STRICT: the planner folds a STRICT call with a NULL constant to NULL
 * without checking EXECUTE, and a role without it must be refused.
 */
Datum
verify_signature(PG_FUNCTION_ARGS)
{
	text	   *secret;
	text	   *msg_id;
	int64		msg_timestamp;
	text	   *body;
	text	   *header;
	int64		tolerance;
	SigCandidate cands[MAX_CANDIDATES];
	int			ncands;
	uint8	   *key;
	int			keylen;
	char		ts[32];
	bool		ok;

	if (any_null_argument(fcinfo))
		PG_RETURN_NULL();
	secret = PG_GETARG_TEXT_PP(0);
	msg_id = PG_GETARG_TEXT_PP(1);
	msg_timestamp = PG_GETARG_INT64(2);
	body = PG_GETARG_TEXT_PP(3);
	header = PG_GETARG_TEXT_PP(4);
	tolerance = tolerance_usecs(PG_GETARG_INTERVAL_P(5));

	if (!timestamp_within(msg_timestamp, tolerance))
		PG_RETURN_BOOL(false);
	ncands = standard_candidates(VARDATA_ANY(header), VARSIZE_ANY_EXHDR(header),
								 cands, MAX_CANDIDATES);
	if (ncands == 0)
		PG_RETURN_BOOL(false);
	key = standard_key(VARDATA_ANY(secret), VARSIZE_ANY_EXHDR(secret), &keylen);
	if (key == NULL)
		PG_RETURN_BOOL(false);

	snprintf(ts, sizeof(ts), INT64_FORMAT, msg_timestamp);
	ok = standard_matches(key, keylen,
						  VARDATA_ANY(msg_id), VARSIZE_ANY_EXHDR(msg_id),
						  ts, strlen(ts),
						  VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body),
						  cands, ncands);
	explicit_bzero(key, keylen);
	pfree(key);
	PG_RETURN_BOOL(ok);
}

/*
 * inbox.verify_stripe_signature(secret text, body text,
 *								 signature_header text, tolerance interval):
 * HMAC-SHA256 in hex over "t.body", the secret used as it is.  NULL for
 * NULL input.
 */
Datum
verify_stripe_signature(PG_FUNCTION_ARGS)
{
	text	   *secret;
	text	   *body;
	text	   *header;
	int64		tolerance;
	SigCandidate cands[MAX_CANDIDATES];
	int			ncands;
	const char *ts;
	int			tslen;
	int64		t;
	const char *parts[3];
	size_t		lens[3];

	if (any_null_argument(fcinfo))
		PG_RETURN_NULL();
	secret = PG_GETARG_TEXT_PP(0);
	body = PG_GETARG_TEXT_PP(1);
	header = PG_GETARG_TEXT_PP(2);
	tolerance = tolerance_usecs(PG_GETARG_INTERVAL_P(3));

	if (!stripe_parse(VARDATA_ANY(header), VARSIZE_ANY_EXHDR(header),
					  &ts, &tslen, cands, MAX_CANDIDATES, &ncands) ||
		!parse_timestamp(ts, tslen, &t) ||
		!timestamp_within(t, tolerance) ||
		VARSIZE_ANY_EXHDR(secret) == 0)
		PG_RETURN_BOOL(false);

	parts[0] = ts;
	lens[0] = tslen;
	parts[1] = ".";
	lens[1] = 1;
	parts[2] = VARDATA_ANY(body);
	lens[2] = VARSIZE_ANY_EXHDR(body);
	PG_RETURN_BOOL(hex_matches((const uint8 *) VARDATA_ANY(secret),
							   VARSIZE_ANY_EXHDR(secret), parts, lens, 3,
							   cands, ncands));
}

/*
 * The signature of an X-Hub-Signature-256 header: "sha256=" and the hex.
 */
static bool
github_candidate(const char *header, int len, SigCandidate *cand)
{
	int			prefix = strlen(GITHUB_PREFIX);

	if (len <= prefix || memcmp(header, GITHUB_PREFIX, prefix) != 0)
		return false;
	cand->sig = header + prefix;
	cand->len = len - prefix;
	return true;
}

/*
 * inbox.verify_github_signature(secret text, body text,
 *								 signature_header text):
 * HMAC-SHA256 in hex over the body, the secret used as it is.  NULL for
 * NULL input.
 */
Datum
verify_github_signature(PG_FUNCTION_ARGS)
{
	text	   *secret;
	text	   *body;
	text	   *header;
	SigCandidate cand;
	const char *parts[1];
	size_t		lens[1];

	if (any_null_argument(fcinfo))
		PG_RETURN_NULL();
	secret = PG_GETARG_TEXT_PP(0);
	body = PG_GETARG_TEXT_PP(1);
	header = PG_GETARG_TEXT_PP(2);

	if (!github_candidate(VARDATA_ANY(header), VARSIZE_ANY_EXHDR(header), &cand) ||
		VARSIZE_ANY_EXHDR(secret) == 0)
		PG_RETURN_BOOL(false);
	parts[0] = VARDATA_ANY(body);
	lens[0] = VARSIZE_ANY_EXHDR(body);
	PG_RETURN_BOOL(hex_matches((const uint8 *) VARDATA_ANY(secret),
							   VARSIZE_ANY_EXHDR(secret), parts, lens, 1,
							   &cand, 1));
}

/* ---- inbox.ingest_verified ---- */

/*
 * Read the source's row of inbox.sources: its scheme, tolerance, event id
 * path and payload limit.
 */
static void
read_source_config(InboxCatalog *cat, text *source, SourceConfig *cfg)
{
	AttrNumber	att_scheme = InboxLookupColumn(cat->sources, "sources", "signature_scheme");
	AttrNumber	att_tolerance = InboxLookupColumn(cat->sources, "sources", "signature_tolerance");
	AttrNumber	att_path = InboxLookupColumn(cat->sources, "sources", "event_id_path");
	Relation	rel;
	Relation	idx;
	IndexScanDesc scan;
	ScanKeyData skey;
	TupleTableSlot *slot;

	memset(cfg, 0, sizeof(*cfg));
	cfg->max_payload = inbox_max_payload_bytes;
	cfg->tolerance = 5 * 60 * USECS_PER_SEC;

	rel = table_open(cat->sources, AccessShareLock);
	idx = index_open(cat->sources_pkey, AccessShareLock);
	slot = table_slot_create(rel, NULL);

	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber,
						   InvalidOid, idx->rd_indcollation[0],
						   F_TEXTEQ, PointerGetDatum(source));
	scan = InboxIndexBeginscan(rel, idx, GetActiveSnapshot(), 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d;

		cfg->found = true;
		d = slot_getattr(slot, cat->src_max_payload_bytes, &isnull);
		if (!isnull)
			cfg->max_payload = DatumGetInt32(d);
		d = slot_getattr(slot, att_scheme, &isnull);
		if (!isnull)
		{
			char	   *scheme = TextDatumGetCString(d);

			cfg->has_scheme = true;
			if (strcmp(scheme, "standard") == 0)
				cfg->scheme = SCHEME_STANDARD;
			else if (strcmp(scheme, "stripe") == 0)
				cfg->scheme = SCHEME_STRIPE;
			else if (strcmp(scheme, "github") == 0)
				cfg->scheme = SCHEME_GITHUB;
			else
				cfg->has_scheme = false;
		}
		d = slot_getattr(slot, att_tolerance, &isnull);
		if (!isnull)
		{
			Interval   *iv = DatumGetIntervalP(d);

			cfg->tolerance = tolerance_usecs(iv);
		}
		d = slot_getattr(slot, att_path, &isnull);
		if (!isnull)
		{
			bool	   *nulls;

			deconstruct_array(DatumGetArrayTypePCopy(d), TEXTOID, -1, false,
							  TYPALIGN_INT, &cfg->path, &nulls, &cfg->npath);
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, NoLock);
	table_close(rel, NoLock);
}

/*
 * The source's secrets that have not expired, read with the extension's
 * rights (see the head of the file).  Returns how many, in key id order.
 */
static int
read_secrets(InboxCatalog *cat, text *source, SourceSecret **secrets)
{
	Oid			relid = InboxLookupRelation(cat->schema, "source_secrets");
	Oid			pkey = InboxLookupRelation(cat->schema, "source_secrets_pkey");
	AttrNumber	att_key_id = InboxLookupColumn(relid, "source_secrets", "key_id");
	AttrNumber	att_secret = InboxLookupColumn(relid, "source_secrets", "secret");
	AttrNumber	att_expires = InboxLookupColumn(relid, "source_secrets", "expires_at");
	TimestampTz now = GetCurrentTimestamp();
	Relation	rel;
	Relation	idx;
	IndexScanDesc scan;
	ScanKeyData skey;
	TupleTableSlot *slot;
	int			n = 0;
	int			max = 4;

	*secrets = palloc(sizeof(SourceSecret) * max);

	rel = table_open(relid, AccessShareLock);
	idx = index_open(pkey, AccessShareLock);
	slot = table_slot_create(rel, NULL);

	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber,
						   InvalidOid, idx->rd_indcollation[0],
						   F_TEXTEQ, PointerGetDatum(source));
	scan = InboxIndexBeginscan(rel, idx, GetActiveSnapshot(), 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d;
		text	   *secret;

		d = slot_getattr(slot, att_expires, &isnull);
		if (!isnull && DatumGetTimestampTz(d) <= now)
			continue;
		d = slot_getattr(slot, att_secret, &isnull);
		if (isnull)
			continue;
		if (n == max)
		{
			max *= 2;
			*secrets = repalloc(*secrets, sizeof(SourceSecret) * max);
		}
		secret = DatumGetTextPP(d);
		(*secrets)[n].len = VARSIZE_ANY_EXHDR(secret);
		(*secrets)[n].secret = palloc((*secrets)[n].len + 1);
		memcpy((*secrets)[n].secret, VARDATA_ANY(secret), (*secrets)[n].len);
		(*secrets)[n].secret[(*secrets)[n].len] = '\0';
		if ((Pointer) secret != DatumGetPointer(d))
		{
			explicit_bzero(VARDATA_ANY(secret), VARSIZE_ANY_EXHDR(secret));
			pfree(secret);
		}
		(*secrets)[n].key_id = TextDatumGetCString(slot_getattr(slot, att_key_id,
																&isnull));
		n++;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, NoLock);
	table_close(rel, NoLock);
	return n;
}

static void
forget_secrets(SourceSecret *secrets, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		explicit_bzero(secrets[i].secret, secrets[i].len);
		pfree(secrets[i].secret);
	}
	pfree(secrets);
}

/*
 * The value of a header, found by name without regard to case, as HTTP
 * has it.  Returns NULL when there is none, or when its value is not a
 * string; and NULL with *twice set when two keys differ only in case, which
 * leaves it open which one the sender signed.
 */
static char *
find_header(Jsonb *headers, const char *name, int *len, bool *twice)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			namelen = strlen(name);
	bool		match = false;
	char	   *found = NULL;
	int			matches = 0;

	if (headers == NULL || !JB_ROOT_IS_OBJECT(headers))
		return NULL;
	it = JsonbIteratorInit(&headers->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			match = v.val.string.len == namelen &&
				pg_strncasecmp(v.val.string.val, name, namelen) == 0;
			if (match)
				matches++;
		}
		else if (tok == WJB_VALUE && match && matches == 1 &&
				 v.type == jbvString)
		{
			found = v.val.string.val;
			*len = v.val.string.len;
		}
	}
	if (matches > 1)
	{
		*twice = true;
		return NULL;
	}
	return found;
}

/*
 * The event id at path in the body: a string, or a number in its text
 * form.  NULL when the body has no such value.
 */
static text *
event_id_from_body(Jsonb *jb, Datum *path, int npath)
{
	JsonbContainer *c = &jb->root;
	JsonbValue	v;
	JsonbValue *found = NULL;
	int			i;

	if (JB_ROOT_IS_SCALAR(jb))
		return NULL;
	for (i = 0; i < npath; i++)
	{
		char	   *key = TextDatumGetCString(path[i]);

		if (i > 0)
		{
			if (found->type != jbvBinary)
				return NULL;
			c = found->val.binary.data;
		}
		if (JsonContainerIsObject(c))
			found = getKeyJsonValueFromContainer(c, key, strlen(key), &v);
		else if (JsonContainerIsArray(c))
		{
			char	   *end;
			long		idx = strtol(key, &end, 10);

			if (*key == '\0' || *end != '\0' || idx < 0 || idx > PG_INT32_MAX)
				return NULL;
			found = getIthJsonbValueFromContainer(c, (uint32) idx);
		}
		else
			found = NULL;
		if (found == NULL)
			return NULL;
	}
	if (found->type == jbvString)
		return cstring_to_text_with_len(found->val.string.val,
										found->val.string.len);
	if (found->type == jbvNumeric)
		return cstring_to_text(DatumGetCString(DirectFunctionCall1(numeric_out,
																   NumericGetDatum(found->val.numeric))));
	return NULL;
}

/* the outcome of verifying one delivery */
typedef struct Verdict
{
	InboxReason reason;
	char	   *detail;
	char	   *key_id;			/* the key that matched */
	text	   *event_id;		/* from a header, when the scheme has it there */
} Verdict;

static void
verdict(Verdict *v, InboxReason reason, char *detail)
{
	v->reason = reason;
	v->detail = detail;
}

/*
 * Verify a delivery of a source that has a scheme, against its secrets.
 */
static void
verify_delivery(InboxCatalog *cat, text *source, const SourceConfig *cfg,
				text *body, Jsonb *headers, Verdict *v)
{
	SourceSecret *secrets;
	int			nsecrets;
	SigCandidate cands[MAX_CANDIDATES];
	int			ncands = 0;
	const char *id = NULL;
	const char *ts = NULL;
	const char *sig;
	int			idlen = 0;
	int			tslen = 0;
	int			siglen = 0;
	int64		t = 0;
	bool		twice = false;
	int			usable = 0;
	int			i;

	memset(v, 0, sizeof(*v));

	/* the headers first: a delivery without them needs no secret */
	switch (cfg->scheme)
	{
		case SCHEME_STANDARD:
			id = find_header(headers, "webhook-id", &idlen, &twice);
			ts = find_header(headers, "webhook-timestamp", &tslen, &twice);
			sig = find_header(headers, "webhook-signature", &siglen, &twice);
			if (twice)
				break;
			if (id == NULL || ts == NULL || sig == NULL)
			{
				verdict(v, REASON_NO_SIGNATURE,
						psprintf("the %s header is missing",
								 id == NULL ? "webhook-id" :
								 ts == NULL ? "webhook-timestamp" :
								 "webhook-signature"));
				return;
			}
			if (!parse_timestamp(ts, tslen, &t))
			{
				verdict(v, REASON_TIMESTAMP,
						pstrdup("the webhook-timestamp header is not a Unix timestamp"));
				return;
			}
			ncands = standard_candidates(sig, siglen, cands, MAX_CANDIDATES);
			if (ncands == 0)
			{
				verdict(v, REASON_BAD_SIGNATURE,
						pstrdup("the webhook-signature header has no v1 signature"));
				return;
			}
			if (idlen > 0)
				v->event_id = cstring_to_text_with_len(id, idlen);
			break;
		case SCHEME_STRIPE:
			sig = find_header(headers, "stripe-signature", &siglen, &twice);
			if (twice)
				break;
			if (sig == NULL)
			{
				verdict(v, REASON_NO_SIGNATURE,
						pstrdup("the Stripe-Signature header is missing"));
				return;
			}
			if (!stripe_parse(sig, siglen, &ts, &tslen, cands, MAX_CANDIDATES,
							  &ncands))
			{
				verdict(v, REASON_BAD_SIGNATURE,
						pstrdup("the Stripe-Signature header has no t= timestamp or no v1= signature"));
				return;
			}
			if (!parse_timestamp(ts, tslen, &t))
			{
				verdict(v, REASON_TIMESTAMP,
						pstrdup("the timestamp of the Stripe-Signature header is not a Unix timestamp"));
				return;
			}
			break;
		case SCHEME_GITHUB:
			sig = find_header(headers, "x-hub-signature-256", &siglen, &twice);
			if (twice)
				break;
			if (sig == NULL)
			{
				verdict(v, REASON_NO_SIGNATURE,
						pstrdup("the X-Hub-Signature-256 header is missing"));
				return;
			}
			if (!github_candidate(sig, siglen, &cands[0]))
			{
				verdict(v, REASON_BAD_SIGNATURE,
						pstrdup("the X-Hub-Signature-256 header does not start with sha256="));
				return;
			}
			ncands = 1;
			id = find_header(headers, "x-github-delivery", &idlen, &twice);
			if (id != NULL && idlen > 0)
				v->event_id = cstring_to_text_with_len(id, idlen);
			break;
	}
	if (twice)
	{
		verdict(v, REASON_BAD_SIGNATURE,
				pstrdup("a signature header appears twice, in different case"));
		return;
	}

	if (cfg->scheme != SCHEME_GITHUB && !timestamp_within(t, cfg->tolerance))
	{
		verdict(v, REASON_TIMESTAMP,
				pstrdup("the timestamp is outside the tolerance of the server's clock"));
		return;
	}

	nsecrets = read_secrets(cat, source, &secrets);
	for (i = 0; i < nsecrets && v->key_id == NULL; i++)
	{
		bool		match = false;

		if (cfg->scheme == SCHEME_STANDARD)
		{
			int			keylen;
			uint8	   *key = standard_key(secrets[i].secret, secrets[i].len,
										   &keylen);

			if (key == NULL)
				continue;
			match = standard_matches(key, keylen, id, idlen, ts, tslen,
									 VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body),
									 cands, ncands);
			explicit_bzero(key, keylen);
			pfree(key);
		}
		else
		{
			const char *parts[3];
			size_t		lens[3];
			int			nparts = 0;

			if (secrets[i].len == 0)
				continue;
			if (cfg->scheme == SCHEME_STRIPE)
			{
				parts[0] = ts;
				lens[0] = tslen;
				parts[1] = ".";
				lens[1] = 1;
				nparts = 2;
			}
			parts[nparts] = VARDATA_ANY(body);
			lens[nparts] = VARSIZE_ANY_EXHDR(body);
			nparts++;
			match = hex_matches((const uint8 *) secrets[i].secret,
								secrets[i].len, parts, lens, nparts,
								cands, ncands);
		}
		usable++;
		if (match)
			v->key_id = pstrdup(secrets[i].key_id);
	}
	forget_secrets(secrets, nsecrets);

	if (v->key_id != NULL)
		return;
	if (usable == 0)
		verdict(v, REASON_NO_SECRET,
				nsecrets == 0 ?
				psprintf("source \"%s\" has no unexpired secret in inbox.source_secrets",
						 text_to_cstring(source)) :
				psprintf("no secret of source \"%s\" is usable: a Standard Webhooks secret is base64, optionally after whsec_",
						 text_to_cstring(source)));
	else
		verdict(v, REASON_BAD_SIGNATURE,
				pstrdup("no signature of the delivery matches a secret of the source"));
}

static Datum
verified_answer(FunctionCallInfo fcinfo, const InboxResult *res,
				InboxReason reason, const char *key_id)
{
	Datum		values[VERIFIED_COLUMNS];
	bool		nulls[VERIFIED_COLUMNS];

	memset(nulls, false, sizeof(nulls));
	values[0] = CStringGetTextDatum(res->status == INBOX_INSERTED ? "inserted" :
									res->status == INBOX_DUPLICATE ? "duplicate" :
									res->status == INBOX_CONFLICT ? "conflict" :
									"rejected");
	if (res->status == INBOX_REJECTED)
		nulls[1] = nulls[2] = true;
	else
	{
		values[1] = Int64GetDatum(res->id);
		values[2] = TimestampTzGetDatum(res->received_at);
	}
	if (res->detail != NULL)
		values[3] = CStringGetTextDatum(res->detail);
	else
		nulls[3] = true;
	if (reason_names[reason] != NULL)
		values[4] = CStringGetTextDatum(reason_names[reason]);
	else
		nulls[4] = true;
	if (key_id != NULL)
		values[5] = CStringGetTextDatum(key_id);
	else
		nulls[5] = true;

	return HeapTupleGetDatum(heap_form_tuple(InboxResultDesc(fcinfo), values,
											 nulls));
}

static void
reject_with(InboxResult *res, char *detail)
{
	res->status = INBOX_REJECTED;
	res->id = 0;
	res->received_at = 0;
	res->detail = detail;
}

/*
 * inbox.ingest_verified(source text, body text, headers jsonb)
 *
 * Verify the delivery against the source's scheme and unexpired secrets,
 * take its event id where the scheme puts it (or at the source's
 * event_id_path), and ingest it as ingest_raw does, storing the key id that
 * verified it.  Answers (status, id, received_at, detail, reason, key_id).
 */
Datum
ingest_verified(PG_FUNCTION_ARGS)
{
	text	   *source = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	text	   *body = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
	Jsonb	   *headers = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	InboxCatalog *cat = InboxGetCatalog();
	AclResult	aclresult;
	SourceConfig cfg;
	Verdict		v;
	InboxResult res;
	Size		body_size;
	text	   *event_id;
	Jsonb	   *payload = NULL;
	int			srclen;

	/* a role that may not ingest learns nothing here either */
	aclresult = pg_class_aclcheck(cat->events, GetUserId(), ACL_INSERT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, "events");

	/* an unusable source: rejected by ingest, with its detail */
	srclen = source == NULL ? 0 : VARSIZE_ANY_EXHDR(source);
	if (srclen < 1 || srclen > INBOX_MAX_SOURCE_BYTES)
	{
		InboxIngestRaw(source, NULL, (Datum) 0, true, NULL, headers, NULL, &res);
		PG_RETURN_DATUM(verified_answer(fcinfo, &res, REASON_INVALID, NULL));
	}

	read_source_config(cat, source, &cfg);

	if (body == NULL)
	{
		reject_with(&res, pstrdup("body must not be NULL"));
		InboxStatsCount(source, INBOX_REJECTED);
		PG_RETURN_DATUM(verified_answer(fcinfo, &res, REASON_INVALID, NULL));
	}
	body_size = toast_raw_datum_size(PG_GETARG_DATUM(1)) - VARHDRSZ;
	if (body_size > (Size) cfg.max_payload)
	{
		reject_with(&res, psprintf("body is %zu bytes, over the limit of %d %s for this source",
								   body_size, cfg.max_payload,
								   cfg.max_payload == 1 ? "byte" : "bytes"));
		InboxStatsCount(source, INBOX_REJECTED);
		PG_RETURN_DATUM(verified_answer(fcinfo, &res, REASON_TOO_LARGE, NULL));
	}

	if (!cfg.has_scheme)
	{
		reject_with(&res, psprintf("source \"%s\" has no signature_scheme in inbox.sources",
								   text_to_cstring(source)));
		InboxStatsCountSignatureFailure(source, false);
		PG_RETURN_DATUM(verified_answer(fcinfo, &res, REASON_NO_SECRET, NULL));
	}

	verify_delivery(cat, source, &cfg, body, headers, &v);
	if (v.reason != REASON_NONE)
	{
		reject_with(&res, v.detail);
		InboxStatsCountSignatureFailure(source, true);
		PG_RETURN_DATUM(verified_answer(fcinfo, &res, v.reason, NULL));
	}

	/* verified: find the event id */
	event_id = v.event_id;
	if (cfg.path != NULL || cfg.scheme == SCHEME_STRIPE)
	{
		char	   *problem = NULL;
		Datum		id_key = CStringGetTextDatum("id");

		payload = InboxParseJson(VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body),
								 &problem);
		if (payload == NULL)
		{
			reject_with(&res, problem);
			InboxStatsCount(source, INBOX_REJECTED);
			PG_RETURN_DATUM(verified_answer(fcinfo, &res, REASON_INVALID, v.key_id));
		}
		if (cfg.path != NULL)
			event_id = event_id_from_body(payload, cfg.path, cfg.npath);
		else
			event_id = event_id_from_body(payload, &id_key, 1);
	}
	if (event_id == NULL)
	{
		reject_with(&res, cfg.path != NULL ?
					pstrdup("the body has no string or number at the source's event_id_path") :
					cfg.scheme == SCHEME_STRIPE ?
					pstrdup("the body has no string \"id\"") :
					cfg.scheme == SCHEME_GITHUB ?
					pstrdup("the X-GitHub-Delivery header is missing") :
					pstrdup("the webhook-id header is empty"));
		InboxStatsCount(source, INBOX_REJECTED);
		PG_RETURN_DATUM(verified_answer(fcinfo, &res, REASON_NO_EVENT_ID, v.key_id));
	}

	InboxIngestRaw(source, event_id, PG_GETARG_DATUM(1), false, payload,
				   headers, cstring_to_text(v.key_id), &res);
	PG_RETURN_DATUM(verified_answer(fcinfo, &res,
									res.status == INBOX_REJECTED ? REASON_INVALID : REASON_NONE,
									v.key_id));
}
