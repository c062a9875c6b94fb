/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Every shim for differences between PostgreSQL major versions.
 *
 * pg_inbox is built and tested on PostgreSQL 15, 17 and 18 (make test);
 * each shim names the major whose API it follows.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_INBOX_COMPAT_H
#define PG_INBOX_COMPAT_H

#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/dependency.h"
#include "common/jsonapi.h"
#include "executor/executor.h"

#if PG_VERSION_NUM < 150000
#error "pg_inbox requires PostgreSQL 15 or later"
#endif

/*
 * The largest exponent magnitude that numeric_in() takes.  Up to PostgreSQL
 * 15, set_var_from_str() refuses INT_MAX / 2 itself (strtol() and ">=");
 * from 16 on it reads the digits itself and refuses only what is beyond
 * INT_MAX / 2 (checked on 17 and 18; 16 is untested).
 */
#if PG_VERSION_NUM >= 160000
#define INBOX_NUMERIC_MAX_EXPONENT	(INT_MAX / 2)
#else
#define INBOX_NUMERIC_MAX_EXPONENT	(INT_MAX / 2 - 1)
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

/*
 * Begin a scan of index on heap.  PostgreSQL 18 added the instrumentation
 * argument (NULL: none).
 */
static inline IndexScanDesc
InboxIndexBeginscan(Relation heap, Relation index, Snapshot snapshot,
					int nkeys, int norderbys)
{
#if PG_VERSION_NUM >= 180000
	return index_beginscan(heap, index, snapshot, NULL, nkeys, norderbys);
#else
	return index_beginscan(heap, index, snapshot, nkeys, norderbys);
#endif
}

/*
 * Insert the index entries of a new tuple in slot (not an update).
 * PostgreSQL 16 added onlySummarizing, false for an insert.
 */
static inline List *
InboxInsertIndexTuples(ResultRelInfo *rri, TupleTableSlot *slot,
					   EState *estate, bool noDupErr, bool *specConflict,
					   List *arbiterIndexes)
{
#if PG_VERSION_NUM >= 160000
	return ExecInsertIndexTuples(rri, slot, estate, false, noDupErr,
								 specConflict, arbiterIndexes, false);
#else
	return ExecInsertIndexTuples(rri, slot, estate, false, noDupErr,
								 specConflict, arbiterIndexes);
#endif
}

/*
 * Which indexes an update made by table_tuple_update() needs new entries
 * in: an enum from PostgreSQL 16 on (TU_UpdateIndexes, where only summarizing
 * indexes may need them), a bool before.
 */
#if PG_VERSION_NUM >= 160000
typedef TU_UpdateIndexes InboxUpdateIndexes;
#define INBOX_UPDATE_INDEXES_NONE	TU_None
#else
typedef bool InboxUpdateIndexes;
#define INBOX_UPDATE_INDEXES_NONE	false
#endif

/* the index entries of a row version that an update made, as the executor's UPDATE inserts them */
static inline List *
InboxUpdateIndexTuples(ResultRelInfo *rri, TupleTableSlot *slot,
					   EState *estate, InboxUpdateIndexes how)
{
#if PG_VERSION_NUM >= 160000
	return ExecInsertIndexTuples(rri, slot, estate, true, false, NULL, NIL,
								 how == TU_Summarizing);
#else
	return ExecInsertIndexTuples(rri, slot, estate, true, false, NULL, NIL);
#endif
}

/*
 * A lexer for a JSON text of len bytes, with de-escaped strings.  From
 * PostgreSQL 17 on, makeJsonLexContextCstringLen() takes the context to
 * initialise first (NULL: allocate one) and a const text.
 */
static inline JsonLexContext *
InboxMakeJsonLexContext(const char *json, int len, int encoding)
{
#if PG_VERSION_NUM >= 170000
	return makeJsonLexContextCstringLen(NULL, json, len, encoding, true);
#else
	return makeJsonLexContextCstringLen(unconstify(char *, json), len,
										encoding, true);
#endif
}

#endif							/* PG_INBOX_COMPAT_H */
