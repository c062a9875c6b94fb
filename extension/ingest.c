/*-------------------------------------------------------------------------
 *
 * ingest.c
 *	  inbox.ingest, inbox.ingest_raw, inbox.ingest_many and
 *	  inbox.ingest_raw_many.
 *
 * An ingest decides, inside the caller's transaction, whether (source,
 * event_id) is new.  It probes the unique index on that key with a dirty
 * snapshot, as the executor's own unique check does: a row inserted by a
 * transaction still in progress is waited for, so that two sessions racing
 * on one key settle on exactly one row.  Only when the key is absent does it
 * draw an id and store the event: by speculative insertion (store.c) while
 * inbox.events has the shape the extension gave it, else with a prepared
 * INSERT ... ON CONFLICT DO NOTHING.  Either way a key that another
 * transaction inserted between the probe and the insert sends us back to the
 * probe instead of raising a unique violation.
 *
 * A duplicate or a conflict is answered from the index probe and a heap
 * fetch alone: no transaction id, no WAL, no dead tuple, no sequence value.
 * Bad input is answered as "rejected" before anything is touched.  Nothing
 * here starts a subtransaction or catches an error.
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
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "rewrite/prs2lock.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "pg_inbox.h"

PG_FUNCTION_INFO_V1(ingest);
PG_FUNCTION_INFO_V1(ingest_raw);
PG_FUNCTION_INFO_V1(ingest_many);
PG_FUNCTION_INFO_V1(ingest_raw_many);

/* how often one key may change under us before we give up */
#define INBOX_MAX_KEY_ROUNDS	100

/* inserts that stored nothing while no row had the key, before giving up */
#define INBOX_MAX_EMPTY_ROUNDS	3

static const char *const inbox_status_names[] = {
	"inserted", "duplicate", "conflict", "rejected"
};

/*
 * State of one call: the relations, opened once, and what is known of the
 * source.  A batch shares it across its elements.
 */
typedef struct InboxIngest
{
	InboxCatalog *cat;
	Relation	events;
	Relation	key_index;
	TupleTableSlot *slot;
	text	   *source;			/* detoasted, validated */
	int32		max_payload;	/* limit that applies to this source */
	char	   *source_problem; /* why every element is rejected, or NULL */
	MemoryContext call_cxt;		/* context of the call; SPI returns to it */
	bool		spi_connected;
	bool		store_checked;	/* has the way to insert been chosen? */
	bool		store_direct;	/* insert with store.c, not with SQL */
	bool		store_plain;	/* SQL without ON CONFLICT, under the key's
								 * lock (see key_lock_tag()) */
	int64		drawn_id;		/* the id of the last insert that stored
								 * nothing it could report, or 0 */
	InboxStore	store;
	text	   *verified_key;	/* key id that verified the delivery, or NULL */
} InboxIngest;

/*
 * A key being stored by the plain INSERT (see key_lock_tag()).  The key's
 * lock is an advisory lock, re-entrant within a backend, so it does not keep
 * out a BEFORE INSERT trigger on inbox.events that ingests the very key the
 * INSERT is storing: that nested call would find the key absent and insert
 * it, and the outer INSERT would then violate the unique key (23505).  So
 * every call that stores a key this way is on a backend-local list, and a
 * nested call for a key on it answers from the event being stored (see
 * ingest_one()).  Entries live on the C stack of their store_key_plain()
 * and are taken off the list however it ends.
 */
typedef struct InboxPlainKey
{
	text	   *source;
	text	   *event_id;
	const uint8 *digest;		/* of the payload being stored */
	int64		id;				/* the event's id once drawn, else 0 */
	TimestampTz received_at;
	struct InboxPlainKey *next;
} InboxPlainKey;

static InboxPlainKey *inbox_plain_keys = NULL;

/*
 * The prepared INSERTs, kept for the backend's life.  The ON CONFLICT of the
 * first names no conflict target: a target (columns or a constraint's name)
 * would need SELECT on its columns, and a writer role has INSERT only.  The
 * unique key on (source, event_id) is the only one a new event can meet,
 * since ids come from the sequence; a conflict on any unique index a user
 * adds is reported by ingest_one().  PostgreSQL refuses a bare ON CONFLICT
 * when the table has a deferrable unique index or an INSERT or UPDATE rule,
 * and it would swallow an exclusion constraint's violation: the second,
 * plain INSERT is used then, and the key's lock stands in for ON CONFLICT
 * (see key_lock_tag()).
 */
static SPIPlanPtr inbox_insert_plan = NULL;
static SPIPlanPtr inbox_insert_plain_plan = NULL;

#define INSERT_PLAIN_SQL \
	"INSERT INTO inbox.events" \
	" (id, source, event_id, payload_digest, received_at, available_at, headers, payload)" \
	" OVERRIDING SYSTEM VALUE" \
	" VALUES ($1, $2, $3, $4, $5, $5, $6, $7)"
#define INSERT_SQL INSERT_PLAIN_SQL " ON CONFLICT DO NOTHING"

/* field4 of the advisory lock tags of keys (objsubid in pg_locks) */
#define INBOX_KEY_LOCK_FIELD4	18754

/*
 * The same for a verified delivery (inbox.ingest_verified, signature.c),
 * which also stores the key id; separate plans, so that the ones above still
 * work before ALTER EXTENSION UPDATE adds the column.
 */
static SPIPlanPtr inbox_insert_verified_plan = NULL;
static SPIPlanPtr inbox_insert_verified_plain_plan = NULL;

#define INSERT_VERIFIED_PLAIN_SQL \
	"INSERT INTO inbox.events" \
	" (id, source, event_id, payload_digest, received_at, available_at, headers, payload, verified_key)" \
	" OVERRIDING SYSTEM VALUE" \
	" VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)"
#define INSERT_VERIFIED_SQL INSERT_VERIFIED_PLAIN_SQL " ON CONFLICT DO NOTHING"

static void
reject(InboxResult *res, char *detail)
{
	res->status = INBOX_REJECTED;
	res->id = 0;
	res->received_at = 0;
	res->detail = detail;
}

/*
 * Check an identifier-like argument: not NULL, not empty, not too long.
 * Returns NULL when it is fine, else the reason.
 */
static char *
check_key_part(text *value, const char *what, int max_bytes)
{
	int			len;

	if (value == NULL)
		return psprintf("%s must not be NULL", what);
	len = VARSIZE_ANY_EXHDR(value);
	if (len == 0)
		return psprintf("%s must not be empty", what);
	if (len > max_bytes)
		return psprintf("%s is %d bytes long, over the limit of %d bytes",
						what, len, max_bytes);
	return NULL;
}

/*
 * Read the source's payload limit from inbox.sources, or the setting.
 */
static int32
source_payload_limit(const InboxCatalog *cat, text *source)
{
	Relation	rel;
	Relation	idx;
	IndexScanDesc scan;
	ScanKeyData skey;
	TupleTableSlot *slot;
	int32		limit = inbox_max_payload_bytes;

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
		Datum		d = slot_getattr(slot, cat->src_max_payload_bytes, &isnull);

		if (!isnull)
			limit = DatumGetInt32(d);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	/* keep the locks until the end of the transaction, as the executor does */
	index_close(idx, NoLock);
	table_close(rel, NoLock);

	return limit;
}

/*
 * Open what one call needs.  Privileges are those of the caller: INSERT on
 * inbox.events is required even for an answer that inserts nothing.
 */
static void
ingest_begin(InboxIngest *st, text *source)
{
	AclResult	aclresult;

	Oid			relid;
	Oid			key_index;

	memset(st, 0, sizeof(*st));
	st->call_cxt = CurrentMemoryContext;

	/*
	 * Lock first, then trust the cached OIDs: taking a lock processes the
	 * invalidations that a concurrent DROP EXTENSION or REINDEX CONCURRENTLY
	 * sent, so look again until the catalog held steady across the locks.
	 */
	for (;;)
	{
		st->cat = InboxGetCatalog();
		relid = st->cat->events;
		key_index = st->cat->events_key;
		LockRelationOid(relid, RowExclusiveLock);
		LockRelationOid(key_index, AccessShareLock);
		if (InboxCatalogIsValid() && st->cat->events == relid &&
			st->cat->events_key == key_index)
			break;
		UnlockRelationOid(key_index, AccessShareLock);
		UnlockRelationOid(relid, RowExclusiveLock);
	}

	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, "events");

	st->events = table_open(relid, NoLock);
	if (st->events->rd_rel->relrowsecurity &&
		check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("row-level security on inbox.events is not supported"),
				 errhint("Disable it with ALTER TABLE inbox.events DISABLE ROW LEVEL SECURITY, and grant access to inbox.events by role instead.")));
	st->key_index = index_open(key_index, NoLock);
	st->slot = table_slot_create(st->events, NULL);

	st->source_problem = check_key_part(source, "source", INBOX_MAX_SOURCE_BYTES);
	if (st->source_problem == NULL)
	{
		st->source = source;
		st->max_payload = source_payload_limit(st->cat, source);
	}
}

static void
ingest_end(InboxIngest *st)
{
	InboxStoreEnd(&st->store);
	if (st->spi_connected)
	{
		if (SPI_finish() != SPI_OK_FINISH)
			elog(ERROR, "SPI_finish failed");
		st->spi_connected = false;
	}
	ExecDropSingleTupleTableSlot(st->slot);
	index_close(st->key_index, NoLock);
	table_close(st->events, NoLock);
}

/*
 * Give up on a key that concurrent transactions keep inserting and rolling
 * back: a serialization failure, which the caller retries.
 */
static void
key_kept_changing(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not store the event because its key kept changing"),
			 errdetail("Concurrent transactions inserted the same source and event id and rolled back %d times.",
					   INBOX_MAX_KEY_ROUNDS),
			 errhint("Retry the transaction.")));
}

/*
 * A jsonb payload argument, and its size as counted against the limit.  The
 * size is measured before detoasting, and a value that is rejected anyway
 * (over the limit, or for an unusable source) is not detoasted at all:
 * ingest_one() looks no further than the size then.
 */
static Jsonb *
payload_argument(InboxIngest *st, Datum d, Size *size)
{
	*size = toast_raw_datum_size(d) - VARHDRSZ;
	if (st->source_problem == NULL && *size <= (Size) st->max_payload)
		return DatumGetJsonbP(d);
	return (Jsonb *) DatumGetPointer(d);
}

/*
 * Fill *res from the stored event in slot: its id and received_at, and the
 * verdict on the payload.
 */
static void
read_stored_event(InboxIngest *st, const uint8 *digest, InboxResult *res)
{
	const InboxCatalog *cat = st->cat;
	bool		isnull;
	Datum		d;

	res->id = DatumGetInt64(slot_getattr(st->slot, cat->ev[INBOX_COL_ID],
										 &isnull));
	res->received_at = DatumGetTimestampTz(slot_getattr(st->slot,
														cat->ev[INBOX_COL_RECEIVED_AT],
														&isnull));
	d = slot_getattr(st->slot, cat->ev[INBOX_COL_PAYLOAD_DIGEST], &isnull);
	if (!isnull &&
		VARSIZE_ANY_EXHDR(DatumGetPointer(d)) == INBOX_DIGEST_LEN &&
		memcmp(VARDATA_ANY(DatumGetPointer(d)), digest, INBOX_DIGEST_LEN) == 0)
	{
		res->status = INBOX_DUPLICATE;
		res->detail = NULL;
	}
	else
	{
		res->status = INBOX_CONFLICT;
		res->detail = pstrdup("an event with this source and event id was already stored with a different payload; the stored event was kept");
	}
}

/*
 * Under REPEATABLE READ and SERIALIZABLE the answer must agree with the
 * transaction's snapshot.  Look for a version of the key that the snapshot
 * sees, with an ordinary MVCC index scan: under SERIALIZABLE that scan also
 * takes the predicate locks that make a duplicate answer count as a read.
 *
 * The version seen must belong to the event that holds the key now, whose
 * id is live_id: an older version of it (a worker updated the event after
 * the snapshot) answers as well as the newest, since the key, id,
 * received_at and digest never change.  A version of another event is one
 * that was deleted (purged) after the snapshot, the key stored again since:
 * answering from it would name an event that no longer exists.  Returns
 * false, as when no version is visible, and the caller raises 40001, as the
 * executor does for INSERT ... ON CONFLICT when the conflicting row is not
 * visible to the transaction snapshot.  *purged tells which case it was.
 */
static bool
probe_key_in_snapshot(InboxIngest *st, ScanKey skey, const uint8 *digest,
					  int64 live_id, InboxResult *res, bool *purged)
{
	IndexScanDesc scan;
	bool		found = false;

	*purged = false;
	scan = InboxIndexBeginscan(st->events, st->key_index,
							   GetActiveSnapshot(), 2, 0);
	index_rescan(scan, skey, 2, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, st->slot))
	{
		bool		isnull;
		int64		id;

		id = DatumGetInt64(slot_getattr(st->slot, st->cat->ev[INBOX_COL_ID],
										&isnull));
		if (!isnull && id == live_id)
		{
			read_stored_event(st, digest, res);
			found = true;
		}
		else
			*purged = true;
	}
	index_endscan(scan);
	ExecClearTuple(st->slot);
	return found;
}

/*
 * Look for the key.  Returns true and fills *res with the stored event's id,
 * received_at and the verdict on the payload when a row is there; returns
 * false when the key is absent.
 *
 * The probe uses a dirty snapshot, as the executor's unique checks do, so
 * that it sees rows of transactions still in progress.  A row whose inserter
 * is still running is waited for, without the key's lock (key_lock, if the
 * caller holds it): the inserter may want it again, for the same key, before
 * it ends, and would deadlock with us.  The lock is taken again after the
 * wait and the key probed again.  A row that another transaction is updating
 * or deleting is not: the key, id, received_at and digest never change, and a
 * delete that commits later is purge's business.
 *
 * Under REPEATABLE READ and SERIALIZABLE a key that only a transaction
 * committed after our snapshot could have stored is a serialization failure,
 * as for INSERT ... ON CONFLICT DO NOTHING.
 */
static bool
probe_key(InboxIngest *st, text *event_id, const uint8 *digest,
		  InboxResult *res, const LOCKTAG *key_lock)
{
	SnapshotData dirty;
	ScanKeyData skey[2];
	IndexScanDesc scan;
	TransactionId xwait;
	uint32		spec_token = 0;
	ItemPointerData wait_tid;
	bool		found;
	bool		ours = false;
	int			rounds = 0;

	ScanKeyEntryInitialize(&skey[0], 0, 1, BTEqualStrategyNumber,
						   InvalidOid, st->key_index->rd_indcollation[0],
						   F_TEXTEQ, PointerGetDatum(st->source));
	ScanKeyEntryInitialize(&skey[1], 0, 2, BTEqualStrategyNumber,
						   InvalidOid, st->key_index->rd_indcollation[1],
						   F_TEXTEQ, PointerGetDatum(event_id));

	for (;;)
	{
		InitDirtySnapshot(dirty);
		xwait = InvalidTransactionId;
		found = false;

		scan = InboxIndexBeginscan(st->events, st->key_index, &dirty, 2, 0);
		index_rescan(scan, skey, 2, NULL, 0);
		while (index_getnext_slot(scan, ForwardScanDirection, st->slot))
		{
			if (TransactionIdIsValid(dirty.xmin))
			{
				/* inserted by a transaction that is still running */
				xwait = dirty.xmin;
				spec_token = dirty.speculativeToken;
				wait_tid = st->slot->tts_tid;
				continue;
			}

			/* a version that is committed, or ours */
			if (IsolationUsesXactSnapshot())
			{
				bool		isnull;
				TransactionId xmin;

				xmin = DatumGetTransactionId(slot_getsysattr(st->slot,
															 MinTransactionIdAttributeNumber,
															 &isnull));
				ours = TransactionIdIsCurrentTransactionId(xmin);
			}
			read_stored_event(st, digest, res);
			found = true;
			break;
		}
		index_endscan(scan);
		ExecClearTuple(st->slot);

		if (found || !TransactionIdIsValid(xwait))
			break;

		if (++rounds > INBOX_MAX_KEY_ROUNDS)
			key_kept_changing();
		/*
		 * A speculative insertion is waited for by its token; on a standby
		 * nobody holds those, so wait for the whole transaction there.
		 */
		if (key_lock != NULL)
			LockRelease(key_lock, ExclusiveLock, false);
		if (spec_token != 0 && !RecoveryInProgress())
			SpeculativeInsertionWait(xwait, spec_token);
		else
			XactLockTableWait(xwait, st->events, &wait_tid, XLTW_InsertIndex);
		CHECK_FOR_INTERRUPTS();
		if (key_lock != NULL)
			(void) LockAcquire(key_lock, ExclusiveLock, false, false);
	}

	if (found && IsolationUsesXactSnapshot() && !ours)
	{
		bool		purged;

		if (!probe_key_in_snapshot(st, skey, digest, res->id, res, &purged))
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to concurrent update"),
					 purged ?
					 errdetail("The event with this source and event id that this transaction's snapshot sees was deleted, and another transaction stored the key again, after the snapshot was taken.") :
					 errdetail("Another transaction stored the same source and event id after this transaction's snapshot was taken."),
					 errhint("Retry the transaction.")));
	}
	return found;
}

static Oid	insert_argtypes[8] = {INT8OID, TEXTOID, TEXTOID, BYTEAOID,
TIMESTAMPTZOID, JSONBOID, JSONBOID, TEXTOID};

static SPIPlanPtr
prepare_insert_plan(const char *sql, int nargs)
{
	SPIPlanPtr	plan;

	plan = SPI_prepare(sql, nargs, insert_argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

/* does rel have rules ON INSERT? */
static bool
insert_rules(Relation rel)
{
	int			i;

	if (rel->rd_rules == NULL)
		return false;
	for (i = 0; i < rel->rd_rules->numLocks; i++)
		if (rel->rd_rules->rules[i]->event == CMD_INSERT)
			return true;
	return false;
}

/*
 * Insert with the prepared INSERT, for a table that is no longer as the
 * extension made it (see store.c).
 */
static bool
insert_event_sql(InboxIngest *st, const InboxNewEvent *ev)
{
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	int			rc;
	MemoryContext cxt = CurrentMemoryContext;
	bool		verified = ev->verified_key != NULL;
	int			nargs = verified ? 8 : 7;
	SPIPlanPtr *plan;
	const char *sql;
	bool		rules = insert_rules(st->events);

	if (verified)
	{
		plan = st->store_plain ? &inbox_insert_verified_plain_plan : &inbox_insert_verified_plan;
		sql = st->store_plain ? INSERT_VERIFIED_PLAIN_SQL : INSERT_VERIFIED_SQL;
	}
	else
	{
		plan = st->store_plain ? &inbox_insert_plain_plan : &inbox_insert_plan;
		sql = st->store_plain ? INSERT_PLAIN_SQL : INSERT_SQL;
	}

	/*
	 * SPI leaves CurrentMemoryContext at its own procedure context after
	 * each call; switch back so that what we allocate stays in the caller's
	 * (per-element) context.  SPI_finish() returns to call_cxt.
	 */
	if (!st->spi_connected)
	{
		MemoryContextSwitchTo(st->call_cxt);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		st->spi_connected = true;
		MemoryContextSwitchTo(cxt);
	}
	if (*plan == NULL && !rules)
	{
		*plan = prepare_insert_plan(sql, nargs);
		MemoryContextSwitchTo(cxt);
	}

	values[0] = Int64GetDatum(ev->id);
	values[1] = PointerGetDatum(ev->source);
	values[2] = PointerGetDatum(ev->event_id);
	values[3] = PointerGetDatum(ev->digest);
	values[4] = TimestampTzGetDatum(ev->received_at);
	values[5] = PointerGetDatum(ev->headers);
	if (ev->headers == NULL)
		nulls[5] = 'n';
	values[6] = PointerGetDatum(ev->payload);
	values[7] = PointerGetDatum(ev->verified_key);

	/*
	 * A rule on inbox.events can rewrite the INSERT into other statements,
	 * or into none, and whether the event was stored is then for the probe
	 * to find out (see ingest_one()).  Such a statement is not kept: a plan
	 * that a rule rewrote into nothing depends on no relation, and would
	 * never be invalidated when the rule goes.
	 */
	if (rules)
		rc = SPI_execute_with_args(sql, nargs, insert_argtypes,
								   values, nulls, false, 0);
	else
		rc = SPI_execute_plan(*plan, values, nulls, false, 0);
	MemoryContextSwitchTo(cxt);
	if (rc != SPI_OK_INSERT && rc != SPI_OK_REWRITTEN)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	return rc == SPI_OK_INSERT && !rules && SPI_processed > 0;
}

/* what became of an insert */
typedef enum InboxInsertOutcome
{
	INBOX_STORED,				/* the event is in */
	INBOX_RACED,				/* another transaction has the key now, maybe
								 * still in progress: probe again */
	INBOX_NOTHING				/* the SQL INSERT stored nothing: see
								 * ingest_one() */
} InboxInsertOutcome;

/*
 * Choose, once per call, how new events are stored.
 */
static void
choose_store(InboxIngest *st)
{
	MemoryContext cxt;

	if (st->store_checked)
		return;
	cxt = MemoryContextSwitchTo(st->call_cxt);
	st->store_direct =
		InboxStoreUsable(st->events, st->cat, &st->cat->events_shape) &&
		InboxStoreBegin(&st->store, st->events, st->cat);
	st->store_plain = !st->store_direct && !InboxStoreBareOnConflict(st->events);
	st->store_checked = true;
	MemoryContextSwitchTo(cxt);
}

/*
 * The lock of a key, for the plain INSERT: an advisory lock (objsubid
 * INBOX_KEY_LOCK_FIELD4 in pg_locks) on a hash of the key, held from the
 * probe that finds the key absent until the row is in the index.  Every
 * ingest that inserts this way takes it, so none can store the key between
 * another's probe and insert; an insert still in progress once the lock is
 * released is waited for by the probe, as usual.  Keys whose hashes collide
 * merely wait for each other's insert.
 */
static void
key_lock_tag(LOCKTAG *tag, text *source, text *event_id)
{
	uint64		h;

	h = hash_bytes_extended((const unsigned char *) VARDATA_ANY(source),
							VARSIZE_ANY_EXHDR(source), 0);
	h = hash_bytes_extended((const unsigned char *) VARDATA_ANY(event_id),
							VARSIZE_ANY_EXHDR(event_id), h);
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h,
						 INBOX_KEY_LOCK_FIELD4);
}

/*
 * Insert a key found absent.
 */
static InboxInsertOutcome
insert_event(InboxIngest *st, text *event_id, const uint8 *digest,
			 Jsonb *payload, Jsonb *headers, InboxResult *res,
			 InboxPlainKey *plain)
{
	InboxNewEvent ev;
	bool		stored;

	PreventCommandIfReadOnly("inbox.ingest of a new event");

	choose_store(st);

	/* the identity column's own rule: inserting rows is the privilege */
	ev.id = nextval_internal(st->cat->events_seq, false);
	ev.received_at = GetCurrentTransactionStartTimestamp();
	ev.digest = (bytea *) palloc(VARHDRSZ + INBOX_DIGEST_LEN);
	SET_VARSIZE(ev.digest, VARHDRSZ + INBOX_DIGEST_LEN);
	memcpy(VARDATA(ev.digest), digest, INBOX_DIGEST_LEN);
	ev.source = st->source;
	ev.event_id = event_id;
	ev.headers = headers;
	ev.payload = payload;
	ev.verified_key = st->verified_key;

	if (st->store_direct)
		stored = InboxStoreInsert(&st->store, st->cat, &ev);
	else
	{
		/* a nested ingest of this key answers from this event meanwhile */
		if (plain != NULL)
		{
			plain->id = ev.id;
			plain->received_at = ev.received_at;
		}
		stored = insert_event_sql(st, &ev);
		if (plain != NULL)
			plain->id = 0;
	}
	pfree(ev.digest);

	if (!stored)
	{
		st->drawn_id = ev.id;
		return st->store_direct ? INBOX_RACED : INBOX_NOTHING;
	}

	res->status = INBOX_INSERTED;
	res->id = ev.id;
	res->received_at = ev.received_at;
	res->detail = NULL;
	return INBOX_STORED;
}

/* is jb the JSON null? */
static bool
jsonb_is_null(Jsonb *jb)
{
	JsonbValue	v;

	return JB_ROOT_IS_SCALAR(jb) && JsonbExtractScalar(&jb->root, &v) &&
		v.type == jbvNull;
}

/* are two keys' parts the same? */
static bool
key_part_equal(text *a, text *b)
{
	return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
		memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
}

/*
 * Store or recognise one valid event.  plain is NULL at first; returns true
 * when the event must be stored with the plain INSERT, which the caller
 * then does by calling again with the key's lock held (key_lock) and the
 * key on the list of keys being stored (plain).  Returns false when *res
 * holds the answer.
 */
static bool
store_key(InboxIngest *st, text *event_id, const uint8 *digest,
		  Jsonb *payload, Jsonb *headers, InboxResult *res,
		  const LOCKTAG *key_lock, InboxPlainKey *plain)
{
	int			empty_rounds = 0;
	int			races = 0;

	for (;;)
	{
		InboxInsertOutcome outcome;

		if (probe_key(st, event_id, digest, res, key_lock))
		{
			/* the SQL INSERT stored the event without saying so (a rule) */
			if (empty_rounds > 0 && res->id == st->drawn_id)
			{
				res->status = INBOX_INSERTED;
				res->detail = NULL;
			}
			break;
		}

		/*
		 * The SQL INSERT stored nothing and no row has the key.  ON CONFLICT
		 * only gives up on a row that committed, so this is not a race with
		 * another ingest; it is a BEFORE INSERT trigger that returned NULL
		 * (the table owner's decision, and an answer), or a row that some
		 * other unique index of inbox.events holds (an error).  A purge that
		 * deleted the row in between would explain one round; retry a few.
		 */
		if (empty_rounds > 0)
		{
			if (st->events->trigdesc != NULL &&
				st->events->trigdesc->trig_insert_before_row)
			{
				reject(res, pstrdup("a BEFORE INSERT trigger on inbox.events skipped the event"));
				break;
			}
			if (insert_rules(st->events))
			{
				reject(res, pstrdup("a rule on inbox.events did not store the event"));
				break;
			}
			if (empty_rounds >= INBOX_MAX_EMPTY_ROUNDS)
				ereport(ERROR,
						(errcode(ERRCODE_UNIQUE_VIOLATION),
						 errmsg("could not store the event because it conflicts with another unique index of inbox.events"),
						 errdetail("Only the unique key on (source, event_id) is decided by pg_inbox."),
						 errhint("Drop the unique indexes that were added to inbox.events.")));
		}

		/* the plain INSERT: the caller takes the key's lock, probes again */
		if (plain == NULL)
		{
			PreventCommandIfReadOnly("inbox.ingest of a new event");
			choose_store(st);
			if (st->store_plain)
				return true;
		}

		outcome = insert_event(st, event_id, digest, payload, headers, res,
							   plain);
		if (outcome == INBOX_STORED)
			break;
		if (outcome == INBOX_NOTHING)
			empty_rounds++;
		else if (++races > INBOX_MAX_KEY_ROUNDS)
			key_kept_changing();
	}
	return false;
}

/*
 * Store or recognise one valid event with the plain INSERT: under the key's
 * lock, the key on the list of keys being stored.
 */
static void
store_key_plain(InboxIngest *st, text *event_id, const uint8 *digest,
				Jsonb *payload, Jsonb *headers, InboxResult *res)
{
	LOCKTAG		key_lock;
	InboxPlainKey entry;

	key_lock_tag(&key_lock, st->source, event_id);
	(void) LockAcquire(&key_lock, ExclusiveLock, false, false);
	entry.source = st->source;
	entry.event_id = event_id;
	entry.digest = digest;
	entry.id = 0;
	entry.received_at = 0;
	entry.next = inbox_plain_keys;
	inbox_plain_keys = &entry;
	PG_TRY();
	{
		(void) store_key(st, event_id, digest, payload, headers, res,
						 &key_lock, &entry);
	}
	PG_FINALLY();
	{
		inbox_plain_keys = entry.next;
	}
	PG_END_TRY();
	LockRelease(&key_lock, ExclusiveLock, false);
}

/*
 * Validate the payload and headers, then store or recognise one event.
 * payload_size is the payload's size as counted against the limit.
 */
static void
ingest_one(InboxIngest *st, text *event_id, Jsonb *payload, Size payload_size,
		   Jsonb *headers, InboxResult *res)
{
	uint8		digest[INBOX_DIGEST_LEN];
	char	   *problem;
	InboxPlainKey *outer;

	st->drawn_id = 0;

	if (st->source_problem != NULL)
	{
		reject(res, pstrdup(st->source_problem));
		return;
	}
	problem = check_key_part(event_id, "event_id", INBOX_MAX_EVENT_ID_BYTES);
	if (problem != NULL)
	{
		reject(res, problem);
		return;
	}
	if (payload == NULL)
	{
		reject(res, pstrdup("payload must not be NULL"));
		return;
	}
	if (payload_size > (Size) st->max_payload)
	{
		reject(res, psprintf("payload is %zu bytes, over the limit of %d %s for this source",
							 payload_size, st->max_payload,
							 st->max_payload == 1 ? "byte" : "bytes"));
		return;
	}
	if (JB_ROOT_IS_SCALAR(payload))
	{
		reject(res, psprintf("payload must be a JSON object or array, not %s",
							 InboxJsonTypeName(payload)));
		return;
	}
	if (headers != NULL && jsonb_is_null(headers))
		headers = NULL;			/* JSON null: no headers, as SQL NULL */
	if (headers != NULL)
	{
		if (!JB_ROOT_IS_OBJECT(headers))
		{
			reject(res, psprintf("headers must be a JSON object, not %s",
								 InboxJsonTypeName(headers)));
			return;
		}
		if (VARSIZE(headers) - VARHDRSZ > (Size) st->max_payload)
		{
			reject(res, psprintf("headers are %zu bytes, over the limit of %d %s for this source",
								 (Size) (VARSIZE(headers) - VARHDRSZ),
								 st->max_payload,
								 st->max_payload == 1 ? "byte" : "bytes"));
			return;
		}
	}

	InboxPayloadDigest(payload, digest);

	if (!store_key(st, event_id, digest, payload, headers, res, NULL, NULL))
		return;

	/*
	 * The plain INSERT.  A BEFORE INSERT trigger of an INSERT of this backend
	 * that is storing this very key (see InboxPlainKey): the key's lock, ours
	 * already, would not keep us out, and inserting the key would make that
	 * INSERT fail.  Answer as a concurrent ingest would once that INSERT is
	 * done: from the event it is storing.
	 */
	for (outer = inbox_plain_keys; outer != NULL; outer = outer->next)
	{
		if (outer->id != 0 && key_part_equal(outer->source, st->source) &&
			key_part_equal(outer->event_id, event_id))
		{
			res->id = outer->id;
			res->received_at = outer->received_at;
			if (memcmp(outer->digest, digest, INBOX_DIGEST_LEN) == 0)
			{
				res->status = INBOX_DUPLICATE;
				res->detail = NULL;
			}
			else
			{
				res->status = INBOX_CONFLICT;
				res->detail = pstrdup("an event with this source and event id was already stored with a different payload; the stored event was kept");
			}
			return;
		}
	}

	store_key_plain(st, event_id, digest, payload, headers, res);
}

static HeapTuple
result_tuple(TupleDesc tupdesc, InboxResult *res, bool with_ord, int32 ord)
{
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	int			i = 0;

	if (with_ord)
		values[i++] = Int32GetDatum(ord);
	values[i++] = CStringGetTextDatum(inbox_status_names[res->status]);
	if (res->status == INBOX_REJECTED)
	{
		nulls[i++] = true;
		nulls[i++] = true;
	}
	else
	{
		values[i++] = Int64GetDatum(res->id);
		values[i++] = TimestampTzGetDatum(res->received_at);
	}
	if (res->detail != NULL)
		values[i] = CStringGetTextDatum(res->detail);
	else
		nulls[i] = true;

	return heap_form_tuple(tupdesc, values, nulls);
}

/*
 * The result descriptor of a function with OUT parameters, built once per
 * call site and kept in fn_extra (which the caller must not use otherwise).
 */
TupleDesc
InboxResultDesc(FunctionCallInfo fcinfo)
{
	TupleDesc	tupdesc = (TupleDesc) fcinfo->flinfo->fn_extra;

	if (tupdesc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		fcinfo->flinfo->fn_extra = tupdesc;
		MemoryContextSwitchTo(old);
	}
	return tupdesc;
}

/*
 * Count the answer (in shared memory only, see stats.c) and return it.
 * st->source is NULL when the source was unusable.
 */
static Datum
ingest_finish(FunctionCallInfo fcinfo, InboxIngest *st, InboxResult *res)
{
	InboxStatsCount(st->source, res->status);
	ingest_end(st);
	return HeapTupleGetDatum(result_tuple(InboxResultDesc(fcinfo), res, false, 0));
}

/*
 * inbox.ingest(source text, event_id text, payload jsonb, headers jsonb)
 */
Datum
ingest(PG_FUNCTION_ARGS)
{
	text	   *source = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	text	   *event_id = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
	Jsonb	   *payload = NULL;
	Jsonb	   *headers = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	Size		payload_size = 0;
	InboxIngest st;
	InboxResult res;

	ingest_begin(&st, source);

	if (!PG_ARGISNULL(2))
		payload = payload_argument(&st, PG_GETARG_DATUM(2), &payload_size);

	ingest_one(&st, event_id, payload, payload_size, headers, &res);
	PG_RETURN_DATUM(ingest_finish(fcinfo, &st, &res));
}

/*
 * Check the event id and parse a raw body (body_isnull for SQL NULL).
 * Returns the payload, or NULL with *problem set to the reason; *body_size
 * is the body's size as counted against the limit.
 */
static Jsonb *
raw_payload(InboxIngest *st, text *event_id, Datum body, bool body_isnull,
			Size *body_size, char **problem)
{
	text	   *text_body;

	*body_size = 0;
	if (st->source_problem != NULL)
		*problem = pstrdup(st->source_problem);
	else
		*problem = check_key_part(event_id, "event_id", INBOX_MAX_EVENT_ID_BYTES);
	if (*problem != NULL)
		return NULL;

	if (body_isnull)
	{
		*problem = pstrdup("body must not be NULL");
		return NULL;
	}
	*body_size = toast_raw_datum_size(body) - VARHDRSZ;
	if (*body_size > (Size) st->max_payload)
	{
		*problem = psprintf("body is %zu bytes, over the limit of %d %s for this source",
							*body_size, st->max_payload,
							st->max_payload == 1 ? "byte" : "bytes");
		return NULL;
	}
	text_body = DatumGetTextPP(body);
	return InboxParseJson(VARDATA_ANY(text_body), VARSIZE_ANY_EXHDR(text_body),
						  problem);
}

/*
 * inbox.ingest_raw(source text, event_id text, body text, headers jsonb)
 */
Datum
ingest_raw(PG_FUNCTION_ARGS)
{
	text	   *source = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	text	   *event_id = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
	Jsonb	   *headers = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	InboxIngest st;
	InboxResult res;
	char	   *problem = NULL;
	Jsonb	   *payload = NULL;
	Size		body_size = 0;

	ingest_begin(&st, source);

	payload = raw_payload(&st, event_id,
						  PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2),
						  PG_ARGISNULL(2), &body_size, &problem);

	if (problem != NULL)
		reject(&res, problem);
	else
		ingest_one(&st, event_id, payload, body_size, headers, &res);

	PG_RETURN_DATUM(ingest_finish(fcinfo, &st, &res));
}

/*
 * One raw ingest for another file: inbox.ingest_verified (signature.c),
 * once the delivery is verified.  As ingest_raw, with the answer in *res and
 * counted; payload, when not NULL, is the body already parsed by the
 * caller; verified_key is stored with a new event.
 */
void
InboxIngestRaw(text *source, text *event_id, Datum body, bool body_isnull,
			   Jsonb *payload, Jsonb *headers, text *verified_key,
			   InboxResult *res)
{
	InboxIngest st;
	char	   *problem = NULL;
	Size		body_size = 0;

	ingest_begin(&st, source);
	st.verified_key = verified_key;

	if (payload == NULL)
		payload = raw_payload(&st, event_id, body, body_isnull, &body_size,
							  &problem);
	else
		body_size = toast_raw_datum_size(body) - VARHDRSZ;

	if (problem != NULL)
		reject(res, problem);
	else
		ingest_one(&st, event_id, payload, body_size, headers, res);

	InboxStatsCount(st.source, res->status);
	ingest_end(&st);
}

/*
 * Check that an array argument of ingest_many is usable and deconstruct it.
 */
static void
deconstruct_argument(ArrayType *arr, const char *name, Oid elemtype,
					 Datum **elems, bool **nulls, int *count)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", name)));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, elemtype, typlen, typbyval, typalign,
					  elems, nulls, count);
}

/*
 * The arrays must have as many elements as event_ids.
 */
static void
check_batch_lengths(const char *name, int n_ids, int n_other)
{
	if (n_ids != n_other)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("event_ids and %s must have the same number of elements",
						name),
				 errdetail_plural("event_ids has %d element and %s has %d.",
								  "event_ids has %d elements and %s has %d.",
								  n_ids, n_ids, name, n_other)));
}

/* the keys of a batch, for compare_batch_keys() */
typedef struct InboxBatchKeys
{
	const Datum *ids;			/* detoasted text */
	const bool *nulls;
} InboxBatchKeys;

static int
compare_batch_keys(const void *a, const void *b, void *arg)
{
	int			ia = *(const int *) a;
	int			ib = *(const int *) b;
	const Datum *ids = ((const InboxBatchKeys *) arg)->ids;
	const bool *nulls = ((const InboxBatchKeys *) arg)->nulls;

	if (nulls[ia] != nulls[ib])
		return nulls[ia] ? -1 : 1;
	if (!nulls[ia])
	{
		const text *ta = (const text *) DatumGetPointer(ids[ia]);
		const text *tb = (const text *) DatumGetPointer(ids[ib]);
		int			la = VARSIZE_ANY_EXHDR(ta);
		int			lb = VARSIZE_ANY_EXHDR(tb);
		int			c = memcmp(VARDATA_ANY(ta), VARDATA_ANY(tb), Min(la, lb));

		if (c != 0)
			return c;
		if (la != lb)
			return la < lb ? -1 : 1;
	}
	/* equal keys keep the caller's order */
	return ia < ib ? -1 : (ia > ib ? 1 : 0);
}

/*
 * The order in which a batch takes its keys: by event id, byte by byte (the
 * order of the unique index, whose columns are COLLATE "C"), and elements
 * with equal ids in the caller's order, so that the first occurrence is
 * stored and the later ones answer relative to it.  Two batches that take
 * their keys in one order cannot wait for each other in a cycle.  NULL ids,
 * rejected without a probe, come first.
 *
 * Detoasts the ids in place (array elements are never toasted, so this does
 * not copy) and returns the element indexes in that order.
 */
static int *
batch_order(Datum *ids, bool *nulls, int n)
{
	int		   *order = (int *) palloc(sizeof(int) * Max(n, 1));
	InboxBatchKeys keys;
	int			i;

	for (i = 0; i < n; i++)
	{
		order[i] = i;
		if (!nulls[i])
			ids[i] = PointerGetDatum(DatumGetTextPP(ids[i]));
	}
	keys.ids = ids;
	keys.nulls = nulls;
	qsort_arg(order, n, sizeof(int), compare_batch_keys, &keys);
	return order;
}

/*
 * Keep the answer to element i of a batch until the rows are returned, in
 * the caller's order.  The detail is copied out of the element's context;
 * every conflict shares one copy of its sentence.
 */
static void
keep_batch_answer(InboxResult *answers, int i, const InboxResult *res,
				  char **conflict_detail)
{
	answers[i] = *res;
	if (res->detail == NULL)
		return;
	if (res->status == INBOX_CONFLICT)
	{
		if (*conflict_detail == NULL)
			*conflict_detail = pstrdup(res->detail);
		answers[i].detail = *conflict_detail;
	}
	else
		answers[i].detail = pstrdup(res->detail);
}

/* Return the kept answers of a batch, one row per element, ord from 1. */
static void
return_batch_answers(ReturnSetInfo *rsinfo, InboxResult *answers, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		HeapTuple	tuple = result_tuple(rsinfo->setDesc, &answers[i], true,
										 i + 1);

		tuplestore_puttuple(rsinfo->setResult, tuple);
		heap_freetuple(tuple);
	}
}

/*
 * inbox.ingest_many(source text, event_ids text[], payloads jsonb[])
 *
 * The elements are ingested in the order of batch_order() and answered in
 * the caller's.
 */
Datum
ingest_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *source = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	Datum	   *ids;
	bool	   *id_nulls;
	int			n_ids;
	Datum	   *payloads;
	bool	   *payload_nulls;
	int			n_payloads;
	InboxIngest st;
	MemoryContext element_cxt;
	MemoryContext old;
	InboxResult *answers;
	char	   *conflict_detail = NULL;
	int		   *order;
	int			k;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event_ids must not be NULL")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("payloads must not be NULL")));

	deconstruct_argument(PG_GETARG_ARRAYTYPE_P(1), "event_ids", TEXTOID,
						 &ids, &id_nulls, &n_ids);
	deconstruct_argument(PG_GETARG_ARRAYTYPE_P(2), "payloads", JSONBOID,
						 &payloads, &payload_nulls, &n_payloads);
	check_batch_lengths("payloads", n_ids, n_payloads);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	ingest_begin(&st, source);

	order = batch_order(ids, id_nulls, n_ids);
	answers = (InboxResult *) MemoryContextAllocHuge(CurrentMemoryContext,
													 sizeof(InboxResult) * Max(n_ids, 1));
	element_cxt = AllocSetContextCreate(CurrentMemoryContext,
										"pg_inbox ingest_many element",
										ALLOCSET_DEFAULT_SIZES);
	for (k = 0; k < n_ids; k++)
	{
		int			i = order[k];
		InboxResult res;
		text	   *event_id = NULL;
		Jsonb	   *payload = NULL;
		Size		payload_size = 0;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(element_cxt);

		if (!id_nulls[i])
			event_id = (text *) DatumGetPointer(ids[i]);
		if (!payload_nulls[i])
			payload = payload_argument(&st, payloads[i], &payload_size);

		ingest_one(&st, event_id, payload, payload_size, NULL, &res);
		InboxStatsCount(st.source, res.status);

		MemoryContextSwitchTo(old);
		keep_batch_answer(answers, i, &res, &conflict_detail);
		MemoryContextReset(element_cxt);
	}
	MemoryContextDelete(element_cxt);

	ingest_end(&st);
	return_batch_answers(rsinfo, answers, n_ids);
	return (Datum) 0;
}

/*
 * inbox.ingest_raw_many(source text, event_ids text[], bodies text[],
 *						 headers jsonb[])
 *
 * ingest_raw for each element, in the order of batch_order(), answered in
 * the caller's order.  headers may be NULL, and so may its elements; a JSON
 * null element is no headers too.
 */
Datum
ingest_raw_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *source = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	Datum	   *ids;
	bool	   *id_nulls;
	int			n_ids;
	Datum	   *bodies;
	bool	   *body_nulls;
	int			n_bodies;
	Datum	   *headers = NULL;
	bool	   *header_nulls = NULL;
	int			n_headers = 0;
	InboxIngest st;
	MemoryContext element_cxt;
	MemoryContext old;
	InboxResult *answers;
	char	   *conflict_detail = NULL;
	int		   *order;
	int			k;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event_ids must not be NULL")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("bodies must not be NULL")));

	deconstruct_argument(PG_GETARG_ARRAYTYPE_P(1), "event_ids", TEXTOID,
						 &ids, &id_nulls, &n_ids);
	deconstruct_argument(PG_GETARG_ARRAYTYPE_P(2), "bodies", TEXTOID,
						 &bodies, &body_nulls, &n_bodies);
	check_batch_lengths("bodies", n_ids, n_bodies);
	if (!PG_ARGISNULL(3))
	{
		deconstruct_argument(PG_GETARG_ARRAYTYPE_P(3), "headers", JSONBOID,
							 &headers, &header_nulls, &n_headers);
		check_batch_lengths("headers", n_ids, n_headers);
	}

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	ingest_begin(&st, source);

	order = batch_order(ids, id_nulls, n_ids);
	answers = (InboxResult *) MemoryContextAllocHuge(CurrentMemoryContext,
													 sizeof(InboxResult) * Max(n_ids, 1));
	element_cxt = AllocSetContextCreate(CurrentMemoryContext,
										"pg_inbox ingest_raw_many element",
										ALLOCSET_DEFAULT_SIZES);
	for (k = 0; k < n_ids; k++)
	{
		int			i = order[k];
		InboxResult res;
		text	   *event_id = NULL;
		Jsonb	   *payload;
		Jsonb	   *hdr = NULL;
		Size		body_size;
		char	   *problem;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(element_cxt);

		if (!id_nulls[i])
			event_id = (text *) DatumGetPointer(ids[i]);
		if (headers != NULL && !header_nulls[i])
			hdr = DatumGetJsonbP(headers[i]);

		payload = raw_payload(&st, event_id, bodies[i], body_nulls[i],
							  &body_size, &problem);
		if (problem != NULL)
			reject(&res, problem);
		else
			ingest_one(&st, event_id, payload, body_size, hdr, &res);
		InboxStatsCount(st.source, res.status);

		MemoryContextSwitchTo(old);
		keep_batch_answer(answers, i, &res, &conflict_detail);
		MemoryContextReset(element_cxt);
	}
	MemoryContextDelete(element_cxt);

	ingest_end(&st);
	return_batch_answers(rsinfo, answers, n_ids);
	return (Datum) 0;
}
