/*-------------------------------------------------------------------------
 *
 * journal.c
 *		The change journal: a row image of every insert, update and delete
 *		on a protected table, written by the changing transaction itself.
 *
 * olink.protect() puts the trigger olink_journal (AFTER ... FOR EACH ROW,
 * enabled ALWAYS so that session_replication_role does not switch it off)
 * on the table.  The trigger appends to olink.journal in the same
 * transaction, directly into the heap (store.c): a committed change always
 * has its journal rows, a rolled-back one never does, and no grant or row
 * policy of the session stands in the way -- the journal is written for
 * counterparts and internal roles alike, without being checked as theirs.
 *
 * Each row carries what recovery needs: the statement id (the same as the
 * statement's access event), the top-level transaction id, who and under
 * which purpose, the primary key (or replica identity) as jsonb, and the
 * whole row before and after as jsonb.  Numbers and booleans become JSON
 * numbers and booleans, everything else its text form, so any row can be
 * rebuilt with jsonb_populate_record().
 *
 * TRUNCATE of a protected table is refused: it would remove rows without
 * images.  The same function, called as a statement-level BEFORE TRUNCATE
 * trigger, refuses it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "commands/trigger.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/xid8.h"

#include "olink.h"

/* how each column of a journaled table becomes JSON */
typedef enum ColumnKind
{
	COL_TEXT,					/* the type's output function, as a string */
	COL_BOOL,
	COL_INT2,
	COL_INT4,
	COL_INT8,
	COL_NUMERIC,
	COL_DATETIME,				/* ISO 8601, whatever the session's DateStyle */
	COL_DROPPED
} ColumnKind;

typedef struct JournaledRel
{
	Oid			relid;			/* hash key */
	char	   *name;			/* schema-qualified */
	int			natts;
	ColumnKind *kinds;
	Oid		   *types;
	FmgrInfo   *out;
	char	  **names;
	int			nkey;
	AttrNumber *key;			/* primary key (or replica identity) columns */
} JournaledRel;

/* relations whose journal triggers olink itself is removing in this transaction */
static List *released = NIL;

static HTAB *journaled = NULL;
static MemoryContext journal_cxt = NULL;	/* the cache of JournaledRel */
static MemoryContext row_cxt = NULL;	/* one row's images */

/* the journal table, open for the rest of the transaction */
static OlinkAppender appender;
static bool appender_open = false;
static uint64 rows_this_xact = 0;

/* the session user's name, looked up once */
static Oid	login_oid = InvalidOid;
static char *login_name = NULL;

static void
journal_rel_invalidate(Datum arg, Oid relid)
{
	if (journaled != NULL)
	{
		hash_destroy(journaled);
		journaled = NULL;
		MemoryContextReset(journal_cxt);
	}
}

static JournaledRel *
journaled_rel(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	JournaledRel *j;
	bool		found;

	if (journaled == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(JournaledRel);
		ctl.hcxt = journal_cxt;
		journaled = hash_create("olink journaled relations", 16, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	j = hash_search(journaled, &relid, HASH_ENTER, &found);
	if (!found)
	{
		TupleDesc	desc = RelationGetDescr(rel);
		MemoryContext old = MemoryContextSwitchTo(journal_cxt);
		Oid			keyidx;

		j->name = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
											 RelationGetRelationName(rel));
		j->natts = desc->natts;
		j->kinds = palloc(sizeof(ColumnKind) * Max(j->natts, 1));
		j->types = palloc(sizeof(Oid) * Max(j->natts, 1));
		j->out = palloc0(sizeof(FmgrInfo) * Max(j->natts, 1));
		j->names = palloc(sizeof(char *) * Max(j->natts, 1));
		for (int i = 0; i < j->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);
			Oid			outfn;
			bool		varlena;

			j->names[i] = pstrdup(NameStr(att->attname));
			j->types[i] = att->atttypid;
			if (att->attisdropped)
			{
				j->kinds[i] = COL_DROPPED;
				continue;
			}
			switch (att->atttypid)
			{
				case BOOLOID:
					j->kinds[i] = COL_BOOL;
					break;
				case INT2OID:
					j->kinds[i] = COL_INT2;
					break;
				case INT4OID:
					j->kinds[i] = COL_INT4;
					break;
				case INT8OID:
					j->kinds[i] = COL_INT8;
					break;
				case NUMERICOID:
					j->kinds[i] = COL_NUMERIC;
					break;
				case DATEOID:
				case TIMEOID:
				case TIMETZOID:
				case TIMESTAMPOID:
				case TIMESTAMPTZOID:
					j->kinds[i] = COL_DATETIME;
					break;
				default:
					j->kinds[i] = COL_TEXT;
					getTypeOutputInfo(att->atttypid, &outfn, &varlena);
					fmgr_info_cxt(outfn, &j->out[i], journal_cxt);
					break;
			}
		}
		keyidx = RelationGetPrimaryKeyIndex(rel);
		if (!OidIsValid(keyidx))
			keyidx = RelationGetReplicaIndex(rel);
		j->nkey = 0;
		j->key = NULL;
		if (OidIsValid(keyidx))
		{
			Relation	irel = index_open(keyidx, AccessShareLock);

			j->nkey = irel->rd_index->indnkeyatts;
			j->key = palloc(sizeof(AttrNumber) * j->nkey);
			for (int i = 0; i < j->nkey; i++)
				j->key[i] = irel->rd_index->indkey.values[i];
			index_close(irel, AccessShareLock);
		}
		MemoryContextSwitchTo(old);
	}
	return j;
}

static void
push_string(JsonbParseState **state, JsonbIteratorToken tok, const char *s)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = strlen(s);
	(void) pushJsonbValue(state, tok, &v);
}

static void
push_column(JsonbParseState **state, JournaledRel *j, int i, Datum d, bool isnull)
{
	JsonbValue	v;

	push_string(state, WJB_KEY, j->names[i]);
	if (isnull)
	{
		v.type = jbvNull;
		(void) pushJsonbValue(state, WJB_VALUE, &v);
		return;
	}
	switch (j->kinds[i])
	{
		case COL_BOOL:
			v.type = jbvBool;
			v.val.boolean = DatumGetBool(d);
			break;
		case COL_INT2:
			v.type = jbvNumeric;
			v.val.numeric = int64_to_numeric(DatumGetInt16(d));
			break;
		case COL_INT4:
			v.type = jbvNumeric;
			v.val.numeric = int64_to_numeric(DatumGetInt32(d));
			break;
		case COL_INT8:
			v.type = jbvNumeric;
			v.val.numeric = int64_to_numeric(DatumGetInt64(d));
			break;
		case COL_NUMERIC:
			{
				Numeric		num = DatumGetNumeric(d);

				if (numeric_is_nan(num) || numeric_is_inf(num))
				{
					push_string(state, WJB_VALUE,
								DatumGetCString(DirectFunctionCall1(numeric_out, d)));
					return;
				}
				v.type = jbvNumeric;
				v.val.numeric = num;
				break;
			}
		case COL_DATETIME:
			/* allocated: the jsonb being built points at it until it is flattened */
			push_string(state, WJB_VALUE, JsonEncodeDateTime(NULL, d, j->types[i], NULL));
			return;
		default:
			push_string(state, WJB_VALUE, OutputFunctionCall(&j->out[i], d));
			return;
	}
	(void) pushJsonbValue(state, WJB_VALUE, &v);
}

/* a row as a jsonb object of all its columns, or of its key columns */
static Jsonb *
row_image(JournaledRel *j, TupleDesc desc, HeapTuple tup, bool key_only)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	if (key_only)
	{
		for (int k = 0; k < j->nkey; k++)
		{
			bool		isnull;
			Datum		d = heap_getattr(tup, j->key[k], desc, &isnull);

			push_column(&state, j, j->key[k] - 1, d, isnull);
		}
	}
	else
	{
		int			natts = Min(j->natts, desc->natts);

		for (int i = 0; i < natts; i++)
		{
			bool		isnull;
			Datum		d;

			if (j->kinds[i] == COL_DROPPED)
				continue;
			d = heap_getattr(tup, i + 1, desc, &isnull);
			push_column(&state, j, i, d, isnull);
		}
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* the journal table, opened once per transaction under its top-level resource owner */
static void
open_appender(void)
{
	ResourceOwner save = CurrentResourceOwner;
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

	CurrentResourceOwner = TopTransactionResourceOwner;
	PG_TRY();
	{
		olink_appender_open(&appender, olink_audit_table("journal", false));
	}
	PG_FINALLY();
	{
		CurrentResourceOwner = save;
		MemoryContextSwitchTo(old);
	}
	PG_END_TRY();
	if (RelationGetDescr(appender.rel)->natts != OLINK_JOURNAL_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("table \"olink.journal\" does not have the columns olink writes")));
	appender_open = true;
}

/*
 * The number of journal rows this transaction wrote, as it was when each
 * open subtransaction began: a subtransaction that aborts takes its rows
 * back with it.
 */
typedef struct SubCount
{
	SubTransactionId subid;
	uint64		rows_before;
	struct SubCount *next;
} SubCount;

static SubCount *sub_counts = NULL;

static void
journal_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	SubCount   *sc;

	switch (event)
	{
		case SUBXACT_EVENT_START_SUB:
			/* only once journal rows were written: most transactions write none */
			if (rows_this_xact == 0 && sub_counts == NULL)
				break;
			/* rows kept back so far belong to the parent: write them before the child begins */
			if (appender_open)
				olink_appender_flush(&appender);
			sc = MemoryContextAlloc(TopTransactionContext, sizeof(SubCount));
			sc->subid = mySubid;
			sc->rows_before = rows_this_xact;
			sc->next = sub_counts;
			sub_counts = sc;
			break;
		case SUBXACT_EVENT_ABORT_SUB:
		case SUBXACT_EVENT_COMMIT_SUB:
			while (sub_counts != NULL && sub_counts->subid >= mySubid)
			{
				if (event == SUBXACT_EVENT_ABORT_SUB && sub_counts->subid == mySubid)
				{
					rows_this_xact = sub_counts->rows_before;
					/* rows kept back were all written inside the aborted subtransaction */
					if (appender_open)
						olink_appender_discard(&appender);
				}
				sub_counts = sub_counts->next;
			}
			break;
		default:
			break;
	}
}

/*
 * Tell the audit worker how many journal rows this transaction wrote.  The
 * worker records it in the chain; verify_audit() compares it with the
 * rows sealed for the transaction, so that rows written into the journal
 * by any other means are found even before the worker seals them.
 */
static void
attest_rows(void)
{
	OlinkEventBuilder b;

	olink_event_init(&b, OLINK_EV_JOURNAL_ATTEST);
	b.ev.xid = U64FromFullTransactionId(GetTopFullTransactionId());
	b.ev.rows = rows_this_xact;
	(void) olink_event_put(&b);
}

static void
journal_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			if (rows_this_xact > 0 && event != XACT_EVENT_PARALLEL_PRE_COMMIT)
				attest_rows();
			if (appender_open)
			{
				ResourceOwner save = CurrentResourceOwner;

				CurrentResourceOwner = TopTransactionResourceOwner;
				olink_appender_close(&appender);
				CurrentResourceOwner = save;
			}
			appender_open = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* the resource owner lets go of the relations */
			appender_open = false;
			rows_this_xact = 0;
			sub_counts = NULL;
			released = NIL;
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			rows_this_xact = 0;
			sub_counts = NULL;
			released = NIL;
			break;
	}
}

PG_FUNCTION_INFO_V1(olink_journal);

Datum
olink_journal(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	JournaledRel *j;
	HeapTuple	before = NULL;
	HeapTuple	after = NULL;
	char		op;
	Datum		values[OLINK_JOURNAL_NATTS];
	bool		nulls[OLINK_JOURNAL_NATTS] = {0};
	MemoryContext old;
	OlinkSession *s;
	const char *purpose;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function olink._journal() must be called as a trigger")));
	rel = td->tg_relation;
	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot truncate protected table \"%s\"", RelationGetRelationName(rel)),
				 errdetail("TRUNCATE would remove rows without recording them in the change journal."),
				 errhint("Use DELETE, which is journaled, or take the table out of olink with olink.unprotect() first.")));
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_AFTER(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function olink._journal() must be fired AFTER ... FOR EACH ROW")));

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		op = 'i';
		after = td->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		op = 'u';
		before = td->tg_trigtuple;
		after = td->tg_newtuple;
	}
	else
	{
		op = 'd';
		before = td->tg_trigtuple;
	}

	desc = RelationGetDescr(rel);
	j = journaled_rel(rel);
	/* 第7(2)(1)イ: a record checked out by someone else is not changed */
	if (before != NULL)
		olink_checkout_check(rel, j->nkey, j->key, before);
	if (!appender_open)
		open_appender();

	if (login_name == NULL || login_oid != GetSessionUserId())
	{
		login_oid = GetSessionUserId();
		login_name = MemoryContextStrdup(TopMemoryContext, GetUserNameFromId(login_oid, false));
	}
	s = olink_session();

	old = MemoryContextSwitchTo(row_cxt);
	values[0] = Int64GetDatum(olink_next_id());
	values[1] = TimestampTzGetDatum(GetCurrentStatementStartTimestamp());
	values[2] = Int64GetDatum(olink_current_statement_id(false));
	values[3] = Int64GetDatum((int64) U64FromFullTransactionId(GetTopFullTransactionId()));
	values[4] = CStringGetTextDatum(login_name);
	if (s->installed && s->is_counterpart)
	{
		values[5] = CStringGetTextDatum(s->counterpart);
		purpose = olink_statement_purpose();
	}
	else
	{
		nulls[5] = true;
		purpose = olink_purpose;
	}
	if (purpose != NULL && purpose[0] != '\0')
		values[6] = CStringGetTextDatum(purpose);
	else
		nulls[6] = true;
	values[7] = ObjectIdGetDatum(RelationGetRelid(rel));
	values[8] = CStringGetTextDatum(j->name);
	values[9] = CharGetDatum(op);
	if (j->nkey > 0)
		values[10] = JsonbPGetDatum(row_image(j, desc, after ? after : before, true));
	else
		nulls[10] = true;
	if (before)
		values[11] = JsonbPGetDatum(row_image(j, desc, before, false));
	else
		nulls[11] = true;
	if (after)
		values[12] = JsonbPGetDatum(row_image(j, desc, after, false));
	else
		nulls[12] = true;
	olink_append(&appender, values, nulls);
	rows_this_xact++;
	MemoryContextSwitchTo(old);
	MemoryContextReset(row_cxt);

	return PointerGetDatum(NULL);
}

void
olink_journal_init(void)
{
	journal_cxt = AllocSetContextCreate(TopMemoryContext, "olink journal",
										ALLOCSET_SMALL_SIZES);
	row_cxt = AllocSetContextCreate(TopMemoryContext, "olink journal row",
									ALLOCSET_DEFAULT_SIZES);
	CacheRegisterRelcacheCallback(journal_rel_invalidate, (Datum) 0);
	RegisterXactCallback(journal_xact_callback, NULL);
	RegisterSubXactCallback(journal_subxact_callback, NULL);
}

/* ---------------------------------------------------------------------
 * Keeping the journal on
 * ---------------------------------------------------------------------
 */


PG_FUNCTION_INFO_V1(olink_release_journal);

/*
 * olink._release_journal(relation): called by unprotect() and by
 * DROP EXTENSION just before they drop the journal triggers.  Not granted
 * to anyone; olink's SECURITY DEFINER functions call it.
 */
Datum
olink_release_journal(PG_FUNCTION_ARGS)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

	released = lappend_oid(released, PG_GETARG_OID(0));
	MemoryContextSwitchTo(old);
	PG_RETURN_VOID();
}

/* is trigger name on relid one of the journal's? */
static bool
is_journal_trigger(Oid relid, const char *name)
{
	return name != NULL &&
		(strcmp(name, "olink_journal") == 0 || strcmp(name, "olink_journal_truncate") == 0) &&
		OidIsValid(get_trigger_oid(relid, name, true));
}

static void
refuse(Oid relid, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 what ? errmsg("cannot %s the change journal of protected table \"%s\"", what, get_rel_name(relid)) :
			 errmsg("cannot change when the change journal of protected table \"%s\" fires", get_rel_name(relid)),
			 errdetail("Every change to a protected table is journaled; its trigger olink_journal must stay enabled."),
			 errhint("Take the table out of olink with olink.unprotect() first.")));
}

/*
 * Called for every utility statement of a session that is not a
 * counterpart (counterparts may not run DDL at all): refuses to drop,
 * rename or disable the journal triggers of a protected table -- also
 * through DISABLE TRIGGER ALL or USER -- and to make them fire only on
 * replicas.  Costs nothing for statements of other kinds.
 */
void
olink_journal_guard_utility(Node *parsetree)
{
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_AlterTableStmt:
			{
				AlterTableStmt *stmt = (AlterTableStmt *) parsetree;
				Oid			relid = InvalidOid;

				foreach(lc, stmt->cmds)
				{
					AlterTableCmd *cmd = lfirst(lc);
					bool		all = false;

					switch (cmd->subtype)
					{
						case AT_DisableTrigAll:
						case AT_DisableTrigUser:
							all = true;
							/* FALLTHROUGH */
						case AT_DisableTrig:
						case AT_EnableTrig:
						case AT_EnableReplicaTrig:
							if (!OidIsValid(relid))
								relid = RangeVarGetRelid(stmt->relation, NoLock, true);
							if (!OidIsValid(relid) || list_member_oid(released, relid))
								break;
							if (all ? OidIsValid(get_trigger_oid(relid, "olink_journal", true)) :
								is_journal_trigger(relid, cmd->name))
								refuse(relid, cmd->subtype == AT_EnableReplicaTrig ||
									   cmd->subtype == AT_EnableTrig ? NULL : "disable");
							break;
						default:
							break;
					}
				}
				break;
			}
		case T_DropStmt:
			{
				DropStmt   *stmt = (DropStmt *) parsetree;

				if (stmt->removeType != OBJECT_TRIGGER)
					break;
				foreach(lc, stmt->objects)
				{
					List	   *names = lfirst(lc);
					char	   *trigname = strVal(llast(names));
					Oid			relid = RangeVarGetRelid(makeRangeVarFromNameList(list_truncate(list_copy(names), list_length(names) - 1)),
														 NoLock, true);

					if (OidIsValid(relid) && !list_member_oid(released, relid) &&
						is_journal_trigger(relid, trigname))
						refuse(relid, "drop");
				}
				break;
			}
		case T_TruncateStmt:
			{
				/*
				 * The BEFORE TRUNCATE trigger of a protected partitioned table
				 * does not fire for a partition truncated on its own (only row
				 * triggers are cloned to partitions).
				 */
				foreach(lc, ((TruncateStmt *) parsetree)->relations)
				{
					Oid			relid = RangeVarGetRelid(lfirst(lc), NoLock, true);
					ListCell   *la;
					List	   *ancestors;

					if (!OidIsValid(relid) || !get_rel_relispartition(relid))
						continue;
					ancestors = get_partition_ancestors(relid);
					foreach(la, ancestors)
					{
						if (OidIsValid(get_trigger_oid(lfirst_oid(la), "olink_journal_truncate", true)))
							ereport(ERROR,
									(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
									 errmsg("cannot truncate partition \"%s\" of protected table \"%s\"",
											get_rel_name(relid), get_rel_name(lfirst_oid(la))),
									 errdetail("TRUNCATE would remove rows without recording them in the change journal."),
									 errhint("Use DELETE, which is journaled.")));
					}
				}
				break;
			}
		case T_RenameStmt:
			{
				RenameStmt *stmt = (RenameStmt *) parsetree;
				Oid			relid;

				if (stmt->renameType != OBJECT_TRIGGER)
					break;
				relid = RangeVarGetRelid(stmt->relation, NoLock, true);
				if (OidIsValid(relid) && is_journal_trigger(relid, stmt->subname))
					refuse(relid, "rename");
				break;
			}
		default:
			break;
	}
}
