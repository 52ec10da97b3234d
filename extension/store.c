/*-------------------------------------------------------------------------
 *
 * store.c
 *		Appending rows to olink's own tables without the executor.
 *
 * The audit worker and the change journal write rows that no SQL may
 * write: the tables' append-only guard refuses INSERT.  They insert the
 * heap tuple and its index entries directly, as PostgreSQL does for its
 * catalogs, which also skips the per-statement cost of the executor.  The
 * tables have plain column indexes only (no expressions, no predicates),
 * which is what this supports.
 *
 * Rows always go to new pages at the end of the table (the free space map
 * is not used): the store is append-only, and so each writer's rows lie
 * in the order of their ids, which lets verify_audit() hash a seal's rows
 * in one sequential scan.  Space freed by purge_audit() is given back by
 * VACUUM FULL, not reused.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "catalog/index.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "olink.h"

/* rows kept back and written together: one WAL record and one buffer lookup per page */
#define APPEND_BATCH	1000

void
olink_appender_open(OlinkAppender *a, Oid relid)
{
	List	   *ids;
	ListCell   *lc;
	int			i = 0;

	memset(a, 0, sizeof(OlinkAppender));
	a->cxt = CurrentMemoryContext;
	a->owner = CurrentResourceOwner;
	a->rel = table_open(relid, RowExclusiveLock);
	/* a copy that is not reference-counted: slots made from it pin nothing */
	a->desc = CreateTupleDescCopy(RelationGetDescr(a->rel));
	ids = RelationGetIndexList(a->rel);
	a->nindexes = list_length(ids);
	a->indexes = palloc(sizeof(Relation) * Max(a->nindexes, 1));
	a->index_info = palloc(sizeof(IndexInfo *) * Max(a->nindexes, 1));
	foreach(lc, ids)
	{
		Relation	irel = index_open(lfirst_oid(lc), RowExclusiveLock);
		IndexInfo  *ii = BuildIndexInfo(irel);

		if (ii->ii_Expressions != NIL)
			elog(ERROR, "olink: index \"%s\" on an audit table has expressions",
				 RelationGetRelationName(irel));
		a->indexes[i] = irel;
		a->index_info[i] = ii;
		i++;
	}
	list_free(ids);
	a->slots = palloc0(sizeof(TupleTableSlot *) * APPEND_BATCH);
	a->bistate = GetBulkInsertState();
}

/*
 * The predicate of a partial index, for the two forms olink's tables use:
 * "column IS NOT NULL" and "char_column = 'c'".
 */
static bool
index_applies(IndexInfo *ii, TupleTableSlot *slot)
{
	OpExpr	   *op;
	Var		   *var;
	Const	   *c;
	bool		isnull;
	Datum		d;

	if (ii->ii_Predicate == NIL)
		return true;
	if (list_length(ii->ii_Predicate) == 1 && IsA(linitial(ii->ii_Predicate), NullTest))
	{
		NullTest   *nt = linitial(ii->ii_Predicate);

		if (!IsA(nt->arg, Var))
			elog(ERROR, "olink: unsupported partial index on an audit table");
		(void) slot_getattr(slot, ((Var *) nt->arg)->varattno, &isnull);
		return nt->nulltesttype == IS_NOT_NULL ? !isnull : isnull;
	}
	if (list_length(ii->ii_Predicate) != 1 || !IsA(linitial(ii->ii_Predicate), OpExpr))
		elog(ERROR, "olink: unsupported partial index on an audit table");
	op = linitial(ii->ii_Predicate);
	if (list_length(op->args) != 2 || !IsA(linitial(op->args), Var) ||
		!IsA(lsecond(op->args), Const))
		elog(ERROR, "olink: unsupported partial index on an audit table");
	var = linitial(op->args);
	c = lsecond(op->args);
	d = slot_getattr(slot, var->varattno, &isnull);
	return !isnull && !c->constisnull && DatumGetChar(d) == DatumGetChar(c->constvalue);
}

static void flush_rows(OlinkAppender *a);

/* write the rows kept back */
void
olink_appender_flush(OlinkAppender *a)
{
	ResourceOwner save = CurrentResourceOwner;

	if (a->nbuffered == 0)
		return;
	/* the bulk insert state keeps a buffer pinned: under the owner the appender lives in */
	CurrentResourceOwner = a->owner;
	PG_TRY();
	{
		flush_rows(a);
	}
	PG_FINALLY();
	{
		CurrentResourceOwner = save;
	}
	PG_END_TRY();
}

static void
flush_rows(OlinkAppender *a)
{
	heap_multi_insert(a->rel, a->slots, a->nbuffered, GetCurrentCommandId(true),
					  HEAP_INSERT_SKIP_FSM, a->bistate);
	for (int s = 0; s < a->nbuffered; s++)
	{
		TupleTableSlot *slot = a->slots[s];

		for (int i = 0; i < a->nindexes; i++)
		{
			Datum		ivalues[INDEX_MAX_KEYS];
			bool		inulls[INDEX_MAX_KEYS];
			IndexInfo  *ii = a->index_info[i];

			if (!index_applies(ii, slot))
				continue;
			FormIndexDatum(ii, slot, NULL, ivalues, inulls);
			index_insert(a->indexes[i], ivalues, inulls, &slot->tts_tid, a->rel,
						 a->indexes[i]->rd_index->indisunique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
						 false, ii);
		}
		ExecClearTuple(slot);
	}
	a->nbuffered = 0;
}

/* forget the rows kept back (their subtransaction aborted) */
void
olink_appender_discard(OlinkAppender *a)
{
	for (int s = 0; s < a->nbuffered; s++)
		ExecClearTuple(a->slots[s]);
	a->nbuffered = 0;
}

/* append a row; it is written at the next flush, at the latest when the appender closes */
void
olink_append(OlinkAppender *a, Datum *values, bool *nulls)
{
	TupleTableSlot *slot;
	MemoryContext old;

	/* slots and tuples live as long as the appender, not the caller's row context */
	old = MemoryContextSwitchTo(a->cxt);
	if (a->slots[a->nbuffered] == NULL)
		a->slots[a->nbuffered] = MakeSingleTupleTableSlot(a->desc, &TTSOpsHeapTuple);
	slot = a->slots[a->nbuffered];
	ExecStoreHeapTuple(heap_form_tuple(a->desc, values, nulls), slot, true);
	MemoryContextSwitchTo(old);
	if (++a->nbuffered == APPEND_BATCH)
		olink_appender_flush(a);
}

void
olink_appender_close(OlinkAppender *a)
{
	ResourceOwner save = CurrentResourceOwner;

	olink_appender_flush(a);
	CurrentResourceOwner = a->owner;
	for (int s = 0; s < APPEND_BATCH && a->slots[s] != NULL; s++)
		ExecDropSingleTupleTableSlot(a->slots[s]);
	FreeBulkInsertState(a->bistate);
	for (int i = 0; i < a->nindexes; i++)
		index_close(a->indexes[i], RowExclusiveLock);
	table_close(a->rel, RowExclusiveLock);
	CurrentResourceOwner = save;
}
