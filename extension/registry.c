/*-------------------------------------------------------------------------
 *
 * registry.c
 *		The per-backend cache of the registry, and who the session is.
 *
 * Every statement of a counterpart session is decided from this cache: no
 * query runs on the hot path.  The cache is filled by direct scans of the
 * registry tables (no SQL to parse and plan) the first time it is needed,
 * and thrown away when a relcache invalidation
 * names a registry table or a protected relation.  Registry tables carry a
 * trigger (olink_registry_changed) that queues such an invalidation, so a
 * change reaches every backend when it commits; counterpart sessions accept
 * pending invalidations at the start of each statement, so "every live
 * session, next statement" holds even inside an open transaction.
 *
 * The registry is read with the latest snapshot, not the transaction's: a
 * REPEATABLE READ transaction opened before a revocation must not keep
 * seeing the grant.
 *
 * Identity is the session user (GetSessionUserId), never current_user: SET
 * ROLE and SECURITY DEFINER functions cannot change who the counterpart is.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "parser/parse_func.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "olink.h"

PG_FUNCTION_INFO_V1(olink_registry_changed);
PG_FUNCTION_INFO_V1(olink_begin_purpose);
PG_FUNCTION_INFO_V1(olink_session_status);

/* true while this backend reads the registry: olink's own queries are not checked */
bool		olink_in_registry_read = false;

/* everything cached lives here, reset on each reload */
MemoryContext olink_registry_cxt = NULL;

static OlinkSession session;
static bool session_valid = false;
static Oid	session_loaded_for = InvalidOid;
static uint64 registry_generation = 0;

/* bumped by every invalidation that concerns the cache */
static uint64 inval_count = 0;

#define NUM_REGISTRY_TABLES 5
static const char *const registry_tables[NUM_REGISTRY_TABLES] = {
	"counterpart", "agreement", "protected_relation", "credential", "access_grant"
};
static Oid	registry_relids[NUM_REGISTRY_TABLES];

/* one round of checks = one statement (or one FETCH); memoises grant liveness */
static uint64 check_round = 1;
static uint64 purpose_round = 0;
static bool purpose_round_valid = false;

/*
 * The purpose a top-level statement runs under, captured when its check
 * starts.  Statements it runs on the way (functions, query_to_xml...) and
 * the guards in its row policies all use this one, so a set_config() half
 * way through cannot pair one purpose's columns with another's rows.
 */
static char *statement_purpose = NULL;

static Oid	grant_live_funcoid = InvalidOid;
static Oid	count_read_funcoid = InvalidOid;

/*
 * The session was found internal without reading the registry (its login is
 * no credential and no member of olink_counterpart); the protected tables
 * are read only when a statement first needs them.
 */
static bool session_by_membership = false;
static bool relations_pending = false;

/* entry of session.grants */
typedef struct GrantSlot
{
	int64		id;				/* hash key */
	OlinkGrant *grant;
} GrantSlot;

static void
olink_relcache_callback(Datum arg, Oid relid)
{
	int			i;

	/* a full reset, or a registry table: the cache is stale, even mid-load */
	if (relid == InvalidOid)
	{
		session_valid = false;
		inval_count++;
		return;
	}
	for (i = 0; i < NUM_REGISTRY_TABLES; i++)
	{
		if (registry_relids[i] == relid)
		{
			session_valid = false;
			inval_count++;
			return;
		}
	}
	if (!session_valid)
		return;
	/* not installed here: any new relation may be CREATE EXTENSION olink (cheap to recheck) */
	if (!session.installed)
	{
		session_valid = false;
		return;
	}
	/* a protected relation changed (a column dropped, renamed...): reparse its filters */
	if (session.relations &&
		hash_search(session.relations, &relid, HASH_FIND, NULL) != NULL)
		session_valid = false;
}

/*
 * A role's attributes or memberships changed: whether row security applies
 * to the session's login (memoised per relation) may have changed too.
 */
static void
olink_role_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	if (session_valid && (session.is_counterpart || session_by_membership))
		session_valid = false;
}

void
olink_registry_init(void)
{
	olink_registry_cxt = AllocSetContextCreate(TopMemoryContext,
											   "olink registry cache",
											   ALLOCSET_DEFAULT_SIZES);
	CacheRegisterRelcacheCallback(olink_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, olink_role_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMMEMROLE, olink_role_callback, (Datum) 0);
}

void
olink_begin_statement(void)
{
	const char *p = olink_purpose ? olink_purpose : "";

	check_round++;
	if (statement_purpose == NULL || strcmp(statement_purpose, p) != 0)
	{
		if (statement_purpose != NULL)
			pfree(statement_purpose);
		statement_purpose = MemoryContextStrdup(TopMemoryContext, p);
	}
}

const char *
olink_statement_purpose(void)
{
	/* a parallel worker has its leader's settings, and no statement of its own */
	if (statement_purpose == NULL)
		return olink_purpose ? olink_purpose : "";
	return statement_purpose;
}

uint64
olink_registry_generation(void)
{
	return registry_generation;
}

Oid
olink_grant_live_function(void)
{
	return grant_live_funcoid;
}

Oid
olink_count_read_function(void)
{
	return count_read_funcoid;
}

/* ---------------------------------------------------------------------
 * Loading
 * ---------------------------------------------------------------------
 */

static char **
text_array_to_cstrings(Datum d, Oid elemtype, int *n)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	char	  **result;
	int			i;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, elemtype, typlen, typbyval, typalign, &elems, &nulls, &nelems);
	result = palloc(sizeof(char *) * Max(nelems, 1));
	for (i = 0; i < nelems; i++)
	{
		if (nulls[i])
			result[i] = pstrdup("");
		else if (elemtype == NAMEOID)
			result[i] = pstrdup(NameStr(*DatumGetName(elems[i])));
		else
			result[i] = TextDatumGetCString(elems[i]);
	}
	*n = nelems;
	return result;
}

static TimestampTz
get_timestamp(HeapTuple tup, TupleDesc desc, int col, bool open_end)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, col, desc, &isnull);
	TimestampTz ts;

	if (!isnull)
		return DatumGetTimestampTz(d);
	if (open_end)
		TIMESTAMP_NOEND(ts);
	else
		TIMESTAMP_NOBEGIN(ts);
	return ts;
}

static char *
get_text(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, col, desc, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

void
olink_own_enter(OlinkOwnQuery *q)
{
	GetUserIdAndSecContext(&q->save_userid, &q->save_sec_context);
	q->save_in_read = olink_in_registry_read;
	q->guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   q->save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	olink_in_registry_read = true;
}

void
olink_own_abort(OlinkOwnQuery *q)
{
	olink_in_registry_read = q->save_in_read;
	SetUserIdAndSecContext(q->save_userid, q->save_sec_context);
}

void
olink_own_leave(OlinkOwnQuery *q)
{
	olink_own_abort(q);
	AtEOXact_GUC(true, q->guc_level);
}

/* runs one registry query with the latest snapshot */
/*
 * The registry tables are read directly, not through SQL: a new backend's
 * first statement then does not parse and plan olink's queries on cold
 * caches.  Each is scanned with the latest snapshot, through an index whose
 * first column is the key when there is one.
 */
enum
{
	REG_COUNTERPART = 0,
	REG_AGREEMENT,
	REG_PROTECTED,
	REG_CREDENTIAL,
	REG_GRANT
};

typedef struct RegistryScan
{
	Relation	rel;
	Snapshot	snapshot;
	SysScanDesc scan;
	TupleDesc	desc;
} RegistryScan;

static AttrNumber
registry_att(Relation rel, const char *column)
{
	AttrNumber	att = get_attnum(RelationGetRelid(rel), column);

	if (att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("olink's registry table \"%s\" has no column \"%s\"",
						RelationGetRelationName(rel), column)));
	return att;
}

static bool
index_is_btree(Oid indexoid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(indexoid));
	bool		result;

	if (!HeapTupleIsValid(tup))
		return false;
	result = ((Form_pg_class) GETSTRUCT(tup))->relam == BTREE_AM_OID;
	ReleaseSysCache(tup);
	return result;
}

/* a btree index of rel whose first column is att, else InvalidOid */
static Oid
registry_index(Relation rel, AttrNumber att)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			result = InvalidOid;

	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index index;

		if (!HeapTupleIsValid(tup))
			continue;
		index = (Form_pg_index) GETSTRUCT(tup);
		if (index->indisvalid && index->indnkeyatts >= 1 && index->indkey.values[0] == att &&
			heap_attisnull(tup, Anum_pg_index_indexprs, NULL) &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL) &&
			index_is_btree(index->indexrelid))
			result = index->indexrelid;
		ReleaseSysCache(tup);
		if (OidIsValid(result))
			break;
	}
	list_free(indexes);
	return result;
}

/* rows of a registry table; with keycol, those whose keycol = key (by eqproc) */
static void
registry_scan_begin(RegistryScan *rs, int table, const char *keycol, RegProcedure eqproc, Datum key)
{
	ScanKeyData skey;
	Oid			index = InvalidOid;

	rs->rel = table_open(registry_relids[table], AccessShareLock);
	rs->desc = RelationGetDescr(rs->rel);
	/* a parallel worker may take no new snapshot: it reads with its leader's */
	rs->snapshot = RegisterSnapshot(!IsInParallelMode() ? GetLatestSnapshot() :
									ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot());
	if (keycol != NULL)
	{
		AttrNumber	att = registry_att(rs->rel, keycol);

		ScanKeyInit(&skey, att, BTEqualStrategyNumber, eqproc, key);
		index = registry_index(rs->rel, att);
	}
	rs->scan = systable_beginscan(rs->rel, index, OidIsValid(index), rs->snapshot,
								  keycol != NULL ? 1 : 0, &skey);
}

static HeapTuple
registry_scan_next(RegistryScan *rs)
{
	return systable_getnext(rs->scan);
}

static void
registry_scan_end(RegistryScan *rs)
{
	systable_endscan(rs->scan);
	UnregisterSnapshot(rs->snapshot);
	/* the lock is kept to the end of the transaction, as a query's would be */
	table_close(rs->rel, NoLock);
}

static OlinkRelation *
relation_entry(Oid relid)
{
	bool		found;
	OlinkRelation *r = hash_search(session.relations, &relid, HASH_ENTER, &found);

	if (!found)
	{
		r->protected = false;
		r->native_rls = false;
		r->rls_direct_known = false;
		r->rls_direct_enabled = false;
		r->grants = NIL;
	}
	return r;
}

static int
grant_id_cmp(const void *a, const void *b)
{
	int64		x = (*(OlinkGrant *const *) a)->id;
	int64		y = (*(OlinkGrant *const *) b)->id;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* the counterpart's grants that are not revoked, in grant_id order */
static void
load_grants(void)
{
	RegistryScan rs;
	HeapTuple	tup;
	AttrNumber	a_id,
				a_relid,
				a_privs,
				a_cols,
				a_filter,
				a_purposes,
				a_from,
				a_until,
				a_stmt,
				a_day,
				a_revoked;
	OlinkGrant **grants;
	int			ngrants = 0;
	int			cap = 16;
	MemoryContext old = MemoryContextSwitchTo(olink_registry_cxt);

	registry_scan_begin(&rs, REG_GRANT, "counterpart_id", F_INT8EQ, Int64GetDatum(session.counterpart_id));
	a_id = registry_att(rs.rel, "grant_id");
	a_relid = registry_att(rs.rel, "relid");
	a_privs = registry_att(rs.rel, "privileges");
	a_cols = registry_att(rs.rel, "columns");
	a_filter = registry_att(rs.rel, "row_filter");
	a_purposes = registry_att(rs.rel, "purposes");
	a_from = registry_att(rs.rel, "valid_from");
	a_until = registry_att(rs.rel, "valid_until");
	a_stmt = registry_att(rs.rel, "max_rows_per_statement");
	a_day = registry_att(rs.rel, "max_rows_per_day");
	a_revoked = registry_att(rs.rel, "revoked_at");
	grants = palloc(sizeof(OlinkGrant *) * cap);

	while ((tup = registry_scan_next(&rs)) != NULL)
	{
		TupleDesc	desc = rs.desc;
		OlinkGrant *g;
		bool		isnull;
		Datum		d;
		int			n;
		char	  **privs;
		int			j;

		(void) heap_getattr(tup, a_revoked, desc, &isnull);
		if (!isnull)
			continue;
		g = palloc0(sizeof(OlinkGrant));
		g->id = DatumGetInt64(heap_getattr(tup, a_id, desc, &isnull));
		g->relid = DatumGetObjectId(heap_getattr(tup, a_relid, desc, &isnull));
		privs = text_array_to_cstrings(heap_getattr(tup, a_privs, desc, &isnull), TEXTOID, &n);
		for (j = 0; j < n; j++)
		{
			if (strcmp(privs[j], "select") == 0)
				g->privs |= OLINK_PRIV_SELECT;
			else if (strcmp(privs[j], "insert") == 0)
				g->privs |= OLINK_PRIV_INSERT;
			else if (strcmp(privs[j], "update") == 0)
				g->privs |= OLINK_PRIV_UPDATE;
			else if (strcmp(privs[j], "delete") == 0)
				g->privs |= OLINK_PRIV_DELETE;
		}
		d = heap_getattr(tup, a_cols, desc, &isnull);
		if (isnull)
			g->all_columns = true;
		else
		{
			char	  **cols = text_array_to_cstrings(d, NAMEOID, &n);

			for (j = 0; j < n; j++)
			{
				AttrNumber	att = get_attnum(g->relid, cols[j]);

				if (att == InvalidAttrNumber)
				{
					if (g->missing_column == NULL)
						g->missing_column = pstrdup(cols[j]);
				}
				else
					g->columns = bms_add_member(g->columns, att);
			}
		}
		g->row_filter = get_text(tup, desc, a_filter);
		g->purposes = text_array_to_cstrings(heap_getattr(tup, a_purposes, desc, &isnull),
											 TEXTOID, &g->npurposes);
		g->valid_from = get_timestamp(tup, desc, a_from, false);
		g->valid_until = get_timestamp(tup, desc, a_until, true);
		d = heap_getattr(tup, a_stmt, desc, &isnull);
		g->max_rows_per_statement = isnull ? 0 : DatumGetInt64(d);
		d = heap_getattr(tup, a_day, desc, &isnull);
		g->max_rows_per_day = isnull ? 0 : DatumGetInt64(d);
		g->filter_state = g->row_filter ? OLINK_FILTER_UNPARSED : OLINK_FILTER_OK;
		if (ngrants == cap)
		{
			cap *= 2;
			grants = repalloc(grants, sizeof(OlinkGrant *) * cap);
		}
		grants[ngrants++] = g;
	}
	registry_scan_end(&rs);

	qsort(grants, ngrants, sizeof(OlinkGrant *), grant_id_cmp);
	for (int i = 0; i < ngrants; i++)
	{
		OlinkGrant *g = grants[i];
		OlinkRelation *r = relation_entry(g->relid);
		GrantSlot  *slot;
		bool		found;

		r->grants = lappend(r->grants, g);
		slot = hash_search(session.grants, &g->id, HASH_ENTER, &found);
		slot->grant = g;
	}
	pfree(grants);
	MemoryContextSwitchTo(old);
}

static void
load_agreements(void)
{
	RegistryScan rs;
	HeapTuple	tup;
	AttrNumber	a_purposes,
				a_from,
				a_until;
	int			cap = 4;
	MemoryContext old = MemoryContextSwitchTo(olink_registry_cxt);

	registry_scan_begin(&rs, REG_AGREEMENT, "counterpart_id", F_INT8EQ, Int64GetDatum(session.counterpart_id));
	a_purposes = registry_att(rs.rel, "purposes");
	a_from = registry_att(rs.rel, "valid_from");
	a_until = registry_att(rs.rel, "valid_until");
	session.nagreements = 0;
	session.agreements = palloc0(sizeof(OlinkAgreement) * cap);
	while ((tup = registry_scan_next(&rs)) != NULL)
	{
		OlinkAgreement *a;
		bool		isnull;

		if (session.nagreements == cap)
		{
			cap *= 2;
			session.agreements = repalloc(session.agreements, sizeof(OlinkAgreement) * cap);
		}
		a = &session.agreements[session.nagreements++];
		a->purposes = text_array_to_cstrings(heap_getattr(tup, a_purposes, rs.desc, &isnull),
											 TEXTOID, &a->npurposes);
		a->valid_from = get_timestamp(tup, rs.desc, a_from, false);
		a->valid_until = get_timestamp(tup, rs.desc, a_until, true);
	}
	registry_scan_end(&rs);
	MemoryContextSwitchTo(old);
}

static void
load_identity(void)
{
	char	   *login = GetUserNameFromId(GetSessionUserId(), true);
	RegistryScan rs;
	HeapTuple	tup;
	int64		counterpart_id = 0;
	bool		credential_active = false;
	int			found = 0;
	MemoryContext old = MemoryContextSwitchTo(olink_registry_cxt);

	session.login = pstrdup(login ? login : "(dropped role)");

	/* credentials are bound by OID: renaming the login changes nothing */
	registry_scan_begin(&rs, REG_CREDENTIAL, "login", F_OIDEQ, ObjectIdGetDatum(GetSessionUserId()));
	while ((tup = registry_scan_next(&rs)) != NULL)
	{
		bool		isnull;
		char	   *status = get_text(tup, rs.desc, registry_att(rs.rel, "status"));

		counterpart_id = DatumGetInt64(heap_getattr(tup, registry_att(rs.rel, "counterpart_id"), rs.desc, &isnull));
		credential_active = status != NULL && strcmp(status, "active") == 0;
		found++;
	}
	registry_scan_end(&rs);
	if (found == 0)
	{
		MemoryContextSwitchTo(old);
		return;
	}
	/*
	 * A credential whose counterpart row is missing, or a login bound twice
	 * (only by hand, past the constraints): still a counterpart, refused
	 * everything.
	 */
	session.is_counterpart = true;
	session.counterpart_id = counterpart_id;
	session.counterpart = pstrdup("(unknown)");
	session.counterpart_active = false;
	session.credential_active = false;
	if (found != 1)
	{
		MemoryContextSwitchTo(old);
		return;
	}

	registry_scan_begin(&rs, REG_COUNTERPART, "counterpart_id", F_INT8EQ, Int64GetDatum(counterpart_id));
	while ((tup = registry_scan_next(&rs)) != NULL)
	{
		TupleDesc	desc = rs.desc;
		bool		isnull;
		Datum		d;
		char	   *status = get_text(tup, desc, registry_att(rs.rel, "status"));

		session.is_counterpart = true;
		session.counterpart_id = counterpart_id;
		session.counterpart = get_text(tup, desc, registry_att(rs.rel, "name"));
		session.counterpart_active = status != NULL && strcmp(status, "active") == 0;
		session.credential_active = credential_active;
		session.group_role = DatumGetObjectId(heap_getattr(tup, registry_att(rs.rel, "role"), desc, &isnull));
		d = heap_getattr(tup, registry_att(rs.rel, "max_rows_per_statement"), desc, &isnull);
		session.max_rows_per_statement = isnull ? 0 : DatumGetInt64(d);
		d = heap_getattr(tup, registry_att(rs.rel, "max_rows_per_day"), desc, &isnull);
		session.max_rows_per_day = isnull ? 0 : DatumGetInt64(d);
	}
	registry_scan_end(&rs);
	MemoryContextSwitchTo(old);
}

static void
load_protected(void)
{
	RegistryScan rs;
	HeapTuple	tup;
	AttrNumber	a_relid,
				a_native,
				a_dropped;

	registry_scan_begin(&rs, REG_PROTECTED, NULL, InvalidOid, (Datum) 0);
	a_relid = registry_att(rs.rel, "relid");
	a_native = registry_att(rs.rel, "native_rls");
	a_dropped = registry_att(rs.rel, "dropped_at");
	while ((tup = registry_scan_next(&rs)) != NULL)
	{
		bool		isnull;
		OlinkRelation *r;

		(void) heap_getattr(tup, a_dropped, rs.desc, &isnull);
		if (!isnull)
			continue;
		r = relation_entry(DatumGetObjectId(heap_getattr(tup, a_relid, rs.desc, &isnull)));
		r->protected = true;
		r->native_rls = DatumGetBool(heap_getattr(tup, a_native, rs.desc, &isnull));
	}
	registry_scan_end(&rs);
}

/*
 * Is the login surely not a counterpart, without reading the registry?  In
 * olink.database, once the shared copy of the credentials is in place: when
 * it is no credential there (of any status) and no member of
 * olink_counterpart (which issuing a credential makes it, in the issuing
 * transaction).  A new session's first statement then costs no query.
 * Anywhere else, or in doubt, the registry is read.
 */
static bool
surely_internal(Oid login)
{
	static Oid	checked_db = InvalidOid;
	static bool in_olink_database = false;
	Oid			group;

	if (checked_db != MyDatabaseId)
	{
		char	   *name = get_database_name(MyDatabaseId);

		in_olink_database = name != NULL && olink_database != NULL && strcmp(name, olink_database) == 0;
		checked_db = MyDatabaseId;
	}
	if (!in_olink_database || !olink_auth_loaded() || olink_auth_is_credential(login))
		return false;
	group = get_role_oid("olink_counterpart", true);
	return OidIsValid(group) && !is_member_of_role(login, group);
}

/*
 * An internal session's protected tables, read when a statement first
 * needs them (row security on a table it uses).
 */
static void
load_relations(void)
{
	uint64		before = inval_count;
	bool		was = olink_in_registry_read;

	if (!relations_pending || (IsInParallelMode() && !IsParallelWorker()) || !IsTransactionState())
		return;
	olink_in_registry_read = true;
	PG_TRY();
	{
		load_protected();
	}
	PG_FINALLY();
	{
		olink_in_registry_read = was;
	}
	PG_END_TRY();
	relations_pending = false;
	/* the registry changed while it was read: read it all again at the next statement */
	if (before != inval_count)
		session_valid = false;
}

/*
 * A plan about to run in parallel mode, where no registry read is possible
 * (functions it calls may meet a protected table): the protected tables an
 * internal session has not read yet are read now.
 */
void
olink_registry_before_parallel(void)
{
	if (olink_in_registry_read)
		return;
	(void) olink_session();		/* read now if stale */
	if (unlikely(relations_pending))
		load_relations();
}

/* olink's function name(bigint), looked up in the catalog (no schema privilege is checked) */
static Oid
olink_bigint_function(Oid nsp, const char *name)
{
	Oid			argtype = INT8OID;
	HeapTuple	tup = SearchSysCache3(PROCNAMEARGSNSP, CStringGetDatum(name),
									  PointerGetDatum(buildoidvector(&argtype, 1)),
									  ObjectIdGetDatum(nsp));
	Oid			result;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function olink.%s(bigint) does not exist", name),
				 errhint("The extension's install script may not have run to its end: recreate the extension.")));
	result = ((Form_pg_proc) GETSTRUCT(tup))->oid;
	ReleaseSysCache(tup);
	return result;
}

/*
 * Reads what this backend needs.  Returns false when the result must not be
 * kept (the extension is being created right now).
 */
static bool
registry_load_once(void)
{
	Oid			nsp;
	int			i;
	HASHCTL		ctl;
	bool		keep = true;
	bool		was_reading;

	MemoryContextReset(olink_registry_cxt);
	memset(&session, 0, sizeof(session));
	memset(registry_relids, 0, sizeof(registry_relids));
	session_by_membership = false;
	relations_pending = false;
	session_loaded_for = GetSessionUserId();
	grant_live_funcoid = InvalidOid;
	count_read_funcoid = InvalidOid;

	if (creating_extension || !IsTransactionState())
		return false;

	/*
	 * A superuser is never a counterpart (add_credential refuses them) and
	 * bypasses row security: it needs nothing from the registry, and so can
	 * always reach a database whose registry cannot be read, to repair it.
	 */
	if (superuser_arg(GetSessionUserId()))
		return true;

	nsp = get_namespace_oid("olink", true);
	if (!OidIsValid(nsp))
		return true;
	for (i = 0; i < NUM_REGISTRY_TABLES; i++)
	{
		registry_relids[i] = get_relname_relid(registry_tables[i], nsp);
		if (!OidIsValid(registry_relids[i]))
			return true;
	}

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(OlinkRelation);
	ctl.hcxt = olink_registry_cxt;
	session.relations = hash_create("olink relations", 64, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(GrantSlot);
	session.grants = hash_create("olink grants", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	if (surely_internal(GetSessionUserId()))
	{
		char	   *login = GetUserNameFromId(GetSessionUserId(), true);

		session.login = MemoryContextStrdup(olink_registry_cxt, login ? login : "(dropped role)");
		session.installed = true;
		session_by_membership = true;
		relations_pending = true;
		return true;
	}

	/*
	 * The registry is not readable by the session user: olink reads its
	 * tables directly (no privilege is checked on such a scan), and looks up
	 * its functions by qualified name.
	 */
	was_reading = olink_in_registry_read;
	olink_in_registry_read = true;
	PG_TRY();
	{
		grant_live_funcoid = olink_bigint_function(nsp, "_grant_live");
		count_read_funcoid = olink_bigint_function(nsp, "_count_read");
		load_protected();
		load_identity();
		if (session.is_counterpart)
		{
			load_agreements();
			load_grants();
		}
	}
	PG_FINALLY();
	{
		olink_in_registry_read = was_reading;
	}
	PG_END_TRY();

	session.installed = true;
	return keep;
}

OlinkSession *
olink_session(void)
{
	int			attempt;

	if (likely(session_valid) && session_loaded_for == GetSessionUserId())
		return &session;

	/*
	 * In parallel mode no new snapshot may be taken.  A leader keeps what it
	 * loaded before the statement went parallel.  A worker plans queries of
	 * its own (the body of a PARALLEL SAFE function): it reads the registry
	 * once, with the snapshot its leader gave it, so that those queries get
	 * olink's policies too; an error there fails the statement.
	 */
	if (IsInParallelMode())
	{
		if (IsParallelWorker() && !session_valid)
		{
			(void) registry_load_once();
			registry_generation++;
			check_round++;
			purpose_round = 0;
			session_valid = true;
		}
		return &session;
	}

	for (attempt = 0; attempt < 5; attempt++)
	{
		uint64		before = inval_count;
		bool		keep;

		session_valid = false;
		keep = registry_load_once();
		elog(DEBUG1, "olink: registry cache loaded for session user %u (counterpart: %s)",
			 GetSessionUserId(), session.is_counterpart ? "yes" : "no");
		registry_generation++;
		check_round++;
		purpose_round = 0;
		if (!keep)
			break;
		if (before == inval_count)
		{
			session_valid = true;
			break;
		}
	}
	return &session;
}

/* ---------------------------------------------------------------------
 * Lookups and liveness
 * ---------------------------------------------------------------------
 */

OlinkRelation *
olink_find_relation(OlinkSession *s, Oid relid)
{
	if (unlikely(relations_pending) && s == &session)
		load_relations();
	if (s->relations == NULL)
		return NULL;
	return hash_search(s->relations, &relid, HASH_FIND, NULL);
}

OlinkGrant *
olink_find_grant(OlinkSession *s, int64 grant_id)
{
	GrantSlot  *slot;

	if (s->grants == NULL)
		return NULL;
	slot = hash_search(s->grants, &grant_id, HASH_FIND, NULL);
	return slot ? slot->grant : NULL;
}

static bool
in_list(const char *item, char **list, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		if (strcmp(item, list[i]) == 0)
			return true;
	return false;
}

/* is `purpose` listed by an agreement of this counterpart in force at `now`? */
bool
olink_purpose_registered(OlinkSession *s, const char *purpose, TimestampTz now)
{
	int			i;

	if (purpose == NULL || purpose[0] == '\0')
		return false;
	for (i = 0; i < s->nagreements; i++)
	{
		OlinkAgreement *a = &s->agreements[i];

		if (now >= a->valid_from && now < a->valid_until &&
			in_list(purpose, a->purposes, a->npurposes))
			return true;
	}
	return false;
}

bool
olink_purpose_valid(OlinkSession *s, TimestampTz now)
{
	if (purpose_round != check_round)
	{
		purpose_round_valid = olink_purpose_registered(s, olink_statement_purpose(), now);
		purpose_round = check_round;
	}
	return purpose_round_valid;
}

/*
 * May grant g be used right now, under the session's purpose?  Memoised for
 * one check round, so a row filter's guard costs a hash probe per row.
 */
bool
olink_grant_live(OlinkSession *s, OlinkGrant *g)
{
	TimestampTz now;

	if (g->live_stamp == check_round)
		return g->live;

	now = GetCurrentStatementStartTimestamp();
	g->live = s->counterpart_active && s->credential_active &&
		now >= g->valid_from && now < g->valid_until &&
		in_list(olink_statement_purpose(), g->purposes, g->npurposes) &&
		olink_purpose_valid(s, now);
	g->live_stamp = check_round;
	return g->live;
}

/* ---------------------------------------------------------------------
 * SQL-callable functions
 * ---------------------------------------------------------------------
 */

/*
 * Trigger on every registry table: queue a relcache invalidation of the
 * registry table (every backend drops its cache at commit) and, for rows
 * naming a relation, of that relation (cached plans over it are rebuilt
 * with the new set of grants).
 */
static void
invalidate_named_relation(HeapTuple tup, TupleDesc desc)
{
	int			col;
	bool		isnull;
	Datum		d;
	Oid			relid;

	if (tup == NULL)
		return;
	col = SPI_fnumber(desc, "relid");
	if (col <= 0)
		return;
	d = heap_getattr(tup, col, desc, &isnull);
	if (isnull)
		return;
	relid = DatumGetObjectId(d);
	if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		CacheInvalidateRelcacheByRelid(relid);
}

Datum
olink_registry_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("olink._registry_changed() must be called as a trigger")));

	CacheInvalidateRelcache(trigdata->tg_relation);
	olink_credentials_changed();
	if (TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
	{
		TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);

		invalidate_named_relation(trigdata->tg_trigtuple, desc);
		if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
			invalidate_named_relation(trigdata->tg_newtuple, desc);
	}
	return PointerGetDatum(NULL);
}

/*
 * Refuses a purpose that no agreement of this counterpart in force lists.
 */
void
olink_require_purpose(OlinkSession *s, const char *purpose)
{
	TimestampTz now = GetCurrentStatementStartTimestamp();

	if (!olink_purpose_registered(s, purpose, now))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("purpose \"%s\" is not registered for counterpart \"%s\"",
						purpose, s->counterpart),
				 errdetail("No agreement of the counterpart in force now lists this purpose."),
				 errhint("An administrator registers purposes with olink.add_agreement().")));
}

/* olink.begin_purpose(purpose): declare the purpose of this session */
Datum
olink_begin_purpose(PG_FUNCTION_ARGS)
{
	text	   *purpose = PG_GETARG_TEXT_PP(0);
	char	   *p = text_to_cstring(purpose);
	OlinkSession *s;

	AcceptInvalidationMessages();
	s = olink_session();
	if (p[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purpose must not be empty")));
	if (s->installed && s->is_counterpart && olink_enforce)
	{
		olink_check_identity(s, true);
		olink_require_purpose(s, p);
	}
	(void) set_config_option("olink.purpose", p, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SET, true, 0, false);
	PG_RETURN_TEXT_P(purpose);
}

/* olink.session_status(): what olink knows of this session */
Datum
olink_session_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	OlinkSession *s;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	AcceptInvalidationMessages();
	s = olink_session();
	values[0] = DirectFunctionCall1(namein,
									CStringGetDatum(GetUserNameFromId(GetSessionUserId(), false)));
	if (s->is_counterpart)
		values[1] = CStringGetTextDatum(s->counterpart);
	else
		nulls[1] = true;
	values[2] = CStringGetTextDatum(olink_purpose ? olink_purpose : "");
	if (s->is_counterpart)
		values[3] = BoolGetDatum(olink_purpose_registered(s, olink_purpose,
														  GetCurrentStatementStartTimestamp()));
	else
		nulls[3] = true;
	values[4] = BoolGetDatum(s->is_counterpart && olink_enforce);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
