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
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* limits of the SQL interface, documented in the README */
#define INBOX_MAX_SOURCE_BYTES		63
#define INBOX_MAX_EVENT_ID_BYTES	255
#define INBOX_DEFAULT_PAYLOAD_BYTES	(1024 * 1024)
#define INBOX_MAX_PAYLOAD_BYTES		(64 * 1024 * 1024)
#define INBOX_MAX_JSON_DEPTH		1000
#define INBOX_DIGEST_LEN			32	/* SHA-256 */

/* GUC variables */
extern int	inbox_max_payload_bytes;

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
	AttrNumber	ev_id;
	AttrNumber	ev_received_at;
	AttrNumber	ev_payload_digest;
	AttrNumber	src_max_payload_bytes;
} InboxCatalog;

extern const InboxCatalog *InboxGetCatalog(void);
extern void InboxCatalogInit(void);

/* payload.c */
extern void InboxPayloadDigest(Jsonb *jb, uint8 *digest);
extern Jsonb *InboxParseJson(const char *json, int len, char **problem);
extern const char *InboxJsonTypeName(Jsonb *jb);

#endif							/* PG_INBOX_H */
