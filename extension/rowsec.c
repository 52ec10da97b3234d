/*-------------------------------------------------------------------------
 *
 * rowsec.c
 *		Row limits through PostgreSQL's own row security machinery.
 *
 * olink.protect() enables row level security on a table; from then on the
 * rewriter asks row_security_policy_hook_* for policies whenever row
 * security applies (check_enable_rls).  The planner, the plan cache, the
 * security-barrier ordering that keeps leaky functions away from hidden
 * rows, WITH CHECK options for INSERT, UPDATE, ON CONFLICT and MERGE, and
 * RETURNING all stay PostgreSQL's.
 *
 * For a counterpart session the restrictive hook returns one policy, for
 * reading and for checking new rows:
 *	   (olink._grant_live(g1) AND filter1) OR (olink._grant_live(g2) AND filter2) ...
 * over every grant of the counterpart on the relation that carries the
 * command (just filter1 when a single grant carries it: see grants_qual).  Being restrictive, it bounds whatever else admits rows.  The
 * permissive hook adds a `true` only where nothing else admits rows (no
 * policy of the table's own, none from another hook), so a table's own
 * permissive policies keep bounding counterparts as a second line.
 * The guard olink._grant_live(g) asks the registry cache whether grant g is
 * in force for the statement's purpose right now, so one plan serves every
 * purpose and every moment: a cached plan never keeps rows of a grant that
 * has expired, been revoked or belongs to another purpose.  A change to the
 * set of grants invalidates the relation's relcache entry, so plans are
 * rebuilt with the new set.
 *
 * For an internal session on a protected table that had no row security of
 * its own, the same permissive `true` (folded away by the planner) keeps the
 * rows it sees unchanged.  olink.protect() refuses a table with policies
 * that are defined but not enabled, which enabling row security would wake.
 *
 * Row filters are parsed here, with search_path = pg_catalog so that a
 * session cannot redirect a function or operator a filter names.  A filter
 * that no longer parses (a column dropped or renamed) admits no row, and
 * enforce.c refuses statements that need it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_clause.h"
#include "parser/parse_collate.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "rewrite/rowsecurity.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "olink.h"

PG_FUNCTION_INFO_V1(olink_check_row_filter);
PG_FUNCTION_INFO_V1(olink_grant_live_fn);

static row_security_policy_hook_type prev_permissive = NULL;
static row_security_policy_hook_type prev_restrictive = NULL;

/* ---------------------------------------------------------------------
 * Row filters
 * ---------------------------------------------------------------------
 */

static void
filter_error(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_SYNTAX_ERROR),
			 errmsg("row filter must be a single boolean expression"),
			 errdetail("%s", why)));
}

/*
 * Errors raised while parsing a filter name the filter, not the position in
 * whatever statement happened to trigger the parse.
 */
static void
row_filter_error_context(void *arg)
{
	errposition(0);
	internalerrposition(0);
	errcontext("row filter: %s", (const char *) arg);
}

/*
 * Parses `filter` as a boolean expression over the columns of rel, the way
 * PostgreSQL parses a policy's USING clause.  Returns the expression with
 * Vars of varno 1; *columns, when asked, gets the names of the columns used.
 */
Node *
olink_parse_row_filter(Relation rel, const char *filter, List **columns)
{
	char	   *sql = psprintf("SELECT 1 WHERE (%s)", filter);
	List	   *raw;
	RawStmt    *rs;
	SelectStmt *sel;
	ParseState *pstate;
	ParseNamespaceItem *nsitem;
	Node	   *qual;
	int			save_nestlevel;
	ErrorContextCallback errcallback;

	errcallback.callback = row_filter_error_context;
	errcallback.arg = (void *) filter;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	/*
	 * A filter means the same whoever's statement parses it: names resolve in
	 * pg_catalog only, and literals are read with fixed styles.
	 */
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("datestyle", "ISO, MDY", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("intervalstyle", "postgres", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("timezone", "UTC", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("standard_conforming_strings", "on", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	if (list_length(raw) != 1)
		filter_error("It must not end one statement and start another.");
	rs = linitial_node(RawStmt, raw);
	if (!IsA(rs->stmt, SelectStmt))
		filter_error("It is not an expression.");
	sel = (SelectStmt *) rs->stmt;
	if (sel->op != SETOP_NONE || sel->fromClause != NIL || sel->intoClause != NULL ||
		sel->distinctClause != NIL || sel->groupClause != NIL || sel->havingClause != NULL ||
		sel->windowClause != NIL || sel->valuesLists != NIL || sel->sortClause != NIL ||
		sel->limitOffset != NULL || sel->limitCount != NULL || sel->lockingClause != NIL ||
		sel->withClause != NULL || list_length(sel->targetList) != 1 ||
		sel->whereClause == NULL)
		filter_error("It must not contain clauses of a query.");

	pstate = make_parsestate(NULL);
	pstate->p_sourcetext = sql;
	nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock, NULL, false, false);
	addNSItemToQuery(pstate, nsitem, false, true, true);
	qual = transformWhereClause(pstate, sel->whereClause, EXPR_KIND_POLICY, "POLICY");
	assign_expr_collations(pstate, qual);

	if (pstate->p_hasSubLinks)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("row filter must not contain subqueries"),
				 errdetail("A row filter is an expression over the columns of relation \"%s\".",
						   RelationGetRelationName(rel))));
	if (contain_volatile_functions(qual))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("row filter must not call volatile functions"),
				 errdetail("A row filter must give the same answer for a row throughout a statement.")));

	if (columns != NULL)
	{
		Bitmapset  *atts = NULL;
		int			x = -1;

		pull_varattnos(qual, 1, &atts);
		*columns = NIL;
		while ((x = bms_next_member(atts, x)) >= 0)
		{
			AttrNumber	att = x + FirstLowInvalidHeapAttributeNumber;

			if (att > 0)
				*columns = lappend(*columns,
								   get_attname(RelationGetRelid(rel), att, false));
		}
	}
	free_parsestate(pstate);
	AtEOXact_GUC(true, save_nestlevel);
	error_context_stack = errcallback.previous;
	return qual;
}

/*
 * Makes sure g's filter is parsed.  A filter that fails to parse is marked
 * broken (with the reason) instead of raising: the caller decides whether
 * that refuses the statement.  rel may be NULL; the relation is then opened
 * here.
 */
/* parses g's filter into the registry cache (rel NULL: opened here); raises on failure */
static void
parse_into_cache(OlinkGrant *g, Relation rel)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	Relation	opened = NULL;
	Node	   *expr;

	if (rel == NULL)
		rel = opened = table_open(g->relid, AccessShareLock);
	expr = olink_parse_row_filter(rel, g->row_filter, NULL);
	if (opened)
		table_close(opened, NoLock);
	MemoryContextSwitchTo(olink_registry_cxt);
	g->filter_expr = copyObject(expr);
	g->filter_state = OLINK_FILTER_OK;
	MemoryContextSwitchTo(oldcxt);
}

bool
olink_grant_filter_usable(OlinkGrant *g, Relation rel)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	if (g->filter_state == OLINK_FILTER_OK)
		return true;
	if (g->filter_state == OLINK_FILTER_BROKEN)
		return false;

	/*
	 * A parallel worker may start no subtransaction: it parses the filter
	 * plainly, and a filter that fails to parse fails the statement.
	 */
	if (IsInParallelMode())
	{
		parse_into_cache(g, rel);
		return true;
	}

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		parse_into_cache(g, rel);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		g->filter_error = MemoryContextStrdup(olink_registry_cxt, edata->message);
		g->filter_state = OLINK_FILTER_BROKEN;
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return g->filter_state == OLINK_FILTER_OK;
}

/* ---------------------------------------------------------------------
 * Policies
 * ---------------------------------------------------------------------
 */

static int
cmd_priv(CmdType cmd)
{
	switch (cmd)
	{
		case CMD_SELECT:
			return OLINK_PRIV_SELECT;
		case CMD_INSERT:
			return OLINK_PRIV_INSERT;
		case CMD_UPDATE:
			return OLINK_PRIV_UPDATE;
		case CMD_DELETE:
			return OLINK_PRIV_DELETE;
		default:
			return 0;
	}
}

static RowSecurityPolicy *
make_policy(const char *name, Expr *qual, bool permissive)
{
	RowSecurityPolicy *p = palloc0(sizeof(RowSecurityPolicy));
	Datum		role = ObjectIdGetDatum(ACL_ID_PUBLIC);

	p->policy_name = pstrdup(name);
	p->polcmd = '*';
	p->roles = construct_array(&role, 1, OIDOID, sizeof(Oid), true, TYPALIGN_INT);
	p->permissive = permissive;
	p->qual = qual;
	p->with_check_qual = copyObject(qual);
	p->hassublinks = false;
	return p;
}

/*
 * OR over the counterpart's grants on rel carrying the command, each behind
 * its guard.  When a single grant carries the command, the guard is left
 * out: every statement is refused by enforce.c unless that grant is in force
 * for its purpose at its start, so the guard could only ever answer true,
 * and each function in a policy costs an EXECUTE check per statement.
 */
static Expr *
grants_qual(OlinkRelation *r, int priv, Relation rel)
{
	List	   *arms = NIL;
	ListCell   *lc;
	Oid			guard_fn = olink_grant_live_function();
	int			carrying = 0;

	foreach(lc, r->grants)
	{
		OlinkGrant *g = lfirst(lc);

		if (g->privs & priv)
			carrying++;
	}

	foreach(lc, r->grants)
	{
		OlinkGrant *g = lfirst(lc);
		Expr	   *guard;
		Expr	   *count = NULL;

		if (!(g->privs & priv))
			continue;
		if (g->missing_column != NULL || !olink_grant_filter_usable(g, rel))
			continue;			/* admits no row; enforce.c explains the refusal */

		/*
		 * Rows read: each row that passes this grant's filter is counted
		 * against the quotas (quota.c), last in the arm so that the filter
		 * decides first.
		 */
		if (priv == OLINK_PRIV_SELECT)
			count = (Expr *) makeFuncExpr(olink_count_read_function(), BOOLOID,
										  list_make1(makeConst(INT8OID, -1, InvalidOid, sizeof(int64),
															   Int64GetDatum(g->id), false,
															   FLOAT8PASSBYVAL)),
										  InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		if (carrying == 1)
		{
			Node	   *arm = g->filter_expr != NULL ? copyObject(g->filter_expr) : NULL;

			if (count != NULL)
				arm = arm ? (Node *) make_andclause(list_make2(arm, count)) : (Node *) count;
			arms = lappend(arms, arm ? arm : (Node *) makeBoolConst(true, false));
			continue;
		}
		guard = (Expr *) makeFuncExpr(guard_fn, BOOLOID,
									  list_make1(makeConst(INT8OID, -1, InvalidOid, sizeof(int64),
														   Int64GetDatum(g->id), false,
														   FLOAT8PASSBYVAL)),
									  InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		{
			List	   *parts = list_make1(guard);

			if (g->filter_expr != NULL)
				parts = lappend(parts, copyObject(g->filter_expr));
			if (count != NULL)
				parts = lappend(parts, count);
			arms = lappend(arms, list_length(parts) == 1 ? (Node *) guard : (Node *) make_andclause(parts));
		}
	}
	if (arms == NIL)
		return (Expr *) makeBoolConst(false, false);
	if (list_length(arms) == 1)
		return linitial(arms);
	return make_orclause(arms);
}

/*
 * The registry entry of rel if olink protects it and the hooks should act
 * now (not while olink reads its own registry); *s gets the session.
 */
static OlinkRelation *
protected_relation(Relation rel, OlinkSession **s)
{
	OlinkRelation *r;

	if (olink_in_registry_read)
		return NULL;
	*s = olink_session();
	if (!(*s)->installed)
		return NULL;
	r = olink_find_relation(*s, RelationGetRelid(rel));
	if (r == NULL || !r->protected)
		return NULL;
	return r;
}

static bool
enforcing(OlinkSession *s)
{
	return s->is_counterpart && olink_enforce;
}

static List *
olink_policies_permissive(CmdType cmdtype, Relation relation)
{
	List	   *result = prev_permissive ? prev_permissive(cmdtype, relation) : NIL;
	OlinkSession *s;
	OlinkRelation *r = protected_relation(relation, &s);

	if (r == NULL)
		return result;

	/*
	 * A table with row security of its own keeps its own permissive
	 * policies: internal sessions see what they saw, and for counterparts
	 * those policies still bound the rows (olink's restrictive policy bounds
	 * them further).  Only where nothing else admits rows does olink add a
	 * permissive `true`, which the planner folds away.
	 */
	if (r->native_rls || result != NIL ||
		(relation->rd_rsdesc != NULL && relation->rd_rsdesc->policies != NIL))
		return result;
	return lappend(result, make_policy("olink", (Expr *) makeBoolConst(true, false), true));
}

static List *
olink_policies_restrictive(CmdType cmdtype, Relation relation)
{
	List	   *result = prev_restrictive ? prev_restrictive(cmdtype, relation) : NIL;
	OlinkSession *s;
	OlinkRelation *r = protected_relation(relation, &s);

	if (r == NULL || !enforcing(s))
		return result;
	return lappend(result, make_policy("olink", grants_qual(r, cmd_priv(cmdtype), relation), false));
}

void
olink_rowsec_init(void)
{
	prev_permissive = row_security_policy_hook_permissive;
	row_security_policy_hook_permissive = olink_policies_permissive;
	prev_restrictive = row_security_policy_hook_restrictive;
	row_security_policy_hook_restrictive = olink_policies_restrictive;
}

/* ---------------------------------------------------------------------
 * SQL-callable
 * ---------------------------------------------------------------------
 */

/* olink._check_row_filter(relation, filter) → the columns it uses; errors if unusable */
Datum
olink_check_row_filter(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *filter = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Relation	rel = table_open(relid, AccessShareLock);
	List	   *columns = NIL;
	Datum	   *elems;
	ListCell   *lc;
	int			i = 0;

	(void) olink_parse_row_filter(rel, filter, &columns);
	table_close(rel, AccessShareLock);

	elems = palloc(sizeof(Datum) * Max(list_length(columns), 1));
	foreach(lc, columns)
		elems[i++] = DirectFunctionCall1(namein, CStringGetDatum((char *) lfirst(lc)));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, i, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR));
}

/*
 * olink._grant_live(grant_id): the guard in every counterpart row policy.
 * Called for each row, so it only probes the cache.  False for anything it
 * does not know: an unknown grant admits no row.
 */
Datum
olink_grant_live_fn(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	OlinkSession *s = olink_session();
	OlinkGrant *g;

	if (!s->installed || !s->is_counterpart)
		PG_RETURN_BOOL(false);
	g = olink_find_grant(s, id);
	if (g == NULL || g->missing_column != NULL || g->filter_state == OLINK_FILTER_BROKEN)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(olink_grant_live(s, g));
}
