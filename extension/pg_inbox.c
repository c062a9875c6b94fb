/*-------------------------------------------------------------------------
 *
 * pg_inbox.c
 *	  Module entry point: settings and the per-backend catalog cache.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

#include "compat.h"
#include "pg_inbox.h"

PG_MODULE_MAGIC;

int			inbox_max_payload_bytes = INBOX_DEFAULT_PAYLOAD_BYTES;
int			inbox_max_attempts = INBOX_DEFAULT_MAX_ATTEMPTS;
int			inbox_retry_base_delay = 10 * 1000;	/* ms */
int			inbox_retry_max_delay = 60 * 60 * 1000; /* ms */

static InboxCatalog inbox_catalog;
static bool inbox_catalog_valid = false;

void		_PG_init(void);

/*
 * Any invalidation of one of our relations (ALTER, DROP, DROP EXTENSION) or
 * a reset of the whole relcache makes us look everything up again.
 */
static void
InboxRelcacheCallback(Datum arg, Oid relid)
{
	if (!inbox_catalog_valid)
		return;
	if (relid == InvalidOid ||
		relid == inbox_catalog.events ||
		relid == inbox_catalog.events_key ||
		relid == inbox_catalog.sources ||
		relid == inbox_catalog.sources_pkey ||
		relid == inbox_catalog.events_pkey ||
		relid == inbox_catalog.events_claimable ||
		relid == inbox_catalog.events_claimable_source ||
		relid == inbox_catalog.lease_seq)
		inbox_catalog_valid = false;
}

void
_PG_init(void)
{
	DefineCustomIntVariable("pg_inbox.max_payload_bytes",
							"Largest payload accepted for a source that has no row in inbox.sources.",
							"A larger payload is ingested as \"rejected\".",
							&inbox_max_payload_bytes,
							INBOX_DEFAULT_PAYLOAD_BYTES,
							1,
							INBOX_MAX_PAYLOAD_BYTES,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_inbox.max_attempts",
							"Attempts before an event becomes dead, for a source that has no limit in inbox.sources.",
							NULL,
							&inbox_max_attempts,
							INBOX_DEFAULT_MAX_ATTEMPTS,
							1,
							1000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_inbox.retry_base_delay",
							"Delay before the first retry of a failed event; it doubles with each further attempt.",
							NULL,
							&inbox_retry_base_delay,
							10 * 1000,
							1,
							24 * 60 * 60 * 1000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_inbox.retry_max_delay",
							"Longest delay before a retry of a failed event.",
							NULL,
							&inbox_retry_max_delay,
							60 * 60 * 1000,
							1,
							7 * 24 * 60 * 60 * 1000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/* pg_inbox.max_sources and the shared counters, if loaded at start */
	InboxStatsInit();

	MarkGUCPrefixReserved("pg_inbox");

	CacheRegisterRelcacheCallback(InboxRelcacheCallback, (Datum) 0);
}

/* the OID of inbox.NAME, a relation the extension made */
Oid
InboxLookupRelation(Oid schema, const char *name)
{
	Oid			relid = get_relname_relid(name, schema);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"inbox.%s\" does not exist", name),
				 errhint("Run ALTER EXTENSION pg_inbox UPDATE; if the extension is at its current version, it is damaged: reinstall it.")));
	return relid;
}

/* the number of column COLUMN of inbox.TABLE (relid) */
AttrNumber
InboxLookupColumn(Oid relid, const char *table, const char *column)
{
	AttrNumber	attnum = get_attnum(relid, column);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"inbox.%s\" does not exist",
						column, table),
				 errhint("Run ALTER EXTENSION pg_inbox UPDATE; if the extension is at its current version, it is damaged: reinstall it.")));
	return attnum;
}

bool
InboxCatalogIsValid(void)
{
	return inbox_catalog_valid;
}

/*
 * Resolve the extension's objects, once per backend until an invalidation.
 */
InboxCatalog *
InboxGetCatalog(void)
{
	InboxCatalog c;
	int			i;

	if (inbox_catalog_valid)
		return &inbox_catalog;

	c.schema = get_namespace_oid("inbox", true);
	if (!OidIsValid(c.schema))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_SCHEMA),
				 errmsg("schema \"inbox\" does not exist"),
				 errhint("Run CREATE EXTENSION pg_inbox.")));

	c.events = InboxLookupRelation(c.schema, "events");
	c.events_key = InboxLookupRelation(c.schema, "events_source_event_id_key");
	c.sources = InboxLookupRelation(c.schema, "sources");
	c.sources_pkey = InboxLookupRelation(c.schema, "sources_pkey");
	for (i = 0; i < INBOX_EVENT_COLUMNS; i++)
	{
		if (InboxColumnOptional(i))
			c.ev[i] = get_attnum(c.events, InboxColumnName(i));
		else
			c.ev[i] = InboxLookupColumn(c.events, "events", InboxColumnName(i));
	}
	c.src_max_payload_bytes = InboxLookupColumn(c.sources, "sources",
												"max_payload_bytes");
	c.events_seq = InboxGetIdentitySequence(c.events, c.ev[INBOX_COL_ID]);
	c.events_shape = 0;

	/* the lifecycle's objects, absent before the updates that add them */
	c.events_pkey = get_relname_relid("events_pkey", c.schema);
	c.events_claimable = get_relname_relid("events_claimable", c.schema);
	c.events_claimable_source = get_relname_relid("events_claimable_source",
												  c.schema);
	c.lease_seq = get_relname_relid("lease_tokens", c.schema);
	c.src_max_attempts = get_attnum(c.sources, "max_attempts");

	inbox_catalog = c;
	inbox_catalog_valid = true;
	return &inbox_catalog;
}
