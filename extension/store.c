/*-------------------------------------------------------------------------
 *
 * store.c
 *	  Storing a new event in inbox.events without going through SQL.
 *
 * A new event is stored by speculative insertion, the mechanism behind
 * INSERT ... ON CONFLICT: the heap tuple goes in first, then the index
 * entries, and if another transaction inserted the same key in the meantime
 * the tuple is killed again and the caller probes once more.  Doing this
 * directly saves the executor start-up that a prepared INSERT pays on every
 * call (most of it compiling the table's CHECK constraints again).
 *
 * That is only the same as an INSERT while inbox.events has the shape the
 * extension gave it: its own columns, its own CHECK constraints (which the
 * values built here satisfy by construction), no triggers, no rules, no
 * deferrable or exclusion constraints.  InboxStoreUsable() checks this, and
 * the caller falls back to a prepared INSERT when anything was added.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "nodes/pg_list.h"
#include "storage/lmgr.h"
#include "nodes/nodes.h"
#include "utils/builtins.h"
#include "rewrite/prs2lock.h"
#include "utils/ruleutils.h"
#include "utils/rel.h"

#include "compat.h"
#include "pg_inbox.h"

/*
 * The CHECK constraints of inbox.events that the values below satisfy, with
 * their expressions as deparse_expression() prints them: a constraint
 * redefined under the same name is not ours any more.
 */
typedef struct InboxCheck
{
	const char *name;
	const char *expr;
} InboxCheck;

static const InboxCheck inbox_own_checks[] = {
	{"events_source_check",
	"((octet_length(source) >= 1) AND (octet_length(source) <= 63))"},
	{"events_event_id_check",
	"((octet_length(event_id) >= 1) AND (octet_length(event_id) <= 255))"},
	{"events_payload_digest_check",
	"(octet_length(payload_digest) = 32)"},
	{"events_state_check",
	"(state = ANY (ARRAY['pending'::text, 'processing'::text, 'done'::text, 'dead'::text]))"},
	{"events_attempts_check",
	"(attempts >= 0)"},
};

#define INBOX_OWN_CHECKS lengthof(inbox_own_checks)

typedef struct InboxColumn
{
	const char *name;
	Oid			type;
	bool		may_be_null;	/* whether a new event can leave it NULL */
	bool		optional;		/* missing before ALTER EXTENSION UPDATE */
	const char *dflt;			/* the default the SQL INSERT would apply, as
								 * deparsed, or NULL for none; "" for a column
								 * the SQL INSERT sets itself */
} InboxColumn;

static const InboxColumn inbox_columns[INBOX_EVENT_COLUMNS] = {
	[INBOX_COL_ID] = {"id", INT8OID, false, false, ""},
	[INBOX_COL_RECEIVED_AT] = {"received_at", TIMESTAMPTZOID, false, false, ""},
	[INBOX_COL_PAYLOAD_DIGEST] = {"payload_digest", BYTEAOID, false, false, ""},
	[INBOX_COL_SOURCE] = {"source", TEXTOID, false, false, ""},
	[INBOX_COL_EVENT_ID] = {"event_id", TEXTOID, false, false, ""},
	[INBOX_COL_STATE] = {"state", TEXTOID, false, false, "'pending'::text"},
	[INBOX_COL_ATTEMPTS] = {"attempts", INT4OID, false, false, "0"},
	[INBOX_COL_AVAILABLE_AT] = {"available_at", TIMESTAMPTZOID, false, false, ""},
	[INBOX_COL_LOCKED_BY] = {"locked_by", TEXTOID, true, false, NULL},
	[INBOX_COL_LOCKED_UNTIL] = {"locked_until", TIMESTAMPTZOID, true, false, NULL},
	[INBOX_COL_PROCESSED_AT] = {"processed_at", TIMESTAMPTZOID, true, false, NULL},
	[INBOX_COL_LAST_ERROR] = {"last_error", TEXTOID, true, false, NULL},
	[INBOX_COL_HEADERS] = {"headers", JSONBOID, true, false, ""},
	[INBOX_COL_PAYLOAD] = {"payload", JSONBOID, false, false, ""},
	[INBOX_COL_ERRORS] = {"errors", JSONBOID, true, true, NULL},
	[INBOX_COL_VERIFIED_KEY] = {"verified_key", TEXTOID, true, true, NULL},
	[INBOX_COL_LEASE_TOKEN] = {"lease_token", INT8OID, true, true, NULL},
};

const char *
InboxColumnName(int col)
{
	return inbox_columns[col].name;
}

bool
InboxColumnOptional(int col)
{
	return inbox_columns[col].optional;
}

/*
 * An expression of the table (a CHECK constraint or a default) as
 * deparse_expression() prints it.
 */
static char *
deparsed(Relation rel, const char *nodestring)
{
	return deparse_expression(stringToNode(nodestring),
							  deparse_context_for(RelationGetRelationName(rel),
												  RelationGetRelid(rel)),
							  false, false);
}

static bool
own_check(Relation rel, const ConstrCheck *check)
{
	int			i;

	if (!check->ccvalid)
		return false;
	for (i = 0; i < (int) INBOX_OWN_CHECKS; i++)
		if (strcmp(check->ccname, inbox_own_checks[i].name) == 0)
			return strcmp(deparsed(rel, check->ccbin),
						  inbox_own_checks[i].expr) == 0;
	return false;
}

/* the default of column attnum, as deparsed, or NULL for none */
static char *
column_default(Relation rel, AttrNumber attnum)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	int			i;

	if (constr == NULL)
		return NULL;
	for (i = 0; i < constr->num_defval; i++)
		if (constr->defval[i].adnum == attnum)
			return deparsed(rel, constr->defval[i].adbin);
	return NULL;
}

/*
 * Does inbox.events still have the shape that lets a new event be stored
 * directly?  Checked once per relcache build of the table; every DDL that
 * could change the answer invalidates it.
 */
static bool
shape_is_ours(Relation rel, const InboxCatalog *cat)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TupleConstr *constr = desc->constr;
	int			live = 0;
	int			ours = 0;
	int			i;

	if (rel->rd_rel->relkind != RELKIND_RELATION ||
		rel->rd_rel->relispartition ||
		rel->trigdesc != NULL ||
		rel->rd_rules != NULL ||
		rel->rd_rel->relrowsecurity)
		return false;

	for (i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped)
			live++;
	for (i = 0; i < INBOX_EVENT_COLUMNS; i++)
		if (cat->ev[i] != InvalidAttrNumber)
			ours++;
	if (live != ours)
		return false;

	for (i = 0; i < INBOX_EVENT_COLUMNS; i++)
	{
		Form_pg_attribute att;

		if (cat->ev[i] == InvalidAttrNumber)
			continue;
		att = TupleDescAttr(desc, cat->ev[i] - 1);

		if (att->atttypid != inbox_columns[i].type ||
			att->atttypmod != -1 ||
			att->attgenerated != '\0' ||
			(att->attnotnull && inbox_columns[i].may_be_null))
			return false;

		/* where the SQL INSERT would apply a default, it must be ours */
		if (inbox_columns[i].dflt == NULL)
		{
			if (att->atthasdef)
				return false;
		}
		else if (inbox_columns[i].dflt[0] != '\0')
		{
			char	   *d = att->atthasdef ? column_default(rel, att->attnum) : NULL;

			if (d == NULL || strcmp(d, inbox_columns[i].dflt) != 0)
				return false;
		}
	}

	if (constr != NULL)
	{
		if (constr->has_generated_stored || constr->num_check > (int) INBOX_OWN_CHECKS)
			return false;
		for (i = 0; i < constr->num_check; i++)
			if (!own_check(rel, &constr->check[i]))
				return false;
	}
	return true;
}

/*
 * Whether new events can be stored directly.  shape caches the answer for
 * the current relcache build (0 unknown, 1 yes, -1 no).
 */
bool
InboxStoreUsable(Relation rel, const InboxCatalog *cat, int8 *shape)
{
	if (*shape == 0)
		*shape = shape_is_ours(rel, cat) ? 1 : -1;
	return *shape > 0;
}

/*
 * Is idx a unique index on the same columns, collations and operator
 * families as the key index?  A partial one counts: two rows that it finds
 * equal have the same key, so a conflict in it is a conflict on the key,
 * and a race on a new key must end in a probe there too.  NULLS NOT
 * DISTINCT makes no difference, the key columns being NOT NULL.
 */
static bool
same_key(Relation idx, IndexInfo *info, Relation key, const InboxCatalog *cat)
{
	int			i;

	if (!idx->rd_index->indisunique || info->ii_NumIndexKeyAttrs != 2 ||
		info->ii_Expressions != NIL ||
		info->ii_IndexAttrNumbers[0] != cat->ev[INBOX_COL_SOURCE] ||
		info->ii_IndexAttrNumbers[1] != cat->ev[INBOX_COL_EVENT_ID])
		return false;
	for (i = 0; i < 2; i++)
		if (idx->rd_opfamily[i] != key->rd_opfamily[i] ||
			idx->rd_indcollation[i] != key->rd_indcollation[i])
			return false;
	return true;
}

/*
 * Set up what inserting needs: an executor state to evaluate index
 * expressions in, and the table's indexes opened for speculative insertion.
 * Returns false if an index needs the executor's full machinery (deferred
 * or exclusion constraints); the caller then inserts with SQL.
 */
bool
InboxStoreBegin(InboxStore *store, Relation rel, const InboxCatalog *cat)
{
	Oid			key_index = cat->events_key;
	Relation	key = NULL;
	int			i;

	store->estate = CreateExecutorState();
	store->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(store->rri, rel, 1, NULL, 0);
	ExecOpenIndices(store->rri, true);
	store->arbiters = NIL;
	store->slot = table_slot_create(rel, NULL);

	for (i = 0; i < store->rri->ri_NumIndices; i++)
		if (RelationGetRelid(store->rri->ri_IndexRelationDescs[i]) == key_index)
			key = store->rri->ri_IndexRelationDescs[i];
	if (key == NULL)
		return false;

	for (i = 0; i < store->rri->ri_NumIndices; i++)
	{
		Relation	idx = store->rri->ri_IndexRelationDescs[i];
		IndexInfo  *info = store->rri->ri_IndexRelationInfo[i];

		if (!idx->rd_index->indimmediate || info->ii_ExclusionOps != NULL)
			return false;

		/*
		 * Every unique index on exactly the key is an arbiter, not only the
		 * key's own: while REINDEX CONCURRENTLY builds its replacement, a
		 * race on a new key must end in a probe, not in a unique violation.
		 */
		if (RelationGetRelid(idx) == key_index ||
			same_key(idx, info, key, cat))
			store->arbiters = lappend_oid(store->arbiters, RelationGetRelid(idx));
	}
	return true;
}

/*
 * Can a new event be stored with a bare INSERT ... ON CONFLICT DO NOTHING,
 * which takes every unique index and exclusion constraint of the table as
 * its arbiter?  Not when one is deferrable, nor when the table has INSERT
 * or UPDATE rules: PostgreSQL refuses that statement then (55000, 0A000).
 * Nor with an exclusion constraint: the statement would store nothing where
 * the constraint's own error (23P01) is the answer.  The caller then
 * inserts without ON CONFLICT, holding the key's lock (see ingest.c).
 */
bool
InboxStoreBareOnConflict(Relation rel)
{
	List	   *indexes;
	ListCell   *lc;
	bool		ok = true;
	int			i;

	if (rel->rd_rules != NULL)
		for (i = 0; i < rel->rd_rules->numLocks; i++)
			if (rel->rd_rules->rules[i]->event == CMD_INSERT ||
				rel->rd_rules->rules[i]->event == CMD_UPDATE)
				return false;

	indexes = RelationGetIndexList(rel);

	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), RowExclusiveLock);

		if (idx->rd_index->indisexclusion ||
			(idx->rd_index->indisunique && !idx->rd_index->indimmediate))
			ok = false;
		index_close(idx, NoLock);
		if (!ok)
			break;
	}
	list_free(indexes);
	return ok;
}

void
InboxStoreEnd(InboxStore *store)
{
	if (store->estate == NULL)
		return;
	ExecDropSingleTupleTableSlot(store->slot);
	ExecCloseIndices(store->rri);
	FreeExecutorState(store->estate);
	store->estate = NULL;
}

/*
 * Insert one new event.  Returns false, having stored nothing, if another
 * transaction inserted the same key after the caller's probe: the caller
 * probes again (and waits for that transaction if it is still running).
 */
bool
InboxStoreInsert(InboxStore *store, const InboxCatalog *cat,
				 const InboxNewEvent *ev)
{
	TupleTableSlot *slot = store->slot;
	Relation	rel = store->rri->ri_RelationDesc;
	TransactionId xid;
	uint32		token;
	bool		conflict = false;
	List	   *recheck;
	Datum	   *values;
	bool	   *nulls;

	ExecClearTuple(slot);
	values = slot->tts_values;
	nulls = slot->tts_isnull;
	memset(nulls, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);

#define SET_COLUMN(col, datum) \
	do { \
		values[cat->ev[col] - 1] = (datum); \
		nulls[cat->ev[col] - 1] = false; \
	} while (0)

	SET_COLUMN(INBOX_COL_ID, Int64GetDatum(ev->id));
	SET_COLUMN(INBOX_COL_RECEIVED_AT, TimestampTzGetDatum(ev->received_at));
	SET_COLUMN(INBOX_COL_PAYLOAD_DIGEST, PointerGetDatum(ev->digest));
	SET_COLUMN(INBOX_COL_SOURCE, PointerGetDatum(ev->source));
	SET_COLUMN(INBOX_COL_EVENT_ID, PointerGetDatum(ev->event_id));
	SET_COLUMN(INBOX_COL_STATE, PointerGetDatum(cstring_to_text("pending")));
	SET_COLUMN(INBOX_COL_ATTEMPTS, Int32GetDatum(0));
	SET_COLUMN(INBOX_COL_AVAILABLE_AT, TimestampTzGetDatum(ev->received_at));
	if (ev->headers != NULL)
		SET_COLUMN(INBOX_COL_HEADERS, PointerGetDatum(ev->headers));
	SET_COLUMN(INBOX_COL_PAYLOAD, PointerGetDatum(ev->payload));
	if (ev->verified_key != NULL && cat->ev[INBOX_COL_VERIFIED_KEY] != InvalidAttrNumber)
		SET_COLUMN(INBOX_COL_VERIFIED_KEY, PointerGetDatum(ev->verified_key));
#undef SET_COLUMN

	ExecStoreVirtualTuple(slot);

	xid = GetCurrentTransactionId();
	token = SpeculativeInsertionLockAcquire(xid);
	table_tuple_insert_speculative(rel, slot, GetCurrentCommandId(true),
								   0, NULL, token);
	recheck = InboxInsertIndexTuples(store->rri, slot, store->estate,
									 true, &conflict, store->arbiters);
	table_tuple_complete_speculative(rel, slot, token, !conflict);
	SpeculativeInsertionLockRelease(xid);
	list_free(recheck);
	ExecClearTuple(slot);
	ResetPerTupleExprContext(store->estate);

	return !conflict;
}
