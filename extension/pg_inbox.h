/*-------------------------------------------------------------------------
 *
 * pg_inbox.h
 *	  Declarations shared by the C files of the pg_inbox extension.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_INBOX_H
#define PG_INBOX_H

#include "postgres.h"

#include "access/attnum.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "utils/relcache.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* limits of the SQL interface, documented in the README */
#define INBOX_MAX_SOURCE_BYTES		63
#define INBOX_MAX_EVENT_ID_BYTES	255
#define INBOX_DEFAULT_PAYLOAD_BYTES	(1024 * 1024)
#define INBOX_MAX_PAYLOAD_BYTES		(64 * 1024 * 1024)
#define INBOX_MAX_JSON_DEPTH		1000
#define INBOX_DIGEST_LEN			32	/* SHA-256 */
#define INBOX_DEFAULT_MAX_ATTEMPTS	10

/* GUC variables */
extern int	inbox_max_payload_bytes;
extern int	inbox_max_attempts;
extern int	inbox_retry_base_delay;
extern int	inbox_retry_max_delay;
extern int	inbox_max_sources;

/* the answers of an ingest, in the order of the statistics' columns */
typedef enum InboxStatus
{
	INBOX_INSERTED,
	INBOX_DUPLICATE,
	INBOX_CONFLICT,
	INBOX_REJECTED
} InboxStatus;

#define INBOX_STATUSES		(INBOX_REJECTED + 1)

/* the answer of an ingest for one event */
typedef struct InboxResult
{
	InboxStatus status;
	int64		id;
	TimestampTz received_at;
	char	   *detail;			/* NULL or a sentence */
} InboxResult;

/* the columns of inbox.events, as indexes into InboxCatalog.ev */
typedef enum InboxEventColumn
{
	INBOX_COL_ID,
	INBOX_COL_RECEIVED_AT,
	INBOX_COL_PAYLOAD_DIGEST,
	INBOX_COL_SOURCE,
	INBOX_COL_EVENT_ID,
	INBOX_COL_STATE,
	INBOX_COL_ATTEMPTS,
	INBOX_COL_AVAILABLE_AT,
	INBOX_COL_LOCKED_BY,
	INBOX_COL_LOCKED_UNTIL,
	INBOX_COL_PROCESSED_AT,
	INBOX_COL_LAST_ERROR,
	INBOX_COL_HEADERS,
	INBOX_COL_PAYLOAD,
	INBOX_COL_ERRORS,			/* added in 0.2.0 */
	INBOX_COL_VERIFIED_KEY,		/* added in 0.4.0 */
	INBOX_COL_LEASE_TOKEN,		/* added in 0.4.0 */
	INBOX_EVENT_COLUMNS
} InboxEventColumn;

/*
 * Objects of the extension, resolved through the catalogs once per backend
 * and forgotten when any of the relations is invalidated.
 */
typedef struct InboxCatalog
{
	Oid			schema;
	Oid			events;			/* inbox.events */
	Oid			events_key;		/* its unique index on (source, event_id) */
	Oid			events_seq;		/* identity sequence of events.id */
	Oid			sources;		/* inbox.sources */
	Oid			sources_pkey;	/* its primary key on (source) */
	AttrNumber	ev[INBOX_EVENT_COLUMNS];	/* attnums of inbox.events, 0 for
											 * a column an older version of
											 * the SQL objects lacks */
	AttrNumber	src_max_payload_bytes;
	/* the lifecycle's objects: InvalidOid or 0 before the update that adds them */
	Oid			events_pkey;	/* unique index on (id) */
	Oid			events_claimable;	/* (available_at, id) of claimable events */
	Oid			events_claimable_source;	/* (source, available_at, id), 0.4.0 */
	Oid			lease_seq;		/* inbox.lease_tokens, 0.4.0 */
	AttrNumber	src_max_attempts;	/* inbox.sources.max_attempts, 0.2.0 */
	int8		events_shape;	/* see InboxStoreUsable(); 0 until known */
} InboxCatalog;

extern InboxCatalog *InboxGetCatalog(void);
extern bool InboxCatalogIsValid(void);
extern Oid	InboxLookupRelation(Oid schema, const char *name);
extern AttrNumber InboxLookupColumn(Oid relid, const char *table, const char *column);

/* ingest.c: the cached result descriptor of a function with OUT parameters */
extern TupleDesc InboxResultDesc(FunctionCallInfo fcinfo);
extern void InboxIngestRaw(text *source, text *event_id, Datum body,
						   bool body_isnull, Jsonb *payload, Jsonb *headers,
						   text *verified_key, InboxResult *res);

/* store.c: storing a new event directly */
typedef struct InboxNewEvent
{
	int64		id;
	TimestampTz received_at;
	bytea	   *digest;
	text	   *source;
	text	   *event_id;
	Jsonb	   *headers;		/* or NULL */
	Jsonb	   *payload;
	text	   *verified_key;	/* or NULL */
} InboxNewEvent;

typedef struct InboxStore
{
	struct EState *estate;		/* NULL until InboxStoreBegin() */
	struct ResultRelInfo *rri;
	List	   *arbiters;
	struct TupleTableSlot *slot;
} InboxStore;

extern const char *InboxColumnName(int col);
extern bool InboxColumnOptional(int col);
extern bool InboxStoreUsable(Relation rel, const InboxCatalog *cat, int8 *shape);
extern bool InboxStoreBegin(InboxStore *store, Relation rel,
							 const InboxCatalog *cat);
extern bool InboxStoreInsert(InboxStore *store, const InboxCatalog *cat,
							 const InboxNewEvent *ev);
extern bool InboxStoreBareOnConflict(Relation rel);
extern void InboxStoreEnd(InboxStore *store);

/* payload.c */
extern void InboxPayloadDigest(Jsonb *jb, uint8 *digest);
extern Jsonb *InboxParseJson(const char *json, int len, char **problem);
extern const char *InboxJsonTypeName(Jsonb *jb);

/* stats.c: counters of ingest answers in shared memory */
#define INBOX_DEFAULT_MAX_SOURCES	1000

extern void InboxStatsInit(void);
extern void InboxStatsCount(const text *source, InboxStatus status);
extern void InboxStatsCountSignatureFailure(const text *source, bool declared);

#endif							/* PG_INBOX_H */
