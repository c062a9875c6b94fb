/*-------------------------------------------------------------------------
 *
 * attempt.c
 *	  inbox.attempt: run one statement that may fail without failing the
 *	  caller's transaction.
 *
 * The statement runs in an internal subtransaction, as a PL/pgSQL block with
 * an EXCEPTION clause would run it.  An error rolls back the subtransaction
 * (and so only that statement's effects) and comes back as a row.  Errors
 * that a caller must never be able to swallow are raised again after the
 * rollback: cancellation and statement_timeout, operator intervention
 * (shutdown, a terminated backend), insufficient resources (out of memory,
 * disk full), stack depth, system and internal errors.  Other program
 * limits (an index row too large, a NUL in text) depend on the statement's
 * data and come back as rows.  FATAL and PANIC never reach a
 * PG_CATCH block at all.
 *
 * This is the only place where pg_inbox starts a subtransaction, and only
 * because its caller asked for one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "tcop/dest.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "pg_inbox.h"

PG_FUNCTION_INFO_V1(attempt);

/*
 * Must an error of this SQLSTATE go on up, rather than come back as a row?
 */
static bool
must_propagate(int sqlerrcode)
{
	int			class = ERRCODE_TO_CATEGORY(sqlerrcode);

	return class == ERRCODE_TO_CATEGORY(ERRCODE_QUERY_CANCELED) ||	/* 57 */
		class == ERRCODE_TO_CATEGORY(ERRCODE_INSUFFICIENT_RESOURCES) || /* 53 */
		class == ERRCODE_TO_CATEGORY(ERRCODE_SYSTEM_ERROR) ||	/* 58 */
		class == ERRCODE_TO_CATEGORY(ERRCODE_INTERNAL_ERROR) || /* XX */
		sqlerrcode == ERRCODE_STATEMENT_TOO_COMPLEX;	/* 54001, stack depth */
}

/*
 * Is the text exactly one statement that may run in a subtransaction?  Runs
 * inside the subtransaction, so that a syntax error comes back as a row;
 * sets *misuse before raising anything that must not.  SPI parses the text
 * again: cheap next to a subtransaction.
 */
static void
check_statement(const char *sql, volatile bool *misuse)
{
	List	   *stmts = raw_parser(sql, RAW_PARSE_DEFAULT);
	Node	   *stmt;

	if (list_length(stmts) != 1)
	{
		*misuse = true;
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("inbox.attempt runs exactly one statement, not %d",
						list_length(stmts))));
	}
	stmt = linitial_node(RawStmt, stmts)->stmt;
	if (IsA(stmt, TransactionStmt))
	{
		*misuse = true;
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("inbox.attempt cannot run transaction control statements"),
				 errhint("The statement runs inside the caller's transaction; "
						 "commit or roll back outside of inbox.attempt.")));
	}
	if (IsA(stmt, CopyStmt) && ((CopyStmt *) stmt)->filename == NULL)
	{
		*misuse = true;
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("inbox.attempt cannot run COPY to or from the client")));
	}
}

/*
 * inbox.attempt(statement text)
 *	  returns (ok, sqlstate, message, detail, constraint_name, rows)
 */
Datum
attempt(PG_FUNCTION_ARGS)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	ResourceOwner caller_owner = CurrentResourceOwner;
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {false, true, true, true, true, false};
	char	   *sql;
	volatile bool misuse = false;

	tupdesc = InboxResultDesc(fcinfo);

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("statement must not be NULL")));
	sql = text_to_cstring(PG_GETARG_TEXT_PP(0));

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller_cxt);

	PG_TRY();
	{
		int			rc;
		SPIExecuteOptions options;

		check_statement(sql, &misuse);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		/* rows are counted, not kept: a large SELECT costs no memory */
		memset(&options, 0, sizeof(options));
		options.dest = None_Receiver;
		rc = SPI_execute_extended(sql, &options);
		if (rc < 0)
			elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
		values[5] = Int64GetDatum((int64) SPI_processed);
		if (SPI_finish() != SPI_OK_FINISH)
			elog(ERROR, "SPI_finish failed");

		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller_cxt);
		CurrentResourceOwner = caller_owner;
		values[0] = BoolGetDatum(true);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller_cxt);
		edata = CopyErrorData();
		FlushErrorState();

		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller_cxt);
		CurrentResourceOwner = caller_owner;

		if (misuse || must_propagate(edata->sqlerrcode))
			ReThrowError(edata);

		values[0] = BoolGetDatum(false);
		values[1] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
		nulls[1] = false;
		if (edata->message != NULL)
		{
			values[2] = CStringGetTextDatum(edata->message);
			nulls[2] = false;
		}
		if (edata->detail != NULL)
		{
			values[3] = CStringGetTextDatum(edata->detail);
			nulls[3] = false;
		}
		if (edata->constraint_name != NULL)
		{
			values[4] = CStringGetTextDatum(edata->constraint_name);
			nulls[4] = false;
		}
		nulls[5] = true;
		FreeErrorData(edata);
	}
	PG_END_TRY();

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
