/*-------------------------------------------------------------------------
 *
 * checkout.c
 *		Check-out locks (第7(2)(1)イ): while a record of a protected table is
 *		checked out, nobody but its holder may update or delete it.
 *
 * A check-out is a record, not a PostgreSQL lock: it is a row of
 * olink.checkout_lock, it outlives the session that took it, and it ends
 * when it is checked in, force-released by an administrator, or expires.
 * The holder is the session user that took it: the same login may go on
 * in another session.
 *
 * The write path reads a shared-memory table of the check-outs in force,
 * keyed by relation and a 64-bit hash of the record's primary key in
 * canonical text form (each key column through its type's output
 * function).  It is consulted by the change journal's AFTER ROW trigger,
 * which every protected table carries (ENABLE ALWAYS), for each UPDATE or
 * DELETE row, whatever command produced it: UPDATE, DELETE, MERGE, INSERT
 * ... ON CONFLICT DO UPDATE.  With no check-out anywhere, the cost is one
 * atomic read.  A hash collision could only refuse a write, never let one
 * through.
 *
 * The shared table follows the SQL table transactionally: a check-out is
 * entered (marked pending) before its row is inserted and is removed if
 * the transaction or subtransaction aborts; a check-in or release removes
 * the entry only when its transaction commits.  After a restart the first
 * backend that needs the table reads the check-outs in force from
 * olink.checkout_lock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "utils/typcache.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "olink.h"

PG_FUNCTION_INFO_V1(olink_checkout);
PG_FUNCTION_INFO_V1(olink_checkin);
PG_FUNCTION_INFO_V1(olink_force_release);

static int	max_checkouts = 16384;
static int	checkout_max_ttl = 86400;	/* seconds */
static int	max_checkouts_per_holder = 1000;	/* 0: no limit */

typedef struct CheckoutKey
{
	Oid			relid;
	uint32		pad;
	uint64		keyhash;
} CheckoutKey;

typedef struct CheckoutEntry
{
	CheckoutKey key;			/* hash key */
	int64		lock_id;		/* 0 while the check-out's row is being written */
	Oid			holder;
	char		holder_name[NAMEDATALEN];
	TimestampTz expires_at;
	bool		pending;		/* its transaction has not committed yet */
} CheckoutEntry;

typedef struct CheckoutShared
{
	LWLock	   *lock;
	bool		loaded;
	pg_atomic_uint32 nentries;
} CheckoutShared;

static CheckoutShared *shared = NULL;
static HTAB *entries = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* what this transaction did to the shared table, undone or finished at its end */
typedef struct PendingChange
{
	CheckoutKey key;
	int64		lock_id;		/* for a removal: only this check-out's entry goes */
	bool		insert;			/* an entry added (pending), else a removal at commit */
	SubTransactionId subid;
} PendingChange;

static List *pending = NIL;

static Size
checkout_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(CheckoutShared)),
					hash_estimate_size(max_checkouts, sizeof(CheckoutEntry)));
}

static void
checkout_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(checkout_shmem_size());
	RequestNamedLWLockTranche("olink checkouts", 1);
}

static void
checkout_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("olink checkouts", sizeof(CheckoutShared), &found);
	if (!found)
	{
		shared->lock = &(GetNamedLWLockTranche("olink checkouts"))->lock;
		shared->loaded = false;
		pg_atomic_init_u32(&shared->nentries, 0);
	}
	info.keysize = sizeof(CheckoutKey);
	info.entrysize = sizeof(CheckoutEntry);
	entries = ShmemInitHash("olink checkout table", max_checkouts, max_checkouts, &info,
							HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

static bool
entry_in_force(CheckoutEntry *e, TimestampTz now)
{
	return e->pending || e->expires_at > now;
}

/* removes expired entries; the caller holds the lock exclusively */
static void
evict_expired(void)
{
	HASH_SEQ_STATUS seq;
	CheckoutEntry *e;
	TimestampTz now = GetCurrentTimestamp();

	hash_seq_init(&seq, entries);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (!entry_in_force(e, now))
		{
			hash_search(entries, &e->key, HASH_REMOVE, NULL);
			pg_atomic_sub_fetch_u32(&shared->nentries, 1);
		}
	}
}

static CheckoutEntry *
enter(CheckoutKey *key)
{
	CheckoutEntry *e;
	bool		found;

	/* olink.max_checkouts is the limit, not what shared memory happens to have room for */
	e = hash_search(entries, key, HASH_FIND, NULL);
	if (e == NULL && pg_atomic_read_u32(&shared->nentries) >= (uint32) max_checkouts)
		evict_expired();
	if (e == NULL && pg_atomic_read_u32(&shared->nentries) >= (uint32) max_checkouts)
		e = NULL;
	else
		e = hash_search(entries, key, HASH_ENTER_NULL, &found);
	if (e == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many records are checked out"),
				 errdetail("olink holds at most %d check-outs in force (olink.max_checkouts).", max_checkouts),
				 errhint("Check records in, or raise olink.max_checkouts and restart the server.")));
	if (!found)
		pg_atomic_add_fetch_u32(&shared->nentries, 1);
	return e;
}

/* ---------------------------------------------------------------------
 * Keys
 * ---------------------------------------------------------------------
 */

/* the primary-key columns of a relation; errors when it has none */
static int
primary_key(Relation rel, AttrNumber **attnums)
{
	Oid			pk = RelationGetPrimaryKeyIndex(rel);
	Relation	irel;
	int			n;

	if (!OidIsValid(pk))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation \"%s\" has no primary key", RelationGetRelationName(rel)),
				 errdetail("A check-out names a record by its primary key.")));
	irel = index_open(pk, AccessShareLock);
	n = irel->rd_index->indnkeyatts;
	*attnums = palloc(sizeof(AttrNumber) * n);
	for (int i = 0; i < n; i++)
		(*attnums)[i] = irel->rd_index->indkey.values[i];
	index_close(irel, AccessShareLock);
	return n;
}

/*
 * One key column's value, hashed as its type's hash opclass hashes it (the
 * equality the primary key itself uses: numeric 1 and 1.00 are one key,
 * a timestamptz is the same instant in any time zone), under the column's
 * collation.  Types without a hash function are hashed by their binary
 * send form, which no session setting changes.
 */
static uint64
value_hash(Form_pg_attribute att, Datum d, bool isnull, uint64 seed)
{
	TypeCacheEntry *tc;

	if (isnull)
		return hash_combine64(seed, 0x6e756c6cULL);
	tc = lookup_type_cache(att->atttypid, TYPECACHE_HASH_EXTENDED_PROC_FINFO);
	if (OidIsValid(tc->hash_extended_proc_finfo.fn_oid))
		return hash_combine64(seed,
							  DatumGetUInt64(FunctionCall2Coll(&tc->hash_extended_proc_finfo,
															   att->attcollation, d,
															   UInt64GetDatum(0x6f6c696e6bULL))));
	else
	{
		Oid			sendfn;
		bool		varlena;
		bytea	   *b;

		getTypeBinaryOutputInfo(att->atttypid, &sendfn, &varlena);
		b = OidSendFunctionCall(sendfn, d);
		return hash_combine64(seed, hash_bytes_extended((unsigned char *) VARDATA(b),
														VARSIZE(b) - VARHDRSZ, 0x6f6c696e6bULL));
	}
}

/* the key of a row of rel */
static uint64
row_key(Relation rel, int nkey, const AttrNumber *attnums, HeapTuple tup)
{
	TupleDesc	desc = RelationGetDescr(rel);
	uint64		h = 0;

	for (int i = 0; i < nkey; i++)
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, attnums[i], desc, &isnull);

		h = value_hash(TupleDescAttr(desc, attnums[i] - 1), d, isnull, h);
	}
	return h;
}

/*
 * The canonical key of a check-out's jsonb key: an object naming exactly the
 * primary-key columns, each value read as the column's type and printed back.
 */
static uint64
jsonb_key(Relation rel, Jsonb *key, int *nkey_out, AttrNumber **attnums_out, Datum **values_out)
{
	TupleDesc	desc = RelationGetDescr(rel);
	AttrNumber *attnums;
	int			nkey = primary_key(rel, &attnums);
	uint64		h = 0;
	Datum	   *values = palloc(sizeof(Datum) * nkey);
	StringInfoData names;

	initStringInfo(&names);
	for (int i = 0; i < nkey; i++)
		appendStringInfo(&names, "%s%s", i ? ", " : "",
						 NameStr(TupleDescAttr(desc, attnums[i] - 1)->attname));

	if (!JB_ROOT_IS_OBJECT(key) || JB_ROOT_COUNT(key) != (uint32) nkey)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a check-out key must be an object of the primary key of \"%s\"",
						RelationGetRelationName(rel)),
				 errdetail("The primary key is (%s).", names.data),
				 errhint("For example: '{\"%s\": ...}'.", NameStr(TupleDescAttr(desc, attnums[0] - 1)->attname))));

	for (int i = 0; i < nkey; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, attnums[i] - 1);
		JsonbValue	k;
		JsonbValue *v;
		char	   *text;
		Oid			infn,
					ioparam;

		k.type = jbvString;
		k.val.string.val = NameStr(att->attname);
		k.val.string.len = strlen(NameStr(att->attname));
		v = findJsonbValueFromContainer(&key->root, JB_FOBJECT, &k);
		if (v == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a check-out key must be an object of the primary key of \"%s\"",
							RelationGetRelationName(rel)),
					 errdetail("The primary key is (%s); the key has no \"%s\".", names.data,
							   NameStr(att->attname))));
		switch (v->type)
		{
			case jbvString:
				text = pnstrdup(v->val.string.val, v->val.string.len);
				break;
			case jbvNumeric:
				text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
				break;
			case jbvBool:
				text = v->val.boolean ? "true" : "false";
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the value of \"%s\" in a check-out key must be a string, a number or a boolean",
								NameStr(att->attname))));
		}
		getTypeInputInfo(att->atttypid, &infn, &ioparam);
		values[i] = OidInputFunctionCall(infn, text, ioparam, att->atttypmod);
		h = value_hash(att, values[i], false, h);
	}
	*nkey_out = nkey;
	*attnums_out = attnums;
	*values_out = values;
	return h;
}

/* ---------------------------------------------------------------------
 * Loading after a restart
 * ---------------------------------------------------------------------
 */

static void
ensure_loaded(void)
{
	int			rc;
	OlinkOwnQuery own;
	int			n;
	CheckoutEntry *rows;
	MemoryContext outer = CurrentMemoryContext;

	if (shared->loaded)
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "olink: SPI_connect failed");
	olink_own_enter(&own);
	PG_TRY();
	{
		rc = SPI_execute("SELECT relid::oid, key_hash, lock_id, holder_oid, holder, expires_at "
						 "  FROM olink.checkout_lock "
						 " WHERE released_at IS NULL AND expires_at > pg_catalog.clock_timestamp()",
						 true, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "olink: could not read the check-outs: %s", SPI_result_code_string(rc));
	}
	PG_CATCH();
	{
		olink_own_abort(&own);
		PG_RE_THROW();
	}
	PG_END_TRY();
	olink_own_leave(&own);
	n = (int) SPI_processed;
	/* outside SPI's memory, which SPI_finish frees */
	rows = MemoryContextAllocZero(outer, sizeof(CheckoutEntry) * (n + 1));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *name;

		rows[i].key.relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		rows[i].key.keyhash = (uint64) DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		rows[i].lock_id = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		rows[i].holder = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
		name = SPI_getvalue(tup, desc, 5);
		strlcpy(rows[i].holder_name, name ? name : "?", NAMEDATALEN);
		rows[i].expires_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 6, &isnull));
	}
	SPI_finish();

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (!shared->loaded)
	{
		PG_TRY();
		{
			for (int i = 0; i < n; i++)
			{
				CheckoutEntry *e = enter(&rows[i].key);

				e->lock_id = rows[i].lock_id;
				e->holder = rows[i].holder;
				strlcpy(e->holder_name, rows[i].holder_name, NAMEDATALEN);
				e->expires_at = rows[i].expires_at;
				e->pending = false;
			}
		}
		PG_CATCH();
		{
			LWLockRelease(shared->lock);
			PG_RE_THROW();
		}
		PG_END_TRY();
		shared->loaded = true;
	}
	LWLockRelease(shared->lock);
}

/* olink is gone (DROP EXTENSION committed): forget every check-out */
void
olink_checkout_reset(void)
{
	HASH_SEQ_STATUS seq;
	CheckoutEntry *e;

	if (shared == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, entries);
	while ((e = hash_seq_search(&seq)) != NULL)
		hash_search(entries, &e->key, HASH_REMOVE, NULL);
	pg_atomic_write_u32(&shared->nentries, 0);
	shared->loaded = false;
	LWLockRelease(shared->lock);
}

/* ---------------------------------------------------------------------
 * The write path
 * ---------------------------------------------------------------------
 */

/*
 * Called by the change journal's trigger for the old row of every UPDATE
 * and DELETE on a protected table: refuses it when the record is checked
 * out by someone other than the session user.
 */
void
olink_checkout_check(Relation rel, int nkey, const AttrNumber *attnums, HeapTuple oldtup)
{
	CheckoutKey key;
	CheckoutEntry *e;
	CheckoutEntry copy;
	bool		held = false;
	List	   *ancestors;

	if (shared == NULL || (shared->loaded && pg_atomic_read_u32(&shared->nentries) == 0))
		return;
	ensure_loaded();
	if (pg_atomic_read_u32(&shared->nentries) == 0)
		return;
	if (nkey == 0)
		return;					/* no key, no check-out possible */

	memset(&key, 0, sizeof(key));
	key.relid = RelationGetRelid(rel);
	key.keyhash = row_key(rel, nkey, attnums, oldtup);
	/* a partition's record may be checked out through its partitioned table */
	ancestors = rel->rd_rel->relispartition ? get_partition_ancestors(key.relid) : NIL;

	LWLockAcquire(shared->lock, LW_SHARED);
	for (;;)
	{
		e = hash_search(entries, &key, HASH_FIND, NULL);
		if (e != NULL && entry_in_force(e, GetCurrentTimestamp()) && e->holder != GetSessionUserId())
		{
			copy = *e;
			held = true;
			break;
		}
		if (ancestors == NIL)
			break;
		key.relid = linitial_oid(ancestors);
		ancestors = list_delete_first(ancestors);
	}
	LWLockRelease(shared->lock);

	if (held)
	{
		if (copy.pending)
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("a record of \"%s\" is being checked out by \"%s\"",
							RelationGetRelationName(rel), copy.holder_name),
					 errdetail("Only the holder of a check-out may update or delete the record.")));
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("a record of \"%s\" is checked out by \"%s\"",
						RelationGetRelationName(rel), copy.holder_name),
				 errdetail("Check-out %lld lasts until %s; only its holder may update or delete the record until it is checked in or expires.",
						   (long long) copy.lock_id, timestamptz_to_str(copy.expires_at)),
				 errhint("An administrator can release it with olink.force_release().")));
	}
}

/* ---------------------------------------------------------------------
 * checkout, checkin, force_release
 * ---------------------------------------------------------------------
 */

/* runs one query of olink's own as superuser, outside enforcement */
static void
own_query(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls, int expect)
{
	OlinkOwnQuery own;
	int			rc;

	olink_own_enter(&own);
	PG_TRY();
	{
		rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
		if (rc != expect)
			elog(ERROR, "olink: query failed (%s): %s", SPI_result_code_string(rc), sql);
	}
	PG_CATCH();
	{
		olink_own_abort(&own);
		PG_RE_THROW();
	}
	PG_END_TRY();
	olink_own_leave(&own);
}

static bool
relation_protected(Oid relid)
{
	bool		result;
	Datum		arg = ObjectIdGetDatum(relid);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "olink: SPI_connect failed");
	/* kept locked to the end of the transaction: unprotect() waits, then sees the check-out */
	own_query("SELECT FROM olink.protected_relation WHERE relid = $1 AND dropped_at IS NULL FOR KEY SHARE",
			  1, (Oid[]) {REGCLASSOID}, &arg, " ", SPI_OK_SELECT);
	result = SPI_processed > 0;
	SPI_finish();
	return result;
}

/*
 * The record must exist and be visible to the session user: read through
 * the caller's own privileges, so a counterpart's row filter and grants
 * apply (and its quota counts the row).  A counterpart cannot hold, or
 * learn the holder of, a record it cannot see.
 */
static void
require_visible(Relation rel, int nkey, AttrNumber *attnums, Datum *values)
{
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData sql;
	Oid		   *types = palloc(sizeof(Oid) * nkey);
	int			rc;
	bool		found;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT FROM %s WHERE ",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)));
	for (int i = 0; i < nkey; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, attnums[i] - 1);

		appendStringInfo(&sql, "%s%s OPERATOR(pg_catalog.=) $%d", i ? " AND " : "",
						 quote_identifier(NameStr(att->attname)), i + 1);
		types[i] = att->atttypid;
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "olink: SPI_connect failed");
	rc = SPI_execute_with_args(sql.data, nkey, types, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "olink: could not look the record up: %s", SPI_result_code_string(rc));
	found = SPI_processed > 0;
	SPI_finish();
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no record of \"%s\" with this key is visible to you", RelationGetRelationName(rel)),
				 errdetail("Only a record that exists, and that you may read, can be checked out.")));
}

/* may the session user change this relation's rows?  Counterparts: through a grant in force */
static void
check_may_write(Relation rel)
{
	OlinkSession *s = olink_counterpart_session();
	Oid			relid = RelationGetRelid(rel);

	if (s != NULL)
	{
		OlinkRelation *r = olink_find_relation(s, relid);
		ListCell   *lc;

		if (r != NULL)
			foreach(lc, r->grants)
			{
				OlinkGrant *g = lfirst(lc);

				if ((g->privs & (OLINK_PRIV_UPDATE | OLINK_PRIV_DELETE)) && olink_grant_live(s, g))
					return;
			}
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to check out records of \"%s\"", RelationGetRelationName(rel)),
				 olink_statement_purpose()[0] != '\0' ?
				 errdetail("Counterpart \"%s\" holds no grant in force that lets it update or delete them under purpose \"%s\".",
						   s->counterpart, olink_statement_purpose()) :
				 errdetail("No purpose is declared for this session."),
				 olink_statement_purpose()[0] == '\0' ? errhint("Declare one with SET olink.purpose.") : 0));
	}
	if (pg_class_aclcheck(relid, GetUserId(), ACL_UPDATE | ACL_DELETE) != ACLCHECK_OK &&
		pg_class_aclcheck(relid, GetUserId(), ACL_UPDATE) != ACLCHECK_OK &&
		pg_class_aclcheck(relid, GetUserId(), ACL_DELETE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to check out records of \"%s\"", RelationGetRelationName(rel)),
				 errdetail("Checking a record out needs UPDATE or DELETE on its table.")));
}

static void
remember(CheckoutKey *key, int64 lock_id, bool insert)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	PendingChange *p = palloc(sizeof(PendingChange));

	p->key = *key;
	p->lock_id = lock_id;
	p->insert = insert;
	p->subid = GetCurrentSubTransactionId();
	pending = lappend(pending, p);
	MemoryContextSwitchTo(old);
}

/* olink.checkout(relation, key, ttl, wait) → lock id */
Datum
olink_checkout(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Jsonb	   *jkey;
	Interval   *ttl;
	Interval   *wait;
	Relation	rel;
	CheckoutKey key;
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz expires;
	TimestampTz deadline;
	int64		ttl_us;
	int64		wait_us;
	int64		lock_id;
	Oid			me = GetSessionUserId();
	char	   *me_name = GetUserNameFromId(me, false);
	PendingChange *mine;
	bool		isnull;
	int			nkey;
	AttrNumber *attnums;
	Datum	   *values;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("relation, key and ttl must not be null")));
	relid = PG_GETARG_OID(0);
	jkey = PG_GETARG_JSONB_P(1);
	ttl = PG_GETARG_INTERVAL_P(2);
	wait = PG_ARGISNULL(3) ? NULL : PG_GETARG_INTERVAL_P(3);

	ttl_us = ttl->time + (int64) ttl->day * USECS_PER_DAY + (int64) ttl->month * 30 * USECS_PER_DAY;
	if (ttl_us <= 0 || ttl_us > (int64) checkout_max_ttl * USECS_PER_SEC)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a check-out lasts more than 0 and at most %d seconds", checkout_max_ttl),
				 errhint("olink.checkout_max_ttl sets the longest check-out.")));
	wait_us = wait ? wait->time + (int64) wait->day * USECS_PER_DAY +
		(int64) wait->month * 30 * USECS_PER_DAY : 0;
	if (wait_us < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wait must not be negative")));

	rel = relation_open(relid, AccessShareLock);
	PG_TRY();
	{
		if (!relation_protected(relid))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("relation \"%s\" is not protected by olink", RelationGetRelationName(rel)),
					 errdetail("Records are checked out of protected tables only.")));
		check_may_write(rel);
		memset(&key, 0, sizeof(key));
		key.relid = relid;
		key.keyhash = jsonb_key(rel, jkey, &nkey, &attnums, &values);
		require_visible(rel, nkey, attnums, values);
	}
	PG_CATCH();
	{
		relation_close(rel, AccessShareLock);
		PG_RE_THROW();
	}
	PG_END_TRY();
	ensure_loaded();

	/* reserve the entry, waiting for the record if asked to */
	deadline = TimestampTzPlusMilliseconds(now, wait_us / 1000);
	for (;;)
	{
		CheckoutEntry *e;
		CheckoutEntry copy;
		bool		busy = false;

		now = GetCurrentTimestamp();
		expires = now + ttl_us;
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		e = hash_search(entries, &key, HASH_FIND, NULL);
		if (e != NULL && entry_in_force(e, now))
		{
			copy = *e;
			busy = true;
		}
		else
		{
			/* one holder may not take every entry there is */
			if (max_checkouts_per_holder > 0)
			{
				HASH_SEQ_STATUS seq;
				CheckoutEntry *o;
				int			held = 0;

				hash_seq_init(&seq, entries);
				while ((o = hash_seq_search(&seq)) != NULL)
					if (o->holder == me && entry_in_force(o, now))
						held++;
				if (held >= max_checkouts_per_holder)
				{
					LWLockRelease(shared->lock);
					ereport(ERROR,
							(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
							 errmsg("you hold %d check-outs, as many as olink.max_checkouts_per_holder allows", held),
							 errhint("Check some in with olink.checkin() first.")));
				}
			}
			PG_TRY();
			{
				e = enter(&key);
			}
			PG_CATCH();
			{
				LWLockRelease(shared->lock);
				PG_RE_THROW();
			}
			PG_END_TRY();
			e->lock_id = 0;
			e->holder = me;
			strlcpy(e->holder_name, me_name, NAMEDATALEN);
			e->expires_at = expires;
			e->pending = true;
		}
		LWLockRelease(shared->lock);
		if (!busy)
			break;
		if (copy.holder == me && !copy.pending)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("you hold this record already, as check-out %lld", (long long) copy.lock_id),
					 errdetail("It lasts until %s.", timestamptz_to_str(copy.expires_at)),
					 errhint("Check it in with olink.checkin() first to take it again.")));
		if (now >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("the record is %s by \"%s\"",
							copy.pending ? "being checked out" : "checked out", copy.holder_name),
					 copy.pending ? 0 :
					 errdetail("Check-out %lld lasts until %s.", (long long) copy.lock_id,
							   timestamptz_to_str(copy.expires_at)),
					 errhint("Pass wait => an interval to wait for it.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	remember(&key, 0, true);
	mine = llast(pending);

	/* the record of it */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "olink: SPI_connect failed");
	{
		OlinkSession *s = olink_counterpart_session();
		Datum		args[7];
		char		nulls[8] = "       ";

		args[0] = ObjectIdGetDatum(relid);
		args[1] = JsonbPGetDatum(jkey);
		args[2] = Int64GetDatum((int64) key.keyhash);
		args[3] = DirectFunctionCall1(namein, CStringGetDatum(me_name));
		args[4] = ObjectIdGetDatum(me);
		args[5] = TimestampTzGetDatum(expires);
		if (s != NULL)
			args[6] = Int64GetDatum(s->counterpart_id);
		else
			nulls[6] = 'n';
		own_query("INSERT INTO olink.checkout_lock (relid, key, key_hash, holder, holder_oid, expires_at, counterpart_id) "
				  "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING lock_id",
				  7, (Oid[]) {REGCLASSOID, JSONBOID, INT8OID, NAMEOID, OIDOID, TIMESTAMPTZOID, INT8OID},
				  args, nulls, SPI_OK_INSERT_RETURNING);
		lock_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	{
		CheckoutEntry *e = hash_search(entries, &key, HASH_FIND, NULL);

		if (e != NULL && e->pending && e->holder == me)
			e->lock_id = lock_id;
	}
	LWLockRelease(shared->lock);
	mine->lock_id = lock_id;
	relation_close(rel, AccessShareLock);
	PG_RETURN_INT64(lock_id);
}

/* ends a check-out: by its holder (checkin) or by an administrator (force_release) */
static void
release(int64 lock_id, const char *reason, bool forced)
{
	Oid			me = GetSessionUserId();
	Datum		args[4];
	char		nulls[5] = "    ";
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	CheckoutKey key;
	Oid			holder;
	char	   *holder_name;
	bool		released;
	TimestampTz expires_at;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "olink: SPI_connect failed");
	args[0] = Int64GetDatum(lock_id);
	own_query("SELECT relid::oid, key_hash, holder_oid, holder, released_at IS NOT NULL, expires_at "
			  "  FROM olink.checkout_lock WHERE lock_id = $1 FOR UPDATE",
			  1, (Oid[]) {INT8OID}, args, " ", SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("check-out %lld does not exist", (long long) lock_id)));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	memset(&key, 0, sizeof(key));
	key.relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
	key.keyhash = (uint64) DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	holder = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
	holder_name = SPI_getvalue(tup, desc, 4);
	released = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
	expires_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 6, &isnull));
	if (released)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("check-out %lld has already ended", (long long) lock_id)));
	if (!forced && holder != me)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("check-out %lld is held by \"%s\"", (long long) lock_id, holder_name),
				 errdetail("Only its holder checks a record in."),
				 errhint("An administrator can release it with olink.force_release().")));
	/*
	 * An expired check-out held nothing since it expired: others may have
	 * changed the record.  It stays on record as expired, not checked in.
	 */
	if (expires_at <= GetCurrentTimestamp())
	{
		SPI_finish();
		remember(&key, lock_id, false);
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("check-out %lld expired at %s", (long long) lock_id, timestamptz_to_str(expires_at)),
				 errdetail("Since then it has not held the record: others may have changed it. It stays on record as expired."),
				 errhint("Check the record out again, with a longer ttl, before changing it.")));
		return;
	}

	args[1] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(me, false)));
	args[2] = CStringGetTextDatum(forced ? "forced" : "checkin");
	if (reason != NULL)
		args[3] = CStringGetTextDatum(reason);
	else
		nulls[3] = 'n';
	own_query("UPDATE olink.checkout_lock SET released_at = pg_catalog.now(), released_by = $2, "
			  "       release_kind = $3, release_reason = $4 WHERE lock_id = $1",
			  4, (Oid[]) {INT8OID, NAMEOID, TEXTOID, TEXTOID}, args, nulls, SPI_OK_UPDATE);
	SPI_finish();
	remember(&key, lock_id, false);
}

Datum
olink_checkin(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("lock id must not be null")));
	release(PG_GETARG_INT64(0), NULL, false);
	PG_RETURN_VOID();
}

Datum
olink_force_release(PG_FUNCTION_ARGS)
{
	char	   *reason;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("lock id must not be null")));
	reason = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (reason == NULL || reason[strspn(reason, " \t\n")] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("releasing a check-out by force needs a reason")));
	release(PG_GETARG_INT64(0), reason, true);
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------------
 * Transactions
 * ---------------------------------------------------------------------
 */

static void
finish(bool commit, SubTransactionId subid, SubTransactionId parent)
{
	List	   *keep = NIL;
	ListCell   *lc;

	MemoryContext old;

	if (pending == NIL || shared == NULL)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	foreach(lc, pending)
	{
		PendingChange *p = lfirst(lc);
		CheckoutEntry *e;

		if (subid != InvalidSubTransactionId && p->subid != subid)
		{
			keep = lappend(keep, p);
			continue;
		}
		if (subid != InvalidSubTransactionId && commit)
		{
			/* a subtransaction committed: its changes belong to the parent now */
			p->subid = parent;
			keep = lappend(keep, p);
			continue;
		}
		e = hash_search(entries, &p->key, HASH_FIND, NULL);
		if (p->insert && e != NULL && e->pending && e->holder == GetSessionUserId() &&
			(p->lock_id == 0 || e->lock_id == p->lock_id || e->lock_id == 0))
		{
			if (commit)
				e->pending = false;
			else
			{
				hash_search(entries, &p->key, HASH_REMOVE, NULL);
				pg_atomic_sub_fetch_u32(&shared->nentries, 1);
			}
		}
		else if (!p->insert && commit && e != NULL && e->lock_id == p->lock_id)
		{
			hash_search(entries, &p->key, HASH_REMOVE, NULL);
			pg_atomic_sub_fetch_u32(&shared->nentries, 1);
		}
		pfree(p);
	}
	LWLockRelease(shared->lock);
	list_free(pending);
	pending = keep;
	MemoryContextSwitchTo(old);
}

static void
checkout_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			finish(true, InvalidSubTransactionId, InvalidSubTransactionId);
			break;
		case XACT_EVENT_ABORT:
			finish(false, InvalidSubTransactionId, InvalidSubTransactionId);
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (pending != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that checked records out or in")));
			break;
		default:
			break;
	}
}

static void
checkout_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		finish(false, mySubid, parentSubid);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		finish(true, mySubid, parentSubid);
}

void
olink_checkout_init(void)
{
	DefineCustomIntVariable("olink.max_checkouts",
							"How many check-outs in force olink's shared memory holds.",
							NULL,
							&max_checkouts, 16384, 64, 10000000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("olink.checkout_max_ttl",
							"The longest time a record may be checked out for.",
							NULL,
							&checkout_max_ttl, 86400, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("olink.max_checkouts_per_holder",
							"How many check-outs in force one holder may have.",
							"0 means no limit other than olink.max_checkouts.",
							&max_checkouts_per_holder, 1000, 0, INT_MAX,
							PGC_SUSET, 0, NULL, NULL, NULL);

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = checkout_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = checkout_shmem_startup;
	RegisterXactCallback(checkout_xact_callback, NULL);
	RegisterSubXactCallback(checkout_subxact_callback, NULL);
}
