/*-------------------------------------------------------------------------
 *
 * chain.c
 *		Tamper evidence: the canonical form of an audit row, its SHA-256,
 *		the seal chain, the append-only guard and olink.verify_audit().
 *
 * Every row of the audit store (access and connection events, the texts
 * they refer to, the change journal) is sealed.  A seal covers a batch of
 * rows -- a range of ids the worker wrote in one transaction, or the
 * journal rows of one committed transaction -- and records how many there
 * are, the SHA-256 of their canonical forms in id order, and a 64-bit sum
 * of hashes of their contents without ids.  Rows are read by one
 * sequential scan per table; a seal whose rows do not come in id order
 * (rows updated by hand, a table rewritten) is hashed again in id order.
 * Seals are chained: each seal's hash is the SHA-256 of the previous
 * seal's hash and its own canonical form.
 *
 * What verification finds, per seal:
 *	 fewer rows than sealed						deleted
 *	 more rows, or a row no seal covers			inserted
 *	 other digest, same content sum				reordered (ids moved between rows)
 *	 other digest, other content sum			changed
 *	 a seal whose hash does not follow			changed (log "seal")
 *	 a gap in seal ids							deleted (log "seal")
 *	 journal rows the trigger did not report		inserted / deleted (attestation)
 *	 journal rows the worker could not seal		unsealed
 *
 * An unkeyed chain can be recomputed by whoever can write every row.  The
 * audit worker keeps the head of the chain in shared memory and logs it
 * when it starts writing and when it stops; verify_audit() compares the
 * table with the head in memory, so a chain rewritten while the server
 * runs is found, and the logged heads let an auditor check across
 * restarts (olink_auditor reads olink.audit_seal).
 *
 * Hashing uses PostgreSQL's pg_cryptohash (OpenSSL's SHA-256 where the
 * server is built with it); contexts are kept and reused.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "common/cryptohash.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"

#include "olink.h"

/* set by the retention function while it removes sealed rows */
bool		olink_append_allowed = false;

/*
 * SHA-256 contexts are kept for the life of the backend and reused: with
 * OpenSSL 3 setting one up costs more than hashing a row.  They are owned
 * by a resource owner of olink's that is never released, since a
 * transaction's owner would free them at the transaction's end.
 */
static List *free_ctxs = NIL;

static pg_cryptohash_ctx *
get_ctx(void)
{
	static ResourceOwner sha_owner = NULL;
	pg_cryptohash_ctx *ctx;

	if (free_ctxs != NIL)
	{
		ctx = linitial(free_ctxs);
		free_ctxs = list_delete_first(free_ctxs);
	}
	else
	{
		ResourceOwner save = CurrentResourceOwner;

		if (sha_owner == NULL)
			sha_owner = ResourceOwnerCreate(NULL, "olink hashing");
		CurrentResourceOwner = sha_owner;
		ctx = pg_cryptohash_create(PG_SHA256);
		CurrentResourceOwner = save;
		if (ctx == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	if (pg_cryptohash_init(ctx) < 0)
		elog(ERROR, "olink: could not compute SHA-256: %s", pg_cryptohash_error(ctx));
	return ctx;
}

static void
put_ctx(pg_cryptohash_ctx *ctx)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	free_ctxs = lappend(free_ctxs, ctx);
	MemoryContextSwitchTo(old);
}

void
olink_sha256(const void *data, size_t len, uint8 *out)
{
	pg_cryptohash_ctx *ctx = get_ctx();

	if (pg_cryptohash_update(ctx, data, len) < 0 ||
		pg_cryptohash_final(ctx, out, OLINK_HASH_LEN) < 0)
		elog(ERROR, "olink: could not compute SHA-256: %s", pg_cryptohash_error(ctx));
	put_ctx(ctx);
}

/*
 * The canonical form of a row: a tag naming the table, then per attribute
 * 'N' for NULL or 'V', a 4-byte length and the value's bytes -- detoasted
 * and decompressed, so that storage decisions do not change the hash.
 * The attribute skip_attno (the row's id) is left out.
 */
static void
canonical_row(StringInfo buf, char tag, TupleDesc desc, Datum *values, bool *nulls,
			  int skip_attno)
{
	char	   *p;

	/*
	 * Written straight into the buffer: this runs for every row verified.
	 * Room is made first for the fixed parts (at most 1 + 5 bytes and 8
	 * value bytes per attribute), then per variable-length value.
	 */
	resetStringInfo(buf);
	enlargeStringInfo(buf, 1 + desc->natts * (5 + 8));
	p = buf->data;
	*p++ = tag;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		uint32		len;
		const char *src;
		struct varlena *v = NULL;

		if (att->attisdropped || i + 1 == skip_attno)
			continue;
		if (nulls[i])
		{
			*p++ = 'N';
			continue;
		}
		*p++ = 'V';
		if (att->attbyval)
		{
			len = att->attlen;
			memcpy(p, &len, sizeof(len));
			p += sizeof(len);
			store_att_byval(p, values[i], att->attlen);
			p += len;
			continue;
		}
		if (att->attlen > 0)
		{
			len = att->attlen;
			src = DatumGetPointer(values[i]);
		}
		else if (att->attlen == -1)
		{
			v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(values[i]));
			len = VARSIZE_ANY_EXHDR(v);
			src = VARDATA_ANY(v);
		}
		else
		{
			src = DatumGetCString(values[i]);
			len = strlen(src);
		}
		memcpy(p, &len, sizeof(len));
		p += sizeof(len);
		/* room for this value and the fixed parts of the attributes still to come */
		buf->len = p - buf->data;
		enlargeStringInfo(buf, len + desc->natts * (5 + 8));
		p = buf->data + buf->len;
		memcpy(p, src, len);
		p += len;
		if (v != NULL && (Pointer) v != DatumGetPointer(values[i]))
			pfree(v);
	}
	buf->len = p - buf->data;
	buf->data[buf->len] = '\0';
}

static StringInfo canon_buf = NULL;

static StringInfo
canon(void)
{
	if (canon_buf == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		canon_buf = makeStringInfo();
		MemoryContextSwitchTo(old);
	}
	return canon_buf;
}

void
olink_stream_reset(OlinkRowStream *rs)
{
	memset(rs, 0, sizeof(OlinkRowStream));
}

/*
 * Add a row to a seal's stream: SHA-256 runs over each row's canonical
 * form without its id (attribute 1), then the id, row after row in id
 * order.  Beside it, a sum of 64-bit hashes of the rows' contents without
 * their ids, which tells a reordering (the same contents under other ids)
 * from a change.  A row whose id is not above the last one's makes the
 * stream out of order: the caller hashes the seal again in id order.
 */
void
olink_stream_row(OlinkRowStream *rs, char tag, TupleDesc desc, Datum *values, bool *nulls)
{
	StringInfo	buf = canon();
	int64		id = DatumGetInt64(values[0]);

	if (rs->ctx == NULL)
		rs->ctx = get_ctx();
	if (rs->count > 0 && id <= rs->last_id)
		rs->out_of_order = true;
	if (rs->count == 0 || id < rs->first_id)
		rs->first_id = id;
	if (rs->count == 0 || id > rs->last_id)
		rs->last_id = id;
	rs->count++;
	canonical_row(buf, tag, desc, values, nulls, 1);
	if (rs->with_content_sum)
		rs->content_sum += hash_bytes_extended((const unsigned char *) buf->data, buf->len, 0);
	if (pg_cryptohash_update(rs->ctx, (uint8 *) buf->data, buf->len) < 0 ||
		pg_cryptohash_update(rs->ctx, (uint8 *) &id, sizeof(id)) < 0)
		elog(ERROR, "olink: could not compute SHA-256: %s", pg_cryptohash_error(rs->ctx));
}

/* the stream's digest; the stream is done with (no rows: the digest of nothing) */
void
olink_stream_finish(OlinkRowStream *rs, uint8 *digest)
{
	if (rs->ctx == NULL)
		rs->ctx = get_ctx();
	if (pg_cryptohash_final(rs->ctx, digest, OLINK_HASH_LEN) < 0)
		elog(ERROR, "olink: could not compute SHA-256: %s", pg_cryptohash_error(rs->ctx));
	put_ctx(rs->ctx);
	rs->ctx = NULL;
}

/* the hash of a seal without its chain link: SHA-256 of its canonical form, hash left out */
void
olink_seal_content_hash(TupleDesc desc, Datum *values, bool *nulls, uint8 *out)
{
	StringInfo	buf = canon();

	canonical_row(buf, 's', desc, values, nulls, OLINK_SEAL_HASH);
	olink_sha256(buf->data, buf->len, out);
}

/* a seal's link in the chain: SHA-256 of the previous seal's hash and its content hash */
void
olink_seal_link(const uint8 *prev, const uint8 *content, uint8 *out)
{
	uint8		buf[2 * OLINK_HASH_LEN];

	memcpy(buf, prev, OLINK_HASH_LEN);
	memcpy(buf + OLINK_HASH_LEN, content, OLINK_HASH_LEN);
	olink_sha256(buf, sizeof(buf), out);
}

/* ---------------------------------------------------------------------
 * The append-only guard
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(olink_append_only);

Datum
olink_append_only(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function olink._append_only() must be called as a trigger")));
	if (olink_append_allowed && TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		return PointerGetDatum(trigdata->tg_trigtuple);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("audit table \"%s\" is append-only",
					RelationGetRelationName(trigdata->tg_relation)),
			 errdetail("Rows are written only by olink's audit worker and the change journal, and removed only by olink.purge_audit()."),
			 errhint("Read the views olink.access_log, olink.connection_log and olink.change_journal.")));
	PG_RETURN_NULL();
}

/* ---------------------------------------------------------------------
 * Verification
 * ---------------------------------------------------------------------
 */


/* the rows found for a set that was sealed: a seal of a, c or t, or one transaction of a j seal */
typedef struct RowsCheck
{
	int64		expected;		/* rows sealed */
	OlinkRowStream rs;
	bool		done;			/* as many rows as sealed were hashed */
	int64		extra;			/* rows beyond those */
	uint8		computed[OLINK_HASH_LEN];
} RowsCheck;

typedef struct SealCheck
{
	int64		seal_id;
	char		kind;
	uint64		xid;
	uint64		horizon;
	int64		first_id;
	int64		last_id;
	int64		row_count;
	uint8		digest[OLINK_HASH_LEN];
	uint64		content_sum;
	uint8		content_hash[OLINK_HASH_LEN];	/* the seal's own, recomputed */
	uint8		stored_hash[OLINK_HASH_LEN];
	bool		skip;			/* a journal seal the rows' snapshot cannot see all of */
	int			nx;				/* j, x: transactions */
	int64	   *xids;
	int64	   *counts;
	int			first_xc;		/* j: its transactions' checks, from here */
	int			nxc;			/* j: how many */
	RowsCheck	rows;			/* a, c, t */
} SealCheck;

/* one transaction of a journal seal */
typedef struct XactCheck
{
	int			seal;
	uint64		xid;
	uint8		digest[OLINK_HASH_LEN];	/* as sealed */
	RowsCheck	rows;
} XactCheck;

typedef struct Verify
{
	Tuplestorestate *store;
	TupleDesc	desc;
	SealCheck  *seals;
	int			nseals;
	XactCheck  *xacts;
	int			nxacts;
	int		   *ranges[3];		/* per kind a, c, t: seal indexes sorted by first_id */
	int			nranges[3];
	HTAB	   *journal_xacts;	/* xid -> XactCheck index */
	HTAB	   *attested;		/* xid -> rows its journal trigger said it wrote */
	bool		settled;
	Snapshot	snap;			/* the worker's tables and the seals */
	Snapshot	rows_snap;		/* the journal */
} Verify;

typedef struct XidEntry
{
	uint64		xid;			/* hash key */
	int			index;			/* XactCheck, or -1 */
	int64		count;			/* rows (unsealed, or attested) */
	int64		first_id;
	int64		last_id;
} XidEntry;

static void
finding(Verify *v, const char *what, const char *log, int64 first, int64 last,
		const char *detail)
{
	Datum		values[5];
	bool		nulls[5] = {0};

	values[0] = CStringGetTextDatum(what);
	values[1] = CStringGetTextDatum(log);
	values[2] = Int64GetDatum(first);
	values[3] = Int64GetDatum(last);
	values[4] = CStringGetTextDatum(detail);
	tuplestore_putvalues(v->store, v->desc, values, nulls);
}

static const char *
log_name(char kind)
{
	switch (kind)
	{
		case 'a':
			return "access_log";
		case 'c':
			return "connection_log";
		case 't':
			return "audit_text";
		case 'j':
			return "change_journal";
		default:
			return "seal";
	}
}

static int
kind_index(char kind)
{
	return kind == 'a' ? 0 : kind == 'c' ? 1 : kind == 't' ? 2 : -1;
}

Oid
olink_audit_table(const char *name, bool missing_ok)
{
	Oid			nsp = get_namespace_oid("olink", missing_ok);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;

	if (!OidIsValid(relid) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("audit table \"olink.%s\" does not exist", name)));
	return relid;
}

static Relation
open_audit_table(const char *name, int natts)
{
	Relation	rel = table_open(olink_audit_table(name, false), AccessShareLock);

	if (RelationGetDescr(rel)->natts != natts)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("audit table \"olink.%s\" does not have the columns olink wrote", name),
				 errdetail("It has %d columns; olink writes %d.", RelationGetDescr(rel)->natts, natts)));
	return rel;
}

static int
seal_cmp_id(const void *a, const void *b)
{
	const SealCheck *x = a;
	const SealCheck *y = b;

	return x->seal_id < y->seal_id ? -1 : x->seal_id > y->seal_id ? 1 : 0;
}

static SealCheck *sort_seals;

static int
seal_range_cmp(const void *a, const void *b)
{
	int64		x = sort_seals[*(const int *) a].first_id;
	int64		y = sort_seals[*(const int *) b].first_id;

	return x < y ? -1 : x > y ? 1 : 0;
}

static void
copy_hash(uint8 *dst, Datum d, bool isnull)
{
	memset(dst, 0, OLINK_HASH_LEN);
	if (!isnull)
	{
		struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d));

		memcpy(dst, VARDATA_ANY(v), Min(VARSIZE_ANY_EXHDR(v), OLINK_HASH_LEN));
	}
}

/* an int8[] of a seal as a C array */
static int
int8_array(Datum d, bool isnull, int64 **out)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *enulls;
	int			n;

	*out = NULL;
	if (isnull)
		return 0;
	arr = DatumGetArrayTypeP(d);
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &enulls, &n);
	*out = palloc(sizeof(int64) * Max(n, 1));
	for (int i = 0; i < n; i++)
		(*out)[i] = enulls[i] ? 0 : DatumGetInt64(elems[i]);
	return n;
}

/* read the seals, check their chain and index them for the row scans */
static void
load_seals(Verify *v, Snapshot snap, Snapshot rows_snap, int64 head_id, const uint8 *head_hash)
{
	Relation	rel = open_audit_table("audit_seal", OLINK_SEAL_NATTS);
	TupleDesc	desc = RelationGetDescr(rel);
	TableScanDesc scan;
	HeapTuple	tup;
	int			cap = 1024;
	int			xcap = 1024;
	Datum		values[OLINK_SEAL_NATTS];
	bool		nulls[OLINK_SEAL_NATTS];
	HASHCTL		ctl;
	List	   *stored_digests = NIL;	/* per seal with transactions: the digests column */

	v->seals = palloc(cap * sizeof(SealCheck));
	v->nseals = 0;
	scan = table_beginscan(rel, snap, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		SealCheck  *s;

		if (v->nseals == cap)
		{
			cap *= 2;
			v->seals = repalloc(v->seals, cap * sizeof(SealCheck));
		}
		heap_deform_tuple(tup, desc, values, nulls);
		s = &v->seals[v->nseals++];
		memset(s, 0, sizeof(SealCheck));
		s->seal_id = DatumGetInt64(values[0]);
		s->kind = DatumGetChar(values[2]);
		s->xid = nulls[3] ? 0 : (uint64) DatumGetInt64(values[3]);
		s->horizon = nulls[4] ? 0 : (uint64) DatumGetInt64(values[4]);
		s->first_id = nulls[5] ? 0 : DatumGetInt64(values[5]);
		s->last_id = nulls[6] ? -1 : DatumGetInt64(values[6]);
		s->row_count = DatumGetInt64(values[7]);
		copy_hash(s->digest, values[8], nulls[8]);
		if (!nulls[9])
		{
			struct varlena *cs = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(values[9]));

			memcpy(&s->content_sum, VARDATA_ANY(cs), Min(VARSIZE_ANY_EXHDR(cs), sizeof(uint64)));
		}
		s->nx = int8_array(values[10], nulls[10], &s->xids);
		if (int8_array(values[11], nulls[11], &s->counts) != s->nx)
			s->nx = 0;
		if (s->kind == 'j' && !nulls[12])
		{
			bytea	   *d = DatumGetByteaPCopy(values[12]);

			stored_digests = lappend(stored_digests, d);
		}
		else
			stored_digests = lappend(stored_digests, NULL);
		copy_hash(s->stored_hash, values[14], nulls[14]);
		olink_seal_content_hash(desc, values, nulls, s->content_hash);
		s->rows.expected = s->row_count;
		s->first_xc = v->nseals - 1;	/* its position in the scan, until sorted */
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);

	qsort(v->seals, v->nseals, sizeof(SealCheck), seal_cmp_id);

	/* the chain */
	for (int i = 0; i < v->nseals; i++)
	{
		SealCheck  *s = &v->seals[i];
		uint8		zero[OLINK_HASH_LEN] = {0};
		uint8		expect[OLINK_HASH_LEN];

		if (i > 0 && s->seal_id == v->seals[i - 1].seal_id)
		{
			finding(v, "inserted", "seal", s->seal_id, s->seal_id,
					"two seals carry the same id");
			continue;
		}
		if (i == 0 && s->seal_id != 1)
			finding(v, "deleted", "seal", 1, s->seal_id - 1,
					"the first seals of the chain are missing");
		else if (i > 0 && s->seal_id != v->seals[i - 1].seal_id + 1)
			finding(v, "deleted", "seal", v->seals[i - 1].seal_id + 1, s->seal_id - 1,
					"seals are missing from the chain");
		olink_seal_link(i == 0 ? zero : v->seals[i - 1].stored_hash, s->content_hash, expect);
		if (memcmp(expect, s->stored_hash, OLINK_HASH_LEN) != 0)
			finding(v, "changed", "seal", s->seal_id, s->seal_id,
					"the seal's hash does not follow from the seal before it and its own values");
	}

	/* the head the worker remembers: a chain recomputed after the fact ends elsewhere */
	if (head_id > 0)
	{
		bool		seen = false;

		for (int i = v->nseals - 1; i >= 0; i--)
		{
			if (v->seals[i].seal_id == head_id)
			{
				seen = true;
				if (memcmp(v->seals[i].stored_hash, head_hash, OLINK_HASH_LEN) != 0)
					finding(v, "changed", "seal", head_id, head_id,
							"the chain differs from the one the audit worker wrote: its last seal's hash is not the one the worker remembers");
				break;
			}
		}
		if (!seen && (v->nseals == 0 || v->seals[v->nseals - 1].seal_id < head_id))
			finding(v, "deleted", "seal", v->nseals ? v->seals[v->nseals - 1].seal_id + 1 : 1, head_id,
					"the chain ends before the last seal the audit worker wrote");
	}

	/* index: ranges per kind; the transactions of journal seals; the attestations */
	sort_seals = v->seals;
	for (int k = 0; k < 3; k++)
	{
		v->ranges[k] = palloc((v->nseals + 1) * sizeof(int));
		v->nranges[k] = 0;
	}
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(XidEntry);
	ctl.hcxt = CurrentMemoryContext;
	v->journal_xacts = hash_create("olink verify journal", 1024, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	v->attested = hash_create("olink verify attested", 1024, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	v->xacts = palloc(xcap * sizeof(XactCheck));
	v->nxacts = 0;
	for (int i = 0; i < v->nseals; i++)
	{
		SealCheck  *s = &v->seals[i];
		int			k = kind_index(s->kind);
		bytea	   *dg = list_nth(stored_digests, s->first_xc);

		if (k >= 0)
			v->ranges[k][v->nranges[k]++] = i;
		else if (s->kind == 'x')
		{
			for (int x = 0; x < s->nx; x++)
			{
				uint64		xid = (uint64) s->xids[x];
				XidEntry   *e = hash_search(v->attested, &xid, HASH_ENTER, NULL);

				e->count = s->counts[x];
			}
		}
		else if (s->kind == 'j')
		{
			s->first_xc = v->nxacts;
			for (int x = 0; x < s->nx; x++)
			{
				uint64		xid = (uint64) s->xids[x];
				bool		found;
				XidEntry   *e = hash_search(v->journal_xacts, &xid, HASH_ENTER, &found);
				XactCheck  *xc;

				if (found)
				{
					finding(v, "inserted", "seal", s->seal_id, s->seal_id,
							psprintf("transaction %llu is in two journal seals",
									 (unsigned long long) xid));
					continue;
				}
				if (v->nxacts == xcap)
				{
					xcap *= 2;
					v->xacts = repalloc(v->xacts, xcap * sizeof(XactCheck));
				}
				xc = &v->xacts[v->nxacts];
				memset(xc, 0, sizeof(XactCheck));
				xc->seal = i;
				xc->xid = xid;
				xc->rows.expected = s->counts[x];
				if (dg && VARSIZE_ANY_EXHDR(dg) >= (x + 1) * OLINK_HASH_LEN)
					memcpy(xc->digest, VARDATA_ANY(dg) + x * OLINK_HASH_LEN, OLINK_HASH_LEN);
				e->index = v->nxacts++;
				e->count = 0;
				s->nxc++;
				/* a transaction the rows' snapshot does not see as committed: the seal is newer */
				if (XidInMVCCSnapshot(XidFromFullTransactionId(FullTransactionIdFromU64(xid)), rows_snap))
					s->skip = true;
			}
		}
	}
	for (int k = 0; k < 3; k++)
		qsort(v->ranges[k], v->nranges[k], sizeof(int), seal_range_cmp);
}

/* the seal covering id in kind k, or -1 */
static int
find_range(Verify *v, int k, int64 id, int *hint)
{
	int			lo = 0;
	int			hi = v->nranges[k] - 1;

	if (*hint >= 0)
	{
		SealCheck  *s = &v->seals[*hint];

		if (id >= s->first_id && id <= s->last_id)
			return *hint;
	}
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		SealCheck  *s = &v->seals[v->ranges[k][mid]];

		if (id < s->first_id)
			hi = mid - 1;
		else if (id > s->last_id)
			lo = mid + 1;
		else
		{
			*hint = v->ranges[k][mid];
			return *hint;
		}
	}
	return -1;
}

static void
flush_stray(Verify *v, char kind, int64 *first, int64 *last)
{
	if (*first <= *last)
		finding(v, "inserted", log_name(kind), *first, *last,
				"rows no seal covers: they were not written by the audit worker");
	*first = 1;
	*last = 0;
}

/* a row of a sealed set: into its stream, until as many as were sealed */
static void
rows_add(RowsCheck *rc, char tag, TupleDesc desc, Datum *values, bool *nulls)
{
	if (rc->done)
	{
		rc->extra++;
		return;
	}
	olink_stream_row(&rc->rs, tag, desc, values, nulls);
	if (rc->rs.count == rc->expected && !rc->rs.out_of_order)
	{
		olink_stream_finish(&rc->rs, rc->computed);
		rc->done = true;
	}
}

/* add every row of a worker-written table to the seal that covers its id */
static int64
scan_sealed_table(Verify *v, const char *table, char kind, int natts, Snapshot snap)
{
	Relation	rel = open_audit_table(table, natts);
	TupleDesc	desc = RelationGetDescr(rel);
	TableScanDesc scan = table_beginscan(rel, snap, 0, NULL);
	HeapTuple	tup;
	Datum	   *values = palloc(natts * sizeof(Datum));
	bool	   *nulls = palloc(natts * sizeof(bool));
	int			k = kind_index(kind);
	int			hint = -1;
	int64		stray_first = 1;
	int64		stray_last = 0;
	int64		n = 0;

	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		int64		id;
		int			i;

		CHECK_FOR_INTERRUPTS();
		heap_deform_tuple(tup, desc, values, nulls);
		id = DatumGetInt64(values[0]);
		n++;

		i = find_range(v, k, id, &hint);
		if (i < 0)
		{
			if (id == stray_last + 1)
				stray_last = id;
			else
			{
				flush_stray(v, kind, &stray_first, &stray_last);
				stray_first = stray_last = id;
			}
			continue;
		}
		rows_add(&v->seals[i].rows, kind, desc, values, nulls);
	}
	flush_stray(v, kind, &stray_first, &stray_last);
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	return n;
}

/* journal rows: each transaction's rows under its entry in a journal seal */
static int64
scan_journal(Verify *v, Snapshot snap)
{
	Relation	rel = open_audit_table("journal", OLINK_JOURNAL_NATTS);
	TupleDesc	desc = RelationGetDescr(rel);
	TableScanDesc scan = table_beginscan(rel, snap, 0, NULL);
	HeapTuple	tup;
	Datum		values[OLINK_JOURNAL_NATTS];
	bool		nulls[OLINK_JOURNAL_NATTS];
	uint64		last_xid = 0;
	XidEntry   *e = NULL;
	int64		n = 0;
	HASH_SEQ_STATUS hs;

	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		uint64		xid;
		int64		id;

		CHECK_FOR_INTERRUPTS();
		heap_deform_tuple(tup, desc, values, nulls);
		id = DatumGetInt64(values[0]);
		xid = nulls[3] ? 0 : (uint64) DatumGetInt64(values[3]);
		n++;

		if (e == NULL || xid != last_xid)
		{
			bool		found;

			e = hash_search(v->journal_xacts, &xid, HASH_ENTER, &found);
			if (!found)
			{
				e->index = -1;
				e->count = 0;
			}
			last_xid = xid;
		}
		if (e->index < 0)
		{
			if (e->count == 0 || id < e->first_id)
				e->first_id = id;
			if (e->count == 0 || id > e->last_id)
				e->last_id = id;
			e->count++;
			continue;
		}
		rows_add(&v->xacts[e->index].rows, 'j', desc, values, nulls);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);

	hash_seq_init(&hs, v->journal_xacts);
	while ((e = hash_seq_search(&hs)) != NULL)
	{
		if (e->index >= 0 || e->count == 0)
			continue;
		if (!v->settled)
			finding(v, "unsealed", "change_journal", e->first_id, e->last_id,
					psprintf("%lld journal rows of transaction %llu are not sealed: the audit worker did not seal within the time allowed",
							 (long long) e->count, (unsigned long long) e->xid));
		else
			finding(v, "inserted", "change_journal", e->first_id, e->last_id,
					psprintf("%lld journal rows of transaction %llu have no seal although the audit worker has sealed every committed transaction",
							 (long long) e->count, (unsigned long long) e->xid));
	}
	return n;
}

/*
 * Hash a sealed set's rows again, reading them in id order: for sets whose
 * rows did not come in id order in the scan (rows updated in place by
 * hand, or moved by a table rewrite), and, with the content sum, for sets
 * whose digest differs (to tell a reordering from a change).
 */
static void
rehash_rows(Verify *v, char kind, int64 first, int64 last, uint64 xid, RowsCheck *rc, bool content)
{
	const char *sql;
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		args[2];
	Portal		portal;

	if (rc->rs.ctx)
		olink_stream_finish(&rc->rs, rc->computed);
	olink_stream_reset(&rc->rs);
	rc->rs.with_content_sum = content;
	switch (kind)
	{
		case 'a':
			sql = "SELECT * FROM olink.access_event WHERE event_id BETWEEN $1 AND $2 ORDER BY event_id";
			break;
		case 'c':
			sql = "SELECT * FROM olink.connection_event WHERE event_id BETWEEN $1 AND $2 ORDER BY event_id";
			break;
		case 't':
			sql = "SELECT * FROM olink.audit_text WHERE text_id BETWEEN $1 AND $2 ORDER BY text_id";
			break;
		default:
			sql = "SELECT * FROM olink.journal WHERE xid = $1 AND $2 IS NOT NULL ORDER BY journal_id";
			break;
	}
	args[0] = Int64GetDatum(kind == 'j' ? (int64) xid : first);
	args[1] = Int64GetDatum(last);
	PushActiveSnapshot(kind == 'j' ? v->rows_snap : v->snap);
	SPI_connect();
	portal = SPI_cursor_open_with_args(NULL, sql, 2, types, args, NULL, true, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			Datum		values[OLINK_ACCESS_NATTS + OLINK_JOURNAL_NATTS];
			bool		nulls[OLINK_ACCESS_NATTS + OLINK_JOURNAL_NATTS];

			heap_deform_tuple(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, values, nulls);
			olink_stream_row(&rc->rs, kind, SPI_tuptable->tupdesc, values, nulls);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	PopActiveSnapshot();
	rc->extra = 0;
	rc->rs.out_of_order = false;
	olink_stream_finish(&rc->rs, rc->computed);
	rc->done = true;
}

static void
rehash_in_order(Verify *v)
{
	for (int i = 0; i < v->nseals; i++)
	{
		SealCheck  *s = &v->seals[i];

		if (s->rows.rs.out_of_order)
		{
			elog(DEBUG1, "olink: rows of seal %lld (%c) were not read in id order; hashing them again in order",
				 (long long) s->seal_id, s->kind);
			rehash_rows(v, s->kind, s->first_id, s->last_id, 0, &s->rows, false);
		}
	}
	for (int i = 0; i < v->nxacts; i++)
	{
		XactCheck  *xc = &v->xacts[i];

		if (xc->rows.rs.out_of_order)
			rehash_rows(v, 'j', 0, 0, xc->xid, &xc->rows, false);
	}
}

/* rows found for a set, its hashing finished */
static int64
rows_found(RowsCheck *rc)
{
	if (!rc->done)
	{
		olink_stream_finish(&rc->rs, rc->computed);
		rc->done = true;
	}
	return rc->rs.count + rc->extra;
}

/*
 * Could the attestation of a transaction sealed in seal i have been lost?
 * Only if shared memory was initialised (a restart seal) before the seal
 * was made and after the transaction began.
 */
static bool
lost_attestation(Verify *v, int i, uint64 xid)
{
	for (int r = i - 1; r >= 0; r--)
	{
		if (v->seals[r].kind == 'r' && xid < v->seals[r].horizon)
			return true;
	}
	return false;
}

/* the transactions of journal seal i, against the seal and their attestations */
static void
compare_journal_seal(Verify *v, int i)
{
	SealCheck  *s = &v->seals[i];
	StringInfoData digests;
	uint8		combined[OLINK_HASH_LEN];
	bool		counts_ok = true;

	initStringInfo(&digests);
	for (int x = 0; x < s->nxc; x++)
	{
		XactCheck  *xc = &v->xacts[s->first_xc + x];
		int64		found;
		XidEntry   *e;

		found = rows_found(&xc->rows);
		appendBinaryStringInfo(&digests, (char *) xc->rows.computed, OLINK_HASH_LEN);
		if (found != xc->rows.expected)
		{
			counts_ok = false;
			finding(v, found < xc->rows.expected ? "deleted" : "inserted", "change_journal",
					s->first_id, s->last_id,
					psprintf("seal %lld covers %lld journal rows of transaction %llu; there are %lld",
							 (long long) s->seal_id, (long long) xc->rows.expected,
							 (unsigned long long) xc->xid, (long long) found));
		}
		else if (memcmp(xc->rows.computed, xc->digest, OLINK_HASH_LEN) != 0)
		{
			counts_ok = false;
			rehash_rows(v, 'j', 0, 0, xc->xid, &xc->rows, true);
			finding(v, "changed", "change_journal", s->first_id, s->last_id,
					psprintf("a journal row of transaction %llu (seal %lld) is not as it was written",
							 (unsigned long long) xc->xid, (long long) s->seal_id));
		}

		/* what the transaction's journal trigger said it wrote */
		e = hash_search(v->attested, &xc->xid, HASH_FIND, NULL);
		if (e != NULL && e->count != xc->rows.expected)
			finding(v, e->count < xc->rows.expected ? "inserted" : "deleted", "change_journal",
					s->first_id, s->last_id,
					psprintf("the journal trigger wrote %lld rows in transaction %llu; %lld were sealed",
							 (long long) e->count, (unsigned long long) xc->xid,
							 (long long) xc->rows.expected));
		else if (e == NULL && !lost_attestation(v, i, xc->xid))
			finding(v, "inserted", "change_journal", s->first_id, s->last_id,
					psprintf("journal rows of transaction %llu were not written by olink's journal trigger: it never said it wrote any",
							 (unsigned long long) xc->xid));
	}
	/* the seal's own digest over its transactions' digests, as stored */
	if (counts_ok)
	{
		olink_sha256(digests.data, digests.len, combined);
		if (memcmp(combined, s->digest, OLINK_HASH_LEN) != 0)
			finding(v, "changed", "seal", s->seal_id, s->seal_id,
					"the journal seal's digest does not match its transactions' digests");
	}
}

static void
compare_seals(Verify *v)
{
	int64		purged_upto = 0;

	/* seals whose rows purge_audit() removed, as its purge seals record */
	for (int i = 0; i < v->nseals; i++)
		if (v->seals[i].kind == 'p' && v->seals[i].last_id > purged_upto)
			purged_upto = v->seals[i].last_id;

	for (int i = 0; i < v->nseals; i++)
	{
		SealCheck  *s = &v->seals[i];
		const char *log = log_name(s->kind);
		int64		found;

		if (s->kind == 'p' || s->kind == 'x' || s->kind == 'r' || s->skip)
			continue;
		if (s->seal_id <= purged_upto && s->kind != 't')
		{
			found = 0;
			if (s->kind == 'j')
			{
				for (int x = 0; x < s->nxc; x++)
					found += rows_found(&v->xacts[s->first_xc + x].rows);
			}
			else
				found = rows_found(&s->rows);
			if (found > 0)
				finding(v, "inserted", log, s->first_id, s->last_id,
						psprintf("seal %lld was purged, yet %lld of its rows are there",
								 (long long) s->seal_id, (long long) found));
			continue;
		}
		if (s->kind == 'j')
		{
			compare_journal_seal(v, i);
			continue;
		}

		found = rows_found(&s->rows);
		if (found < s->row_count)
			finding(v, "deleted", log, s->first_id, s->last_id,
					psprintf("seal %lld covers %lld rows; %lld are left",
							 (long long) s->seal_id, (long long) s->row_count, (long long) found));
		else if (found > s->row_count)
			finding(v, "inserted", log, s->first_id, s->last_id,
					psprintf("seal %lld covers %lld rows; there are %lld",
							 (long long) s->seal_id, (long long) s->row_count, (long long) found));
		else if (memcmp(s->rows.computed, s->digest, OLINK_HASH_LEN) != 0)
		{
			rehash_rows(v, s->kind, s->first_id, s->last_id, 0, &s->rows, true);
			if (s->rows.rs.content_sum == s->content_sum)
				finding(v, "reordered", log, s->first_id, s->last_id,
						psprintf("the rows of seal %lld are all there, unchanged, under other ids",
								 (long long) s->seal_id));
			else
				finding(v, "changed", log, s->first_id, s->last_id,
						psprintf("a row of seal %lld is not as it was written",
								 (long long) s->seal_id));
		}
	}
}

PG_FUNCTION_INFO_V1(olink_verify_audit);

/*
 * olink.verify_audit(): one row per problem, nothing when intact.
 *
 * The worker is first asked to write everything queued and seal every
 * committed journal transaction.  Journal rows are then read with the
 * statement's snapshot (all of them committed before that seal pass
 * began, so all of them must be sealed), and the worker's own tables and
 * the seals with a snapshot taken after it (the worker writes rows and
 * their seal in one transaction, so any snapshot sees both or neither).
 */
Datum
olink_verify_audit(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Verify		v;
	Snapshot	rows_snap;
	Snapshot	snap;
	int64		head_id;
	uint8		head_hash[OLINK_HASH_LEN];

	memset(&v, 0, sizeof(v));
	InitMaterializedSRF(fcinfo, 0);
	v.store = rsinfo->setResult;
	v.desc = rsinfo->setDesc;

	rows_snap = RegisterSnapshot(GetActiveSnapshot());
	v.settled = olink_audit_settle(10000);
	olink_chain_head(&head_id, head_hash);
	snap = RegisterSnapshot(GetLatestSnapshot());
	v.snap = snap;
	v.rows_snap = rows_snap;

	load_seals(&v, snap, rows_snap, head_id, head_hash);
	(void) scan_sealed_table(&v, "access_event", 'a', OLINK_ACCESS_NATTS, snap);
	(void) scan_sealed_table(&v, "connection_event", 'c', OLINK_CONNECTION_NATTS, snap);
	(void) scan_sealed_table(&v, "audit_text", 't', OLINK_TEXT_NATTS, snap);
	(void) scan_journal(&v, rows_snap);
	rehash_in_order(&v);
	compare_seals(&v);

	UnregisterSnapshot(snap);
	UnregisterSnapshot(rows_snap);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(olink_purge_audit);

/*
 * olink.purge_audit(older_than, reason): the retention function.  The
 * worker removes the rows of every access, connection and journal seal
 * made before older_than and records the purge in the chain; the count of
 * rows removed is returned.
 */
Datum
olink_purge_audit(PG_FUNCTION_ARGS)
{
	TimestampTz before;
	char	   *reason;
	OlinkEventBuilder b;
	uint64		endpos;
	int64		rows;
	int64		request;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("older_than and reason must not be null")));
	before = PG_GETARG_TIMESTAMPTZ(0);
	reason = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strspn(reason, " \t\r\n") == strlen(reason))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a purge needs a reason"),
				 errdetail("The reason is recorded in the chain with the purge.")));
	if (before > GetCurrentTimestamp())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must not be in the future")));
	if (!olink_worker_running())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("audit worker is not running"),
				 errdetail("Rows are purged by the audit worker, which records the purge in the chain.")));

	request = olink_next_id();
	olink_event_init(&b, OLINK_EV_PURGE);
	b.ev.statement_id = request;
	b.ev.before = before;
	b.str[OLINK_EVC_LOGIN] = GetUserNameFromId(GetSessionUserId(), false);
	b.str[OLINK_EVC_REASON] = reason;
	endpos = olink_event_put(&b);
	if (!olink_queue_wait_written(endpos, 60000, false) || !olink_purge_result(request, &rows))
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("audit worker did not carry out the purge within 60 seconds"),
				 errhint("It will still carry it out; see olink.audit_seal for a seal of kind 'p'.")));
	PG_RETURN_INT64(rows);
}
