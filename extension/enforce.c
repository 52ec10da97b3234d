/*-------------------------------------------------------------------------
 *
 * enforce.c
 *		Statement-level enforcement for counterpart sessions: who may run
 *		what, on which relations and columns, under which purpose.
 *
 * Every plannable statement reaches ExecutorCheckPerms_hook with its whole
 * range table: the relations named in the query and those brought in by
 * views, rules and sublinks, each with the columns read and written.  SQL,
 * PL/pgSQL and SECURITY DEFINER functions run their queries through the
 * executor too, so the same check sees them; and because identity is the
 * session user, a definer's rights do not change the answer.
 *
 * A counterpart statement runs only if
 *	 - its credential and its counterpart are active;
 *	 - every relation it touches is a system catalog read (drivers need
 *	   them), a view (its base relations are checked in its place), or a
 *	   protected relation on which an active grant for the session's
 *	   purpose allows the command;
 *	 - every grant in force for that relation and command covers every
 *	   column the statement reads or writes.  Rows come from the union of
 *	   the grants' filters, so a column is usable only where every one of
 *	   those grants allows it: otherwise a row admitted by one grant would
 *	   show a column only another grant allows.
 * Rows are then limited by the row security policies of rowsec.c.  When a
 * grant filters rows but PostgreSQL would not apply row security to this
 * access (a view or SECURITY DEFINER function owned by the table owner or
 * by a role with BYPASSRLS), the statement is refused: olink fails closed.
 *
 * Cursors and portals are checked again when they are run (ExecutorRun)
 * and fetched (FETCH of a WITH HOLD cursor, whose rows no longer come from
 * the executor), so a revocation stops them at the next statement; and each
 * top-level statement first closes held cursors whose grants are no longer
 * in force.  A protocol-level Execute of a held cursor runs none of these
 * hooks: until the session's next statement it can still be read (cutting
 * live sessions off on revocation closes that gap).
 *
 * Each top-level statement runs under the purpose it started with: nested
 * statements and the row-policy guards use that captured purpose, so a
 * set_config() half way through changes nothing until the next statement.
 *
 * Utility statements go through ProcessUtility_hook: a counterpart may run
 * only what drivers and poolers need (SET, SHOW, RESET, DISCARD,
 * transaction control, PREPARE/EXECUTE, cursors, COPY to and from the
 * client); DDL, EXPLAIN, TRUNCATE, LOAD, ALTER ROLE and the rest are
 * refused, and so is any change to an olink.* setting other than
 * olink.purpose.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/sysattr.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/cmdtag.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "olink.h"

static ExecutorCheckPerms_hook_type prev_ExecutorCheckPerms = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/* the query whose permissions ExecutorStart just checked */
static QueryDesc *checked_query = NULL;
static TimestampTz checked_at = 0;
static uint64 checked_generation = 0;

/* how deep this backend is inside ExecutorRun/ExecutorFinish */
int			olink_exec_depth = 0;	/* inside ExecutorRun/Finish; audit.c reads it too */

/* the range table olink_ExecutorStart has just checked, before the native check */
static List *prechecked_rtable = NIL;

/*
 * Range tables of this session's cursors, kept from DECLARE so that a FETCH
 * from a WITH HOLD cursor (served from its materialised store) is checked
 * against the grants in force at the FETCH.
 */
typedef struct CursorRecord
{
	char	   *name;
	Portal		portal;
	MemoryContext cxt;
	List	   *rtables;		/* List of range tables */
} CursorRecord;

static List *cursor_records = NIL;

static void sweep_held_cursors(void);

/*
 * Refuse: return false, or raise the error -- which the statement's audit
 * event takes note of as it is raised, so that a PL/pgSQL handler that
 * catches it cannot hide the refusal.
 */
#define DENY(...) \
	do { \
		if (!ereport_on_violation) \
			return false; \
		PG_TRY(); \
		{ \
			ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), __VA_ARGS__)); \
		} \
		PG_CATCH(); \
		{ \
			olink_audit_capture_error(); \
			PG_RE_THROW(); \
		} \
		PG_END_TRY(); \
	} while (0)

/*
 * The session to enforce for, or NULL when this backend is not a counterpart
 * session (or enforcement does not apply right now).  Pending invalidations
 * are taken first, so a revocation committed by another backend is seen.
 */
OlinkSession *
olink_counterpart_session(void)
{
	OlinkSession *s;

	/*
	 * Parallel workers too: a worker plans and checks queries of its own (a
	 * PARALLEL SAFE function's), reading the registry with its leader's
	 * snapshot.
	 */
	if (olink_in_registry_read || !olink_enforce || !IsTransactionState())
		return NULL;
	s = olink_session();
	if (!s->installed || !s->is_counterpart)
		return NULL;
	AcceptInvalidationMessages();
	s = olink_session();
	if (!s->installed || !s->is_counterpart)
		return NULL;
	return s;
}

/* credential and counterpart in good standing */
static bool
check_standing(OlinkSession *s, bool ereport_on_violation)
{
	const char *cut_off = olink_session_cut_off();

	if (cut_off != NULL)
		DENY(errmsg("this session of \"%s\" has been cut off", s->login),
			 errdetail("olink ended it because %s.", cut_off));
	if (!s->credential_active)
		DENY(errmsg("credential \"%s\" is no longer active", s->login),
			 errdetail("Counterpart \"%s\" no longer accepts statements from this credential.",
					   s->counterpart));
	if (!s->counterpart_active)
		DENY(errmsg("counterpart \"%s\" is suspended", s->counterpart),
			 errdetail("No statement of a suspended counterpart is accepted."));
	return true;
}

bool
olink_check_identity(OlinkSession *s, bool ereport_on_violation)
{
	if (!check_standing(s, ereport_on_violation))
		return false;

	/*
	 * SET ROLE may take a counterpart session only to its own group role: any
	 * other role it is a member of could bypass row security or own a table,
	 * and catalog views (pg_stats) answer by current_user.
	 */
	if (GetOuterUserId() != GetSessionUserId() && GetOuterUserId() != s->group_role)
		DENY(errmsg("counterpart sessions cannot act as role \"%s\"",
					GetUserNameFromId(GetOuterUserId(), false)),
			 errdetail("A counterpart session acts as its login or as the group role of counterpart \"%s\".",
					   s->counterpart),
			 errhint("RESET ROLE."));
	return true;
}

/* a relation's name, for messages only: looked up when a statement is refused */
static const char *
rel_name(Oid relid)
{
	char	   *name = get_rel_name(relid);

	return name ? name : "?";
}

static const char *
priv_name(int priv)
{
	switch (priv)
	{
		case OLINK_PRIV_SELECT:
			return "SELECT";
		case OLINK_PRIV_INSERT:
			return "INSERT";
		case OLINK_PRIV_UPDATE:
			return "UPDATE";
		case OLINK_PRIV_DELETE:
			return "DELETE";
	}
	return "?";
}

static bool
attribute_is_live(Oid relid, AttrNumber attnum)
{
	HeapTuple	tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
	bool		live;

	if (!HeapTupleIsValid(tup))
		return false;
	live = !((Form_pg_attribute) GETSTRUCT(tup))->attisdropped;
	ReleaseSysCache(tup);
	return live;
}

static AttrNumber
relation_natts(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	AttrNumber	natts;

	if (!HeapTupleIsValid(tup))
		return 0;
	natts = ((Form_pg_class) GETSTRUCT(tup))->relnatts;
	ReleaseSysCache(tup);
	return natts;
}

/*
 * Does grant g cover every user column in cols (an RTE column set, offset by
 * FirstLowInvalidHeapAttributeNumber)?  A whole-row reference needs every
 * live column.  System columns carry no personal data and are not checked.
 */
static bool
grant_covers(OlinkGrant *g, Bitmapset *cols, Oid relid, AttrNumber *missing)
{
	int			x = -1;

	if (g->all_columns)
		return true;
	while ((x = bms_next_member(cols, x)) >= 0)
	{
		AttrNumber	att = x + FirstLowInvalidHeapAttributeNumber;

		if (att < 0)
			continue;
		if (att == InvalidAttrNumber)
		{
			AttrNumber	natts = relation_natts(relid);
			AttrNumber	a;

			for (a = 1; a <= natts; a++)
			{
				if (!bms_is_member(a, g->columns) && attribute_is_live(relid, a))
				{
					*missing = a;
					return false;
				}
			}
			continue;
		}
		if (!bms_is_member(att, g->columns))
		{
			*missing = att;
			return false;
		}
	}
	return true;
}

/* explains, in errdetail, why no grant allows priv on the relation */
static int
no_grant_detail(OlinkSession *s, OlinkRelation *r, int priv, const char *relname)
{
	ListCell   *lc;
	OlinkGrant *for_purpose = NULL;
	OlinkGrant *any = NULL;

	if (r != NULL)
	{
		foreach(lc, r->grants)
		{
			OlinkGrant *g = lfirst(lc);
			int			i;

			if (!(g->privs & priv))
				continue;
			any = g;
			for (i = 0; i < g->npurposes; i++)
				if (strcmp(g->purposes[i], olink_statement_purpose()) == 0)
					for_purpose = g;
		}
	}
	if (for_purpose != NULL)
	{
		/* timestamptz_to_str returns a static buffer: copy each */
		char	   *from = pstrdup(timestamptz_to_str(for_purpose->valid_from));
		char	   *until = TIMESTAMP_IS_NOEND(for_purpose->valid_until) ? "further notice" :
			pstrdup(timestamptz_to_str(for_purpose->valid_until));

		return errdetail("Grant %lld allows %s on relation \"%s\" for purpose \"%s\" only from %s until %s.",
						 (long long) for_purpose->id, priv_name(priv), relname, olink_statement_purpose(),
						 from, until);
	}
	if (any != NULL)
		return errdetail("No grant of counterpart \"%s\" allows %s on relation \"%s\" for purpose \"%s\".",
						 s->counterpart, priv_name(priv), relname, olink_statement_purpose());
	return errdetail("Counterpart \"%s\" holds no grant allowing %s on relation \"%s\".",
					 s->counterpart, priv_name(priv), relname);
}

/*
 * Checks one relation of the range table for one privilege.  Sets *filtered
 * when a grant in force limits rows.
 */
static bool
check_privilege(OlinkSession *s, OlinkRelation *r, RangeTblEntry *rte, int priv,
				Bitmapset *cols, bool *filtered, bool ereport_on_violation)
{
	ListCell   *lc;
	int			live = 0;

	foreach(lc, r->grants)
	{
		OlinkGrant *g = lfirst(lc);
		AttrNumber	missing = InvalidAttrNumber;

		if (!(g->privs & priv) || !olink_grant_live(s, g))
			continue;
		live++;
		if (g->missing_column != NULL)
			DENY(errmsg("permission denied for relation \"%s\"", rel_name(rte->relid)),
				 errdetail("Grant %lld names column \"%s\", which no longer exists; the grant is not usable until it is replaced.",
						   (long long) g->id, g->missing_column));
		if (!grant_covers(g, cols, rte->relid, &missing))
			DENY(errmsg("permission denied for column \"%s\" of relation \"%s\"",
						get_attname(rte->relid, missing, false), rel_name(rte->relid)),
				 errdetail("Grant %lld, in force for purpose \"%s\", does not include this column for %s.",
						   (long long) g->id, olink_statement_purpose(), priv_name(priv)),
				 errhint("Every grant in force on a relation must include each column a statement uses."));
		if (g->row_filter != NULL)
		{
			if (!olink_grant_filter_usable(g, NULL))
				DENY(errmsg("permission denied for relation \"%s\"", rel_name(rte->relid)),
					 errdetail("The row filter of grant %lld can no longer be evaluated: %s.",
							   (long long) g->id, g->filter_error));
			*filtered = true;
		}
	}
	if (live == 0)
		DENY(errmsg("permission denied for relation \"%s\"", rel_name(rte->relid)),
			 no_grant_detail(s, r, priv, rel_name(rte->relid)));
	return true;
}

/*
 * Will PostgreSQL apply row security to this access?  For the login's own
 * access (no view or definer rights in between) the answer is memoised per
 * relation: it changes only with the table (a relcache invalidation) or
 * with the login's attributes and memberships (a role invalidation), and
 * either reloads the cache.
 */
static bool
row_security_applies(OlinkRelation *r, RangeTblEntry *rte)
{
	Oid			as = OLINK_RTE_CHECK_AS_USER(rte);
	bool		direct = !OidIsValid(as) && GetUserId() == GetSessionUserId();
	bool		applies;

	if (direct && r->rls_direct_known)
		return r->rls_direct_enabled;
	applies = check_enable_rls(rte->relid, as, true) == RLS_ENABLED;
	if (direct)
	{
		r->rls_direct_known = true;
		r->rls_direct_enabled = applies;
	}
	return applies;
}

bool
olink_check_range_table(List *rangeTable, bool ereport_on_violation)
{
	OlinkSession *s;
	ListCell   *lc;
	TimestampTz now;

	/* referential integrity checks run as the table owner and reveal nothing */
	if (InNoForceRLSOperation())
		return true;
	s = olink_counterpart_session();
	if (s == NULL)
		return true;

	if (olink_exec_depth == 0)
		olink_begin_statement();
	if (!olink_check_identity(s, ereport_on_violation))
		return false;
	now = GetCurrentStatementStartTimestamp();

	foreach(lc, rangeTable)
	{
		RangeTblEntry *rte = lfirst(lc);
		AclMode		required;
		OlinkRelation *r;
		bool		filtered = false;

		if (rte->rtekind != RTE_RELATION)
			continue;
		required = OLINK_RTE_REQUIRED_PERMS(rte);
		if (required == 0)
			continue;
		/* a view's base relations are in the range table too, and are checked */
		if (rte->relkind == RELKIND_VIEW)
			continue;
		/* system catalogs: readable, as drivers need them; never writable */
		if (rte->relid < FirstNormalObjectId)
		{
			if ((required & ~ACL_SELECT) == 0)
				continue;
			DENY(errmsg("permission denied for relation \"%s\"", rel_name(rte->relid)),
				 errdetail("Counterpart sessions may only read system catalogs."));
		}

		if (olink_statement_purpose()[0] == '\0')
			DENY(errmsg("no purpose declared for this session"),
				 errdetail("Relation \"%s\" may be accessed only under a declared purpose.", rel_name(rte->relid)),
				 errhint("Declare one with SET olink.purpose or SELECT olink.begin_purpose(...)."));
		if (!olink_purpose_valid(s, now))
			DENY(errmsg("purpose \"%s\" is not registered for counterpart \"%s\"",
						olink_statement_purpose(), s->counterpart),
				 errdetail("No agreement of the counterpart in force now lists this purpose."));

		r = olink_find_relation(s, rte->relid);
		if (r == NULL || !r->protected)
			DENY(errmsg("permission denied for relation \"%s\"", rel_name(rte->relid)),
				 errdetail("Counterpart \"%s\" holds no grant on relation \"%s\".",
						   s->counterpart, rel_name(rte->relid)));

		if ((required & ACL_SELECT) &&
			!check_privilege(s, r, rte, OLINK_PRIV_SELECT, OLINK_RTE_SELECTED_COLS(rte),
							 &filtered, ereport_on_violation))
			return false;
		if ((required & ACL_INSERT) &&
			!check_privilege(s, r, rte, OLINK_PRIV_INSERT, OLINK_RTE_INSERTED_COLS(rte),
							 &filtered, ereport_on_violation))
			return false;
		if ((required & ACL_UPDATE) &&
			!check_privilege(s, r, rte, OLINK_PRIV_UPDATE, OLINK_RTE_UPDATED_COLS(rte),
							 &filtered, ereport_on_violation))
			return false;
		if ((required & ACL_DELETE) &&
			!check_privilege(s, r, rte, OLINK_PRIV_DELETE, NULL,
							 &filtered, ereport_on_violation))
			return false;
		if (required & ~(ACL_SELECT | ACL_INSERT | ACL_UPDATE | ACL_DELETE))
			DENY(errmsg("permission denied for relation \"%s\"", rel_name(rte->relid)),
				 errdetail("The statement needs a privilege olink grants cannot give."));

		/* a row filter is only as good as PostgreSQL's willingness to apply it */
		if (filtered && !row_security_applies(r, rte))
		{
			Oid			as = OidIsValid(OLINK_RTE_CHECK_AS_USER(rte)) ?
				OLINK_RTE_CHECK_AS_USER(rte) : GetUserId();

			DENY(errmsg("rows of relation \"%s\" cannot be limited for this access", rel_name(rte->relid)),
				 errdetail("The relation is read with the rights of role \"%s\", to which row security does not apply.",
						   GetUserNameFromId(as, false)),
				 errhint("Read it through a view with security_invoker = true, or through a function owned by a role that neither owns the table nor bypasses row security."));
		}
	}
	return true;
}

/* ---------------------------------------------------------------------
 * Executor hooks
 * ---------------------------------------------------------------------
 */

static bool
olink_ExecutorCheckPerms(List *rangeTable, bool ereport_on_violation)
{
	/* the statement's audit event names what COPY and the like touch too */
	olink_audit_note_range_table(rangeTable);
	if (prev_ExecutorCheckPerms &&
		!prev_ExecutorCheckPerms(rangeTable, ereport_on_violation))
		return false;
	/* already checked by olink_ExecutorStart for this very query */
	if (rangeTable != NIL && rangeTable == prechecked_rtable)
	{
		prechecked_rtable = NIL;
		return true;
	}
	return olink_check_range_table(rangeTable, ereport_on_violation);
}

static void
olink_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	/*
	 * Check before PostgreSQL's own privilege check, so that a counterpart
	 * refused on both grounds learns olink's reason (which names what is
	 * missing) rather than the bare native one.
	 */
	prechecked_rtable = NIL;

	/*
	 * A top-level statement first closes held cursors whose grants are gone
	 * (a no-op unless this counterpart session declared some).  Done here and
	 * at FETCH, not inside every check: a check of a cursor's own range
	 * table must not close the cursor it is reading.
	 */
	if (olink_exec_depth == 0)
		sweep_held_cursors();
	/* no registry read is possible in parallel mode: what an internal session defers, read now */
	if (queryDesc->plannedstmt->parallelModeNeeded && !IsInParallelMode())
		olink_registry_before_parallel();
	if (olink_check_range_table(queryDesc->plannedstmt->rtable, true))
		prechecked_rtable = queryDesc->plannedstmt->rtable;

	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);

	/* remember that this query was just checked, so ExecutorRun need not again */
	checked_query = queryDesc;
	checked_at = GetCurrentStatementStartTimestamp();
	checked_generation = olink_registry_generation();
}

/*
 * A portal can run long after it was started: a cursor fetched statement by
 * statement, a protocol-level portal executed in batches.  Each run after
 * the first is checked again against the registry as it is now.
 */
static void
olink_ExecutorRun(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
				  bool execute_once)
{
	if (!olink_in_registry_read && olink_enforce)
	{
		OlinkSession *s = olink_session();

		if (s->installed && s->is_counterpart)
		{
			AcceptInvalidationMessages();
			if (queryDesc != checked_query ||
				checked_at != GetCurrentStatementStartTimestamp() ||
				checked_generation != olink_registry_generation())
			{
				(void) olink_check_range_table(queryDesc->plannedstmt->rtable, true);
				checked_query = queryDesc;
				checked_at = GetCurrentStatementStartTimestamp();
				checked_generation = olink_registry_generation();
			}
		}
	}

	olink_exec_depth++;
	PG_TRY();
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(queryDesc, direction, count, execute_once);
		else
			standard_ExecutorRun(queryDesc, direction, count, execute_once);
	}
	PG_FINALLY();
	{
		olink_exec_depth--;
	}
	PG_END_TRY();
}

/* AFTER triggers run here: statements they run are part of the same top-level statement */
static void
olink_ExecutorFinish(QueryDesc *queryDesc)
{
	olink_exec_depth++;
	PG_TRY();
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		olink_exec_depth--;
	}
	PG_END_TRY();
}

/* ---------------------------------------------------------------------
 * Cursors
 * ---------------------------------------------------------------------
 */

static void
forget_cursor(CursorRecord *rec)
{
	cursor_records = list_delete_ptr(cursor_records, rec);
	MemoryContextDelete(rec->cxt);
}

/* drops records of cursors that no longer exist */
static void
prune_cursor_records(void)
{
	ListCell   *lc;
	List	   *gone = NIL;

	foreach(lc, cursor_records)
	{
		CursorRecord *rec = lfirst(lc);

		if (GetPortalByName(rec->name) != rec->portal)
			gone = lappend(gone, rec);
	}
	foreach(lc, gone)
		forget_cursor(lfirst(lc));
	list_free(gone);
}

static void
remember_cursor(const char *name)
{
	Portal		portal = GetPortalByName(name);
	CursorRecord *rec;
	MemoryContext old;
	ListCell   *lc;

	if (!PortalIsValid(portal))
		return;
	prune_cursor_records();
	old = MemoryContextSwitchTo(TopMemoryContext);
	rec = palloc0(sizeof(CursorRecord));
	rec->cxt = AllocSetContextCreate(TopMemoryContext, "olink cursor", ALLOCSET_SMALL_SIZES);
	MemoryContextSwitchTo(rec->cxt);
	rec->name = pstrdup(name);
	rec->portal = portal;
	foreach(lc, portal->stmts)
	{
		PlannedStmt *ps = lfirst_node(PlannedStmt, lc);

		rec->rtables = lappend(rec->rtables, copyObject(ps->rtable));
	}
	MemoryContextSwitchTo(TopMemoryContext);
	cursor_records = lappend(cursor_records, rec);
	MemoryContextSwitchTo(old);
}

/*
 * A WITH HOLD cursor serves its rows from a store filled at commit; a
 * protocol-level Execute or SPI fetch of it runs no executor and no check.
 * So at the start of every top-level query and every FETCH, held cursors
 * whose grants are no longer in force are closed.
 */
static void
sweep_held_cursors(void)
{
	static bool sweeping = false;
	ListCell   *lc;
	List	   *dropped = NIL;

	if (cursor_records == NIL || sweeping)
		return;
	sweeping = true;
	PG_TRY();
	{
		foreach(lc, cursor_records)
		{
			CursorRecord *rec = lfirst(lc);
			Portal		portal = GetPortalByName(rec->name);
			ListCell   *lc2;
			bool		ok = true;

			if (portal != rec->portal || !PortalIsValid(portal))
			{
				dropped = lappend(dropped, rec);
				continue;
			}
			if (!(portal->cursorOptions & CURSOR_OPT_HOLD) || portal->holdStore == NULL ||
				portal->status == PORTAL_ACTIVE || portal->portalPinned)
				continue;
			foreach(lc2, rec->rtables)
				ok = ok && olink_check_range_table((List *) lfirst(lc2), false);
			if (!ok)
			{
				ereport(WARNING,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("cursor \"%s\" was closed", rec->name),
						 errdetail("The grants it was declared under are no longer in force.")));
				PortalDrop(portal, false);
				dropped = lappend(dropped, rec);
			}
		}
	}
	PG_FINALLY();
	{
		sweeping = false;
	}
	PG_END_TRY();
	foreach(lc, dropped)
		forget_cursor(lfirst(lc));
	list_free(dropped);
}

static void
check_cursor(const char *name)
{
	Portal		portal;
	ListCell   *lc;

	if (name == NULL)
		return;
	portal = GetPortalByName(name);
	if (!PortalIsValid(portal))
		return;					/* PostgreSQL reports the missing cursor */
	foreach(lc, cursor_records)
	{
		CursorRecord *rec = lfirst(lc);

		if (rec->portal == portal && strcmp(rec->name, name) == 0)
		{
			ListCell   *lc2;

			foreach(lc2, rec->rtables)
				(void) olink_check_range_table((List *) lfirst(lc2), true);
			return;
		}
	}
	/* not declared by SQL in this session as a counterpart: check what the portal still has */
	foreach(lc, portal->stmts)
	{
		Node	   *stmt = lfirst(lc);

		if (IsA(stmt, PlannedStmt))
			(void) olink_check_range_table(((PlannedStmt *) stmt)->rtable, true);
	}
}

/* ---------------------------------------------------------------------
 * Utility statements
 * ---------------------------------------------------------------------
 */

static bool
is_olink_setting(const char *name)
{
	return name != NULL && pg_strncasecmp(name, "olink.", 6) == 0;
}

static void
deny_utility(Node *parsetree, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("%s is not allowed in a counterpart session", what),
			 errdetail("Counterpart sessions may read and change data within their grants, declare a purpose, set session options, and use transactions, prepared statements and cursors.")));
}

static void
check_utility(OlinkSession *s, Node *parsetree)
{
	switch (nodeTag(parsetree))
	{
		case T_VariableSetStmt:
			{
				VariableSetStmt *stmt = (VariableSetStmt *) parsetree;

				/*
				 * SET/RESET SESSION AUTHORIZATION is open only to sessions
				 * a superuser authenticated; it must stay usable to leave a
				 * suspended identity.
				 */
				if (stmt->name && strcmp(stmt->name, "session_authorization") == 0)
					break;
				/* SET ROLE itself is judged at the next statement, by the role it set */
				if (stmt->name && strcmp(stmt->name, "role") == 0)
				{
					(void) check_standing(s, true);
					break;
				}
				(void) olink_check_identity(s, true);
				if (is_olink_setting(stmt->name) &&
					pg_strcasecmp(stmt->name, "olink.purpose") != 0)
					ereport(ERROR,
							(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
							 errmsg("counterpart sessions cannot change setting \"%s\"", stmt->name),
							 errdetail("Of olink's settings, a counterpart session may set only olink.purpose.")));
				if (stmt->kind == VAR_SET_VALUE && is_olink_setting(stmt->name) &&
					list_length(stmt->args) == 1 && IsA(linitial(stmt->args), A_Const))
				{
					A_Const    *c = linitial(stmt->args);

					/* an empty purpose declares none, like RESET */
					if (!c->isnull && IsA(&c->val, String) && strVal(&c->val)[0] != '\0')
						olink_require_purpose(s, strVal(&c->val));
				}
				break;
			}
		case T_TransactionStmt:
			break;
		case T_VariableShowStmt:
		case T_DiscardStmt:
		case T_PrepareStmt:
		case T_ExecuteStmt:
		case T_DeallocateStmt:
		case T_DeclareCursorStmt:
		case T_ClosePortalStmt:
		case T_CallStmt:
		case T_ConstraintsSetStmt:
		case T_UnlistenStmt:
			(void) olink_check_identity(s, true);
			break;
		case T_FetchStmt:
			(void) olink_check_identity(s, true);
			sweep_held_cursors();
			prune_cursor_records();
			check_cursor(((FetchStmt *) parsetree)->portalname);
			break;
		case T_CopyStmt:
			{
				CopyStmt   *stmt = (CopyStmt *) parsetree;

				(void) olink_check_identity(s, true);
				if (stmt->filename != NULL || stmt->is_program)
					deny_utility(parsetree, stmt->is_program ? "COPY to or from a program" :
								 "COPY to or from a server file");
				break;
			}
		case T_ExplainStmt:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("EXPLAIN is not allowed in a counterpart session"),
					 errdetail("Plans and their row counts could reveal rows and values the grants hide.")));
			break;
		default:
			deny_utility(parsetree, GetCommandTagName(CreateCommandTag(parsetree)));
	}
}

/* is this DROP EXTENSION naming olink? */
static bool
drops_olink(Node *parsetree)
{
	DropStmt   *stmt;
	ListCell   *lc;

	if (!IsA(parsetree, DropStmt))
		return false;
	stmt = (DropStmt *) parsetree;
	/* DROP EXTENSION olink, or DROP SCHEMA olink CASCADE which takes it along */
	if (stmt->removeType != OBJECT_EXTENSION &&
		!(stmt->removeType == OBJECT_SCHEMA && stmt->behavior == DROP_CASCADE))
		return false;
	foreach(lc, stmt->objects)
	{
		if (strcmp(strVal(lfirst(lc)), "olink") == 0)
			return true;
	}
	return false;
}

/*
 * Before the registry disappears, give the protected tables back: row
 * security off where olink turned it on, counterparts' native privileges
 * revoked.  Runs in the dropping transaction, so a failed drop undoes it.
 */
static void
release_protected_tables(void)
{
	if (!OidIsValid(get_extension_oid("olink", true)))
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "olink: SPI_connect failed");
	/*
	 * The audit store first, in the order the audit worker takes it, before
	 * any protected table: the worker and the sessions writing the journal
	 * then wait for the drop instead of deadlocking with it.
	 */
	if (SPI_execute("LOCK TABLE olink.access_event, olink.connection_event, olink.audit_text, "
					"olink.audit_seal, olink.journal IN ACCESS EXCLUSIVE MODE", false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "olink: could not lock the audit store");
	if (SPI_execute("SELECT olink._release_all()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "olink: could not release protected tables");
	SPI_finish();
}

static void
olink_ProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					 ProcessUtilityContext context, ParamListInfo params,
					 QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	OlinkSession *s = NULL;

	/* transaction control must always work, also in an aborted transaction */
	if (!IsA(parsetree, TransactionStmt) && !IsAbortedTransactionBlockState())
	{
		s = olink_counterpart_session();
		if (s != NULL)
			check_utility(s, parsetree);
		else if (drops_olink(parsetree))
		{
			release_protected_tables();
			/* counterpart logins are refused, and live ones cut off, once olink is gone */
			olink_credentials_changed();
		}
		else
		{
			olink_journal_guard_utility(parsetree);
			olink_credential_guard_utility(parsetree);
		}
	}

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);

	if (s != NULL && IsA(parsetree, DeclareCursorStmt))
		remember_cursor(((DeclareCursorStmt *) parsetree)->portalname);
	else if (s != NULL && IsA(parsetree, ClosePortalStmt))
		prune_cursor_records();
}

void
olink_enforce_init(void)
{
	prev_ExecutorCheckPerms = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = olink_ExecutorCheckPerms;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = olink_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = olink_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = olink_ExecutorFinish;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = olink_ProcessUtility;
}
