/*-------------------------------------------------------------------------
 *
 * lifecycle.c
 *	  inbox.claim, inbox.complete, inbox.fail, inbox.extend_lease,
 *	  inbox.replay and inbox.purge.
 *
 * The hot paths (claim, complete, fail, extend_lease, replay by ids) find
 * their rows with direct index scans and write them with
 * table_tuple_update(), as the executor's UPDATE does, without planning
 * anything: a claim reads the partial index of claimable events in order
 * (by source first when the caller names sources), so that neither planner
 * statistics nor the number of finished events decide how much it reads.
 *
 * Row semantics follow UPDATE in both isolation levels.  A row is chosen
 * by the version the statement's snapshot sees; if a concurrent transaction
 * updated it since, READ COMMITTED locks the latest version and checks the
 * conditions again on it (the executor's EvalPlanQual), REPEATABLE READ
 * and SERIALIZABLE raise a serialization failure.  claim never waits: a row
 * that another transaction holds is skipped, as with FOR UPDATE SKIP LOCKED,
 * but without writing a row lock first (the update is the lock).
 *
 * Writes go straight to the table while inbox.events has the shape the
 * extension gave it (store.c decides).  With a trigger, a rule or another
 * CHECK constraint in place, the row is locked here and written by a
 * prepared UPDATE ... WHERE ctid = $1, so that the table's own machinery
 * runs.  Row-level security on inbox.events is refused, as ingest does.
 *
 * replay by range and purge are set-oriented statements; they run prepared
 * statements through SPI with the caller's privileges.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/detoast.h"
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "pg_inbox.h"

PG_FUNCTION_INFO_V1(claim);
PG_FUNCTION_INFO_V1(complete);
PG_FUNCTION_INFO_V1(fail);
PG_FUNCTION_INFO_V1(extend_lease);
PG_FUNCTION_INFO_V1(replay);
PG_FUNCTION_INFO_V1(replay_range);
PG_FUNCTION_INFO_V1(purge);

#define INBOX_MAX_CONSUMER_BYTES	255
#define INBOX_MAX_CLAIM				10000
#define INBOX_MAX_PURGE				1000000
#define INBOX_MAX_ERROR_CHARS		2000
#define INBOX_ERROR_HISTORY			10
#define INBOX_SOURCE_LIMITS			16	/* attempt limits remembered per call */

/* which index a call scans */
typedef enum LcIndex
{
	LC_NO_INDEX,
	LC_PKEY,
	LC_CLAIMABLE				/* by source when it exists, see lc_index_oid */
} LcIndex;

typedef struct LcLimit
{
	text	   *source;
	int32		limit;
} LcLimit;

/* state of one call */
typedef struct Lc
{
	InboxCatalog *cat;
	Relation	rel;
	Relation	index;			/* what this call scans, or NULL */
	Snapshot	snapshot;		/* pushed by lc_begin() */
	CommandId	cid;
	TimestampTz now;
	bool		direct;			/* write with table_tuple_update() */
	bool		with_token;		/* this call's writes set lease_token */
	TupleTableSlot *slot;		/* the version the snapshot sees */
	TupleTableSlot *lockslot;	/* the latest version, locked */
	TupleTableSlot *spare;		/* locked before a fallback write */
	TupleTableSlot *newslot;	/* the version to write */
	EState	   *estate;			/* for index insertions, on first need */
	ResultRelInfo *rri;
	Relation	sources;		/* for attempt limits, on first need */
	Relation	sources_pkey;
	TupleTableSlot *src_slot;
	LcLimit		limits[INBOX_SOURCE_LIMITS];
	int			n_limits;
	bool		spi;			/* connected, for fallback writes */
	MemoryContext cxt;			/* the call's context */
} Lc;

/* a condition on a version of a row, and the new version it gets */
typedef bool (*LcQual) (Lc *lc, TupleTableSlot *slot, void *arg);
typedef void (*LcModify) (Lc *lc, TupleTableSlot *slot, void *arg);

/* the prepared fallback writes and statements, kept for the backend's life */
static SPIPlanPtr lc_write_plan[2];
static SPIPlanPtr lc_replay_plan;
static SPIPlanPtr lc_purge_plan;

#define WRITE_SQL_HEAD \
	"UPDATE inbox.events SET state = $2, attempts = $3, available_at = $4," \
	" locked_by = $5, locked_until = $6, processed_at = $7, last_error = $8," \
	" errors = $9"
#define WRITE_SQL_TAIL " WHERE ctid OPERATOR(pg_catalog.=) $1"

#define REPLAY_SQL \
	"UPDATE inbox.events e" \
	" SET state = 'pending', attempts = 0, available_at = pg_catalog.now()," \
	" processed_at = NULL, locked_by = NULL, locked_until = NULL" \
	" WHERE e.source OPERATOR(pg_catalog.=) $1" \
	" AND e.received_at OPERATOR(pg_catalog.>=) $2" \
	" AND e.received_at OPERATOR(pg_catalog.<) $3" \
	" AND e.state OPERATOR(pg_catalog.=) ANY ($4)"

#define PURGE_SQL \
	"DELETE FROM inbox.events e" \
	" WHERE e.id OPERATOR(pg_catalog.=) ANY (ARRAY(" \
	" SELECT f.id FROM inbox.events f" \
	" WHERE f.state OPERATOR(pg_catalog.=) ANY (ARRAY['done', 'dead']::pg_catalog.text[])" \
	" AND f.processed_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) $1)" \
	" ORDER BY f.processed_at" \
	" LIMIT $2" \
	" FOR UPDATE SKIP LOCKED))"

/* ---------------------------------------------------------------------
 * Argument checks, each raising one error with its SQLSTATE
 * ---------------------------------------------------------------------
 */

static void
check_not_null(bool isnull, const char *what)
{
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
}

/* a consumer name: 1 to 255 bytes */
static text *
check_consumer(FunctionCallInfo fcinfo, int argno)
{
	text	   *consumer = NULL;
	int			len;

	if (PG_ARGISNULL(argno))
		len = 0;
	else
	{
		consumer = PG_GETARG_TEXT_PP(argno);
		len = VARSIZE_ANY_EXHDR(consumer);
	}
	if (len < 1 || len > INBOX_MAX_CONSUMER_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("consumer must be a name of 1 to 255 bytes")));
	return consumer;
}

static char *
interval_text(Interval *iv)
{
	return DatumGetCString(DirectFunctionCall1(interval_out,
											   IntervalPGetDatum(iv)));
}

static int
interval_compare(Interval *a, int32 months, int32 days)
{
	Interval	b;

	b.time = 0;
	b.day = days;
	b.month = months;
	return DatumGetInt32(DirectFunctionCall2(interval_cmp,
											 IntervalPGetDatum(a),
											 IntervalPGetDatum(&b)));
}

/*
 * An interval argument within (0, 1 year], or [0, 1 year] when zero_ok.
 * NULL is refused unless null_ok; returns NULL then.
 */
static Interval *
check_interval(FunctionCallInfo fcinfo, int argno, const char *what,
			   bool zero_ok, bool null_ok)
{
	Interval   *iv;
	int			c0;

	if (PG_ARGISNULL(argno))
	{
		if (!null_ok)
			check_not_null(true, what);
		return NULL;
	}
	iv = PG_GETARG_INTERVAL_P(argno);
	c0 = interval_compare(iv, 0, 0);
	if ((zero_ok ? c0 < 0 : c0 <= 0) || interval_compare(iv, 12, 0) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 zero_ok ?
				 errmsg("%s must be at least 0 and at most 1 year, not %s",
						what, interval_text(iv)) :
				 errmsg("%s must be more than 0 and at most 1 year, not %s",
						what, interval_text(iv))));
	return iv;
}

/* an integer argument within [lo, hi]; NULL is refused the same way */
static int32
check_count(FunctionCallInfo fcinfo, int argno, const char *what,
			int32 lo, int32 hi)
{
	int32		n = PG_ARGISNULL(argno) ? 0 : PG_GETARG_INT32(argno);

	if (PG_ARGISNULL(argno) || n < lo || n > hi)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %d and %d, not %s",
						what, lo, hi,
						PG_ARGISNULL(argno) ? "NULL" : psprintf("%d", n))));
	return n;
}

/* the optional lease token argument: absent, or not NULL */
static bool
lease_token_argument(FunctionCallInfo fcinfo, int argno, int64 *token)
{
	if (PG_NARGS() <= argno)
		return false;
	check_not_null(PG_ARGISNULL(argno), "lease_token");
	*token = PG_GETARG_INT64(argno);
	return true;
}

/* ---------------------------------------------------------------------
 * Opening, reading, writing
 * ---------------------------------------------------------------------
 */

static Oid
lc_index_oid(const InboxCatalog *cat, LcIndex which, bool by_source)
{
	switch (which)
	{
		case LC_PKEY:
			return cat->events_pkey;
		case LC_CLAIMABLE:
			if (by_source && OidIsValid(cat->events_claimable_source))
				return cat->events_claimable_source;
			return cat->events_claimable;
		default:
			return InvalidOid;
	}
}

static void
schema_is_old(const char *object)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("%s of pg_inbox does not exist", object),
			 errhint("Run ALTER EXTENSION pg_inbox UPDATE.")));
}

/*
 * Open inbox.events (and the index which) for a call that writes, and
 * take the snapshot it reads with, as a statement of a PL/pgSQL function
 * would: a new command, so that the call sees what the caller's earlier
 * statements (and an earlier call in the same statement) wrote.
 */
static void
lc_begin(Lc *lc, LcIndex which, bool by_source, const char *what)
{
	Oid			relid;
	Oid			idx;

	memset(lc, 0, sizeof(*lc));
	lc->cxt = CurrentMemoryContext;

	PreventCommandIfReadOnly(what);
	PreventCommandIfParallelMode(what);

	/* as ingest does: lock, then check that the cached OIDs held steady */
	for (;;)
	{
		lc->cat = InboxGetCatalog();
		relid = lc->cat->events;
		idx = lc_index_oid(lc->cat, which, by_source);
		LockRelationOid(relid, RowExclusiveLock);
		if (OidIsValid(idx))
			LockRelationOid(idx, AccessShareLock);
		if (InboxCatalogIsValid() && lc->cat->events == relid &&
			lc_index_oid(lc->cat, which, by_source) == idx)
			break;
		if (OidIsValid(idx))
			UnlockRelationOid(idx, AccessShareLock);
		UnlockRelationOid(relid, RowExclusiveLock);
	}
	if (which != LC_NO_INDEX && !OidIsValid(idx))
		schema_is_old(which == LC_PKEY ? "index inbox.events_pkey" :
					  "index inbox.events_claimable");
	if (lc->cat->ev[INBOX_COL_LEASE_TOKEN] == InvalidAttrNumber ||
		!OidIsValid(lc->cat->lease_seq))
		schema_is_old("column inbox.events.lease_token");

	lc->rel = table_open(relid, NoLock);
	if (lc->rel->rd_rel->relrowsecurity &&
		check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("row-level security on inbox.events is not supported"),
				 errhint("Disable it with ALTER TABLE inbox.events DISABLE ROW LEVEL SECURITY, and grant access to inbox.events by role instead.")));
	if (OidIsValid(idx))
		lc->index = index_open(idx, NoLock);

	lc->slot = table_slot_create(lc->rel, NULL);
	lc->lockslot = table_slot_create(lc->rel, NULL);
	lc->spare = table_slot_create(lc->rel, NULL);
	lc->newslot = MakeSingleTupleTableSlot(RelationGetDescr(lc->rel),
										   &TTSOpsVirtual);
	lc->direct = InboxStoreUsable(lc->rel, lc->cat, &lc->cat->events_shape);

	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();
	lc->snapshot = GetActiveSnapshot();
	lc->cid = GetCurrentCommandId(true);
	lc->now = GetCurrentTransactionStartTimestamp();
}

static void
lc_end(Lc *lc)
{
	if (lc->spi)
	{
		if (SPI_finish() != SPI_OK_FINISH)
			elog(ERROR, "SPI_finish failed");
		lc->spi = false;
	}
	if (lc->estate != NULL)
	{
		ExecCloseIndices(lc->rri);
		FreeExecutorState(lc->estate);
	}
	if (lc->sources != NULL)
	{
		ExecDropSingleTupleTableSlot(lc->src_slot);
		index_close(lc->sources_pkey, NoLock);
		table_close(lc->sources, NoLock);
	}
	ExecDropSingleTupleTableSlot(lc->newslot);
	ExecDropSingleTupleTableSlot(lc->spare);
	ExecDropSingleTupleTableSlot(lc->lockslot);
	ExecDropSingleTupleTableSlot(lc->slot);
	if (lc->index != NULL)
		index_close(lc->index, NoLock);
	table_close(lc->rel, NoLock);
	PopActiveSnapshot();
}

/*
 * The caller's privileges, as the executor checks them for the statement
 * the function stands for: mode on the table, or else on each column.
 */
static void
lc_check(Lc *lc, AclMode mode, const InboxEventColumn *cols, int n)
{
	Oid			relid = RelationGetRelid(lc->rel);
	Oid			user = GetUserId();
	int			i;

	if (pg_class_aclcheck(relid, user, mode) == ACLCHECK_OK)
		return;
	for (i = 0; i < n; i++)
	{
		AttrNumber	attnum = lc->cat->ev[cols[i]];

		if (attnum != InvalidAttrNumber &&
			pg_attribute_aclcheck(relid, attnum, user, mode) != ACLCHECK_OK)
			aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE,
						   RelationGetRelationName(lc->rel));
	}
}

#define LC_CHECK(lc, mode, ...) \
	do { \
		static const InboxEventColumn cols_[] = {__VA_ARGS__}; \
		lc_check((lc), (mode), cols_, lengthof(cols_)); \
	} while (0)

static Datum
lc_get(Lc *lc, TupleTableSlot *slot, InboxEventColumn col, bool *isnull)
{
	return slot_getattr(slot, lc->cat->ev[col], isnull);
}

static bool
text_is(Datum d, bool isnull, const char *s, int len)
{
	text	   *t;

	if (isnull)
		return false;
	t = DatumGetTextPP(d);
	return (int) VARSIZE_ANY_EXHDR(t) == len && memcmp(VARDATA_ANY(t), s, len) == 0;
}

static bool
text_equal(Datum d, bool isnull, const text *t)
{
	return text_is(d, isnull, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

#define STATE_IS(d, isnull, s) text_is((d), (isnull), (s), sizeof(s) - 1)

static bool
lc_state_is(Lc *lc, TupleTableSlot *slot, const char *s)
{
	bool		isnull;
	Datum		d = lc_get(lc, slot, INBOX_COL_STATE, &isnull);

	return text_is(d, isnull, s, strlen(s));
}

/*
 * Is slot's event processing and held by consumer (and, when fenced, under
 * the lease token)?
 */
static bool
lc_held(Lc *lc, TupleTableSlot *slot, const text *consumer, bool fenced,
		int64 token)
{
	bool		isnull;
	Datum		d;

	if (!lc_state_is(lc, slot, "processing"))
		return false;
	d = lc_get(lc, slot, INBOX_COL_LOCKED_BY, &isnull);
	if (!text_equal(d, isnull, consumer))
		return false;
	if (fenced)
	{
		d = lc_get(lc, slot, INBOX_COL_LEASE_TOKEN, &isnull);
		if (isnull || DatumGetInt64(d) != token)
			return false;
	}
	return true;
}

/* start the new version as a copy of slot's */
static void
lc_copy(Lc *lc, TupleTableSlot *from)
{
	TupleTableSlot *to = lc->newslot;
	int			natts = to->tts_tupleDescriptor->natts;

	slot_getallattrs(from);
	ExecClearTuple(to);
	memcpy(to->tts_values, from->tts_values, natts * sizeof(Datum));
	memcpy(to->tts_isnull, from->tts_isnull, natts * sizeof(bool));
	ExecStoreVirtualTuple(to);
}

static void
lc_set(Lc *lc, InboxEventColumn col, Datum value, bool isnull)
{
	AttrNumber	attnum = lc->cat->ev[col];

	lc->newslot->tts_values[attnum - 1] = isnull ? (Datum) 0 : value;
	lc->newslot->tts_isnull[attnum - 1] = isnull;
}

static void
lc_set_text(Lc *lc, InboxEventColumn col, const char *s)
{
	lc_set(lc, col, s ? CStringGetTextDatum(s) : (Datum) 0, s == NULL);
}

static Datum
lc_new(Lc *lc, InboxEventColumn col, bool *isnull)
{
	AttrNumber	attnum = lc->cat->ev[col];

	*isnull = lc->newslot->tts_isnull[attnum - 1];
	return lc->newslot->tts_values[attnum - 1];
}

static void
lc_open_indexes(Lc *lc)
{
	MemoryContext old;
	int			i;

	if (lc->estate != NULL)
		return;
	old = MemoryContextSwitchTo(lc->cxt);
	lc->estate = CreateExecutorState();
	lc->rri = makeNode(ResultRelInfo);
	/* no range table: nothing here looks at one */
	InitResultRelInfo(lc->rri, lc->rel, 0, NULL, 0);
	ExecOpenIndices(lc->rri, false);

	/*
	 * Tell each index whether the update changes its key, as the executor
	 * works out from the range table: the indexes whose key stays (id, and
	 * source with event_id) get the hint that lets btree delete the old
	 * versions' entries bottom-up instead of splitting a page.
	 */
	for (i = 0; i < lc->rri->ri_NumIndices; i++)
	{
		IndexInfo  *info = lc->rri->ri_IndexRelationInfo[i];
		bool		unchanged = info->ii_Expressions == NIL;
		int			k;

		for (k = 0; k < info->ii_NumIndexAttrs && unchanged; k++)
		{
			AttrNumber	attnum = info->ii_IndexAttrNumbers[k];
			int			col;

			for (col = INBOX_COL_STATE; col < INBOX_EVENT_COLUMNS; col++)
				if (col != INBOX_COL_HEADERS && col != INBOX_COL_PAYLOAD &&
					lc->cat->ev[col] == attnum)
					unchanged = false;
		}
		info->ii_CheckedUnchanged = true;
		info->ii_IndexUnchanged = unchanged;
	}
	MemoryContextSwitchTo(old);
}

/* the fallback write: the prepared UPDATE, on the row lc->spare holds */
static TM_Result
lc_write_sql(Lc *lc, ItemPointer tid)
{
	static const InboxEventColumn cols[] = {
		INBOX_COL_STATE, INBOX_COL_ATTEMPTS, INBOX_COL_AVAILABLE_AT,
		INBOX_COL_LOCKED_BY, INBOX_COL_LOCKED_UNTIL, INBOX_COL_PROCESSED_AT,
		INBOX_COL_LAST_ERROR, INBOX_COL_ERRORS, INBOX_COL_LEASE_TOKEN
	};
	Datum		values[10];
	char		nulls[10];
	int			nargs = lc->with_token ? 10 : 9;
	int			rc;
	int			i;
	MemoryContext cxt = CurrentMemoryContext;

	if (!lc->spi)
	{
		MemoryContextSwitchTo(lc->cxt);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		lc->spi = true;
		MemoryContextSwitchTo(cxt);
	}
	if (lc_write_plan[lc->with_token] == NULL)
	{
		Oid			types[10] = {TIDOID, TEXTOID, INT4OID, TIMESTAMPTZOID,
		TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, JSONBOID, INT8OID};
		const char *sql = lc->with_token ?
			WRITE_SQL_HEAD ", lease_token = $10" WRITE_SQL_TAIL :
			WRITE_SQL_HEAD WRITE_SQL_TAIL;
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		lc_write_plan[lc->with_token] = plan;
		MemoryContextSwitchTo(cxt);
	}

	values[0] = PointerGetDatum(tid);
	nulls[0] = ' ';
	for (i = 0; i < nargs - 1; i++)
	{
		bool		isnull;

		values[i + 1] = lc_new(lc, cols[i], &isnull);
		nulls[i + 1] = isnull ? 'n' : ' ';
	}
	rc = SPI_execute_plan(lc_write_plan[lc->with_token], values, nulls,
						  false, 0);
	MemoryContextSwitchTo(cxt);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	/* the UPDATE took a command id of its own */
	lc->cid = GetCurrentCommandId(true);
	/* a BEFORE UPDATE trigger that returned NULL skipped the row */
	return SPI_processed == 1 ? TM_Ok : TM_SelfModified;
}

/*
 * Write lc->newslot as the new version of the row at tid.  Answers as
 * table_tuple_update() does; with wait false, a row another transaction
 * holds answers TM_BeingModified or TM_WouldBlock at once.
 */
static TM_Result
lc_write(Lc *lc, ItemPointer tid, bool wait, TM_FailureData *tmfd)
{
	TM_Result	r;

	if (lc->direct)
	{
		LockTupleMode lockmode;
#if PG_VERSION_NUM >= 160000
		TU_UpdateIndexes update_indexes;
#else
		bool		update_indexes;
#endif

		r = table_tuple_update(lc->rel, tid, lc->newslot, lc->cid,
							   lc->snapshot, InvalidSnapshot, wait, tmfd,
							   &lockmode, &update_indexes);
#if PG_VERSION_NUM >= 160000
		if (r == TM_Ok && update_indexes != TU_None)
#else
		if (r == TM_Ok && update_indexes)
#endif
		{
			List	   *recheck;

			lc_open_indexes(lc);
#if PG_VERSION_NUM >= 160000
			recheck = ExecInsertIndexTuples(lc->rri, lc->newslot, lc->estate,
											true, false, NULL, NIL,
											update_indexes == TU_Summarizing);
#else
			recheck = ExecInsertIndexTuples(lc->rri, lc->newslot, lc->estate,
											true, false, NULL, NIL);
#endif
			list_free(recheck);
			ResetPerTupleExprContext(lc->estate);
		}
		return r;
	}

	r = table_tuple_lock(lc->rel, tid, lc->snapshot, lc->spare, lc->cid,
						 LockTupleExclusive,
						 wait ? LockWaitBlock : LockWaitSkip, 0, tmfd);
	if (r != TM_Ok)
		return r;
	r = lc_write_sql(lc, tid);
	ExecClearTuple(lc->spare);
	return r;
}

static void
serialization_failure(TM_Result r)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not serialize access due to concurrent %s",
					r == TM_Deleted ? "delete" : "update")));
}

/*
 * slot holds the version of a row that the snapshot sees, and qual holds
 * for it: give the row its new version, as UPDATE would.  With wait false
 * a row that another transaction holds is skipped, as FOR UPDATE SKIP
 * LOCKED would.  Returns whether the row was written; lc->newslot then
 * holds what was written.
 */
static bool
lc_apply(Lc *lc, TupleTableSlot *slot, LcQual qual, LcModify modify,
		 void *arg, bool wait)
{
	TM_FailureData tmfd;
	TM_Result	r;
	ItemPointerData tid = slot->tts_tid;

	modify(lc, slot, arg);
	r = lc_write(lc, &tid, wait, &tmfd);
	if ((r == TM_BeingModified || r == TM_WouldBlock) &&
		TransactionIdIsCurrentTransactionId(tmfd.xmax))
		r = lc_write(lc, &tid, true, &tmfd);	/* our own lock */

	switch (r)
	{
		case TM_Ok:
			return true;
		case TM_BeingModified:
		case TM_WouldBlock:
		case TM_SelfModified:
		case TM_Invisible:
			return false;
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				serialization_failure(r);
			return false;
		case TM_Updated:
			if (IsolationUsesXactSnapshot())
				serialization_failure(r);
			break;
	}

	/*
	 * Updated since the snapshot: lock the latest version and decide again
	 * on it, as the executor's EvalPlanQual does.
	 */
	r = table_tuple_lock(lc->rel, &tid, lc->snapshot, lc->lockslot, lc->cid,
						 LockTupleExclusive,
						 wait ? LockWaitBlock : LockWaitSkip,
						 TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
	if (r != TM_Ok)
		return false;
	if (!qual(lc, lc->lockslot, arg))
	{
		ExecClearTuple(lc->lockslot);
		return false;
	}
	modify(lc, lc->lockslot, arg);
	tid = lc->lockslot->tts_tid;
	r = lc_write(lc, &tid, true, &tmfd);
	if (r == TM_SelfModified && !lc->direct)
		return false;			/* a trigger skipped it */
	if (r != TM_Ok)
		elog(ERROR, "unexpected result %d updating a locked event", (int) r);
	return true;
}

/*
 * Find the event id and apply the change to it if qual holds.
 */
static bool
lc_apply_to_id(Lc *lc, int64 id, LcQual qual, LcModify modify, void *arg)
{
	ScanKeyData key;
	IndexScanDesc scan;
	bool		found;
	bool		done = false;

	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   InvalidOid, F_INT8EQ, Int64GetDatum(id));
	scan = InboxIndexBeginscan(lc->rel, lc->index, lc->snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, lc->slot);
	if (found && qual(lc, lc->slot, arg))
		done = lc_apply(lc, lc->slot, qual, modify, arg, true);
	index_endscan(scan);
	ExecClearTuple(lc->slot);
	ExecClearTuple(lc->lockslot);
	return done;
}

/* ---------------------------------------------------------------------
 * Attempt limits, the error history, the retry delay
 * ---------------------------------------------------------------------
 */

/*
 * The attempt limit of source: inbox.sources.max_attempts, or the setting.
 *
 * This reads inbox.sources without the caller's SELECT on it, as ingest
 * reads the payload limit: only this one column of the row of a source
 * whose events the caller may update, and it shows only as the point at
 * which an event becomes dead (and in that event's last_error).
 */
static int32
lc_attempt_limit(Lc *lc, text *source)
{
	IndexScanDesc scan;
	ScanKeyData skey;
	int32		limit = inbox_max_attempts;
	int			i;

	for (i = 0; i < lc->n_limits; i++)
		if (VARSIZE_ANY_EXHDR(lc->limits[i].source) == VARSIZE_ANY_EXHDR(source) &&
			memcmp(VARDATA_ANY(lc->limits[i].source), VARDATA_ANY(source),
				   VARSIZE_ANY_EXHDR(source)) == 0)
			return lc->limits[i].limit;

	if (lc->cat->src_max_attempts == InvalidAttrNumber)
		schema_is_old("column inbox.sources.max_attempts");
	if (lc->sources == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(lc->cxt);

		lc->sources = table_open(lc->cat->sources, AccessShareLock);
		lc->sources_pkey = index_open(lc->cat->sources_pkey, AccessShareLock);
		lc->src_slot = table_slot_create(lc->sources, NULL);
		MemoryContextSwitchTo(old);
	}

	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   lc->sources_pkey->rd_indcollation[0], F_TEXTEQ,
						   PointerGetDatum(source));
	scan = InboxIndexBeginscan(lc->sources, lc->sources_pkey, lc->snapshot, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, lc->src_slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(lc->src_slot, lc->cat->src_max_attempts,
									 &isnull);

		if (!isnull)
			limit = DatumGetInt32(d);
	}
	index_endscan(scan);
	ExecClearTuple(lc->src_slot);

	if (lc->n_limits < INBOX_SOURCE_LIMITS)
	{
		MemoryContext old = MemoryContextSwitchTo(lc->cxt);

		lc->limits[lc->n_limits].source = (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(source));
		lc->limits[lc->n_limits].limit = limit;
		lc->n_limits++;
		MemoryContextSwitchTo(old);
	}
	return limit;
}

static void
push_key(JsonbParseState **state, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = unconstify(char *, key);
	v.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &v);
}

static void
push_text(JsonbParseState **state, const char *s, int len)
{
	JsonbValue	v;

	if (s == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = unconstify(char *, s);
		v.val.string.len = len;
	}
	pushJsonbValue(state, WJB_VALUE, &v);
}

/*
 * errors with one failure appended, keeping the last 10:
 * {attempt, failed_at, consumer, error}, as jsonb_build_object makes it.
 */
static Datum
lc_errors_append(Datum old, bool oldnull, int32 attempt, TimestampTz at,
				 Datum consumer, bool consumer_null, const char *error)
{
	JsonbParseState *state = NULL;
	JsonbValue	v;
	JsonbValue *res;
	char	   *when;

	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	if (!oldnull)
	{
		Jsonb	   *jb = DatumGetJsonbP(old);

		if (JB_ROOT_IS_OBJECT(jb))
		{
			v.type = jbvBinary;
			v.val.binary.data = &jb->root;
			v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
			pushJsonbValue(&state, WJB_ELEM, &v);
		}
		else
		{
			JsonbIterator *it = JsonbIteratorInit(&jb->root);
			JsonbIteratorToken tok;
			int			skip = (JB_ROOT_COUNT(jb) + 1 > INBOX_ERROR_HISTORY) ? 1 : 0;

			while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			{
				if (tok != WJB_ELEM)
					continue;
				if (skip > 0)
				{
					skip--;
					continue;
				}
				pushJsonbValue(&state, WJB_ELEM, &v);
			}
		}
	}

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_key(&state, "attempt");
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(attempt);
	pushJsonbValue(&state, WJB_VALUE, &v);
	push_key(&state, "failed_at");
	when = JsonEncodeDateTime(NULL, TimestampTzGetDatum(at), TIMESTAMPTZOID, NULL);
	push_text(&state, when, strlen(when));
	push_key(&state, "consumer");
	if (consumer_null)
		push_text(&state, NULL, 0);
	else
	{
		text	   *c = DatumGetTextPP(consumer);

		push_text(&state, VARDATA_ANY(c), VARSIZE_ANY_EXHDR(c));
	}
	push_key(&state, "error");
	push_text(&state, error, strlen(error));
	pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	res = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(res));
}

/*
 * The delay before the retry after failed attempt number attempt, in
 * microseconds: pg_inbox.retry_base_delay * 2^(attempt - 1), at most
 * pg_inbox.retry_max_delay, then a random point between half of that and
 * all of it.  inbox.retry_delay() computes the same in SQL.
 */
static int64
retry_delay_usecs(int32 attempt)
{
	double		base = inbox_retry_base_delay / 1000.0;
	double		cap = inbox_retry_max_delay / 1000.0;
	double		delay;

	delay = Min(cap, base * pow(2.0, (double) (Min(Max(attempt, 1), 60) - 1)));
	delay *= 0.5 + pg_prng_double(&pg_global_prng_state) * 0.5;
	return (int64) rint(delay * USECS_PER_SEC);
}

static TimestampTz
plus_interval(TimestampTz t, Interval *iv)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(t),
												   IntervalPGetDatum(iv)));
}

/* ---------------------------------------------------------------------
 * claim
 * ---------------------------------------------------------------------
 */

typedef struct ClaimArg
{
	text	   *consumer;
	TimestampTz until;			/* now() + lease */
	text	  **sources;		/* distinct, sorted; NULL for all */
	int			n_sources;
	bool		dies;			/* out: the row became dead */
} ClaimArg;

typedef struct ClaimScan
{
	IndexScanDesc scan;
	TupleTableSlot *slot;
	bool		live;
	TimestampTz at;
	int64		id;
} ClaimScan;

typedef struct ClaimRow
{
	int64		id;
	HeapTuple	tuple;
} ClaimRow;

static int
text_cmp(const void *a, const void *b)
{
	text	   *x = *(text *const *) a;
	text	   *y = *(text *const *) b;
	int			lx = VARSIZE_ANY_EXHDR(x);
	int			ly = VARSIZE_ANY_EXHDR(y);
	int			c = memcmp(VARDATA_ANY(x), VARDATA_ANY(y), Min(lx, ly));

	return c != 0 ? c : (lx > ly) - (lx < ly);
}

static int
claim_row_cmp(const void *a, const void *b)
{
	int64		x = ((const ClaimRow *) a)->id;
	int64		y = ((const ClaimRow *) b)->id;

	return (x > y) - (x < y);
}

static bool
claim_qual(Lc *lc, TupleTableSlot *slot, void *arg)
{
	ClaimArg   *ca = (ClaimArg *) arg;
	bool		isnull;
	Datum		d;

	d = lc_get(lc, slot, INBOX_COL_STATE, &isnull);
	if (!STATE_IS(d, isnull, "pending") && !STATE_IS(d, isnull, "processing"))
		return false;
	d = lc_get(lc, slot, INBOX_COL_AVAILABLE_AT, &isnull);
	if (isnull || DatumGetTimestampTz(d) > lc->now)
		return false;
	if (ca->sources != NULL)
	{
		text	   *source;

		d = lc_get(lc, slot, INBOX_COL_SOURCE, &isnull);
		if (isnull)
			return false;
		source = DatumGetTextPP(d);
		if (bsearch(&source, ca->sources, ca->n_sources, sizeof(text *),
					text_cmp) == NULL)
			return false;
	}
	return true;
}

static void
claim_modify(Lc *lc, TupleTableSlot *slot, void *arg)
{
	ClaimArg   *ca = (ClaimArg *) arg;
	bool		isnull;
	int32		attempts;
	bool		expired;
	int32		limit = 0;
	Datum		d;

	lc_copy(lc, slot);
	attempts = DatumGetInt32(lc_get(lc, slot, INBOX_COL_ATTEMPTS, &isnull));
	expired = lc_state_is(lc, slot, "processing");
	if (expired)
	{
		Datum		by;
		bool		by_null;

		d = lc_get(lc, slot, INBOX_COL_SOURCE, &isnull);
		limit = lc_attempt_limit(lc, DatumGetTextPP(d));

		/* an expired lease is a failed attempt: keep it in the history */
		by = lc_get(lc, slot, INBOX_COL_LOCKED_BY, &by_null);
		d = lc_get(lc, slot, INBOX_COL_ERRORS, &isnull);
		lc_set(lc, INBOX_COL_ERRORS,
			   lc_errors_append(d, isnull, attempts, lc->now, by, by_null,
								"lease expired"), false);
	}
	ca->dies = expired && attempts >= limit;

	if (ca->dies)
	{
		lc_set_text(lc, INBOX_COL_STATE, "dead");
		lc_set(lc, INBOX_COL_LOCKED_BY, (Datum) 0, true);
		lc_set(lc, INBOX_COL_LOCKED_UNTIL, (Datum) 0, true);
		lc_set(lc, INBOX_COL_PROCESSED_AT, TimestampTzGetDatum(lc->now), false);
		lc_set_text(lc, INBOX_COL_LAST_ERROR,
					psprintf("lease of attempt %d expired, and the attempt limit of %d is reached",
							 attempts, limit));
	}
	else
	{
		lc_set_text(lc, INBOX_COL_STATE, "processing");
		lc_set(lc, INBOX_COL_ATTEMPTS, Int32GetDatum(attempts + 1), false);
		lc_set(lc, INBOX_COL_LOCKED_BY, PointerGetDatum(ca->consumer), false);
		lc_set(lc, INBOX_COL_LOCKED_UNTIL, TimestampTzGetDatum(ca->until), false);
		lc_set(lc, INBOX_COL_AVAILABLE_AT, TimestampTzGetDatum(ca->until), false);
		lc_set(lc, INBOX_COL_PROCESSED_AT, (Datum) 0, true);
		lc_set(lc, INBOX_COL_LEASE_TOKEN,
			   Int64GetDatum(nextval_internal(lc->cat->lease_seq, false)), false);
	}
}

static void
claim_scan_next(Lc *lc, ClaimScan *cs)
{
	bool		isnull;

	cs->live = index_getnext_slot(cs->scan, ForwardScanDirection, cs->slot);
	if (cs->live)
	{
		cs->at = DatumGetTimestampTz(lc_get(lc, cs->slot,
											INBOX_COL_AVAILABLE_AT, &isnull));
		cs->id = DatumGetInt64(lc_get(lc, cs->slot, INBOX_COL_ID, &isnull));
	}
}

/* a value of the result, detoasted if it is stored out of line */
static Datum
result_value(Datum d, bool isnull)
{
	if (!isnull && VARATT_IS_EXTERNAL(DatumGetPointer(d)))
		return PointerGetDatum(detoast_external_attr((struct varlena *) DatumGetPointer(d)));
	return d;
}

/*
 * inbox.claim(consumer text, max_events integer, lease interval,
 *			   sources text[])
 */
Datum
claim(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *consumer = check_consumer(fcinfo, 0);
	int32		max_events = check_count(fcinfo, 1, "max_events", 1, INBOX_MAX_CLAIM);
	Interval   *lease = check_interval(fcinfo, 2, "lease", false, false);
	ClaimArg	ca;
	ClaimScan  *scans;
	int			n_scans;
	ClaimRow   *rows;
	int			n_rows = 0;
	Lc			lc;
	bool		by_source;
	MemoryContext row_cxt;
	MemoryContext old;
	int			i;

	memset(&ca, 0, sizeof(ca));
	ca.consumer = consumer;

	if (!PG_ARGISNULL(3))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(3);
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		int			k = 0;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &n);
		ca.sources = palloc(sizeof(text *) * Max(n, 1));
		for (i = 0; i < n; i++)
			if (!nulls[i])
				ca.sources[k++] = DatumGetTextPP(elems[i]);
		qsort(ca.sources, k, sizeof(text *), text_cmp);
		ca.n_sources = 0;
		for (i = 0; i < k; i++)
			if (ca.n_sources == 0 ||
				text_cmp(&ca.sources[ca.n_sources - 1], &ca.sources[i]) != 0)
				ca.sources[ca.n_sources++] = ca.sources[i];
	}

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	lc_begin(&lc, LC_CLAIMABLE, ca.sources != NULL, "inbox.claim");
	lc.with_token = true;
	LC_CHECK(&lc, ACL_SELECT,
			 INBOX_COL_ID, INBOX_COL_RECEIVED_AT, INBOX_COL_SOURCE,
			 INBOX_COL_EVENT_ID, INBOX_COL_STATE, INBOX_COL_ATTEMPTS,
			 INBOX_COL_AVAILABLE_AT, INBOX_COL_LOCKED_BY,
			 INBOX_COL_LOCKED_UNTIL, INBOX_COL_HEADERS, INBOX_COL_PAYLOAD,
			 INBOX_COL_ERRORS);
	LC_CHECK(&lc, ACL_UPDATE,
			 INBOX_COL_STATE, INBOX_COL_ATTEMPTS, INBOX_COL_AVAILABLE_AT,
			 INBOX_COL_LOCKED_BY, INBOX_COL_LOCKED_UNTIL,
			 INBOX_COL_PROCESSED_AT, INBOX_COL_LAST_ERROR, INBOX_COL_ERRORS);
	ca.until = plus_interval(lc.now, lease);

	by_source = ca.sources != NULL &&
		RelationGetRelid(lc.index) == lc.cat->events_claimable_source;

	/*
	 * One ordered scan per source (merged by available_at, id), or one scan
	 * of all claimable events.
	 */
	n_scans = by_source ? ca.n_sources : 1;
	scans = palloc0(sizeof(ClaimScan) * Max(n_scans, 1));
	if (ca.sources != NULL && ca.n_sources == 0)
		n_scans = 0;
	for (i = 0; i < n_scans; i++)
	{
		ScanKeyData keys[2];
		int			nkeys = 0;

		if (by_source)
			ScanKeyEntryInitialize(&keys[nkeys++], 0, 1, BTEqualStrategyNumber,
								   InvalidOid, lc.index->rd_indcollation[0],
								   F_TEXTEQ, PointerGetDatum(ca.sources[i]));
		ScanKeyEntryInitialize(&keys[nkeys], 0, nkeys + 1,
							   BTLessEqualStrategyNumber, InvalidOid,
							   InvalidOid, F_TIMESTAMPTZ_LE,
							   TimestampTzGetDatum(lc.now));
		nkeys++;
		scans[i].slot = table_slot_create(lc.rel, NULL);
		scans[i].scan = InboxIndexBeginscan(lc.rel, lc.index, lc.snapshot, nkeys, 0);
		index_rescan(scans[i].scan, keys, nkeys, NULL, 0);
		claim_scan_next(&lc, &scans[i]);
	}

	rows = palloc(sizeof(ClaimRow) * max_events);
	row_cxt = AllocSetContextCreate(CurrentMemoryContext,
									"pg_inbox claim row",
									ALLOCSET_DEFAULT_SIZES);
	while (n_rows < max_events)
	{
		ClaimScan  *cs = NULL;

		CHECK_FOR_INTERRUPTS();
		for (i = 0; i < n_scans; i++)
			if (scans[i].live &&
				(cs == NULL || scans[i].at < cs->at ||
				 (scans[i].at == cs->at && scans[i].id < cs->id)))
				cs = &scans[i];
		if (cs == NULL)
			break;

		old = MemoryContextSwitchTo(row_cxt);
		if (claim_qual(&lc, cs->slot, &ca) &&
			lc_apply(&lc, cs->slot, claim_qual, claim_modify, &ca, false) &&
			!ca.dies)
		{
			TupleDesc	desc = rsinfo->setDesc;
			Datum		values[9];
			bool		nulls[9];
			bool		isnull;

			values[0] = lc_new(&lc, INBOX_COL_ID, &nulls[0]);
			values[1] = lc_new(&lc, INBOX_COL_SOURCE, &nulls[1]);
			values[2] = lc_new(&lc, INBOX_COL_EVENT_ID, &nulls[2]);
			values[3] = lc_new(&lc, INBOX_COL_ATTEMPTS, &nulls[3]);
			values[4] = lc_new(&lc, INBOX_COL_RECEIVED_AT, &nulls[4]);
			values[5] = lc_new(&lc, INBOX_COL_LOCKED_UNTIL, &nulls[5]);
			values[6] = lc_new(&lc, INBOX_COL_HEADERS, &nulls[6]);
			values[6] = result_value(values[6], nulls[6]);
			values[7] = lc_new(&lc, INBOX_COL_PAYLOAD, &nulls[7]);
			values[7] = result_value(values[7], nulls[7]);
			values[8] = lc_new(&lc, INBOX_COL_LEASE_TOKEN, &nulls[8]);

			MemoryContextSwitchTo(lc.cxt);
			rows[n_rows].id = DatumGetInt64(values[0]);
			rows[n_rows].tuple = heap_form_tuple(desc, values, nulls);
			n_rows++;
			(void) isnull;
		}
		MemoryContextSwitchTo(old);
		ExecClearTuple(lc.newslot);
		ExecClearTuple(lc.lockslot);
		MemoryContextReset(row_cxt);
		claim_scan_next(&lc, cs);
	}

	for (i = 0; i < n_scans; i++)
	{
		index_endscan(scans[i].scan);
		ExecDropSingleTupleTableSlot(scans[i].slot);
	}
	MemoryContextDelete(row_cxt);
	lc_end(&lc);

	/* the result in id order, as before */
	qsort(rows, n_rows, sizeof(ClaimRow), claim_row_cmp);
	for (i = 0; i < n_rows; i++)
		tuplestore_puttuple(rsinfo->setResult, rows[i].tuple);
	return (Datum) 0;
}

/* ---------------------------------------------------------------------
 * complete, fail, extend_lease
 * ---------------------------------------------------------------------
 */

typedef struct HoldArg
{
	text	   *consumer;
	bool		fenced;
	int64		token;
	/* fail */
	const char *error;
	Interval   *retry_in;
	bool		dead;			/* out */
	/* extend_lease */
	TimestampTz until;
} HoldArg;

static bool
held_qual(Lc *lc, TupleTableSlot *slot, void *arg)
{
	HoldArg    *ha = (HoldArg *) arg;

	return lc_held(lc, slot, ha->consumer, ha->fenced, ha->token);
}

static void
complete_modify(Lc *lc, TupleTableSlot *slot, void *arg)
{
	lc_copy(lc, slot);
	lc_set_text(lc, INBOX_COL_STATE, "done");
	lc_set(lc, INBOX_COL_PROCESSED_AT, TimestampTzGetDatum(lc->now), false);
	lc_set(lc, INBOX_COL_LOCKED_BY, (Datum) 0, true);
	lc_set(lc, INBOX_COL_LOCKED_UNTIL, (Datum) 0, true);
}

/*
 * inbox.complete(id bigint, consumer text [, lease_token bigint])
 */
Datum
complete(PG_FUNCTION_ARGS)
{
	HoldArg		ha;
	Lc			lc;
	bool		done;

	memset(&ha, 0, sizeof(ha));
	ha.consumer = check_consumer(fcinfo, 1);
	ha.fenced = lease_token_argument(fcinfo, 2, &ha.token);

	lc_begin(&lc, LC_PKEY, false, "inbox.complete");
	LC_CHECK(&lc, ACL_SELECT, INBOX_COL_ID, INBOX_COL_STATE, INBOX_COL_LOCKED_BY);
	LC_CHECK(&lc, ACL_UPDATE, INBOX_COL_STATE, INBOX_COL_PROCESSED_AT,
			 INBOX_COL_LOCKED_BY, INBOX_COL_LOCKED_UNTIL);
	done = !PG_ARGISNULL(0) &&
		lc_apply_to_id(&lc, PG_GETARG_INT64(0), held_qual, complete_modify, &ha);
	lc_end(&lc);
	PG_RETURN_BOOL(done);
}

static void
fail_modify(Lc *lc, TupleTableSlot *slot, void *arg)
{
	HoldArg    *ha = (HoldArg *) arg;
	bool		isnull;
	int32		attempts;
	Datum		d;

	lc_copy(lc, slot);
	attempts = DatumGetInt32(lc_get(lc, slot, INBOX_COL_ATTEMPTS, &isnull));
	d = lc_get(lc, slot, INBOX_COL_SOURCE, &isnull);
	ha->dead = attempts >= lc_attempt_limit(lc, DatumGetTextPP(d));

	lc_set_text(lc, INBOX_COL_STATE, ha->dead ? "dead" : "pending");
	lc_set(lc, INBOX_COL_LOCKED_BY, (Datum) 0, true);
	lc_set(lc, INBOX_COL_LOCKED_UNTIL, (Datum) 0, true);
	lc_set_text(lc, INBOX_COL_LAST_ERROR, ha->error);
	d = lc_get(lc, slot, INBOX_COL_ERRORS, &isnull);
	lc_set(lc, INBOX_COL_ERRORS,
		   lc_errors_append(d, isnull, attempts, lc->now,
							PointerGetDatum(ha->consumer), false, ha->error),
		   false);
	if (ha->dead)
		lc_set(lc, INBOX_COL_PROCESSED_AT, TimestampTzGetDatum(lc->now), false);
	else
	{
		TimestampTz at;

		if (ha->retry_in != NULL)
			at = plus_interval(lc->now, ha->retry_in);
		else
			at = lc->now + retry_delay_usecs(attempts);
		lc_set(lc, INBOX_COL_AVAILABLE_AT, TimestampTzGetDatum(at), false);
		lc_set(lc, INBOX_COL_PROCESSED_AT, (Datum) 0, true);
	}
}

/*
 * inbox.fail(id bigint, consumer text, error text, retry_in interval
 *			  [, lease_token bigint])
 */
Datum
fail(PG_FUNCTION_ARGS)
{
	HoldArg		ha;
	Lc			lc;
	bool		done;

	memset(&ha, 0, sizeof(ha));
	ha.consumer = check_consumer(fcinfo, 1);
	ha.retry_in = check_interval(fcinfo, 3, "retry_in", true, true);
	ha.fenced = lease_token_argument(fcinfo, 4, &ha.token);
	if (PG_ARGISNULL(2))
		ha.error = "(no error text)";
	else
	{
		text	   *error = PG_GETARG_TEXT_PP(2);
		const char *s = VARDATA_ANY(error);

		/* the first 2000 characters, as left(error, 2000) */
		ha.error = pnstrdup(s, pg_mbcharcliplen(s, VARSIZE_ANY_EXHDR(error),
												 INBOX_MAX_ERROR_CHARS));
	}

	lc_begin(&lc, LC_PKEY, false, "inbox.fail");
	LC_CHECK(&lc, ACL_SELECT, INBOX_COL_ID, INBOX_COL_SOURCE,
			 INBOX_COL_ATTEMPTS, INBOX_COL_STATE, INBOX_COL_LOCKED_BY,
			 INBOX_COL_ERRORS);
	LC_CHECK(&lc, ACL_UPDATE, INBOX_COL_STATE, INBOX_COL_LOCKED_BY,
			 INBOX_COL_LOCKED_UNTIL, INBOX_COL_LAST_ERROR, INBOX_COL_ERRORS,
			 INBOX_COL_AVAILABLE_AT, INBOX_COL_PROCESSED_AT);
	done = !PG_ARGISNULL(0) &&
		lc_apply_to_id(&lc, PG_GETARG_INT64(0), held_qual, fail_modify, &ha);
	lc_end(&lc);
	if (!done)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(ha.dead ? "dead" : "pending"));
}

static void
extend_modify(Lc *lc, TupleTableSlot *slot, void *arg)
{
	HoldArg    *ha = (HoldArg *) arg;

	lc_copy(lc, slot);
	lc_set(lc, INBOX_COL_LOCKED_UNTIL, TimestampTzGetDatum(ha->until), false);
	lc_set(lc, INBOX_COL_AVAILABLE_AT, TimestampTzGetDatum(ha->until), false);
}

/*
 * inbox.extend_lease(id bigint, consumer text, lease interval
 *					  [, lease_token bigint])
 */
Datum
extend_lease(PG_FUNCTION_ARGS)
{
	HoldArg		ha;
	Lc			lc;
	bool		done;
	Interval   *lease;

	memset(&ha, 0, sizeof(ha));
	ha.consumer = check_consumer(fcinfo, 1);
	lease = check_interval(fcinfo, 2, "lease", false, false);
	ha.fenced = lease_token_argument(fcinfo, 3, &ha.token);

	lc_begin(&lc, LC_PKEY, false, "inbox.extend_lease");
	LC_CHECK(&lc, ACL_SELECT, INBOX_COL_ID, INBOX_COL_STATE,
			 INBOX_COL_LOCKED_BY, INBOX_COL_LOCKED_UNTIL);
	LC_CHECK(&lc, ACL_UPDATE, INBOX_COL_LOCKED_UNTIL, INBOX_COL_AVAILABLE_AT);
	ha.until = plus_interval(lc.now, lease);
	done = !PG_ARGISNULL(0) &&
		lc_apply_to_id(&lc, PG_GETARG_INT64(0), held_qual, extend_modify, &ha);
	lc_end(&lc);
	if (!done)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(ha.until);
}

/* ---------------------------------------------------------------------
 * replay and purge
 * ---------------------------------------------------------------------
 */

static bool
finished_qual(Lc *lc, TupleTableSlot *slot, void *arg)
{
	return lc_state_is(lc, slot, "done") || lc_state_is(lc, slot, "dead");
}

static void
replay_modify(Lc *lc, TupleTableSlot *slot, void *arg)
{
	lc_copy(lc, slot);
	lc_set_text(lc, INBOX_COL_STATE, "pending");
	lc_set(lc, INBOX_COL_ATTEMPTS, Int32GetDatum(0), false);
	lc_set(lc, INBOX_COL_AVAILABLE_AT, TimestampTzGetDatum(lc->now), false);
	lc_set(lc, INBOX_COL_PROCESSED_AT, (Datum) 0, true);
	lc_set(lc, INBOX_COL_LOCKED_BY, (Datum) 0, true);
	lc_set(lc, INBOX_COL_LOCKED_UNTIL, (Datum) 0, true);
}

static int
int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * inbox.replay(ids bigint[])
 */
Datum
replay(PG_FUNCTION_ARGS)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int64	   *ids;
	int			k = 0;
	int64		count = 0;
	Lc			lc;
	int			i;

	check_not_null(PG_ARGISNULL(0), "ids");
	arr = PG_GETARG_ARRAYTYPE_P(0);
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);
	ids = palloc(sizeof(int64) * Max(n, 1));
	for (i = 0; i < n; i++)
		if (!nulls[i])
			ids[k++] = DatumGetInt64(elems[i]);
	qsort(ids, k, sizeof(int64), int64_cmp);

	lc_begin(&lc, LC_PKEY, false, "inbox.replay");
	LC_CHECK(&lc, ACL_SELECT, INBOX_COL_ID, INBOX_COL_STATE);
	LC_CHECK(&lc, ACL_UPDATE, INBOX_COL_STATE, INBOX_COL_ATTEMPTS,
			 INBOX_COL_AVAILABLE_AT, INBOX_COL_PROCESSED_AT,
			 INBOX_COL_LOCKED_BY, INBOX_COL_LOCKED_UNTIL);
	for (i = 0; i < k; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (i > 0 && ids[i] == ids[i - 1])
			continue;
		if (lc_apply_to_id(&lc, ids[i], finished_qual, replay_modify, NULL))
			count++;
	}
	lc_end(&lc);
	PG_RETURN_INT64(count);
}

/* run a kept plan, preparing it first; returns SPI_processed */
static uint64
run_kept(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types,
		 Datum *values, const char *nulls, int expect)
{
	int			rc;
	uint64		n;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*plan = p;
	}
	rc = SPI_execute_plan(*plan, values, nulls, false, 0);
	if (rc != expect)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	n = SPI_processed;
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	return n;
}

/*
 * inbox.replay(source text, received_from timestamptz,
 *				received_until timestamptz, states text[])
 */
Datum
replay_range(PG_FUNCTION_ARGS)
{
	Oid			types[4] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTARRAYOID};
	Datum		values[4];
	ArrayType  *states;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source, received_from, received_until and states must not be NULL")));
	states = PG_GETARG_ARRAYTYPE_P(3);
	deconstruct_array(states, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		if (nulls[i] ||
			!(STATE_IS(elems[i], false, "done") || STATE_IS(elems[i], false, "dead")))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("only done and dead events can be replayed"),
					 errdetail("states was %s.",
							   OidOutputFunctionCall(F_ARRAY_OUT,
													 PointerGetDatum(states)))));

	for (i = 0; i < 4; i++)
		values[i] = PG_GETARG_DATUM(i);
	PG_RETURN_INT64((int64) run_kept(&lc_replay_plan, REPLAY_SQL, 4, types,
									 values, "    ", SPI_OK_UPDATE));
}

/*
 * inbox.purge(older_than interval, max_rows integer)
 */
Datum
purge(PG_FUNCTION_ARGS)
{
	Oid			types[2] = {INTERVALOID, INT4OID};
	Datum		values[2];
	Interval   *older_than;

	check_not_null(PG_ARGISNULL(0), "older_than");
	older_than = PG_GETARG_INTERVAL_P(0);
	if (interval_compare(older_than, 0, 0) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must not be negative, not %s",
						interval_text(older_than))));
	/* past this, now() - older_than leaves the range of timestamptz */
	if (interval_compare(older_than, 12 * 1000, 0) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must be at most 1000 years, not %s",
						interval_text(older_than))));
	values[0] = IntervalPGetDatum(older_than);
	values[1] = Int32GetDatum(check_count(fcinfo, 1, "max_rows", 1, INBOX_MAX_PURGE));
	PG_RETURN_INT64((int64) run_kept(&lc_purge_plan, PURGE_SQL, 2, types,
									 values, "  ", SPI_OK_DELETE));
}
