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

#include "olink.h"

void
olink_appender_open(OlinkAppender *a, Oid relid)
{
	List	   *ids;
	ListCell   *lc;
	int			i = 0;

	a->rel = table_open(relid, RowExclusiveLock);
	ids = RelationGetIndexList(a->rel);
	a->nindexes = list_length(ids);
	a->indexes = palloc(sizeof(Relation) * Max(a->nindexes, 1));
	a->index_info = palloc(sizeof(IndexInfo *) * Max(a->nindexes, 1));
	foreach(lc, ids)
	{
		Relation	irel = index_open(lfirst_oid(lc), RowExclusiveLock);
		IndexInfo  *ii = BuildIndexInfo(irel);

		if (ii->ii_Expressions != NIL || ii->ii_Predicate != NIL)
		{
			/* a partial index on a kind column is fine: it is evaluated below */
			if (ii->ii_Expressions != NIL)
				elog(ERROR, "olink: index \"%s\" on an audit table has expressions",
					 RelationGetRelationName(irel));
		}
		a->indexes[i] = irel;
		a->index_info[i] = ii;
		i++;
	}
	list_free(ids);
	a->slot = MakeSingleTupleTableSlot(RelationGetDescr(a->rel), &TTSOpsHeapTuple);
}

/* the predicate of a partial index: only "kind = 'j'" on audit_seal is used */
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

void
olink_append(OlinkAppender *a, Datum *values, bool *nulls)
{
	HeapTuple	tup = heap_form_tuple(RelationGetDescr(a->rel), values, nulls);

	simple_heap_insert(a->rel, tup);
	ExecStoreHeapTuple(tup, a->slot, false);
	for (int i = 0; i < a->nindexes; i++)
	{
		Datum		ivalues[INDEX_MAX_KEYS];
		bool		inulls[INDEX_MAX_KEYS];
		IndexInfo  *ii = a->index_info[i];

		if (!index_applies(ii, a->slot))
			continue;
		FormIndexDatum(ii, a->slot, NULL, ivalues, inulls);
		index_insert(a->indexes[i], ivalues, inulls, &tup->t_self, a->rel,
					 a->indexes[i]->rd_index->indisunique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
					 false, ii);
	}
	ExecClearTuple(a->slot);
	heap_freetuple(tup);
}

void
olink_appender_close(OlinkAppender *a)
{
	ExecDropSingleTupleTableSlot(a->slot);
	for (int i = 0; i < a->nindexes; i++)
		index_close(a->indexes[i], RowExclusiveLock);
	table_close(a->rel, RowExclusiveLock);
}
