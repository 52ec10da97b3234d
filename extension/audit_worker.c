/*-------------------------------------------------------------------------
 *
 * audit_worker.c
 *		olink's audit worker: writes the queued events to the audit store,
 *		and seals them and the change journal into the chain.
 *
 * One worker per cluster, connected to olink.database as the bootstrap
 * superuser.  Each round it copies whatever the queue holds (up to a few
 * megabytes), writes it in one transaction -- events, the texts they refer
 * to, and one seal per table -- commits, and only then lets the queue
 * drop those entries.  If it fails mid-batch it exits, the postmaster
 * starts it again within a second, and it writes the same batch again:
 * nothing is lost and, since its ids and chain head are read back from the
 * committed store, nothing is written twice.
 *
 * Journal rows are written by the changing transactions themselves.  Once
 * a second (or when verify_audit() or flush_audit() asks) the worker seals
 * every transaction whose journal rows it has not sealed yet and that has
 * committed: it reads the journal from its horizon -- below which every
 * transaction had ended at its previous pass -- sums each transaction's
 * row hashes and appends a seal per transaction.
 *
 * On SIGTERM (shutdown) the worker keeps draining until the other
 * backends have gone, at most a few seconds, so that the logouts of a fast
 * shutdown are written too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/procarray.h"
#include "common/hashfn.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "pgtime.h"
#include "utils/hsearch.h"
#include "utils/inet.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "catalog/pg_type.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "olink.h"

#define BATCH_BYTES			(4 * 1024 * 1024)
#define DRAIN_INTERVAL_MS	200
#define SEAL_INTERVAL_MS	1000
#define SHUTDOWN_GRACE_MS	2000
#define TEXT_CACHE_MAX		20000

static volatile sig_atomic_t got_sigterm = false;

/* what the worker knows of the store, read back at start */
typedef struct StoreState
{
	bool		loaded;
	Oid			seal_relid;		/* the store read back: a new one (DROP/CREATE EXTENSION) is read again */
	int64		next_event_id;
	int64		next_connection_id;
	int64		next_text_id;
	int64		last_seal_id;
	uint8		last_hash[OLINK_HASH_LEN];
	FullTransactionId horizon;
} StoreState;

static StoreState state;

/* texts already in audit_text, by content */
typedef struct TextEntry
{
	uint64		key;			/* hash of the text */
	int64		text_id;
	char	   *text;
} TextEntry;

static HTAB *text_cache = NULL;
static MemoryContext text_cxt = NULL;
static bool warned_missing = false;
static bool fresh_pending = false;	/* a restart seal is to be written */

static void
worker_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

void
olink_audit_worker_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "olink");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "olink_audit_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "olink audit worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "olink audit worker");
	RegisterBackgroundWorker(&worker);
}

static void
worker_detach(int code, Datum arg)
{
	olink_queue_attach_worker(false);
}

/* ---------------------------------------------------------------------
 * State
 * ---------------------------------------------------------------------
 */

static char *
hex_hash(const uint8 *h)
{
	char	   *out = palloc(2 * OLINK_HASH_LEN + 1);

	for (int i = 0; i < OLINK_HASH_LEN; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
	return out;
}

static int64
spi_int8(const char *sql, int64 dflt)
{
	bool		isnull;
	Datum		d;

	if (SPI_execute(sql, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "olink: could not run \"%s\"", sql);
	if (SPI_processed == 0)
		return dflt;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? dflt : DatumGetInt64(d);
}

/* ids and the chain head from the committed store; inside a transaction */
static void
load_state(void)
{
	int64		floor;

	SPI_connect();
	state.next_event_id = spi_int8("SELECT last_id FROM olink.audit_seal WHERE kind = 'a' "
								   "ORDER BY seal_id DESC LIMIT 1", 0) + 1;
	state.next_connection_id = spi_int8("SELECT last_id FROM olink.audit_seal WHERE kind = 'c' "
										"ORDER BY seal_id DESC LIMIT 1", 0) + 1;
	state.next_text_id = spi_int8("SELECT last_id FROM olink.audit_seal WHERE kind = 't' "
								  "ORDER BY seal_id DESC LIMIT 1", 0) + 1;
	state.last_seal_id = 0;
	memset(state.last_hash, 0, OLINK_HASH_LEN);
	if (SPI_execute("SELECT seal_id, hash FROM olink.audit_seal ORDER BY seal_id DESC LIMIT 1",
					true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		Datum		d;

		state.last_seal_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc, 1, &isnull));
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		if (!isnull)
		{
			bytea	   *b = DatumGetByteaPP(d);

			memcpy(state.last_hash, VARDATA_ANY(b), Min(VARSIZE_ANY_EXHDR(b), OLINK_HASH_LEN));
		}
	}
	/* the journal horizon of the last pass that sealed anything */
	state.horizon = FullTransactionIdFromU64((uint64)
											 spi_int8("SELECT horizon FROM olink.audit_seal "
													  "WHERE kind = 'j' ORDER BY seal_id DESC LIMIT 1",
													  FirstNormalTransactionId));

	/* ids handed out from now on are above everything in the store */
	floor = spi_int8(psprintf("SELECT greatest("
							  "(SELECT max(statement_id) FROM olink.access_event WHERE event_id >= %lld), "
							  "(SELECT max(session_id) FROM olink.connection_event WHERE event_id >= %lld), "
							  "(SELECT last_id FROM olink.audit_seal WHERE kind = 'j' ORDER BY seal_id DESC LIMIT 1))",
							  (long long) (state.next_event_id - 10000),
							  (long long) (state.next_connection_id - 10000)), 0);
	olink_id_floor(floor);
	ereport(LOG,
			(errmsg("olink audit worker: chain head is seal %lld, hash %s",
					(long long) state.last_seal_id, hex_hash(state.last_hash))));
	SPI_finish();

	if (text_cache != NULL)
	{
		hash_destroy(text_cache);
		text_cache = NULL;
	}
	MemoryContextReset(text_cxt);
	state.seal_relid = olink_audit_table("audit_seal", false);
	state.loaded = true;
}

/* the store is there: olink installed in this database */
static bool
store_present(void)
{
	if (!OidIsValid(get_extension_oid("olink", true)) ||
		!OidIsValid(olink_audit_table("audit_seal", true)))
	{
		if (!warned_missing)
			ereport(LOG,
					(errmsg("olink audit worker: extension olink is not installed in database \"%s\"; audit events wait in the queue",
							olink_database)));
		warned_missing = true;
		state.loaded = false;
		return false;
	}
	warned_missing = false;
	if (state.loaded && state.seal_relid != olink_audit_table("audit_seal", false))
		state.loaded = false;
	return true;
}

/* ---------------------------------------------------------------------
 * Sealing
 * ---------------------------------------------------------------------
 */

typedef struct SealAccum
{
	int64		first_id;
	int64		last_id;
	int64		count;
	OlinkRowStream rs;			/* the rows, hashed as they are written */
} SealAccum;

static void
accum_reset(SealAccum *s)
{
	memset(s, 0, sizeof(SealAccum));
	olink_stream_reset(&s->rs);
}

/* rows come in id order: the worker hands out the ids, or reads them so ordered */
static void
accum_row(SealAccum *s, char tag, TupleDesc desc, Datum *values, bool *nulls)
{
	s->rs.with_content_sum = true;
	olink_stream_row(&s->rs, tag, desc, values, nulls);
	s->first_id = s->rs.first_id;
	s->last_id = s->rs.last_id;
	s->count = s->rs.count;
}

static bytea *
hash_bytea(const uint8 *h, int len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), h, len);
	return b;
}

struct SealXacts;
static void append_seal_x(OlinkAppender *seals, int64 *id, uint8 *hash, char kind, SealAccum *s,
						  FullTransactionId xid, FullTransactionId horizon, const char *note,
						  struct SealXacts *x);

/*
 * Append a seal; the chain head moves in id and hash, which the caller makes
 * the worker's state only once the transaction has committed.
 */
static void
append_seal(OlinkAppender *seals, int64 *id, uint8 *hash, char kind, SealAccum *s,
			FullTransactionId xid, FullTransactionId horizon, const char *note)
{
	append_seal_x(seals, id, hash, kind, s, xid, horizon, note, NULL);
}

/* a seal over transactions (kinds j and x): their ids, row counts and, for j, digests */
typedef struct SealXacts
{
	int			n;
	int			cap;
	Datum	   *xids;
	Datum	   *counts;
	StringInfoData digests;		/* j: 32 bytes a transaction */
	uint64		content_sum;	/* j: of all of them */
} SealXacts;

static void
xacts_add(SealXacts *x, uint64 xid, int64 count, const uint8 *digest)
{
	if (x->cap == 0)
	{
		x->cap = 64;
		x->xids = palloc(x->cap * sizeof(Datum));
		x->counts = palloc(x->cap * sizeof(Datum));
		initStringInfo(&x->digests);
	}
	else if (x->n == x->cap)
	{
		x->cap *= 2;
		x->xids = repalloc(x->xids, x->cap * sizeof(Datum));
		x->counts = repalloc(x->counts, x->cap * sizeof(Datum));
	}
	x->xids[x->n] = Int64GetDatum((int64) xid);
	x->counts[x->n] = Int64GetDatum(count);
	if (digest)
		appendBinaryStringInfo(&x->digests, (const char *) digest, OLINK_HASH_LEN);
	x->n++;
}

static void
append_seal_x(OlinkAppender *seals, int64 *id, uint8 *hash, char kind, SealAccum *s,
			  FullTransactionId xid, FullTransactionId horizon, const char *note,
			  SealXacts *x)
{
	Datum		values[OLINK_SEAL_NATTS];
	bool		nulls[OLINK_SEAL_NATTS] = {0};
	uint8		content[OLINK_HASH_LEN];
	uint8		link[OLINK_HASH_LEN];
	uint8		digest[OLINK_HASH_LEN];
	uint64		content_sum;

	values[0] = Int64GetDatum(*id + 1);
	values[1] = TimestampTzGetDatum(GetCurrentTimestamp());
	values[2] = CharGetDatum(kind);
	values[3] = Int64GetDatum((int64) U64FromFullTransactionId(xid));
	nulls[3] = !FullTransactionIdIsValid(xid);
	values[4] = Int64GetDatum((int64) U64FromFullTransactionId(horizon));
	nulls[4] = !FullTransactionIdIsValid(horizon);
	values[5] = Int64GetDatum(s->first_id);
	values[6] = Int64GetDatum(s->last_id);
	values[7] = Int64GetDatum(s->count);
	if (x != NULL && x->digests.len > 0)
	{
		/* j: the digest over the transactions' digests */
		olink_stream_finish(&s->rs, digest);	/* releases the context; no rows went in */
		olink_sha256(x->digests.data, x->digests.len, digest);
		content_sum = x->content_sum;
	}
	else
	{
		olink_stream_finish(&s->rs, digest);
		content_sum = s->rs.content_sum;
	}
	values[8] = PointerGetDatum(hash_bytea(digest, OLINK_HASH_LEN));
	values[9] = PointerGetDatum(hash_bytea((uint8 *) &content_sum, sizeof(uint64)));
	if (x != NULL)
	{
		values[10] = PointerGetDatum(construct_array(x->xids, x->n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		values[11] = PointerGetDatum(construct_array(x->counts, x->n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		values[12] = x->digests.len > 0 ?
			PointerGetDatum(hash_bytea((uint8 *) x->digests.data, x->digests.len)) : (Datum) 0;
		nulls[12] = x->digests.len == 0;
	}
	else
		nulls[10] = nulls[11] = nulls[12] = true;
	values[13] = note ? CStringGetTextDatum(note) : (Datum) 0;
	nulls[13] = note == NULL;
	nulls[14] = true;
	olink_seal_content_hash(RelationGetDescr(seals->rel), values, nulls, content);
	olink_seal_link(hash, content, link);
	values[14] = PointerGetDatum(hash_bytea(link, OLINK_HASH_LEN));
	nulls[14] = false;
	olink_append(seals, values, nulls);
	*id += 1;
	memcpy(hash, link, OLINK_HASH_LEN);
}

/* ---------------------------------------------------------------------
 * Writing events
 * ---------------------------------------------------------------------
 */

typedef struct Batch
{
	OlinkAppender access;
	OlinkAppender connection;
	OlinkAppender texts;
	SealAccum	access_seal;
	SealAccum	connection_seal;
	SealAccum	text_seal;
	int64		next_event_id;
	int64		next_connection_id;
	int64		next_text_id;
	List	   *purges;			/* PurgeDone *, sealed after the batch's own seals */
	List	   *attests;		/* SealAccum * of kind 'x': rows a transaction's journal trigger wrote */
	bool		restarted;		/* shared memory is new: a crash may have lost queued events */
} Batch;

typedef struct PurgeDone
{
	int64		request;
	SealAccum	seal;			/* first_id..last_id: the seals whose rows went */
	char	   *note;
} PurgeDone;

static uint64
text_key(const char *s, int len)
{
	return hash_bytes_extended((const unsigned char *) s, len, 0x6f6c696e6bULL);
}

/* the id of text in audit_text, written now if it is new */
static Datum
text_ref(Batch *b, const char *s, uint32 len, bool *isnull)
{
	uint64		key;
	TextEntry  *e;
	Datum		values[OLINK_TEXT_NATTS];
	bool		nulls[OLINK_TEXT_NATTS] = {0};

	if (s == NULL)
	{
		*isnull = true;
		return (Datum) 0;
	}
	*isnull = false;
	key = text_key(s, len);
	if (text_cache != NULL)
	{
		e = hash_search(text_cache, &key, HASH_FIND, NULL);
		if (e != NULL && strlen(e->text) == len && memcmp(e->text, s, len) == 0)
			return Int64GetDatum(e->text_id);
	}
	/*
	 * Into the cache at once: if this transaction fails the worker exits,
	 * and the cache with it.
	 */
	if (text_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(TextEntry);
		ctl.hcxt = text_cxt;
		text_cache = hash_create("olink audit texts", 1024, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	e = hash_search(text_cache, &key, HASH_ENTER, NULL);
	e->key = key;
	e->text_id = b->next_text_id++;
	e->text = MemoryContextStrdup(text_cxt, pnstrdup(s, len));

	values[0] = Int64GetDatum(e->text_id);
	values[1] = PointerGetDatum(cstring_to_text_with_len(s, len));
	olink_append(&b->texts, values, nulls);
	accum_row(&b->text_seal, 't', RelationGetDescr(b->texts.rel), values, nulls);
	return Int64GetDatum(e->text_id);
}

static Datum
inline_text(const char *s, uint32 len, bool *isnull)
{
	*isnull = (s == NULL);
	return s ? PointerGetDatum(cstring_to_text_with_len(s, len)) : (Datum) 0;
}

static void
write_access(Batch *b, OlinkEvent *ev, const char **str)
{
	Datum		values[OLINK_ACCESS_NATTS];
	bool		nulls[OLINK_ACCESS_NATTS] = {0};

	values[0] = Int64GetDatum(b->next_event_id++);
	values[1] = TimestampTzGetDatum(ev->at);
	values[2] = Int64GetDatum(ev->statement_id);
	values[3] = Int64GetDatum(ev->session_id);
	values[4] = Int64GetDatum((int64) ev->rows);
	nulls[4] = ev->outcome == OLINK_OUTCOME_STARTED;
	values[5] = text_ref(b, str[OLINK_EVA_STATEMENT], ev->strlen[OLINK_EVA_STATEMENT], &nulls[5]);
	values[6] = text_ref(b, str[OLINK_EVA_RELATIONS], ev->strlen[OLINK_EVA_RELATIONS], &nulls[6]);
	values[7] = text_ref(b, str[OLINK_EVA_COLUMNS], ev->strlen[OLINK_EVA_COLUMNS], &nulls[7]);
	values[8] = CharGetDatum(ev->outcome);
	values[9] = inline_text(str[OLINK_EVA_LOGIN], ev->strlen[OLINK_EVA_LOGIN], &nulls[9]);
	values[10] = inline_text(str[OLINK_EVA_COUNTERPART], ev->strlen[OLINK_EVA_COUNTERPART], &nulls[10]);
	values[11] = inline_text(str[OLINK_EVA_PURPOSE], ev->strlen[OLINK_EVA_PURPOSE], &nulls[11]);
	values[12] = inline_text(str[OLINK_EVA_COMMAND], ev->strlen[OLINK_EVA_COMMAND], &nulls[12]);
	values[13] = inline_text(str[OLINK_EVA_SQLSTATE], ev->strlen[OLINK_EVA_SQLSTATE], &nulls[13]);
	values[14] = inline_text(str[OLINK_EVA_MESSAGE], ev->strlen[OLINK_EVA_MESSAGE], &nulls[14]);
	olink_append(&b->access, values, nulls);
	accum_row(&b->access_seal, 'a', RelationGetDescr(b->access.rel), values, nulls);
}

static void
write_connection(Batch *b, OlinkEvent *ev, const char **str)
{
	Datum		values[OLINK_CONNECTION_NATTS];
	bool		nulls[OLINK_CONNECTION_NATTS] = {0};

	values[0] = Int64GetDatum(b->next_connection_id++);
	values[1] = TimestampTzGetDatum(ev->at);
	values[2] = CharGetDatum(ev->kind == OLINK_EV_LOGIN ? 'i' : ev->kind == OLINK_EV_LOGOUT ? 'o' : 'r');
	values[3] = Int64GetDatum(ev->session_id);
	values[4] = Int32GetDatum(ev->pid);
	values[5] = ObjectIdGetDatum(ev->login_oid);
	nulls[5] = !OidIsValid(ev->login_oid);
	values[6] = inline_text(str[OLINK_EVC_LOGIN], ev->strlen[OLINK_EVC_LOGIN], &nulls[6]);
	values[7] = inline_text(str[OLINK_EVC_DATABASE], ev->strlen[OLINK_EVC_DATABASE], &nulls[7]);
	values[8] = inline_text(str[OLINK_EVC_CLIENT_ADDR], ev->strlen[OLINK_EVC_CLIENT_ADDR], &nulls[8]);
	values[9] = BoolGetDatum(ev->ssl);
	nulls[9] = ev->kind == OLINK_EV_REFUSED && str[OLINK_EVC_CLIENT_ADDR] == NULL;
	values[10] = inline_text(str[OLINK_EVC_APPLICATION], ev->strlen[OLINK_EVC_APPLICATION], &nulls[10]);
	values[11] = inline_text(str[OLINK_EVC_REASON], ev->strlen[OLINK_EVC_REASON], &nulls[11]);
	values[12] = Int64GetDatum(ev->duration_us);
	nulls[12] = ev->kind != OLINK_EV_LOGOUT;
	values[13] = Int64GetDatum(ev->statements);
	nulls[13] = ev->kind != OLINK_EV_LOGOUT;
	values[14] = inline_text(str[OLINK_EVC_TERMINAL], ev->strlen[OLINK_EVC_TERMINAL], &nulls[14]);
	olink_append(&b->connection, values, nulls);
	accum_row(&b->connection_seal, 'c', RelationGetDescr(b->connection.rel), values, nulls);
}

/*
 * Runs work in a transaction of its own, connected to SPI; an error is
 * reported and the transaction rolled back, and the worker goes on (its
 * audit duty does not depend on these side tasks).
 */
static void
run_guarded(void (*work) (void))
{
	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "olink: SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
		work();
		PopActiveSnapshot();
		SPI_finish();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(TopMemoryContext);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
}

/*
 * The copy of the registry that logins are checked against: loaded here at
 * start, and again whenever none is in place (the extension created after
 * the server started), at most once a second.
 */
static void
refresh_credentials(void)
{
	static TimestampTz last_try = 0;
	TimestampTz now = GetCurrentTimestamp();

	if (olink_auth_loaded() || !TimestampDifferenceExceeds(last_try, now, 1000))
		return;
	last_try = now;
	/*
	 * A registry that does not fit olink.max_credentials or max_terminals
	 * after a restart with smaller settings: said in the log, counterpart
	 * logins stay refused, and the audit goes on.
	 */
	run_guarded(olink_auth_load);
}

/*
 * A lockout started or ended: the password held expired in the catalog, or
 * let go (olink_lockouts_sync).  At most every 100 ms, so that a pass that
 * fails is not retried in a tight loop.
 */
static void
sync_lockouts(void)
{
	static TimestampTz last_try = 0;
	TimestampTz now;

	if (!olink_lockouts_due())
		return;
	now = GetCurrentTimestamp();
	if (!TimestampDifferenceExceeds(last_try, now, 100))
		return;
	last_try = now;
	run_guarded(olink_lockouts_sync);
}

static void
persist(void)
{
	if (OidIsValid(get_namespace_oid("olink", true)))
		olink_quota_persist();
}

/* thresholds crossed: a row in olink.alert and a NOTIFY olink_alert */
static void
raise_alerts(void)
{
	int			rc;

	if (!OidIsValid(get_namespace_oid("olink", true)))
		return;
	rc = SPI_execute("SELECT olink._raise_alerts()", false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "olink: could not raise alerts: %s", SPI_result_code_string(rc));
}

/* the day's row counts of the quotas, from shared memory to olink.quota_usage; then the alerts */
static void
persist_quotas(void)
{
	run_guarded(persist);
	run_guarded(raise_alerts);
}

/* the strings of an event, NULL-terminated copies */
static void
decode_strings(OlinkEvent *ev, const char **str)
{
	const char *p = (const char *) ev + sizeof(OlinkEvent);

	for (int i = 0; i < OLINK_EV_NSTR; i++)
	{
		if (ev->strlen[i] == OLINK_EV_NULL)
			str[i] = NULL;
		else
		{
			str[i] = pnstrdup(p, ev->strlen[i]);
			p += ev->strlen[i];
		}
	}
}

static int64
spi_count(const char *sql, int nargs, Oid *types, Datum *args)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, args, NULL, false, 0);

	if (rc != SPI_OK_DELETE && rc != SPI_OK_SELECT)
		elog(ERROR, "olink: could not run \"%s\"", sql);
	return (int64) SPI_processed;
}

/*
 * purge_audit(): remove the rows of every access, connection and journal
 * seal made before ev->before, beyond those already purged.  The seals
 * stay, and a purge seal records which of them no longer have rows, so the
 * chain stays whole and verify_audit() knows what went on purpose.
 */
static void
do_purge(Batch *b, OlinkEvent *ev, const char **str)
{
	int64		from;
	int64		upto;
	int64		rows = 0;
	Oid			types[3] = {INT8OID, INT8OID, TIMESTAMPTZOID};
	Datum		args[3];
	PurgeDone  *pd;

	SPI_connect();
	from = spi_int8("SELECT last_id FROM olink.audit_seal WHERE kind = 'p' ORDER BY seal_id DESC LIMIT 1", 0) + 1;
	args[0] = Int64GetDatum(from);
	args[2] = TimestampTzGetDatum(ev->before);
	if (SPI_execute_with_args("SELECT max(seal_id) FROM olink.audit_seal WHERE kind IN ('a', 'c', 'j') "
							  "AND seal_id >= $1 AND at < $3",
							  3, types, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "olink: could not read seals");
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		upto = isnull ? from - 1 : DatumGetInt64(d);
	}
	args[1] = Int64GetDatum(upto);
	if (upto >= from)
	{
		olink_append_allowed = true;
		PG_TRY();
		{
			rows += spi_count("DELETE FROM olink.access_event e USING olink.audit_seal s "
							  "WHERE s.kind = 'a' AND s.seal_id BETWEEN $1 AND $2 "
							  "AND e.event_id BETWEEN s.first_id AND s.last_id AND $3 IS NOT NULL",
							  3, types, args);
			rows += spi_count("DELETE FROM olink.connection_event e USING olink.audit_seal s "
							  "WHERE s.kind = 'c' AND s.seal_id BETWEEN $1 AND $2 "
							  "AND e.event_id BETWEEN s.first_id AND s.last_id AND $3 IS NOT NULL",
							  3, types, args);
			rows += spi_count("DELETE FROM olink.journal j USING olink.audit_seal s "
							  "WHERE s.kind = 'j' AND s.seal_id BETWEEN $1 AND $2 "
							  "AND j.xid = ANY (s.xids) AND $3 IS NOT NULL",
							  3, types, args);
		}
		PG_FINALLY();
		{
			olink_append_allowed = false;
		}
		PG_END_TRY();
	}
	SPI_finish();

	pd = palloc0(sizeof(PurgeDone));
	pd->request = ev->statement_id;
	pd->seal.first_id = from;
	pd->seal.last_id = upto;
	pd->seal.count = rows;
	pd->note = psprintf("purge %lld by %s: rows sealed before %s; %s",
						(long long) ev->statement_id,
						str[OLINK_EVC_LOGIN] ? str[OLINK_EVC_LOGIN] : "?",
						timestamptz_to_str(ev->before),
						str[OLINK_EVC_REASON] ? str[OLINK_EVC_REASON] : "");
	b->purges = lappend(b->purges, pd);
	ereport(LOG,
			(errmsg("olink audit worker: %s: %lld rows of seals %lld to %lld removed",
					pd->note, (long long) rows, (long long) from, (long long) upto)));
}

/* write one batch from the queue; false when the queue was empty */
static bool
write_batch(StringInfo buf)
{
	uint64		endpos;
	uint64		lost;
	int			n;
	Batch		b;
	int64		seal_id;
	uint8		hash[OLINK_HASH_LEN];
	char	   *p;
	char	   *end;
	MemoryContext rowcxt;
	MemoryContext old;
	ListCell   *lc;
	bool		durable = false;

	resetStringInfo(buf);
	n = olink_queue_peek(buf, BATCH_BYTES, &endpos, &lost);
	if (n == 0 && lost == 0 && !fresh_pending)
		return false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "writing audit events");

	if (!store_present())
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
		return false;
	}
	if (!state.loaded)
		load_state();
	if (text_cache != NULL && hash_get_num_entries(text_cache) > TEXT_CACHE_MAX)
	{
		hash_destroy(text_cache);
		text_cache = NULL;
		MemoryContextReset(text_cxt);
	}

	memset(&b, 0, sizeof(b));
	b.restarted = fresh_pending;
	olink_appender_open(&b.access, olink_audit_table("access_event", false));
	olink_appender_open(&b.connection, olink_audit_table("connection_event", false));
	olink_appender_open(&b.texts, olink_audit_table("audit_text", false));
	b.next_event_id = state.next_event_id;
	b.next_connection_id = state.next_connection_id;
	b.next_text_id = state.next_text_id;

	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "olink worker row", ALLOCSET_DEFAULT_SIZES);
	p = buf->data;
	end = buf->data + buf->len;
	while (p < end)
	{
		uint32		len;
		OlinkEvent *ev;
		const char *str[OLINK_EV_NSTR];

		p = (char *) MAXALIGN(p);
		if (p >= end)
			break;
		memcpy(&len, p, sizeof(uint32));
		p += MAXALIGN(sizeof(uint32));
		ev = (OlinkEvent *) p;
		p += len;

		if (ev->durable || ev->kind == OLINK_EV_PURGE)
			durable = true;
		old = MemoryContextSwitchTo(rowcxt);
		decode_strings(ev, str);
		switch (ev->kind)
		{
			case OLINK_EV_ACCESS:
				write_access(&b, ev, str);
				break;
			case OLINK_EV_LOGIN:
			case OLINK_EV_LOGOUT:
			case OLINK_EV_REFUSED:
				write_connection(&b, ev, str);
				break;
			case OLINK_EV_JOURNAL_ATTEST:
				{
					MemoryContext cur = MemoryContextSwitchTo(old);
					SealAccum  *sa = palloc0(sizeof(SealAccum));

					/* xid in first_id, until it is sealed */
					sa->first_id = (int64) ev->xid;
					sa->count = (int64) ev->rows;
					b.attests = lappend(b.attests, sa);
					MemoryContextSwitchTo(cur);
				}
				break;
			case OLINK_EV_PURGE:
				{
					MemoryContext cur = MemoryContextSwitchTo(old);

					do_purge(&b, ev, str);
					MemoryContextSwitchTo(cur);
				}
				break;
			default:
				/* an event this version does not know: kept as a failed access event */
				elog(LOG, "olink audit worker: unknown event kind %d", ev->kind);
				break;
		}
		MemoryContextSwitchTo(old);
		/* new texts were copied into the batch's list, in this transaction's context */
		MemoryContextReset(rowcxt);
	}

	if (lost > 0)
	{
		/* events that could not be queued: on record, as an event of their own */
		OlinkEvent	ev;
		const char *str[OLINK_EV_NSTR] = {0};
		char	   *msg = psprintf("%llu audit events could not be queued in time and are lost",
								   (unsigned long long) lost);

		memset(&ev, 0, sizeof(ev));
		ev.kind = OLINK_EV_ACCESS;
		ev.at = GetCurrentTimestamp();
		ev.outcome = OLINK_OUTCOME_FAILED;
		str[OLINK_EVA_COMMAND] = "AUDIT";
		str[OLINK_EVA_MESSAGE] = msg;
		str[OLINK_EVA_SQLSTATE] = "53000";
		for (int i = 0; i < OLINK_EV_NSTR; i++)
			ev.strlen[i] = str[i] ? strlen(str[i]) : OLINK_EV_NULL;
		write_access(&b, &ev, str);
		ereport(WARNING,
				(errmsg("olink: %llu audit events could not be queued and are lost",
						(unsigned long long) lost)));
	}

	/* one seal per table written */
	{
		OlinkAppender seals;

		olink_appender_open(&seals, olink_audit_table("audit_seal", false));
		seal_id = state.last_seal_id;
		memcpy(hash, state.last_hash, OLINK_HASH_LEN);
		if (b.text_seal.count > 0)
			append_seal(&seals, &seal_id, hash, 't', &b.text_seal,
						InvalidFullTransactionId, InvalidFullTransactionId, NULL);
		if (b.access_seal.count > 0)
			append_seal(&seals, &seal_id, hash, 'a', &b.access_seal,
						InvalidFullTransactionId, InvalidFullTransactionId, NULL);
		if (b.connection_seal.count > 0)
			append_seal(&seals, &seal_id, hash, 'c', &b.connection_seal,
						InvalidFullTransactionId, InvalidFullTransactionId, NULL);
		foreach(lc, b.purges)
		{
			PurgeDone  *pd = lfirst(lc);

			append_seal(&seals, &seal_id, hash, 'p', &pd->seal,
						InvalidFullTransactionId, InvalidFullTransactionId, pd->note);
		}
		if (b.attests != NIL)
		{
			/* one seal for the batch's attestations: the transactions and their counts */
			SealXacts	x = {0};
			SealAccum	none;
			uint64		maxxid = 0;

			accum_reset(&none);
			none.last_id = -1;
			foreach(lc, b.attests)
			{
				SealAccum  *sa = lfirst(lc);

				xacts_add(&x, (uint64) sa->first_id, sa->count, NULL);
				maxxid = Max(maxxid, (uint64) sa->first_id);
			}
			none.count = x.n;
			append_seal_x(&seals, &seal_id, hash, 'x', &none, FullTransactionIdFromU64(maxxid),
						  InvalidFullTransactionId, NULL, &x);
		}
		if (b.restarted)
		{
			/*
			 * Attestations queued before the restart are gone with the queue:
			 * transactions below this horizon may have sealed journal rows
			 * without one.
			 */
			SealAccum	none;

			accum_reset(&none);
			none.last_id = -1;
			append_seal(&seals, &seal_id, hash, 'r', &none, InvalidFullTransactionId,
						ReadNextFullTransactionId(), "shared memory was initialised: events queued before were lost if not written");
		}
		olink_appender_close(&seals);
	}
	olink_appender_close(&b.access);
	olink_appender_close(&b.connection);
	olink_appender_close(&b.texts);

	/*
	 * A batch with an event of a sync session is flushed to disk before the
	 * queue lets it go; the others commit asynchronously (the WAL writer
	 * flushes them within a few hundred milliseconds), which halves the
	 * worker's cost.  The loss window of async grows by that much.
	 */
	synchronous_commit = durable ? SYNCHRONOUS_COMMIT_ON : SYNCHRONOUS_COMMIT_OFF;
	PopActiveSnapshot();
	CommitTransactionCommand();
	synchronous_commit = SYNCHRONOUS_COMMIT_ON;

	/* committed: the store's state moves on, the queue lets go */
	state.next_event_id = b.next_event_id;
	state.next_connection_id = b.next_connection_id;
	state.next_text_id = b.next_text_id;
	state.last_seal_id = seal_id;
	memcpy(state.last_hash, hash, OLINK_HASH_LEN);
	olink_set_chain_head(seal_id, hash);
	if (b.restarted)
		fresh_pending = false;
	foreach(lc, b.purges)
		olink_purge_done(((PurgeDone *) lfirst(lc))->request, ((PurgeDone *) lfirst(lc))->seal.count);
	olink_queue_release(endpos, n, lost);
	pgstat_report_activity(STATE_IDLE, NULL);
	return true;
}

/* ---------------------------------------------------------------------
 * Sealing the journal
 * ---------------------------------------------------------------------
 */

typedef struct JournalAccum
{
	uint64		xid;			/* hash key */
	SealAccum	seal;
} JournalAccum;

#define UNATTESTED_PASSES	3

/* transactions seen with journal rows but no report, and for how many passes */
static HTAB *unattested = NULL;

typedef struct Unattested
{
	uint64		xid;
	int			passes;
} Unattested;

/* should sealing xid wait for its report a little longer? */
static bool
unattested_wait(uint64 xid)
{
	Unattested *u;
	bool		found;

	if (unattested == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(Unattested);
		ctl.hcxt = TopMemoryContext;
		unattested = hash_create("olink unattested xids", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	u = hash_search(unattested, &xid, HASH_ENTER, &found);
	if (!found)
		u->passes = 0;
	if (++u->passes < UNATTESTED_PASSES)
		return true;
	(void) hash_search(unattested, &xid, HASH_REMOVE, NULL);
	return false;
}

/* the full form of xid, which is not after next */
static FullTransactionId
full_xid_before(FullTransactionId next, TransactionId xid)
{
	uint32		epoch = EpochFromFullTransactionId(next);

	if (xid > XidFromFullTransactionId(next))
		epoch--;
	return FullTransactionIdFromEpochAndXid(epoch, xid);
}

static void
seal_journal(void)
{
	Snapshot	snap;
	FullTransactionId next;
	FullTransactionId horizon;
	HTAB	   *sealed;
	HTAB	   *attested;
	HTAB	   *accum;
	HASHCTL		ctl;
	Portal		portal;
	Datum		arg;
	Oid			argtype = INT8OID;
	int64		seal_id;
	uint8		hash[OLINK_HASH_LEN];
	List	   *order = NIL;
	ListCell   *lc;
	MemoryContext txcxt;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	snap = GetTransactionSnapshot();
	PushActiveSnapshot(snap);
	pgstat_report_activity(STATE_RUNNING, "sealing the change journal");
	if (!store_present())
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
		return;
	}
	if (!state.loaded)
		load_state();

	/* every transaction below the snapshot's xmin has ended: the next horizon */
	next = ReadNextFullTransactionId();
	horizon = full_xid_before(next, snap->xmin);

	/* in the transaction's context: SPI_finish frees SPI's */
	txcxt = CurrentMemoryContext;
	SPI_connect();

	/* transactions at or above the horizon that are sealed already */
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(uint64);
	ctl.hcxt = txcxt;
	sealed = hash_create("olink sealed xids", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.entrysize = sizeof(JournalAccum);
	accum = hash_create("olink journal seals", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	attested = hash_create("olink attested xids", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	arg = Int64GetDatum((int64) U64FromFullTransactionId(state.horizon));
	if (SPI_execute_with_args("SELECT x, kind FROM olink.audit_seal, unnest(xids) x "
							  "WHERE kind IN ('j', 'x') AND xid >= $1 AND x >= $1",
							  1, &argtype, &arg, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "olink: could not read journal seals");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		uint64		x = (uint64) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
															 SPI_tuptable->tupdesc, 1, &isnull));
		char		k = DatumGetChar(SPI_getbinval(SPI_tuptable->vals[i],
												   SPI_tuptable->tupdesc, 2, &isnull));

		(void) hash_search(k == 'j' ? sealed : attested, &x, HASH_ENTER, NULL);
	}

	/*
	 * In id order within each transaction: the order its seal hashes them
	 * in.  Through the BRIN index: the rows past the horizon are the newest,
	 * and a journal whose statistics are stale must not be read whole every
	 * pass (for this transaction only).
	 */
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	portal = SPI_cursor_open_with_args(NULL, "SELECT * FROM olink.journal j WHERE xid >= $1 "
									   "ORDER BY xid, journal_id",
									   1, &argtype, &arg, NULL, true, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			Datum		values[OLINK_JOURNAL_NATTS];
			bool		nulls[OLINK_JOURNAL_NATTS];
			uint64		x;
			bool		found;
			JournalAccum *ja;

			heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, values, nulls);
			x = (uint64) DatumGetInt64(values[3]);
			if (hash_search(sealed, &x, HASH_FIND, NULL) != NULL)
				continue;
			ja = hash_search(accum, &x, HASH_ENTER, &found);
			if (!found)
			{
				MemoryContext cur = MemoryContextSwitchTo(txcxt);

				accum_reset(&ja->seal);
				order = lappend(order, ja);
				MemoryContextSwitchTo(cur);
			}
			accum_row(&ja->seal, 'j', SPI_tuptable->tupdesc, values, nulls);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();

	seal_id = state.last_seal_id;
	memcpy(hash, state.last_hash, OLINK_HASH_LEN);
	if (order != NIL)
	{
		OlinkAppender seals;

		SealXacts	x = {0};
		SealAccum	all;
		uint64		maxxid = 0;

		accum_reset(&all);
		olink_appender_open(&seals, olink_audit_table("audit_seal", false));
		foreach(lc, order)
		{
			JournalAccum *ja = lfirst(lc);
			uint8		xdigest[OLINK_HASH_LEN];

			/*
			 * A transaction's journal trigger reports its rows before the
			 * transaction commits, so the report is written by the time its
			 * rows are seen -- or one pass later, if it committed between
			 * the drain and this pass's snapshot.  A transaction without a
			 * report is sealed only after UNATTESTED_PASSES passes: it is
			 * sealed all the same, and verify_audit() names it.
			 */
			if (hash_search(attested, &ja->xid, HASH_FIND, NULL) == NULL &&
				unattested_wait(ja->xid))
			{
				uint8		ignore[OLINK_HASH_LEN];

				olink_stream_finish(&ja->seal.rs, ignore);
				if (ja->xid < U64FromFullTransactionId(horizon))
					horizon = FullTransactionIdFromU64(ja->xid);
				continue;
			}
			/* into the pass's seal: this transaction's rows, count and digest */
			olink_stream_finish(&ja->seal.rs, xdigest);
			xacts_add(&x, ja->xid, ja->seal.count, xdigest);
			x.content_sum += ja->seal.rs.content_sum;
			if (all.count == 0 || ja->seal.first_id < all.first_id)
				all.first_id = ja->seal.first_id;
			if (all.count == 0 || ja->seal.last_id > all.last_id)
				all.last_id = ja->seal.last_id;
			all.count += ja->seal.count;
			maxxid = Max(maxxid, ja->xid);
		}
		if (x.n > 0)
			append_seal_x(&seals, &seal_id, hash, 'j', &all, FullTransactionIdFromU64(maxxid),
						  horizon, NULL, &x);
		olink_appender_close(&seals);
	}

	/* seals can be made again from the journal: no need to wait for the disk */
	synchronous_commit = SYNCHRONOUS_COMMIT_OFF;
	PopActiveSnapshot();
	CommitTransactionCommand();
	synchronous_commit = SYNCHRONOUS_COMMIT_ON;

	state.last_seal_id = seal_id;
	memcpy(state.last_hash, hash, OLINK_HASH_LEN);
	olink_set_chain_head(seal_id, hash);
	state.horizon = horizon;
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* ---------------------------------------------------------------------
 * Main loop
 * ---------------------------------------------------------------------
 */

void
olink_audit_worker_main(Datum main_arg)
{
	StringInfoData buf;
	TimestampTz last_seal = 0;
	TimestampTz term_at = 0;
	uint64		seal_request_done = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, worker_sigterm);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(olink_database, NULL, 0);
	/* the worker's dates (alert periods) are the quota day's: log_timezone's */
	SetConfigOption("TimeZone", pg_get_timezone_name(log_timezone), PGC_SUSET, PGC_S_OVERRIDE);
	pgstat_report_appname("olink audit worker");

	text_cxt = AllocSetContextCreate(TopMemoryContext, "olink audit texts", ALLOCSET_DEFAULT_SIZES);
	initStringInfo(&buf);
	memset(&state, 0, sizeof(state));
	olink_queue_attach_worker(true);
	before_shmem_exit(worker_detach, (Datum) 0);
	fresh_pending = olink_queue_take_fresh();

	for (;;)
	{
		bool		busy;
		uint64		requested;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		refresh_credentials();
		sync_lockouts();
		busy = write_batch(&buf);

		requested = olink_seal_requested();
		if (requested > seal_request_done ||
			TimestampDifferenceExceeds(last_seal, GetCurrentTimestamp(), SEAL_INTERVAL_MS))
		{
			/* the queue first: a flush asks for its events and the journal */
			while (write_batch(&buf))
				;
			seal_journal();
			persist_quotas();
			last_seal = GetCurrentTimestamp();
			olink_seal_completed(requested);
			seal_request_done = requested;
		}

		if (got_sigterm)
		{
			if (term_at == 0)
				term_at = GetCurrentTimestamp();
			/* drain while other backends may still log out, a little while */
			if (!busy && (CountDBConnections(InvalidOid) == 0 ||
						  TimestampDifferenceExceeds(term_at, GetCurrentTimestamp(), SHUTDOWN_GRACE_MS)))
			{
				while (write_batch(&buf))
					;
				seal_journal();
				persist_quotas();
				break;
			}
		}

		if (!busy)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 got_sigterm ? 20 : DRAIN_INTERVAL_MS, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
	ereport(LOG,
			(errmsg("olink audit worker: stopped; chain head is seal %lld, hash %s",
					(long long) state.last_seal_id, hex_hash(state.last_hash))));
	/* exit status 1: the postmaster starts the worker again, unless it is shutting down */
	proc_exit(1);
}
