/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Every shim for differences between PostgreSQL major versions.
 *
 * pg_inbox is built and tested on PostgreSQL 15; the shims below keep it
 * compiling on later majors.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_INBOX_COMPAT_H
#define PG_INBOX_COMPAT_H

#include "postgres.h"

#include "access/table.h"
#include "catalog/dependency.h"

#if PG_VERSION_NUM < 150000
#error "pg_inbox requires PostgreSQL 15 or later"
#endif

/* getIdentitySequence() takes a Relation from PostgreSQL 17 on */
static inline Oid
InboxGetIdentitySequence(Oid relid, AttrNumber attnum)
{
#if PG_VERSION_NUM >= 170000
	Relation	rel = table_open(relid, AccessShareLock);
	Oid			seq = getIdentitySequence(rel, attnum, false);

	table_close(rel, AccessShareLock);
	return seq;
#else
	return getIdentitySequence(relid, attnum, false);
#endif
}

/*
 * JSON semantic actions return a JsonParseErrorType from PostgreSQL 16 on;
 * INBOX_JSON_ACTION_RETURN is what an action returns.
 */
#if PG_VERSION_NUM >= 160000
#define INBOX_JSON_ACTION JsonParseErrorType
#define INBOX_JSON_ACTION_RETURN return JSON_SUCCESS
#else
#define INBOX_JSON_ACTION void
#define INBOX_JSON_ACTION_RETURN return
#endif

#endif							/* PG_INBOX_COMPAT_H */
