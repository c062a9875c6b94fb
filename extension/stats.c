/*-------------------------------------------------------------------------
 *
 * stats.c
 *	  Counters of ingest answers in shared memory: inbox.ingest_counters
 *	  and inbox.reset_stats.
 *
 * When the library is in shared_preload_libraries it keeps, for every
 * (database, source), how many ingests were answered inserted, duplicate,
 * conflict and rejected, in the manner of pg_stat_statements: a shared hash
 * table of fixed size guarded by one LWLock.  Counting takes that lock in
 * shared mode to find the source's entry and bumps an atomic counter in it;
 * only a source seen for the first time takes the lock exclusively, to enter
 * it.  Nothing is written to any table: counting assigns no transaction id
 * and writes no WAL, so a duplicate still writes nothing.  The counters are
 * not transactional (an answer counts even if the caller's transaction rolls
 * back) and start from zero when the server starts.
 *
 * The table holds two kinds of entries.  A source entry is keyed by the
 * database and the source name; at most pg_inbox.max_sources of them exist
 * in the whole cluster.  A database entry is keyed by the database and the
 * empty name (which no source can have); it counts the ingests whose source
 * was unusable (NULL, empty or over 63 bytes) and those of sources that found
 * the table full, and it remembers when inbox.reset_stats() last ran in the
 * database.  A database needs one only for these, and at most
 * pg_inbox.max_sources of them exist, so the table has room for twice that
 * many entries.  A database without an entry was never reset: its counters
 * run from the server's start.
 *
 * Without the library preloaded there is no shared memory to count in:
 * counting does nothing, inbox.ingest_counters() returns no rows and
 * inbox.reset_stats() raises an error.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "pg_inbox.h"

PG_FUNCTION_INFO_V1(ingest_counters);
PG_FUNCTION_INFO_V1(reset_stats);
PG_FUNCTION_INFO_V1(signature_counters);

#define INBOX_STATS_NAME		"pg_inbox"
#define INBOX_STATS_HASH_NAME	"pg_inbox statistics"

/* the columns of inbox.ingest_counters() */
#define INBOX_COUNTERS_COLUMNS	(INBOX_STATUSES + 2)

int			inbox_max_sources = INBOX_DEFAULT_MAX_SOURCES;

/*
 * The key of an entry.  The name is NUL padded, so that keys compare as
 * bytes; the empty name is the database entry.
 */
typedef struct InboxStatsKey
{
	Oid			dbid;
	char		source[INBOX_MAX_SOURCE_BYTES + 1];
} InboxStatsKey;

typedef struct InboxStatsEntry
{
	InboxStatsKey key;			/* must be first */
	pg_atomic_uint64 counts[INBOX_STATUSES];	/* indexed by InboxStatus */
	pg_atomic_uint64 signature_failures;	/* inbox.ingest_verified */
	TimestampTz stats_reset;	/* database entry: last reset, or the start */
} InboxStatsEntry;

/* what lives in shared memory besides the hash table */
typedef struct InboxStatsShared
{
	LWLock	   *lock;			/* guards the hash table and the fields below */
	TimestampTz started;		/* when counting started: the server's start */
	int			sources;		/* source entries in the table */
	int			databases;		/* database entries in the table */
} InboxStatsShared;

static InboxStatsShared *inbox_stats = NULL;
static HTAB *inbox_stats_hash = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void InboxStatsShmemRequest(void);
static void InboxStatsShmemStartup(void);

/* room for max_sources source entries and as many database entries */
static long
stats_capacity(void)
{
	return 2L * inbox_max_sources;
}

static Size
stats_memsize(void)
{
	Size		size;

	size = MAXALIGN(sizeof(InboxStatsShared));
	size = add_size(size, hash_estimate_size(stats_capacity(),
											 sizeof(InboxStatsEntry)));
	return size;
}

/*
 * Called from _PG_init.  Everything here needs the library to be loaded at
 * server start: a PGC_POSTMASTER setting cannot be defined later, nor shared
 * memory requested.
 */
void
InboxStatsInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomIntVariable("pg_inbox.max_sources",
							"Sources whose ingests are counted separately, in all databases together.",
							"Ingests of further sources are counted under the source NULL of their database.",
							&inbox_max_sources,
							INBOX_DEFAULT_MAX_SOURCES,
							1,
							INT_MAX / 4,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = InboxStatsShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = InboxStatsShmemStartup;
}

static void
InboxStatsShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(stats_memsize());
	RequestNamedLWLockTranche(INBOX_STATS_NAME, 1);
}

static void
InboxStatsShmemStartup(void)
{
	HASHCTL		info;
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	/* a restart of the postmaster after a crash creates everything anew */
	inbox_stats = NULL;
	inbox_stats_hash = NULL;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);

	inbox_stats = ShmemInitStruct(INBOX_STATS_NAME, sizeof(InboxStatsShared),
								  &found);
	if (!found)
	{
		inbox_stats->lock = &(GetNamedLWLockTranche(INBOX_STATS_NAME))->lock;
		inbox_stats->started = GetCurrentTimestamp();
		inbox_stats->sources = 0;
		inbox_stats->databases = 0;
	}

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(InboxStatsKey);
	info.entrysize = sizeof(InboxStatsEntry);
	inbox_stats_hash = ShmemInitHash(INBOX_STATS_HASH_NAME,
									 stats_capacity(), stats_capacity(),
									 &info, HASH_ELEM | HASH_BLOBS);

	LWLockRelease(AddinShmemInitLock);
}

/*
 * The key of a source, or of the database entry when the source is unusable
 * (NULL, empty or too long; ingest rejects those).
 */
static void
stats_key(InboxStatsKey *key, const text *source)
{
	memset(key, 0, sizeof(*key));
	key->dbid = MyDatabaseId;
	if (source != NULL)
	{
		int			len = VARSIZE_ANY_EXHDR(source);

		if (len <= INBOX_MAX_SOURCE_BYTES)
			memcpy(key->source, VARDATA_ANY(source), len);
	}
}

static void
stats_database_key(InboxStatsKey *key)
{
	memset(key, 0, sizeof(*key));
	key->dbid = MyDatabaseId;
}

static void
stats_init_entry(InboxStatsEntry *entry)
{
	int			i;

	for (i = 0; i < INBOX_STATUSES; i++)
		pg_atomic_init_u64(&entry->counts[i], 0);
	pg_atomic_init_u64(&entry->signature_failures, 0);
	entry->stats_reset = inbox_stats->started;
}

/*
 * Find or make the entry that counts for key, with the lock held
 * exclusively.  A source that finds the table full is counted in its
 * database's entry.  Returns NULL only when even that cannot be made.
 */
static InboxStatsEntry *
stats_enter(const InboxStatsKey *key)
{
	InboxStatsKey dbkey;
	InboxStatsEntry *entry;
	bool		found;

	entry = hash_search(inbox_stats_hash, key, HASH_FIND, NULL);
	if (entry != NULL)
		return entry;

	if (key->source[0] != '\0')
	{
		if (inbox_stats->sources < inbox_max_sources)
		{
			entry = hash_search(inbox_stats_hash, key, HASH_ENTER_NULL, &found);
			if (entry != NULL)
			{
				if (!found)
				{
					stats_init_entry(entry);
					inbox_stats->sources++;
				}
				return entry;
			}
		}
		/* the table is full: count under the database */
		stats_database_key(&dbkey);
		key = &dbkey;
		entry = hash_search(inbox_stats_hash, key, HASH_FIND, NULL);
		if (entry != NULL)
			return entry;
	}

	if (inbox_stats->databases >= inbox_max_sources)
		return NULL;
	entry = hash_search(inbox_stats_hash, key, HASH_ENTER_NULL, &found);
	if (entry != NULL && !found)
	{
		stats_init_entry(entry);
		inbox_stats->databases++;
	}
	return entry;
}

/*
 * Find the entry that counts for source and bump one counter in it, with
 * the lock held; enter the source if it has no entry and may have one.
 */
static void
stats_count(const text *source, InboxStatus status, bool signature_failure,
			bool may_enter)
{
	InboxStatsKey key;
	InboxStatsEntry *entry;

	if (inbox_stats == NULL)
		return;
	Assert(status >= 0 && status < INBOX_STATUSES);

	stats_key(&key, source);

	LWLockAcquire(inbox_stats->lock, LW_SHARED);
	entry = hash_search(inbox_stats_hash, &key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		/*
		 * A new source: enter it, which needs the lock exclusively.  Only a
		 * stored event earns a source a row of its own; other answers for a
		 * source not counted yet go to the database's row, so that a caller
		 * cannot fill the shared table with names that store nothing.
		 */
		LWLockRelease(inbox_stats->lock);
		LWLockAcquire(inbox_stats->lock, LW_EXCLUSIVE);
		if (!may_enter)
			stats_key(&key, NULL);
		entry = stats_enter(&key);
	}
	if (entry != NULL)
	{
		pg_atomic_fetch_add_u64(&entry->counts[status], 1);
		if (signature_failure)
			pg_atomic_fetch_add_u64(&entry->signature_failures, 1);
	}
	LWLockRelease(inbox_stats->lock);
}

/*
 * Count one answer of an ingest for source (NULL when it was unusable) in
 * the current database.  Shared memory only: no transaction id, no WAL.
 */
void
InboxStatsCount(const text *source, InboxStatus status)
{
	stats_count(source, status, false, status == INBOX_INSERTED);
}

/*
 * Count a delivery that inbox.ingest_verified rejected for its signature:
 * one "rejected" answer and one signature failure.  A source
 * declared in inbox.sources with a signature scheme may get an entry of its
 * own this way: its name is the owner's choice, not the caller's.
 */
void
InboxStatsCountSignatureFailure(const text *source, bool declared)
{
	stats_count(source, INBOX_REJECTED, true, declared);
}

static void
put_counters_row(ReturnSetInfo *rsinfo, InboxStatsEntry *entry,
				 TimestampTz stats_reset)
{
	Datum		values[INBOX_COUNTERS_COLUMNS];
	bool		nulls[INBOX_COUNTERS_COLUMNS];
	int			i;

	memset(nulls, false, sizeof(nulls));
	if (entry == NULL || entry->key.source[0] == '\0')
		nulls[0] = true;
	else
		values[0] = CStringGetTextDatum(entry->key.source);
	for (i = 0; i < INBOX_STATUSES; i++)
		values[i + 1] = entry == NULL ? Int64GetDatum(0) :
			Int64GetDatum((int64) pg_atomic_read_u64(&entry->counts[i]));
	values[INBOX_STATUSES + 1] = TimestampTzGetDatum(stats_reset);

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * inbox.ingest_counters(): a row for each source counted in the current
 * database, and always one with source NULL (the database entry, zero if it
 * does not exist).  Every row has the same stats_reset.  No rows at all
 * without the library preloaded.
 */
Datum
ingest_counters(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	InboxStatsKey dbkey;
	InboxStatsEntry *dbentry;
	InboxStatsEntry *entry;
	HASH_SEQ_STATUS hash_seq;
	TimestampTz stats_reset;

	InitMaterializedSRF(fcinfo, 0);

	if (inbox_stats == NULL)
		return (Datum) 0;

	stats_database_key(&dbkey);

	LWLockAcquire(inbox_stats->lock, LW_SHARED);

	dbentry = hash_search(inbox_stats_hash, &dbkey, HASH_FIND, NULL);
	stats_reset = dbentry != NULL ? dbentry->stats_reset : inbox_stats->started;

	hash_seq_init(&hash_seq, inbox_stats_hash);
	while ((entry = hash_seq_search(&hash_seq)) != NULL)
	{
		if (entry->key.dbid != MyDatabaseId || entry == dbentry)
			continue;
		put_counters_row(rsinfo, entry, stats_reset);
	}
	put_counters_row(rsinfo, dbentry, stats_reset);

	LWLockRelease(inbox_stats->lock);

	return (Datum) 0;
}

/*
 * inbox.reset_stats(): forget the counters of the current database and
 * record the time.  Source entries are removed, making room for others.
 */
Datum
reset_stats(PG_FUNCTION_ARGS)
{
	InboxStatsKey dbkey;
	InboxStatsEntry *dbentry;
	InboxStatsEntry *entry;
	HASH_SEQ_STATUS hash_seq;
	TimestampTz now = GetCurrentTimestamp();
	bool		found = true;
	int			i;

	if (inbox_stats == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_inbox must be loaded via shared_preload_libraries to count ingests"),
				 errhint("Add pg_inbox to shared_preload_libraries in postgresql.conf and restart the server.")));

	stats_database_key(&dbkey);

	LWLockAcquire(inbox_stats->lock, LW_EXCLUSIVE);

	dbentry = hash_search(inbox_stats_hash, &dbkey, HASH_FIND, NULL);
	if (dbentry == NULL)
	{
		if (inbox_stats->databases < inbox_max_sources)
			dbentry = hash_search(inbox_stats_hash, &dbkey, HASH_ENTER_NULL,
								  &found);
		if (dbentry == NULL)
		{
			LWLockRelease(inbox_stats->lock);
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("no room in shared memory to reset the ingest counters of this database"),
					 errdetail_plural("Counters are kept for at most %d database.",
									  "Counters are kept for at most %d databases.",
									  inbox_max_sources, inbox_max_sources),
					 errhint("Raise pg_inbox.max_sources and restart the server.")));
		}
		inbox_stats->databases++;
	}

	/* removing the entry just returned is allowed during a scan */
	hash_seq_init(&hash_seq, inbox_stats_hash);
	while ((entry = hash_seq_search(&hash_seq)) != NULL)
	{
		if (entry->key.dbid != MyDatabaseId || entry == dbentry)
			continue;
		hash_search(inbox_stats_hash, &entry->key, HASH_REMOVE, NULL);
		inbox_stats->sources--;
	}

	if (!found)
		stats_init_entry(dbentry);
	for (i = 0; i < INBOX_STATUSES; i++)
		pg_atomic_write_u64(&dbentry->counts[i], 0);
	pg_atomic_write_u64(&dbentry->signature_failures, 0);
	dbentry->stats_reset = now;

	LWLockRelease(inbox_stats->lock);

	PG_RETURN_VOID();
}

/*
 * inbox.signature_counters(): per source counted in the current database,
 * the deliveries that inbox.ingest_verified rejected for their signature;
 * the row with source NULL as in inbox.ingest_counters().  No rows without
 * the library preloaded.
 */
Datum
signature_counters(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	InboxStatsKey dbkey;
	InboxStatsEntry *dbentry;
	InboxStatsEntry *entry;
	HASH_SEQ_STATUS hash_seq;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	InitMaterializedSRF(fcinfo, 0);

	if (inbox_stats == NULL)
		return (Datum) 0;

	stats_database_key(&dbkey);

	LWLockAcquire(inbox_stats->lock, LW_SHARED);
	dbentry = hash_search(inbox_stats_hash, &dbkey, HASH_FIND, NULL);
	hash_seq_init(&hash_seq, inbox_stats_hash);
	while ((entry = hash_seq_search(&hash_seq)) != NULL)
	{
		if (entry->key.dbid != MyDatabaseId || entry == dbentry)
			continue;
		values[0] = CStringGetTextDatum(entry->key.source);
		values[1] = Int64GetDatum((int64) pg_atomic_read_u64(&entry->signature_failures));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	nulls[0] = true;
	values[1] = Int64GetDatum(dbentry == NULL ? 0 :
							  (int64) pg_atomic_read_u64(&dbentry->signature_failures));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	LWLockRelease(inbox_stats->lock);

	return (Datum) 0;
}
