/*-------------------------------------------------------------------------
 *
 * upsert.c
 *	  inbox.upsert and inbox.upsert_many: insert a row into any table, or
 *	  update the row that already has its key, without ever raising a unique
 *	  violation on that key.
 *
 * A call is a short loop of prepared statements, run through SPI so that the
 * executor applies the caller's privileges, row-level security, triggers and
 * constraints exactly as it would to hand-written SQL:
 *
 *	probe	SELECT the row with the key (no lock).  Found, and every non-key
 *			column of the data already holds the given value: "unchanged",
 *			and nothing at all is written.
 *	update	Found and different: UPDATE the non-key columns of the data.  No
 *			row updated (deleted meanwhile, or hidden from UPDATE by a
 *			policy): probe again.
 *	insert	Not found: INSERT ... ON CONFLICT (key) DO NOTHING.  No row
 *			inserted (another transaction committed the key meanwhile, or a
 *			policy hides it from SELECT): probe again.
 *
 * Values are compared as stored images (datum_image_eq), so "unchanged"
 * means that an UPDATE would have written the same bytes.  Under READ
 * COMMITTED each statement takes a new snapshot, so the loop settles within
 * a round or two; under REPEATABLE READ and SERIALIZABLE a key committed or
 * changed after the snapshot raises 40001 from the executor, as hand-written
 * SQL would.  When the rounds run out, the hand-written statement itself
 * (INSERT ... ON CONFLICT DO UPDATE) decides: it settles a key that keeps
 * changing in one step, and for a row that a policy hides it raises
 * PostgreSQL's own row-level security error.
 *
 * When a failed INSERT can have no side effect (no BEFORE INSERT trigger, no
 * row-level security, no CHECK constraint, and every column left out of the
 * data nullable or with a stable default), a call whose previous call on the
 * same plan inserted tries the INSERT first, saving the probe on a load of
 * new keys.  The answer is the same either way.
 *
 * The statements are prepared once per backend for each table, conflict
 * target and set of columns, and forgotten when the table's relcache entry
 * is invalidated (ALTER TABLE, CREATE INDEX, GRANT ...).  No subtransaction
 * is started and no error is caught.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_index.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "compat.h"
#include "pg_inbox.h"

PG_FUNCTION_INFO_V1(upsert);
PG_FUNCTION_INFO_V1(upsert_many);

/* probe/write rounds before the hand-written statement decides */
#define UPSERT_MAX_ROUNDS	3

/* waits for other transactions' changes of the row before rounds count */
#define UPSERT_MAX_WAITS	100

/* prepared plan sets kept per backend; past this the cache starts afresh */
#define UPSERT_MAX_PLANS	64

/* a bit for each possible attnum, 1 .. MaxHeapAttributeNumber */
#define UPSERT_SET_BYTES	(MaxHeapAttributeNumber / 8 + 1)

typedef enum UpsertAction
{
	UPSERT_INSERTED,
	UPSERT_UPDATED,
	UPSERT_UNCHANGED,
	UPSERT_SKIPPED				/* a BEFORE trigger returned NULL */
} UpsertAction;

static const char *const upsert_action_names[] = {
	"inserted", "updated", "unchanged", "skipped"
};

typedef enum UpsertProbe
{
	PROBE_ABSENT,				/* no row has the key */
	PROBE_SAME,					/* the row holds the data already */
	PROBE_DIFFERENT,			/* the row differs in a non-key column */
	PROBE_AGAIN					/* another transaction is replacing the row
								 * (wait for it) or has replaced it since
								 * the snapshot: probe again */
} UpsertProbe;

typedef struct UpsertKey
{
	Oid			relid;
	uint8		target[UPSERT_SET_BYTES];	/* conflict columns named by the
											 * caller; none: the default */
	uint8		cols[UPSERT_SET_BYTES]; /* columns present in the data */
} UpsertKey;

/*
 * The prepared statements and what is known of the columns, for one table,
 * conflict target and column set.  Everything, the struct included, hangs
 * off cxt.
 *
 * A call pins the plan it works with (pins > 0) for as long as it uses it:
 * a nested call (from a trigger, a default, a domain's CHECK) may find the
 * plan invalidated or the cache full, but it only takes a pinned plan out
 * of the cache (cached = false); the plan is freed when its last pin goes.
 */
typedef struct UpsertPlan
{
	UpsertKey	key;
	bool		valid;			/* false once the table was invalidated */
	bool		cached;			/* still in upsert_plans? */
	int			pins;			/* calls using it now */
	struct UpsertPlan *next_retired;	/* in upsert_retired */
	MemoryContext cxt;
	int			ncols;			/* columns of the data, in attnum order */
	AttrNumber *attnums;
	bool	   *is_key;			/* is attnums[i] a conflict column? */
	int			nnonkey;
	bool		insert_first_ok;	/* can a failed INSERT have no effect? */
	bool		last_inserted;	/* did the previous call insert? */
	SPIPlanPtr	probe;			/* to_jsonb(row), ctid, tableoid, xmin, then
								 * the non-key columns; prepared when first
								 * needed, like decide and lock */
	SPIPlanPtr	insert;			/* ... ON CONFLICT DO NOTHING RETURNING */
	SPIPlanPtr	update;			/* NULL when nnonkey = 0 */
	SPIPlanPtr	decide;			/* ... ON CONFLICT DO UPDATE */
	SPIPlanPtr	lock;			/* SELECT ... FOR NO KEY UPDATE */
	char	   *probe_sql;		/* the text of those three */
	char	   *decide_sql;		/* NULL when nnonkey = 0 */
	char	   *lock_sql;
	Oid		   *types;			/* types of the parameters */
	Datum		empty_row;		/* a row of the table's type, all NULL */
	FmgrInfo	populate;		/* jsonb_populate_record for the row type */
	FmgrInfo	to_jsonb;		/* to_jsonb for the row type */

	/* the conflict index, for probing it directly */
	Oid			index;
	int			nkeys;
	int		   *key_value;		/* index of each key column in attnums */
	RegProcedure *key_proc;		/* its equality function */
	Oid		   *key_collation;
} UpsertPlan;

/* an entry of upsert_plans */
typedef struct UpsertEntry
{
	UpsertKey	key;			/* hash key, must be first */
	UpsertPlan *plan;
} UpsertEntry;

static HTAB *upsert_plans = NULL;
static bool upsert_plans_stale = false;

/* plans taken out of the cache while pinned; freed when unpinned */
static UpsertPlan *upsert_retired = NULL;

/* what one call (or one batch) works with */
typedef struct UpsertCall
{
	Relation	rel;
	UpsertKey	key;			/* relid and target filled in; cols per row */
	int			ntarget;
	MemoryContext row_cxt;		/* where results go; SPI leaves us elsewhere */
} UpsertCall;

static void
upsert_relcache_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS seq;
	UpsertEntry *entry;

	if (upsert_plans == NULL)
		return;
	hash_seq_init(&seq, upsert_plans);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		if (relid == InvalidOid || entry->key.relid == relid)
		{
			entry->plan->valid = false;
			upsert_plans_stale = true;
		}
	}
}

static void
free_plan(UpsertPlan *plan)
{
	SPIPlanPtr	plans[] = {plan->probe, plan->insert, plan->update, plan->decide, plan->lock};

	Assert(plan->pins == 0 && !plan->cached);
	for (int i = 0; i < (int) lengthof(plans); i++)
		if (plans[i] != NULL)
			SPI_freeplan(plans[i]);
	MemoryContextDelete(plan->cxt);
}

/*
 * Take a plan out of the cache; free it unless a running call holds it.
 */
static void
uncache_plan(UpsertPlan *plan)
{
	Assert(plan->cached);
	hash_search(upsert_plans, &plan->key, HASH_REMOVE, NULL);
	plan->cached = false;
	if (plan->pins == 0)
		free_plan(plan);
	else
	{
		plan->next_retired = upsert_retired;
		upsert_retired = plan;
	}
}

/* free the retired plans that no call holds any more */
static void
free_retired_plans(void)
{
	UpsertPlan **p = &upsert_retired;

	while (*p != NULL)
	{
		UpsertPlan *plan = *p;

		if (plan->pins == 0)
		{
			*p = plan->next_retired;
			free_plan(plan);
		}
		else
			p = &plan->next_retired;
	}
}

/*
 * Take the plans of invalidated tables (or all of them, when the cache is
 * full) out of the cache.  Not done in the callback itself, which may run
 * at any catalog access.
 */
static void
sweep_plans(bool all)
{
	HASH_SEQ_STATUS seq;
	UpsertEntry *entry;

	hash_seq_init(&seq, upsert_plans);
	while ((entry = hash_seq_search(&seq)) != NULL)
		if (all || !entry->plan->valid)
			uncache_plan(entry->plan);
	upsert_plans_stale = false;
}

/*
 * A call holds the plan from get_plan() to here; every path out of
 * upsert_row(), an error included, comes here.  A plan that was taken out
 * of the cache meanwhile is freed by its last holder, or after an error
 * (while the executor's state may still point into it) by the next call.
 */
static void
unpin_plan(UpsertPlan *plan, bool error)
{
	Assert(plan->pins > 0);
	if (--plan->pins == 0 && !plan->cached && !error)
		free_retired_plans();
}

static void
set_add(uint8 *set, AttrNumber attnum)
{
	set[attnum / 8] |= (uint8) (1 << (attnum % 8));
}

static bool
set_has(const uint8 *set, AttrNumber attnum)
{
	return (set[attnum / 8] & (1 << (attnum % 8))) != 0;
}

/*
 * The attnum of a user column of rel called name (not NUL-terminated), or
 * raise 42703 as INSERT does.
 */
static AttrNumber
column_by_name(Relation rel, const char *name, int len)
{
	TupleDesc	desc = RelationGetDescr(rel);

	if (len < NAMEDATALEN)
	{
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (!att->attisdropped &&
				strncmp(NameStr(att->attname), name, len) == 0 &&
				NameStr(att->attname)[len] == '\0')
				return att->attnum;
		}
	}
	/* a key longer than any name is shown cut short */
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("column \"%.*s%s\" of relation \"%s\" does not exist",
					pg_mbcliplen(name, len, NAMEDATALEN), name,
					len > NAMEDATALEN ? "..." : "",
					RelationGetRelationName(rel))));
	return InvalidAttrNumber;	/* keep the compiler quiet */
}

/*
 * The set of columns that a data object names.
 */
static void
data_columns(Relation rel, Jsonb *data, uint8 *cols)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	memset(cols, 0, UPSERT_SET_BYTES);
	it = JsonbIteratorInit(&data->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			set_add(cols, column_by_name(rel, v.val.string.val, v.val.string.len));
	}
}

/*
 * The conflict columns a caller named, as a set; returns how many.
 */
static int
target_columns(Relation rel, ArrayType *arr, uint8 *target)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	memset(target, 0, UPSERT_SET_BYTES);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("conflict_columns must be a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("conflict_columns must name at least one column"),
				 errhint("Pass NULL to use the primary key.")));
	for (int i = 0; i < n; i++)
	{
		text	   *name;
		AttrNumber	attnum;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("conflict_columns must not contain NULL")));
		name = DatumGetTextPP(elems[i]);
		attnum = column_by_name(rel, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
		if (set_has(target, attnum))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("conflict column \"%s\" is named more than once",
							get_attname(RelationGetRelid(rel), attnum, false))));
		set_add(target, attnum);
	}
	return n;
}

/* "name (col, col)" of an index, for messages */
static char *
describe_index(Relation rel, Form_pg_index idx)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s (", get_rel_name(idx->indexrelid));
	for (int i = 0; i < idx->indnkeyatts; i++)
	{
		AttrNumber	attnum = idx->indkey.values[i];

		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "",
						 attnum == 0 ? "expression" :
						 get_attname(RelationGetRelid(rel), attnum, false));
	}
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

static Oid
relation_am(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			am;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	am = ((Form_pg_class) GETSTRUCT(tup))->relam;
	ReleaseSysCache(tup);
	return am;
}

/*
 * "schema"."name" of a collation, always qualified: the statements are
 * parsed again under whatever search_path a later caller has.
 */
static char *
qualified_collation(Oid collid)
{
	HeapTuple	tup = SearchSysCache1(COLLOID, ObjectIdGetDatum(collid));
	Form_pg_collation coll;
	char	   *result;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for collation %u", collid);
	coll = (Form_pg_collation) GETSTRUCT(tup);
	result = quote_qualified_identifier(get_namespace_name(coll->collnamespace),
										NameStr(coll->collname));
	ReleaseSysCache(tup);
	return result;
}

/* "OPERATOR(schema.name)" for an operator */
static char *
qualified_operator(Oid opno)
{
	HeapTuple	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	Form_pg_operator op;
	char	   *result;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator %u", opno);
	op = (Form_pg_operator) GETSTRUCT(tup);
	result = psprintf("OPERATOR(%s.%s)",
					  quote_identifier(get_namespace_name(op->oprnamespace)),
					  NameStr(op->oprname));
	ReleaseSysCache(tup);
	return result;
}

/*
 * Can this unique index be a conflict target?  ON CONFLICT cannot use a
 * deferrable one; partial and expression indexes are not supported.
 */
static bool
index_is_target(HeapTuple tup, Form_pg_index idx)
{
	return idx->indisunique && idx->indisvalid && idx->indislive &&
		idx->indimmediate &&
		relation_am(idx->indexrelid) == BTREE_AM_OID &&
		heap_attisnull(tup, Anum_pg_index_indexprs, NULL) &&
		heap_attisnull(tup, Anum_pg_index_indpred, NULL);
}

static bool
index_has_columns(Form_pg_index idx, const uint8 *target, int ntarget)
{
	if (idx->indnkeyatts != ntarget)
		return false;
	for (int i = 0; i < idx->indnkeyatts; i++)
		if (idx->indkey.values[i] == 0 || !set_has(target, idx->indkey.values[i]))
			return false;
	return true;
}

/*
 * Are the columns that an expression index uses, in its expressions and
 * plain key columns, exactly the target set?  Such an index is what a caller
 * naming those columns has in mind, and is reported as unsupported.
 */
static bool
index_uses_columns(HeapTuple tup, Form_pg_index idx, const uint8 *target, int ntarget)
{
	Bitmapset  *attrs = NULL;
	bool		isnull;
	Datum		d = SysCacheGetAttr(INDEXRELID, tup, Anum_pg_index_indexprs, &isnull);
	int			n = 0;
	int			x = -1;

	if (isnull)
		return false;
	pull_varattnos(stringToNode(TextDatumGetCString(d)), 1, &attrs);
	for (int i = 0; i < idx->indnkeyatts; i++)
		if (idx->indkey.values[i] != 0)
			attrs = bms_add_member(attrs, idx->indkey.values[i] -
								   FirstLowInvalidHeapAttributeNumber);
	while ((x = bms_next_member(attrs, x)) >= 0)
	{
		AttrNumber	attnum = x + FirstLowInvalidHeapAttributeNumber;

		if (attnum <= 0 || !set_has(target, attnum))
			return false;
		n++;
	}
	return n == ntarget;
}

/*
 * The unique index that is the conflict target: the one whose key columns
 * are the target set, or by default the primary key, else the only unique
 * index.  The caller must ReleaseSysCache() the returned pg_index tuple.
 */
static HeapTuple
conflict_index(UpsertCall *call)
{
	Relation	rel = call->rel;
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	HeapTuple	chosen = NULL;
	List	   *candidates = NIL;
	char	   *unsupported = NULL;

	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index idx;
		bool		keep = false;

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for index %u", lfirst_oid(lc));
		idx = (Form_pg_index) GETSTRUCT(tup);

		if (call->ntarget > 0)
		{
			if (idx->indisunique &&
				(index_has_columns(idx, call->key.target, call->ntarget) ||
				 index_uses_columns(tup, idx, call->key.target, call->ntarget)))
			{
				if (!index_is_target(tup, idx))
					unsupported = describe_index(rel, idx);
				else if (chosen == NULL)
					keep = true;
			}
		}
		else if (idx->indisunique && index_is_target(tup, idx))
		{
			if (idx->indisprimary)
			{
				if (chosen != NULL)
					ReleaseSysCache(chosen);
				chosen = tup;
				candidates = NIL;
				break;
			}
			candidates = lappend(candidates, describe_index(rel, idx));
			if (chosen == NULL)
				keep = true;
		}
		if (keep)
			chosen = tup;
		else
			ReleaseSysCache(tup);
	}
	list_free(indexes);

	if (call->ntarget == 0 && list_length(candidates) > 1)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		foreach(lc, candidates)
			appendStringInfo(&buf, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
							 (char *) lfirst(lc));
		ReleaseSysCache(chosen);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
				 errmsg("table \"%s\" has no primary key and more than one unique index",
						RelationGetRelationName(rel)),
				 errdetail("Candidates: %s.", buf.data),
				 errhint("Name the columns of one of them in conflict_columns.")));
	}
	if (chosen == NULL && unsupported != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("unique index %s cannot be a conflict target", unsupported),
				 errdetail("Partial, expression, deferrable and not yet valid unique indexes are not supported.")));
	if (chosen == NULL && call->ntarget > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
				 errmsg("table \"%s\" has no unique index on exactly the conflict columns",
						RelationGetRelationName(rel))));
	if (chosen == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
				 errmsg("table \"%s\" has no primary key or unique index to upsert on",
						RelationGetRelationName(rel)),
				 errhint("Add a primary key or a unique constraint, or name the conflict columns.")));
	return chosen;
}

/*
 * Can an INSERT of this column set that meets an existing key have no effect
 * at all?  It fires BEFORE INSERT triggers, evaluates the defaults of the
 * columns left out (a sequence advances and writes WAL) and checks
 * constraints, policies and the domains of the columns left out before it
 * looks for a conflict.
 */
static bool
insert_is_silent(Relation rel, const uint8 *cols)
{
	TupleDesc	desc = RelationGetDescr(rel);

	if (rel->rd_rel->relrowsecurity)
		return false;
	/* a partition may have triggers its partitioned table does not list */
	if (rel->rd_rel->relkind != RELKIND_RELATION)
		return false;
	if (rel->trigdesc != NULL &&
		(rel->trigdesc->trig_insert_before_row ||
		 rel->trigdesc->trig_insert_before_statement ||
		 rel->trigdesc->trig_insert_after_statement ||
		 rel->trigdesc->trig_insert_new_table))
		return false;
	if (desc->constr != NULL && desc->constr->num_check > 0)
		return false;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Node	   *def;

		if (att->attisdropped || set_has(cols, att->attnum))
			continue;
		if (att->attgenerated)
			continue;
		if (att->attidentity)
			return false;		/* draws from a sequence */
		if (DomainHasConstraints(att->atttypid))
			return false;		/* its default, or NULL, may fail the domain */
		def = build_column_default(rel, att->attnum);
		if (def == NULL)
		{
			if (att->attnotnull)
				return false;
		}
		else if (contain_volatile_functions(def) ||
				 (att->attnotnull && IsA(def, Const) && ((Const *) def)->constisnull))
			return false;
	}
	return true;
}

static SPIPlanPtr
prepare(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

/*
 * Build and prepare the statements for call->key.  SPI must be connected.
 */
static void
build_plan(UpsertCall *call, UpsertPlan *plan)
{
	Relation	rel = call->rel;
	TupleDesc	desc = RelationGetDescr(rel);
	HeapTuple	idxtup = conflict_index(call);
	Form_pg_index idx = (Form_pg_index) GETSTRUCT(idxtup);
	oidvector  *indclass;
	oidvector  *indcollation;
	Datum		d;
	bool		isnull;
	char	   *table;
	const char *only;
	StringInfoData cols,
				params,
				where,
				sets,
				excluded,
				keys,
				probe_cols,
				sql;
	Oid		   *types;
	MemoryContext old;
	FuncExpr   *expr;
	Const	   *row_arg;
	Const	   *json_arg;
	int			n = 0;

	d = SysCacheGetAttr(INDEXRELID, idxtup, Anum_pg_index_indclass, &isnull);
	Assert(!isnull);
	indclass = (oidvector *) DatumGetPointer(d);
	d = SysCacheGetAttr(INDEXRELID, idxtup, Anum_pg_index_indcollation, &isnull);
	Assert(!isnull);
	indcollation = (oidvector *) DatumGetPointer(d);

	/* every conflict column must have a value */
	for (int i = 0; i < idx->indnkeyatts; i++)
		if (!set_has(call->key.cols, idx->indkey.values[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("data has no value for conflict column \"%s\"",
							get_attname(RelationGetRelid(rel), idx->indkey.values[i], false)),
					 errhint("An upsert finds its row by the columns of %s.",
							 describe_index(rel, idx))));

	old = MemoryContextSwitchTo(plan->cxt);
	plan->attnums = palloc(sizeof(AttrNumber) * desc->natts);
	plan->is_key = palloc(sizeof(bool) * desc->natts);
	plan->index = idx->indexrelid;
	plan->nkeys = idx->indnkeyatts;
	plan->key_value = palloc(sizeof(int) * plan->nkeys);
	plan->key_proc = palloc(sizeof(RegProcedure) * plan->nkeys);
	plan->key_collation = palloc(sizeof(Oid) * plan->nkeys);
	MemoryContextSwitchTo(old);
	types = MemoryContextAlloc(plan->cxt, sizeof(Oid) * desc->natts);
	plan->types = types;

	table = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									   RelationGetRelationName(rel));
	only = rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ";

	initStringInfo(&cols);
	initStringInfo(&params);
	initStringInfo(&where);
	initStringInfo(&sets);
	initStringInfo(&excluded);
	initStringInfo(&keys);
	initStringInfo(&probe_cols);
	initStringInfo(&sql);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const char *name;
		int			k;
		int			pos = -1;

		if (att->attisdropped || !set_has(call->key.cols, att->attnum))
			continue;
		name = quote_identifier(NameStr(att->attname));
		for (k = 0; k < idx->indnkeyatts; k++)
			if (idx->indkey.values[k] == att->attnum)
				pos = k;

		plan->attnums[n] = att->attnum;
		plan->is_key[n] = pos >= 0;
		if (pos >= 0)
			plan->key_value[pos] = n;
		types[n] = att->atttypid;
		n++;

		appendStringInfo(&cols, "%s%s", n > 1 ? ", " : "", name);
		appendStringInfo(&params, "%s$%d", n > 1 ? ", " : "", n);
		if (pos >= 0)
		{
			Oid			opfamily = get_opclass_family(indclass->values[pos]);
			Oid			opcintype = get_opclass_input_type(indclass->values[pos]);
			Oid			eqop = get_opfamily_member(opfamily, opcintype, opcintype,
												   BTEqualStrategyNumber);
			Oid			collation = indcollation->values[pos];

			if (!OidIsValid(eqop))
				elog(ERROR, "missing equality operator for index column %d of %u",
					 pos + 1, idx->indexrelid);
			plan->key_proc[pos] = get_opcode(eqop);
			plan->key_collation[pos] = collation;
			appendStringInfo(&where, "%sx.%s %s $%d",
							 where.len > 0 ? " AND " : "", name,
							 qualified_operator(eqop), n);
			if (OidIsValid(collation) && collation != att->attcollation)
				appendStringInfo(&where, " COLLATE %s", qualified_collation(collation));
		}
		else
		{
			plan->nnonkey++;
			appendStringInfo(&sets, "%s%s = $%d", sets.len > 0 ? ", " : "", name, n);
			appendStringInfo(&excluded, "%s%s = EXCLUDED.%s",
							 excluded.len > 0 ? ", " : "", name, name);
			appendStringInfo(&probe_cols, ", x.%s", name);
		}
	}
	plan->ncols = n;
	for (int k = 0; k < idx->indnkeyatts; k++)
		appendStringInfo(&keys, "%s%s", k > 0 ? ", " : "",
						 quote_identifier(get_attname(RelationGetRelid(rel),
													  idx->indkey.values[k], false)));

	/*
	 * x is the only name the statements choose: always written x.*, x.col,
	 * so that a column called x can never stand for the row.
	 */
	appendStringInfo(&sql, "SELECT pg_catalog.to_jsonb(x.*), x.ctid, x.tableoid, x.xmin%s"
					 " FROM %s%s AS x WHERE %s",
					 probe_cols.data, only, table, where.data);
	plan->probe_sql = MemoryContextStrdup(plan->cxt, sql.data);

	resetStringInfo(&sql);
	appendStringInfo(&sql, "SELECT x.ctid, x.tableoid, x.xmin FROM %s%s AS x WHERE %s"
					 " FOR NO KEY UPDATE OF x",
					 only, table, where.data);
	plan->lock_sql = MemoryContextStrdup(plan->cxt, sql.data);

	resetStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s AS x (%s) VALUES (%s) ON CONFLICT (%s) DO NOTHING"
					 " RETURNING pg_catalog.to_jsonb(x.*)",
					 table, cols.data, params.data, keys.data);
	plan->insert = prepare(sql.data, n, types);

	if (plan->nnonkey > 0)
	{
		resetStringInfo(&sql);
		appendStringInfo(&sql, "UPDATE %s%s AS x SET %s WHERE %s RETURNING pg_catalog.to_jsonb(x.*)",
						 only, table, sets.data, where.data);
		plan->update = prepare(sql.data, n, types);

		/*
		 * Whether it inserted or updated is read from the version it
		 * returns (see run_decide): xmax is no column of a partitioned
		 * table's RETURNING, ctid and tableoid are.
		 */
		resetStringInfo(&sql);
		appendStringInfo(&sql, "INSERT INTO %s AS x (%s) VALUES (%s) ON CONFLICT (%s)"
						 " DO UPDATE SET %s RETURNING pg_catalog.to_jsonb(x.*), x.ctid, x.tableoid",
						 table, cols.data, params.data, keys.data, excluded.data);
		plan->decide_sql = MemoryContextStrdup(plan->cxt, sql.data);
	}

	plan->insert_first_ok = insert_is_silent(rel, call->key.cols);

	/* jsonb_populate_record(row, data), with its argument types */
	old = MemoryContextSwitchTo(plan->cxt);
	{
		Datum	   *nullvals = palloc0(sizeof(Datum) * desc->natts);
		bool	   *allnull = palloc(sizeof(bool) * desc->natts);

		memset(allnull, true, sizeof(bool) * desc->natts);
		plan->empty_row = heap_copy_tuple_as_datum(heap_form_tuple(desc, nullvals, allnull),
												   desc);
	}
	row_arg = makeNullConst(rel->rd_rel->reltype, -1, InvalidOid);
	json_arg = makeNullConst(JSONBOID, -1, InvalidOid);
	expr = makeFuncExpr(F_JSONB_POPULATE_RECORD, rel->rd_rel->reltype,
						lappend(list_make1(row_arg), json_arg),
						InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	fmgr_info_cxt(F_JSONB_POPULATE_RECORD, &plan->populate, plan->cxt);
	fmgr_info_set_expr((Node *) expr, &plan->populate);
	expr = makeFuncExpr(F_TO_JSONB, JSONBOID, list_make1(row_arg),
						InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	fmgr_info_cxt(F_TO_JSONB, &plan->to_jsonb, plan->cxt);
	fmgr_info_set_expr((Node *) expr, &plan->to_jsonb);
	MemoryContextSwitchTo(old);

	ReleaseSysCache(idxtup);
	plan->valid = true;
}

/*
 * The plan for call->key, prepared if need be.
 */
static UpsertPlan *
get_plan(UpsertCall *call)
{
	UpsertEntry *entry;
	UpsertPlan *plan;
	MemoryContext cxt;
	bool		found;

	if (upsert_plans == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(UpsertKey);
		ctl.entrysize = sizeof(UpsertEntry);
		upsert_plans = hash_create("pg_inbox upsert plans", 16, &ctl,
								   HASH_ELEM | HASH_BLOBS);
		CacheRegisterRelcacheCallback(upsert_relcache_callback, (Datum) 0);
	}
	else if (upsert_plans_stale)
		sweep_plans(false);
	if (upsert_retired != NULL)
		free_retired_plans();

	entry = hash_search(upsert_plans, &call->key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		plan = entry->plan;
		plan->pins++;
		return plan;
	}

	if (hash_get_num_entries(upsert_plans) >= UPSERT_MAX_PLANS)
		sweep_plans(true);

	/* the name is the table's at the time, copied: relcache entries move */
	/*
	 * Sizes of no context freelist: the memory goes back to malloc when the
	 * plan is freed, so that a use after free is seen by AddressSanitizer
	 * (the sanitizer part of make stress).
	 */
	cxt = AllocSetContextCreate(CacheMemoryContext, "pg_inbox upsert plan",
								0, 2 * 1024, 8 * 1024);
	MemoryContextCopyAndSetIdentifier(cxt, RelationGetRelationName(call->rel));
	plan = MemoryContextAllocZero(cxt, sizeof(UpsertPlan));
	plan->cxt = cxt;
	plan->key = call->key;
	PG_TRY();
	{
		build_plan(call, plan);
	}
	PG_CATCH();
	{
		/* leave nothing half-built behind; the error goes on */
		free_plan(plan);
		PG_RE_THROW();
	}
	PG_END_TRY();

	entry = hash_search(upsert_plans, &call->key, HASH_ENTER, &found);
	if (found)
		uncache_plan(entry->plan);	/* built meanwhile by a nested call */
	entry = hash_search(upsert_plans, &call->key, HASH_ENTER, &found);
	entry->plan = plan;
	plan->cached = true;
	plan->pins = 1;
	return plan;
}

/*
 * The caller must be able to do everything a hand-written INSERT ... ON
 * CONFLICT DO UPDATE ... RETURNING * with these columns needs, whether or not
 * the key exists: SELECT on every column, INSERT on the columns given and
 * UPDATE on the non-key ones among them.
 */
static void
check_privileges(Relation rel, const UpsertPlan *plan)
{
	Oid			relid = RelationGetRelid(rel);
	Oid			userid = GetUserId();
	AclMode		need = ACL_SELECT | ACL_INSERT | (plan->nnonkey > 0 ? ACL_UPDATE : 0);
	AclMode		have = pg_class_aclmask(relid, userid, need, ACLMASK_ALL);
	bool		ok = true;

	if (have == need)
		return;
	if (!(have & ACL_SELECT) &&
		pg_attribute_aclcheck_all(relid, userid, ACL_SELECT, ACLMASK_ALL) != ACLCHECK_OK)
		ok = false;
	for (int i = 0; ok && i < plan->ncols; i++)
	{
		if (!(have & ACL_INSERT) &&
			pg_attribute_aclcheck(relid, plan->attnums[i], userid, ACL_INSERT) != ACLCHECK_OK)
			ok = false;
		if (!plan->is_key[i] && !(have & ACL_UPDATE) &&
			pg_attribute_aclcheck(relid, plan->attnums[i], userid, ACL_UPDATE) != ACLCHECK_OK)
			ok = false;
	}
	if (!ok)
		aclcheck_error(ACLCHECK_NO_PRIV, get_relkind_objtype(rel->rd_rel->relkind),
					   RelationGetRelationName(rel));
}

/* run a prepared statement and come back to the row context */
static uint64
run(UpsertCall *call, SPIPlanPtr plan, Datum *values, const char *nulls, int expect)
{
	int			rc = SPI_execute_plan(plan, values, nulls, false, 0);

	MemoryContextSwitchTo(call->row_cxt);
	if (rc != expect)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

/* column col (1-based) of the first row SPI returned, copied to row_cxt */
static Datum
returned(int col, bool *isnull)
{
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull);

	if (*isnull)
		return (Datum) 0;
	return datumCopy(d, TupleDescAttr(SPI_tuptable->tupdesc, col - 1)->attbyval,
					 TupleDescAttr(SPI_tuptable->tupdesc, col - 1)->attlen);
}

static Datum
returned_row(void)
{
	bool		isnull;
	Datum		row = returned(1, &isnull);

	Assert(!isnull);
	return row;
}

/*
 * Does the stored row (stored and stored_null, by attnum - 1) hold every
 * non-key value of the data byte for byte, so that an UPDATE would change
 * nothing?
 */
static UpsertProbe
compare_row(Relation rel, const UpsertPlan *plan, const Datum *stored,
			const bool *stored_null, const Datum *values, const char *nulls)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < plan->ncols; i++)
	{
		int			a = plan->attnums[i] - 1;
		Form_pg_attribute att = TupleDescAttr(desc, a);
		bool		value_null = nulls[i] == 'n';

		if (plan->is_key[i])
			continue;
		if (stored_null[a] || value_null)
		{
			if (stored_null[a] != value_null)
				return PROBE_DIFFERENT;
		}
		else if (!datum_image_eq(stored[a], values[i], att->attbyval, att->attlen))
			return PROBE_DIFFERENT;
	}
	return PROBE_SAME;
}

/*
 * The functions a call converts with: the plan's own, or, when an outer
 * call is using the same plan (the nested call came from a trigger, a
 * default or a domain's CHECK during it), private copies, so that the
 * caches that jsonb_populate_record keeps in fn_extra are never used by two
 * calls at once.
 */
static void
call_functions(UpsertPlan *plan, FmgrInfo **populate, FmgrInfo **to_jsonb)
{
	if (plan->pins == 1)
	{
		*populate = &plan->populate;
		*to_jsonb = &plan->to_jsonb;
		return;
	}
	*populate = palloc(sizeof(FmgrInfo));
	*to_jsonb = palloc(sizeof(FmgrInfo));
	fmgr_info_copy(*populate, &plan->populate, CurrentMemoryContext);
	fmgr_info_copy(*to_jsonb, &plan->to_jsonb, CurrentMemoryContext);
}

/*
 * The values of the data's columns, converted by jsonb_populate_record
 * into a row whose other columns are NULL and stay untouched: given a row
 * to start from, jsonb_populate_record converts the keys present only, so a
 * column left out is never run through its type's input (a NOT NULL or
 * CHECK domain of a column left out does not apply to a value nobody gave).
 */
static void
convert_data(UpsertCall *call, UpsertPlan *plan, FmgrInfo *populate,
			 Jsonb *data, Datum *values, char *nulls)
{
	LOCAL_FCINFO(fcinfo, 2);
	TupleDesc	desc = RelationGetDescr(call->rel);
	HeapTupleHeader td;
	HeapTupleData tuple;
	Datum	   *all = palloc(sizeof(Datum) * desc->natts);
	bool	   *allnull = palloc(sizeof(bool) * desc->natts);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, populate, 2, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = plan->empty_row;
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = JsonbPGetDatum(data);
	fcinfo->args[1].isnull = false;
	result = FunctionCallInvoke(fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "jsonb_populate_record returned NULL");

	td = DatumGetHeapTupleHeader(result);
	tuple.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = td;
	heap_deform_tuple(&tuple, desc, all, allnull);

	for (int i = 0; i < plan->ncols; i++)
	{
		AttrNumber	attnum = plan->attnums[i];

		values[i] = all[attnum - 1];
		nulls[i] = allnull[attnum - 1] ? 'n' : ' ';
		if (plan->is_key[i] && allnull[attnum - 1])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("conflict column \"%s\" must not be null",
							NameStr(TupleDescAttr(desc, attnum - 1)->attname))));
	}
}

/* what a probe found */
typedef struct UpsertFound
{
	UpsertProbe state;
	Oid			tableoid;		/* the version found (not PROBE_ABSENT) */
	ItemPointerData tid;
	TransactionId xmin;
	TransactionId updater;		/* PROBE_AGAIN: whom to wait for, if any */
	bool		have_row;
	Datum		row;			/* to_jsonb of it: PROBE_SAME, or asked for */
} UpsertFound;

/* the same version of the same row? */
static bool
same_version(const UpsertFound *a, const UpsertFound *b)
{
	return a->tableoid == b->tableoid &&
		ItemPointerEquals((ItemPointer) &a->tid, (ItemPointer) &b->tid) &&
		TransactionIdEquals(a->xmin, b->xmin);
}

/*
 * Is the version of the row that the probe found the row's last word?  A
 * transaction that is updating or deleting it, or that did so after our
 * snapshot was taken, may leave something else: answering "unchanged" then
 * would lose this call's write if it comes later, and comparing with it
 * would answer "updated" for a value the row is about to hold anyway.  The
 * hand-written statement waits for such a transaction and looks at the
 * newest version (READ COMMITTED) or fails with 40001 (REPEATABLE READ and
 * above); so do we.  A transaction that only locks the row changes nothing
 * and is not waited for.  Returns PROBE_SAME when the version stands; sets
 * *xmin to the version's inserter.
 */
static UpsertProbe
settled(Relation rel, TupleTableSlot *slot, TransactionId *updater,
		TransactionId *xmin)
{
	BufferHeapTupleTableSlot *bslot = (BufferHeapTupleTableSlot *) slot;
	HeapTupleHeader htup;
	TransactionId xid = InvalidTransactionId;

	*xmin = InvalidTransactionId;
	if (!TTS_IS_BUFFERTUPLE(slot))
		return PROBE_SAME;		/* not heap: no version to look at */

	LockBuffer(bslot->buffer, BUFFER_LOCK_SHARE);
	htup = bslot->base.tuple->t_data;
	*xmin = HeapTupleHeaderGetRawXmin(htup);
	if (!(htup->t_infomask & HEAP_XMAX_INVALID) &&
		!HEAP_XMAX_IS_LOCKED_ONLY(htup->t_infomask))
		xid = HeapTupleHeaderGetUpdateXid(htup);
	LockBuffer(bslot->buffer, BUFFER_LOCK_UNLOCK);

	if (!TransactionIdIsValid(xid) || TransactionIdIsCurrentTransactionId(xid))
		return PROBE_SAME;
	if (TransactionIdIsInProgress(xid))
	{
		*updater = xid;
		return PROBE_AGAIN;
	}
	if (!TransactionIdDidCommit(xid))
		return PROBE_SAME;		/* the change was rolled back */
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to concurrent update"),
				 errdetail("Another transaction changed the row with this key in \"%s\" after this transaction's snapshot was taken.",
						   RelationGetRelationName(rel))));
	return PROBE_AGAIN;
}

/*
 * settled() for the row the prepared SELECT returned, found by its ctid in
 * the partition that holds it.
 */
static UpsertProbe
version_settled(UpsertCall *call, UpsertFound *found)
{
	Relation	rel = table_open(found->tableoid, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	UpsertProbe result = PROBE_SAME;
	TransactionId xmin;

	if (table_tuple_fetch_row_version(rel, &found->tid, SnapshotAny, slot))
		result = settled(call->rel, slot, &found->updater, &xmin);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return result;
}

/*
 * Probe with the prepared SELECT: for partitioned tables and tables whose
 * row-level security applies to the caller.
 */
static void
probe_sql(UpsertCall *call, UpsertPlan *plan, Datum *values, const char *nulls,
		  bool want_row, UpsertFound *found)
{
	if (plan->probe == NULL)
		plan->probe = prepare(plan->probe_sql, plan->ncols, plan->types);
	if (run(call, plan->probe, values, nulls, SPI_OK_SELECT) > 0)
	{
		int			natts = RelationGetDescr(call->rel)->natts;
		Datum	   *stored = palloc0(sizeof(Datum) * natts);
		bool	   *stored_null = palloc0(sizeof(bool) * natts);
		int			col = 5;
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		found->tid = *(ItemPointer) DatumGetPointer(SPI_getbinval(tup, desc, 2, &isnull));
		found->tableoid = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
		found->xmin = DatumGetTransactionId(SPI_getbinval(tup, desc, 4, &isnull));

		/* the SELECT returns the non-key columns after those */
		for (int i = 0; i < plan->ncols; i++)
			if (!plan->is_key[i])
				stored[plan->attnums[i] - 1] =
					SPI_getbinval(tup, desc, col++, &stored_null[plan->attnums[i] - 1]);
		found->state = compare_row(call->rel, plan, stored, stored_null, values, nulls);
		if (version_settled(call, found) == PROBE_AGAIN)
			found->state = PROBE_AGAIN;
		if (found->state == PROBE_SAME || want_row)
		{
			found->row = returned_row();
			found->have_row = true;
		}
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Probe the conflict index directly, as the SELECT would but without the
 * executor: the common case, and the cheap one.  Like each SPI statement it
 * advances the command counter and, under READ COMMITTED, takes a new
 * snapshot; under SERIALIZABLE the index and heap access methods take the
 * predicate locks.
 */
static void
probe_index(UpsertCall *call, UpsertPlan *plan, FmgrInfo *to_jsonb,
			Datum *values, const char *nulls, bool want_row, UpsertFound *found)
{
	Relation	rel = call->rel;
	Relation	index = index_open(plan->index, AccessShareLock);
	ScanKeyData *skeys = palloc(sizeof(ScanKeyData) * plan->nkeys);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	IndexScanDesc scan;

	for (int k = 0; k < plan->nkeys; k++)
		ScanKeyEntryInitialize(&skeys[k], 0, k + 1, BTEqualStrategyNumber,
							   InvalidOid, plan->key_collation[k], plan->key_proc[k],
							   values[plan->key_value[k]]);

	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	scan = InboxIndexBeginscan(rel, index, GetActiveSnapshot(), plan->nkeys, 0);
	index_rescan(scan, skeys, plan->nkeys, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		slot_getallattrs(slot);
		found->tableoid = RelationGetRelid(rel);
		found->tid = slot->tts_tid;
		found->state = compare_row(rel, plan, slot->tts_values, slot->tts_isnull,
								   values, nulls);
		if (settled(rel, slot, &found->updater, &found->xmin) == PROBE_AGAIN)
			found->state = PROBE_AGAIN;
		if (found->state == PROBE_SAME || want_row)
		{
			found->row = FunctionCall1(to_jsonb, ExecFetchSlotHeapTupleDatum(slot));
			found->have_row = true;
		}
	}
	index_endscan(scan);
	PopActiveSnapshot();
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
}

/* what one upsert of one data object works with */
typedef struct UpsertRow
{
	UpsertCall *call;
	UpsertPlan *plan;
	Datum	   *values;
	char	   *nulls;
	FmgrInfo   *to_jsonb;
	bool		rls;			/* row-level security applies to the caller */
	bool		direct;			/* probe the index without the executor */
} UpsertRow;

static void
probe(UpsertRow *r, bool want_row, UpsertFound *found)
{
	memset(found, 0, sizeof(UpsertFound));
	found->state = PROBE_ABSENT;
	if (r->direct)
		probe_index(r->call, r->plan, r->to_jsonb, r->values, r->nulls, want_row, found);
	else
		probe_sql(r->call, r->plan, r->values, r->nulls, want_row, found);
}

/* the row with the key as it stands now, or NULL */
static bool
current_row(UpsertRow *r, Datum *row)
{
	UpsertFound found;

	probe(r, true, &found);
	*row = found.row;
	return found.have_row;
}

static void
raise_rls_using(Relation rel)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("new row violates row-level security policy (USING expression) for table \"%s\"",
					RelationGetRelationName(rel))));
}

/*
 * Did the current transaction update or delete this version of a row?  Only
 * a version the probe found can be asked: one that was already changed by
 * this transaction when the probe ran is invisible to it, so a change of
 * ours since then was made by the statement that ran after the probe, that
 * is, by its triggers.  Not heap: no version to look at, no.
 */
static bool
changed_by_us(const UpsertFound *found)
{
	Relation	rel = table_open(found->tableoid, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	TransactionId xid = InvalidTransactionId;

	if (table_tuple_fetch_row_version(rel, (ItemPointer) &found->tid, SnapshotAny, slot) &&
		TTS_IS_BUFFERTUPLE(slot))
	{
		BufferHeapTupleTableSlot *bslot = (BufferHeapTupleTableSlot *) slot;
		HeapTupleHeader htup;

		LockBuffer(bslot->buffer, BUFFER_LOCK_SHARE);
		htup = bslot->base.tuple->t_data;
		if (TransactionIdEquals(HeapTupleHeaderGetRawXmin(htup), found->xmin) &&
			!(htup->t_infomask & HEAP_XMAX_INVALID) &&
			!HEAP_XMAX_IS_LOCKED_ONLY(htup->t_infomask))
			xid = HeapTupleHeaderGetUpdateXid(htup);
		LockBuffer(bslot->buffer, BUFFER_LOCK_UNLOCK);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return TransactionIdIsValid(xid) && TransactionIdIsCurrentTransactionId(xid);
}

/*
 * The UPDATE of the row the probe found (before) updated nothing.  Was it a
 * BEFORE UPDATE trigger that returned NULL?  Then either the same version of
 * the row is still there, or this transaction updated or deleted that
 * version meanwhile: only the UPDATE's triggers ran in between.  Nothing but
 * a trigger or, when row-level security applies, the UPDATE policy can pass
 * over a row that the statement's scan met and that nobody else changed.
 * The policy's answer is asked by locking the row as the UPDATE would
 * (SELECT ... FOR NO KEY UPDATE applies the UPDATE policy's USING
 * expression); a row it hides raises 42501, as the hand-written INSERT ...
 * ON CONFLICT DO UPDATE does.  Any other version, or none, that this
 * transaction did not make: another transaction got in between.  Sets *row
 * to the row with the key as it now stands, *row_null when there is none.
 */
static bool
update_suppressed(UpsertRow *r, const UpsertFound *before, Datum *row,
				  bool *row_null)
{
	UpsertFound now;

	probe(r, true, &now);

	/*
	 * The trigger changed the row itself (an UPDATE or DELETE of it, which
	 * fired at a deeper trigger level) and returned NULL: the UPDATE policy
	 * let the row through, or the trigger would not have fired.
	 */
	if (changed_by_us(before))
	{
		*row = now.row;
		*row_null = !now.have_row;
		return true;
	}
	if (now.state == PROBE_ABSENT || now.state == PROBE_AGAIN ||
		!same_version(before, &now))
		return false;
	if (r->rls)
	{
		UpsertPlan *plan = r->plan;
		UpsertFound locked;
		bool		isnull;

		if (plan->lock == NULL)
			plan->lock = prepare(plan->lock_sql, plan->ncols, plan->types);
		if (run(r->call, plan->lock, r->values, r->nulls, SPI_OK_SELECT) == 0)
		{
			SPI_freetuptable(SPI_tuptable);
			probe(r, false, &locked);
			if (locked.state != PROBE_ABSENT && same_version(before, &locked))
				raise_rls_using(r->call->rel);
			return false;
		}
		memset(&locked, 0, sizeof(locked));
		locked.tid = *(ItemPointer) DatumGetPointer(SPI_getbinval(SPI_tuptable->vals[0],
																   SPI_tuptable->tupdesc, 1, &isnull));
		locked.tableoid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc, 2, &isnull));
		locked.xmin = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0],
														  SPI_tuptable->tupdesc, 3, &isnull));
		SPI_freetuptable(SPI_tuptable);
		if (!same_version(before, &locked))
			return false;
	}
	*row = now.row;
	*row_null = false;
	return true;
}

/*
 * Did an UPDATE make this version of a row (or an INSERT)?  Only the
 * statement that made it has looked at it yet; it is ours.
 */
static bool
version_is_update(Oid tableoid, ItemPointer tid)
{
	Relation	rel = table_open(tableoid, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	bool		updated = false;

	if (table_tuple_fetch_row_version(rel, tid, SnapshotAny, slot) &&
		TTS_IS_BUFFERTUPLE(slot))
	{
		BufferHeapTupleTableSlot *bslot = (BufferHeapTupleTableSlot *) slot;

		LockBuffer(bslot->buffer, BUFFER_LOCK_SHARE);
		updated = (bslot->base.tuple->t_data->t_infomask & HEAP_UPDATED) != 0;
		LockBuffer(bslot->buffer, BUFFER_LOCK_UNLOCK);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return updated;
}

/*
 * The hand-written INSERT ... ON CONFLICT DO UPDATE.  It inserts, updates,
 * raises, or, when a BEFORE trigger returns NULL, writes nothing and
 * returns no row: then the action is "skipped".
 */
static UpsertAction
run_decide(UpsertRow *r, Datum *row, bool *row_null)
{
	UpsertPlan *plan = r->plan;
	bool		isnull;
	ItemPointerData tid;
	Oid			tableoid;

	if (plan->decide_sql == NULL)
		raise_rls_using(r->call->rel);
	if (plan->decide == NULL)
		plan->decide = prepare(plan->decide_sql, plan->ncols, plan->types);
	if (run(r->call, plan->decide, r->values, r->nulls, SPI_OK_INSERT_RETURNING) == 0)
	{
		SPI_freetuptable(SPI_tuptable);
		*row_null = !current_row(r, row);
		return UPSERT_SKIPPED;
	}
	*row = returned_row();
	tid = *(ItemPointer) DatumGetPointer(SPI_getbinval(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, 2, &isnull));
	tableoid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 3, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return version_is_update(tableoid, &tid) ? UPSERT_UPDATED : UPSERT_INSERTED;
}

/*
 * Can a BEFORE INSERT row trigger fire for an INSERT into the table?  A
 * partition may have triggers of its own, which its partitioned table does
 * not list: assume so.
 */
static bool
may_fire_before_insert(Relation rel)
{
	if (rel->rd_rel->relkind != RELKIND_RELATION)
		return true;
	return rel->trigdesc != NULL && rel->trigdesc->trig_insert_before_row;
}

static UpsertAction
upsert_with_plan(UpsertCall *call, UpsertPlan *plan, Jsonb *data, Datum *row,
				 bool *row_null)
{
	UpsertRow	r;
	FmgrInfo   *populate;
	bool		try_insert;
	bool		before_insert;
	int			waits = 0;
	UpsertAction action;

	check_privileges(call->rel, plan);
	call_functions(plan, &populate, &r.to_jsonb);
	r.call = call;
	r.plan = plan;
	r.values = palloc(sizeof(Datum) * plan->ncols);
	r.nulls = palloc(sizeof(char) * plan->ncols);
	convert_data(call, plan, populate, data, r.values, r.nulls);

	r.rls = check_enable_rls(RelationGetRelid(call->rel), InvalidOid, false) == RLS_ENABLED;
	r.direct = call->rel->rd_rel->relkind == RELKIND_RELATION && !r.rls;
	before_insert = may_fire_before_insert(call->rel);
	try_insert = plan->insert_first_ok && plan->last_inserted;
	*row_null = false;
	for (int round = 0;; round++)
	{
		CHECK_FOR_INTERRUPTS();
		if (round == UPSERT_MAX_ROUNDS)
		{
			action = run_decide(&r, row, row_null);
			break;
		}
		if (!try_insert)
		{
			UpsertFound found;

			probe(&r, false, &found);
			if (found.state == PROBE_AGAIN)
			{
				/* a wait is progress: it does not use up a round */
				if (TransactionIdIsValid(found.updater))
					XactLockTableWait(found.updater, call->rel, NULL, XLTW_None);
				if (++waits < UPSERT_MAX_WAITS)
					round--;
				continue;
			}
			if (found.state == PROBE_SAME)
			{
				*row = found.row;
				action = UPSERT_UNCHANGED;
				break;
			}
			if (found.state == PROBE_DIFFERENT)
			{
				if (run(call, plan->update, r.values, r.nulls, SPI_OK_UPDATE_RETURNING) > 0)
				{
					*row = returned_row();
					action = UPSERT_UPDATED;
					SPI_freetuptable(SPI_tuptable);
					break;
				}
				SPI_freetuptable(SPI_tuptable);
				if (update_suppressed(&r, &found, row, row_null))
				{
					action = UPSERT_SKIPPED;
					break;
				}
				continue;		/* gone meanwhile */
			}
		}

		/*
		 * An INSERT ... ON CONFLICT DO NOTHING that returns no row met the
		 * key, or a BEFORE INSERT trigger returned NULL.  Where a trigger
		 * can, the hand-written statement inserts instead, which tells the
		 * two apart: it returns the row it inserted or updated, and no row
		 * only when a trigger returned NULL.
		 */
		if (!try_insert && before_insert && plan->decide_sql != NULL)
		{
			action = run_decide(&r, row, row_null);
			break;
		}
		if (run(call, plan->insert, r.values, r.nulls, SPI_OK_INSERT_RETURNING) > 0)
		{
			*row = returned_row();
			action = UPSERT_INSERTED;
			SPI_freetuptable(SPI_tuptable);
			break;
		}
		SPI_freetuptable(SPI_tuptable);
		if (try_insert)
		{
			try_insert = false;
			continue;			/* met the key: no trigger could have fired */
		}

		/*
		 * Only key columns, and a trigger that may have returned NULL: a row
		 * with the key now is this data, whoever stored it (the loop answers
		 * "unchanged"); none means the trigger did.
		 */
		if (before_insert && !current_row(&r, row))
		{
			*row_null = true;
			action = UPSERT_SKIPPED;
			break;
		}
	}
	plan->last_inserted = action == UPSERT_INSERTED;
	return action;
}

/*
 * Upsert one data object.  Returns the action and sets *row to the stored
 * row as jsonb, allocated in call->row_cxt (*row_null when there is none).
 */
static UpsertAction
upsert_row(UpsertCall *call, Jsonb *data, Datum *row, bool *row_null)
{
	UpsertPlan *plan;
	volatile UpsertAction action = UPSERT_INSERTED;

	if (!JB_ROOT_IS_OBJECT(data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("upsert data must be a JSON object, not %s",
						InboxJsonTypeName(data))));

	data_columns(call->rel, data, call->key.cols);
	plan = get_plan(call);
	PG_TRY();
	{
		action = upsert_with_plan(call, plan, data, row, row_null);
	}
	PG_CATCH();
	{
		unpin_plan(plan, true);
		PG_RE_THROW();
	}
	PG_END_TRY();
	unpin_plan(plan, false);
	return action;
}

/*
 * Open the target and read the conflict columns; connect to SPI.
 */
static void
upsert_begin(UpsertCall *call, FunctionCallInfo fcinfo, const char *data_name)
{
	Oid			relid;
	char		relkind;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target must not be NULL")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", data_name)));

	relid = PG_GETARG_OID(0);
	memset(call, 0, sizeof(UpsertCall));
	call->rel = try_relation_open(relid, RowExclusiveLock);
	if (call->rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	relkind = call->rel->rd_rel->relkind;
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(call->rel)),
				 errdetail("inbox.upsert writes to tables and partitioned tables only.")));

	call->key.relid = relid;
	if (!PG_ARGISNULL(2))
		call->ntarget = target_columns(call->rel, PG_GETARG_ARRAYTYPE_P(2), call->key.target);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

static void
upsert_end(UpsertCall *call)
{
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	relation_close(call->rel, NoLock);
}

/*
 * inbox.upsert(target regclass, data jsonb, conflict_columns text[])
 */
Datum
upsert(PG_FUNCTION_ARGS)
{
	UpsertCall	call;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	Datum		row;
	UpsertAction action;
	MemoryContext caller = CurrentMemoryContext;

	tupdesc = InboxResultDesc(fcinfo);

	upsert_begin(&call, fcinfo, "data");
	call.row_cxt = caller;
	MemoryContextSwitchTo(caller);
	action = upsert_row(&call, PG_GETARG_JSONB_P(1), &row, &nulls[1]);
	upsert_end(&call);

	values[0] = CStringGetTextDatum(upsert_action_names[action]);
	values[1] = row;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * inbox.upsert_many(target regclass, rows jsonb, conflict_columns text[])
 */
Datum
upsert_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	UpsertCall	call;
	Jsonb	   *rows;
	MemoryContext outer = CurrentMemoryContext;
	int			count;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	upsert_begin(&call, fcinfo, "rows");
	MemoryContextSwitchTo(outer);

	rows = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_ARRAY(rows) || JB_ROOT_IS_SCALAR(rows))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rows must be a JSON array of objects, not %s",
						InboxJsonTypeName(rows))));

	call.row_cxt = AllocSetContextCreate(outer, "pg_inbox upsert_many row",
										 ALLOCSET_DEFAULT_SIZES);
	count = JB_ROOT_COUNT(rows);
	for (int i = 0; i < count; i++)
	{
		JsonbValue *elem;
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		Datum		row;
		UpsertAction action;

		MemoryContextSwitchTo(call.row_cxt);
		elem = getIthJsonbValueFromContainer(&rows->root, i);
		if (elem->type != jbvBinary || !JsonContainerIsObject(elem->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("element %d of rows is not a JSON object", i + 1)));
		action = upsert_row(&call, JsonbValueToJsonb(elem), &row, &nulls[2]);

		values[0] = Int32GetDatum(i + 1);
		values[1] = CStringGetTextDatum(upsert_action_names[action]);
		values[2] = row;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextReset(call.row_cxt);
	}
	MemoryContextSwitchTo(outer);
	upsert_end(&call);
	MemoryContextDelete(call.row_cxt);
	return (Datum) 0;
}
