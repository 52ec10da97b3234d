/*-------------------------------------------------------------------------
 *
 * quota.c
 *		Row quotas against bulk extraction (第7(1)エ): rows per statement and
 *		rows per day, per grant and per counterpart.
 *
 * What is counted is the rows of protected tables a counterpart's statement
 * reads after the row filter, not the rows it returns: an aggregate, a
 * function or a cursor does not hide a bulk read.  The count is taken where
 * the rows are produced: rowsec.c ends each grant's arm of the row-security
 * qual with olink._count_read(grant_id), which the executor evaluates for
 * each row that passed that grant's filter, and which refuses the row that
 * goes over a quota.
 *
 * Counts are kept per top-level statement and per execution of a query (so
 * a cursor's FETCHes add up across statements).  So that no row of a
 * refused statement leaves the server, the executor's output of a
 * counterpart statement that reads a protected table under a quota is held
 * back in a tuplestore and sent only when that run of the executor ends
 * without error: a FETCH of ten rows past the limit sends none of the ten.
 *
 * A day's counts live in shared memory, per (counterpart, grant) with grant
 * 0 for the counterpart as a whole; each execution adds its rows when it
 * ends (or fails).  The audit worker writes changed counts to
 * olink.quota_usage every second, and the first statement after a restart
 * reads the day's counts back, so a restart does not reset them.  A day's
 * quota is checked against other sessions' counts as of the statement's
 * start plus this statement's own rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "utils/lsyscache.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parsetree.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/dest.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "pgtime.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "olink.h"

PG_FUNCTION_INFO_V1(olink_count_read);

static int	max_quota_counters = 16384;

typedef struct QuotaKey
{
	int64		counterpart_id;
	int64		grant_id;		/* 0: the counterpart as a whole */
} QuotaKey;

typedef struct QuotaEntry
{
	QuotaKey	key;
	int32		day;			/* days since 2000-01-01, in the server's time zone */
	int64		rows;
	bool		dirty;			/* not yet written to olink.quota_usage */
	int64		minute;			/* rows of the current minute and hour, for olink.load_status */
	int64		minute_rows;
	int64		hour;
	int64		hour_rows;
} QuotaEntry;

typedef struct QuotaShared
{
	LWLock	   *lock;
	bool		loaded;
} QuotaShared;

static QuotaShared *shared = NULL;
static HTAB *counters = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;

/* one grant's rows in a statement or an execution */
typedef struct GrantRows
{
	int64		grant_id;
	int64		rows;
	int64		day_base;		/* the day's rows in shared memory when first seen */
	bool		by_day;			/* the grant has a day quota: its day count is kept */
} GrantRows;

typedef struct RowCounts
{
	int64		rows;
	int64		day_base;		/* the counterpart's day rows in shared memory */
	int			ngrants;
	GrantRows	grants[64];		/* more grants in one statement are refused */
} RowCounts;

/* one execution of a query (a cursor's lives across FETCHes) */
typedef struct QuotaExec
{
	QueryDesc  *query;
	int64		counterpart_id;
	RowCounts	counts;
	RowCounts	flushed;		/* what of counts is in the day's counts already */
	struct QuotaExec *next;
} QuotaExec;

static QuotaExec *execs = NULL;
static QuotaExec *spare = NULL;	/* ended executions' structs, for the next ones */
static QuotaExec *current = NULL;	/* the execution whose rows are being read */

/* the top-level statement */
static RowCounts statement;
static TimestampTz statement_started = 0;
static int32 statement_day = 0;
static bool statement_violated = false;	/* a quota refused a row of this statement */
static bool xact_violated = false;	/* ... of this transaction: it does not commit */

static Size
quota_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(QuotaShared)),
					hash_estimate_size(max_quota_counters, sizeof(QuotaEntry)));
}

static void
quota_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(quota_shmem_size());
	RequestNamedLWLockTranche("olink quotas", 1);
}

static void
quota_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("olink quotas", sizeof(QuotaShared), &found);
	if (!found)
	{
		shared->lock = &(GetNamedLWLockTranche("olink quotas"))->lock;
		shared->loaded = false;
	}
	info.keysize = sizeof(QuotaKey);
	info.entrysize = sizeof(QuotaEntry);
	counters = ShmemInitHash("olink quota counters", 256, max_quota_counters, &info,
							 HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/*
 * The day of ts, as days since 2000-01-01, in the server's log_timezone:
 * set in postgresql.conf only, so that no session (SET, connection
 * options, role or database settings) can move its day and start a fresh
 * quota.
 */
int32
olink_quota_today(TimestampTz ts)
{
	static int64 cached_minute = -1;
	static int32 cached_day = 0;
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;
	int64		minute = ts / (60 * USECS_PER_SEC);

	/* a day turns on a minute: computed once a minute */
	if (minute == cached_minute)
		return cached_day;

	if (timestamp2tm(ts, &offset, &tm, &fsec, NULL, log_timezone) != 0)
		return (int32) (ts / USECS_PER_DAY);
	cached_minute = minute;
	cached_day = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - POSTGRES_EPOCH_JDATE;
	return cached_day;
}

/* a day's rows of (counterpart, grant) in shared memory */
static int64
shared_rows(int64 counterpart_id, int64 grant_id, int32 day)
{
	QuotaKey	key = {counterpart_id, grant_id};
	QuotaEntry *e;
	int64		rows = 0;

	LWLockAcquire(shared->lock, LW_SHARED);
	e = hash_search(counters, &key, HASH_FIND, NULL);
	if (e != NULL && e->day == day)
		rows = e->rows;
	LWLockRelease(shared->lock);
	return rows;
}

static void add_to_day(int64 counterpart_id, RowCounts *c, int32 day);

/*
 * Adds what an execution read since it last did to the day's counts: at the
 * end of each run of the executor, whether it ended well or not, so that a
 * cursor's FETCHes and a caught error count at once.
 */
static void
flush_exec(QuotaExec *q)
{
	RowCounts	delta;
	int			k;

	if (q->counts.rows == q->flushed.rows)
		return;
	delta.rows = q->counts.rows - q->flushed.rows;
	delta.ngrants = 0;
	delta.day_base = 0;
	for (int i = 0; i < q->counts.ngrants; i++)
	{
		int64		before = 0;

		for (int k = 0; k < q->flushed.ngrants; k++)
			if (q->flushed.grants[k].grant_id == q->counts.grants[i].grant_id)
				before = q->flushed.grants[k].rows;
		if (q->counts.grants[i].rows > before && q->counts.grants[i].by_day)
		{
			delta.grants[delta.ngrants].grant_id = q->counts.grants[i].grant_id;
			delta.grants[delta.ngrants].rows = q->counts.grants[i].rows - before;
			delta.ngrants++;
		}
	}
	add_to_day(q->counterpart_id, &delta, olink_quota_today(GetCurrentStatementStartTimestamp()));
	/* what is flushed now: the header and the grants in use, not the whole array */
	q->flushed.rows = q->counts.rows;
	q->flushed.ngrants = q->counts.ngrants;
	for (k = 0; k < q->counts.ngrants; k++)
		q->flushed.grants[k] = q->counts.grants[k];
}

/* adds rows to the day's counts */
static void
add_to_day(int64 counterpart_id, RowCounts *c, int32 day)
{
	if (c->rows == 0 || shared == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (int i = -1; i < c->ngrants; i++)
	{
		QuotaKey	key = {counterpart_id, i < 0 ? 0 : c->grants[i].grant_id};
		int64		rows = i < 0 ? c->rows : c->grants[i].rows;
		QuotaEntry *e;
		bool		found;

		if (rows == 0)
			continue;
		e = hash_search(counters, &key, HASH_ENTER_NULL, &found);
		if (e == NULL)
		{
			/* no room: said in the log, never a silent loss of the counterpart's total */
			ereport(WARNING,
					(errmsg("olink: no room for the quota counter of grant %lld (olink.max_quota_counters)",
							(long long) key.grant_id)));
			continue;
		}
		if (!found)
		{
			e->minute = e->hour = 0;
			e->minute_rows = e->hour_rows = 0;
		}
		if (!found || e->day != day)
		{
			e->day = day;
			e->rows = 0;
		}
		e->rows += rows;
		e->dirty = true;
		{
			int64		minute = GetCurrentStatementStartTimestamp() / (60 * USECS_PER_SEC);

			if (e->minute != minute)
			{
				e->minute = minute;
				e->minute_rows = 0;
			}
			if (e->hour != minute / 60)
			{
				e->hour = minute / 60;
				e->hour_rows = 0;
			}
			e->minute_rows += rows;
			e->hour_rows += rows;
		}
	}
	LWLockRelease(shared->lock);
}

PG_FUNCTION_INFO_V1(olink_load_rows);

/* olink._load_rows(): per counterpart, rows read in the current minute, hour and day */
Datum
olink_load_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	QuotaEntry *e;
	int64		minute = GetCurrentTimestamp() / (60 * USECS_PER_SEC);
	int32		day = olink_quota_today(GetCurrentTimestamp());

	InitMaterializedSRF(fcinfo, 0);
	if (shared == NULL)
		return (Datum) 0;
	LWLockAcquire(shared->lock, LW_SHARED);
	hash_seq_init(&seq, counters);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		Datum		values[4];
		bool		nulls[4] = {0};

		if (e->key.grant_id != 0)
			continue;
		values[0] = Int64GetDatum(e->key.counterpart_id);
		values[1] = Int64GetDatum(e->minute == minute ? e->minute_rows : 0);
		values[2] = Int64GetDatum(e->hour == minute / 60 ? e->hour_rows : 0);
		values[3] = Int64GetDatum(e->day == day ? e->rows : 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(shared->lock);
	return (Datum) 0;
}

/* after a restart: the day's counts from olink.quota_usage, once */
static void
ensure_loaded(void)
{
	OlinkOwnQuery own;
	int			rc;
	int			n;
	QuotaEntry *rows;
	MemoryContext outer = CurrentMemoryContext;

	if (shared == NULL || shared->loaded)
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "olink: SPI_connect failed");
	olink_own_enter(&own);
	PG_TRY();
	{
		Datum		day = Int32GetDatum(olink_quota_today(GetCurrentTimestamp()));

		rc = SPI_execute_with_args("SELECT counterpart_id, grant_id, day - date '2000-01-01', rows "
								   "  FROM olink.quota_usage WHERE day = date '2000-01-01' + $1",
								   1, (Oid[]) {INT4OID}, &day, NULL, true, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "olink: could not read olink.quota_usage: %s", SPI_result_code_string(rc));
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
	rows = MemoryContextAllocZero(outer, sizeof(QuotaEntry) * (n + 1));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		rows[i].key.counterpart_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		rows[i].key.grant_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		rows[i].day = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
		rows[i].rows = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4, &isnull));
	}
	SPI_finish();

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (!shared->loaded)
	{
		for (int i = 0; i < n; i++)
		{
			bool		found;
			QuotaEntry *e = hash_search(counters, &rows[i].key, HASH_ENTER_NULL, &found);

			if (e == NULL)
				continue;
			if (!found || e->day != rows[i].day)
			{
				e->day = rows[i].day;
				e->rows = 0;
				e->dirty = false;
			}
			/* counts made since the restart, before this load, add to those written before */
			e->rows += rows[i].rows;
		}
		shared->loaded = true;
	}
	LWLockRelease(shared->lock);
}

/* olink is gone (DROP EXTENSION committed): its counterparts' and grants' ids will be used again */
void
olink_quota_reset(void)
{
	HASH_SEQ_STATUS seq;
	QuotaEntry *e;

	if (shared == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, counters);
	while ((e = hash_seq_search(&seq)) != NULL)
		hash_search(counters, &e->key, HASH_REMOVE, NULL);
	shared->loaded = false;
	LWLockRelease(shared->lock);
	statement_started = 0;
}

/*
 * The audit worker, every second: the changed counts to olink.quota_usage.
 * In a transaction, connected to SPI.
 */
void
olink_quota_persist(void)
{
	HASH_SEQ_STATUS seq;
	QuotaEntry *e;
	QuotaEntry *batch;
	int			n = 0;
	int			cap = 64;

	if (shared == NULL || !shared->loaded)
		return;
	batch = palloc(sizeof(QuotaEntry) * cap);
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, counters);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (!e->dirty)
			continue;
		if (n == cap)
		{
			cap *= 2;
			batch = repalloc(batch, sizeof(QuotaEntry) * cap);
		}
		batch[n++] = *e;
	}
	LWLockRelease(shared->lock);

	for (int i = 0; i < n; i++)
	{
		Datum		args[4];
		int			rc;

		args[0] = Int32GetDatum(batch[i].day);
		args[1] = Int64GetDatum(batch[i].key.counterpart_id);
		args[2] = Int64GetDatum(batch[i].key.grant_id);
		args[3] = Int64GetDatum(batch[i].rows);
		rc = SPI_execute_with_args("INSERT INTO olink.quota_usage (day, counterpart_id, grant_id, rows) "
								   "VALUES (date '2000-01-01' + $1, $2, $3, $4) "
								   "ON CONFLICT (day, counterpart_id, grant_id) DO UPDATE "
								   "SET rows = GREATEST(olink.quota_usage.rows, EXCLUDED.rows)",
								   4, (Oid[]) {INT4OID, INT8OID, INT8OID, INT8OID}, args, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "olink: could not write olink.quota_usage: %s", SPI_result_code_string(rc));
	}

	/* written: clean, unless counted again meanwhile */
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < n; i++)
	{
		e = hash_search(counters, &batch[i].key, HASH_FIND, NULL);
		if (e != NULL && e->day == batch[i].day && e->rows == batch[i].rows)
			e->dirty = false;
	}
	LWLockRelease(shared->lock);
}

/* ---------------------------------------------------------------------
 * Counting
 * ---------------------------------------------------------------------
 */

static GrantRows *
grant_rows(RowCounts *c, int64 grant_id, int64 counterpart_id, int32 day, bool with_day)
{
	for (int i = 0; i < c->ngrants; i++)
		if (c->grants[i].grant_id == grant_id)
			return &c->grants[i];
	if (c->ngrants == lengthof(c->grants))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a statement reads under more than %d grants", (int) lengthof(c->grants)),
				 errdetail("olink cannot count its rows against every grant's quota.")));
	c->grants[c->ngrants].grant_id = grant_id;
	c->grants[c->ngrants].rows = 0;
	c->grants[c->ngrants].day_base = with_day ? shared_rows(counterpart_id, grant_id, day) : 0;
	c->grants[c->ngrants].by_day = with_day;
	return &c->grants[c->ngrants++];
}

static void
refuse(const char *what, int64 limit, const char *setting, int64 grant_id, const char *counterpart)
{
	statement_violated = true;
	xact_violated = true;
	PG_TRY();
	{
		if (grant_id != 0)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("row quota exceeded: more than %lld rows %s under grant %lld",
							(long long) limit, what, (long long) grant_id),
					 errdetail("Quotas count the rows of protected tables a statement reads, after the row filter (%s).",
							   setting),
					 errhint("Read fewer rows: narrow the statement.")));
		else
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("row quota exceeded: more than %lld rows %s for counterpart \"%s\"",
							(long long) limit, what, counterpart),
					 errdetail("Quotas count the rows of protected tables a statement reads, after the row filter (%s).",
							   setting),
					 errhint("Read fewer rows: narrow the statement.")));
	}
	PG_CATCH();
	{
		olink_audit_capture_error();
		PG_RE_THROW();
	}
	PG_END_TRY();
}

static void count_one(OlinkSession *s, int64 grant_id, OlinkGrant *g);
static int64 returning_grant(OlinkSession *s, QueryDesc *query);

/*
 * olink._count_read(grant_id): true, having counted one row read under the
 * grant; refuses the row that goes over a quota.
 */
Datum
olink_count_read(PG_FUNCTION_ARGS)
{
	int64		grant_id = PG_GETARG_INT64(0);
	OlinkSession *s;

	if (olink_in_registry_read)
		PG_RETURN_BOOL(true);
	s = olink_session();
	if (!s->installed || !s->is_counterpart)
		PG_RETURN_BOOL(true);
	/*
	 * A parallel worker's counts would die with it: a counterpart's rows
	 * read there (a PARALLEL SAFE function's query, run by a worker) are
	 * refused rather than left uncounted.
	 */
	if (IsParallelWorker())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("olink cannot count rows of a protected table read in a parallel worker"),
				 errdetail("A function that reads protected tables ran in a parallel worker; row quotas are counted in the session's own process."),
				 errhint("Mark the function PARALLEL RESTRICTED, or read the table in the statement itself.")));
	/*
	 * A write reads rows to change them, and PostgreSQL checks written rows
	 * against the SELECT policies again: its rows count as they leave, by
	 * RETURNING (hold_receive), not here.
	 */
	if (current != NULL && current->query->operation != CMD_SELECT)
		PG_RETURN_BOOL(true);
	/* the grant, looked up once per registry generation for this call site */
	{
		typedef struct GrantCache
		{
			uint64		generation;
			OlinkGrant *grant;
		} GrantCache;
		GrantCache *gc = (GrantCache *) fcinfo->flinfo->fn_extra;

		if (gc == NULL)
		{
			gc = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(GrantCache));
			fcinfo->flinfo->fn_extra = gc;
		}
		if (gc->generation != olink_registry_generation() || gc->grant == NULL)
		{
			gc->grant = olink_find_grant(s, grant_id);
			gc->generation = olink_registry_generation();
		}
		count_one(s, grant_id, gc->grant);
	}
	PG_RETURN_BOOL(true);
}

/* one row read under a grant (g: its registry entry, or NULL): counted, and refused over a quota */
static void
count_one(OlinkSession *s, int64 grant_id, OlinkGrant *g)
{
	GrantRows  *sg;
	GrantRows  *eg = NULL;
	TimestampTz started = GetCurrentStatementStartTimestamp();
	int64		stmt_rows;
	int64		grant_stmt_rows;

	if (started != statement_started)
	{
		statement.rows = 0;
		statement.ngrants = 0;
		statement_started = started;
		statement_violated = false;
		statement_day = olink_quota_today(started);
		ensure_loaded();
		statement.day_base = s->max_rows_per_day > 0 ?
			shared_rows(s->counterpart_id, 0, statement_day) : 0;
	}
	statement.rows++;
	sg = grant_rows(&statement, grant_id, s->counterpart_id, statement_day,
					g != NULL && g->max_rows_per_day > 0);
	if (sg != NULL)
		sg->rows++;
	stmt_rows = statement.rows;
	grant_stmt_rows = sg ? sg->rows : 0;
	if (current != NULL)
	{
		current->counts.rows++;
		eg = grant_rows(&current->counts, grant_id, s->counterpart_id, statement_day, false);
		if (eg != NULL && eg->rows == 0)
			eg->by_day = g != NULL && g->max_rows_per_day > 0;
		if (eg != NULL)
			eg->rows++;
		/* a cursor's rows add up across its FETCHes */
		stmt_rows = Max(stmt_rows, current->counts.rows);
		if (eg != NULL)
			grant_stmt_rows = Max(grant_stmt_rows, eg->rows);
	}

	if (s->max_rows_per_statement > 0 && stmt_rows > s->max_rows_per_statement)
		refuse("in one statement", s->max_rows_per_statement, "max_rows_per_statement", 0, s->counterpart);
	if (s->max_rows_per_day > 0 && statement.day_base + statement.rows > s->max_rows_per_day)
		refuse("today", s->max_rows_per_day, "max_rows_per_day", 0, s->counterpart);
	if (g != NULL)
	{
		if (g->max_rows_per_statement > 0 && grant_stmt_rows > g->max_rows_per_statement)
			refuse("in one statement", g->max_rows_per_statement, "max_rows_per_statement", grant_id, NULL);
		if (g->max_rows_per_day > 0 && sg != NULL && sg->day_base + sg->rows > g->max_rows_per_day)
			refuse("today", g->max_rows_per_day, "max_rows_per_day", grant_id, NULL);
	}
}

/*
 * The grant a row a write returns counts under: among the counterpart's
 * grants in force that may read the written table, the one with the largest
 * statement quota (none at all being the largest).  0 when none.
 */
static int64
returning_grant(OlinkSession *s, QueryDesc *query)
{
	PlannedStmt *ps = query->plannedstmt;
	RangeTblEntry *rte;
	OlinkRelation *r;
	ListCell   *lc;
	OlinkGrant *best = NULL;

	if (ps->resultRelations == NIL)
		return 0;
	rte = rt_fetch(linitial_int(ps->resultRelations), ps->rtable);
	r = olink_find_relation(s, rte->relid);
	if ((r == NULL || !r->protected) && get_rel_relispartition(rte->relid))
	{
		/* written through a partitioned table: its protection and grants */
		ListCell   *ac;

		foreach(ac, get_partition_ancestors(rte->relid))
		{
			r = olink_find_relation(s, lfirst_oid(ac));
			if (r != NULL && r->protected)
				break;
		}
	}
	if (r == NULL || !r->protected)
		return 0;
	foreach(lc, r->grants)
	{
		OlinkGrant *g = lfirst(lc);

		if (!(g->privs & OLINK_PRIV_SELECT) || !olink_grant_live(s, g))
			continue;
		if (best == NULL || g->max_rows_per_statement == 0 ||
			(best->max_rows_per_statement != 0 && g->max_rows_per_statement > best->max_rows_per_statement))
			best = g;
		if (best->max_rows_per_statement == 0)
			break;
	}
	return best ? best->id : 0;
}

/* ---------------------------------------------------------------------
 * Executions, and holding their output back
 * ---------------------------------------------------------------------
 */

static QuotaExec *
find_exec(QueryDesc *query, bool create)
{
	QuotaExec  *q;

	for (q = execs; q != NULL; q = q->next)
		if (q->query == query)
			return q;
	if (!create)
		return NULL;
	if (spare != NULL)
	{
		q = spare;
		spare = q->next;
	}
	else
		q = MemoryContextAlloc(TopMemoryContext, sizeof(QuotaExec));
	q->query = query;
	q->counterpart_id = 0;
	q->counts.rows = q->counts.ngrants = 0;
	q->counts.day_base = 0;
	q->flushed.rows = q->flushed.ngrants = 0;
	q->flushed.day_base = 0;
	q->next = execs;
	execs = q;
	return q;
}

static void
forget_exec(QueryDesc *query, bool count_it)
{
	QuotaExec **p;

	for (p = &execs; *p != NULL; p = &(*p)->next)
	{
		QuotaExec  *q = *p;

		if (q->query != query)
			continue;
		*p = q->next;
		if (count_it)
			flush_exec(q);
		if (current == q)
			current = NULL;
		q->next = spare;
		spare = q;
		return;
	}
}

/*
 * Does any quota bind this counterpart?  Then every statement of it has its
 * output held: a protected table read inside a function is not in the
 * statement's own plan.  Known per registry generation.
 */
static bool
any_quota(OlinkSession *s)
{
	static uint64 known_for = 0;
	static bool known = false;
	HASH_SEQ_STATUS seq;
	OlinkRelation *r;

	if (known_for == olink_registry_generation() && known_for != 0)
		return known;
	known = s->max_rows_per_statement > 0 || s->max_rows_per_day > 0;
	if (!known && s->relations != NULL)
	{
		hash_seq_init(&seq, s->relations);
		while ((r = hash_seq_search(&seq)) != NULL)
		{
			ListCell   *gc;

			foreach(gc, r->grants)
			{
				OlinkGrant *g = lfirst(gc);

				if (g->max_rows_per_statement > 0 || g->max_rows_per_day > 0)
					known = true;
			}
		}
	}
	known_for = olink_registry_generation();
	return known;
}

/* a DestReceiver that keeps the rows until the run ends */
typedef struct HoldReceiver
{
	DestReceiver pub;
	DestReceiver *target;
	Tuplestorestate *store;
	TupleDesc	desc;
	MemoryContext cxt;
	OlinkSession *session;
	int64		returning_grant;	/* a write with RETURNING of a protected table */
} HoldReceiver;

static bool
hold_receive(TupleTableSlot *slot, DestReceiver *self)
{
	HoldReceiver *h = (HoldReceiver *) self;

	/* a row a write returns: counted as it would leave */
	if (h->returning_grant != 0)
		count_one(h->session, h->returning_grant, olink_find_grant(h->session, h->returning_grant));
	tuplestore_puttupleslot(h->store, slot);
	return true;
}

static void
hold_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	HoldReceiver *h = (HoldReceiver *) self;

	h->desc = typeinfo;
	h->target->rStartup(h->target, operation, typeinfo);
}

static void
hold_shutdown(DestReceiver *self)
{
	/* the target's shutdown comes after the rows are sent */
}

static void
hold_destroy(DestReceiver *self)
{
}

static void
quota_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	/* a QueryDesc at an address seen before is a new execution */
	if (execs != NULL)
		forget_exec(queryDesc, false);
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

static void
quota_ExecutorRun(QueryDesc *queryDesc, ScanDirection direction, uint64 count, bool execute_once)
{
	QuotaExec  *saved = current;
	HoldReceiver *hold = NULL;
	DestReceiver *target = queryDesc->dest;
	OlinkSession *s = NULL;

	if (!olink_in_registry_read && !IsParallelWorker() && IsTransactionState())
	{
		s = olink_session();
		if (!s->installed || !s->is_counterpart)
			s = NULL;
	}
	/* not a counterpart (every internal session): straight through, no PG_TRY */
	if (s == NULL && current == NULL)
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(queryDesc, direction, count, execute_once);
		else
			standard_ExecutorRun(queryDesc, direction, count, execute_once);
		return;
	}
	if (s != NULL)
	{
		current = find_exec(queryDesc, true);
		current->counterpart_id = s->counterpart_id;
		if (any_quota(s) ||
			(queryDesc->operation != CMD_SELECT && queryDesc->plannedstmt->hasReturning &&
			 returning_grant(s, queryDesc) != 0))
		{
			MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "olink held rows",
													  ALLOCSET_DEFAULT_SIZES);
			MemoryContext old = MemoryContextSwitchTo(cxt);

			hold = palloc0(sizeof(HoldReceiver));
			hold->pub.receiveSlot = hold_receive;
			hold->pub.rStartup = hold_startup;
			hold->pub.rShutdown = hold_shutdown;
			hold->pub.rDestroy = hold_destroy;
			hold->pub.mydest = DestNone;
			hold->target = target;
			hold->cxt = cxt;
			hold->store = tuplestore_begin_heap(false, false, work_mem);
			hold->session = s;
			if (queryDesc->operation != CMD_SELECT && queryDesc->plannedstmt->hasReturning)
				hold->returning_grant = returning_grant(s, queryDesc);
			MemoryContextSwitchTo(old);
			queryDesc->dest = (DestReceiver *) hold;
		}
	}

	PG_TRY();
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(queryDesc, direction, count, execute_once);
		else
			standard_ExecutorRun(queryDesc, direction, count, execute_once);
	}
	PG_CATCH();
	{
		queryDesc->dest = target;
		if (current != NULL && current != saved)
			flush_exec(current);
		current = saved;
		PG_RE_THROW();
	}
	PG_END_TRY();
	queryDesc->dest = target;
	if (current != NULL && current != saved)
		flush_exec(current);
	current = saved;

	/*
	 * A quota refused a row in this statement, and something (a PL/pgSQL
	 * handler) caught the error: the statement still fails, and its held
	 * output does not leave.
	 */
	if (statement_violated && saved == NULL && s != NULL &&
		statement_started == GetCurrentStatementStartTimestamp())
	{
		if (hold != NULL)
		{
			tuplestore_end(hold->store);
			MemoryContextDelete(hold->cxt);
		}
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("row quota exceeded in this statement"),
				 errdetail("A quota refused a row the statement read; the refusal was caught, the statement is refused still.")));
	}

	if (hold != NULL)
	{
		/* the run ended within every quota: now the rows go */
		if (hold->desc != NULL)
		{
			TupleTableSlot *slot = MakeSingleTupleTableSlot(hold->desc, &TTSOpsMinimalTuple);

			while (tuplestore_gettupleslot(hold->store, true, false, slot))
			{
				if (!target->receiveSlot(slot, target))
					break;
				ExecClearTuple(slot);
			}
			ExecDropSingleTupleTableSlot(slot);
			target->rShutdown(target);
		}
		tuplestore_end(hold->store);
		MemoryContextDelete(hold->cxt);
	}
}

static void
quota_ExecutorEnd(QueryDesc *queryDesc)
{
	if (execs != NULL)
		forget_exec(queryDesc, true);
	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

static void
quota_xact_callback(XactEvent event, void *arg)
{
	/*
	 * A transaction in which a quota refused a row does not commit, however
	 * the refusal was handled (a PL/pgSQL handler, a procedure, a savepoint).
	 */
	if ((event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PRE_PREPARE) && xact_violated)
	{
		xact_violated = false;
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("row quota exceeded in this statement"),
				 errdetail("A quota refused a row this transaction read; a transaction that went over a quota does not commit.")));
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		xact_violated = false;
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		/* executions that failed: their rows were read, and count */
		while (execs != NULL)
		{
			QuotaExec  *q = execs;

			execs = q->next;
			flush_exec(q);
			q->next = spare;
			spare = q;
		}
		current = NULL;
	}
}

void
olink_quota_init(void)
{
	DefineCustomIntVariable("olink.max_quota_counters",
							"How many (counterpart, grant) row counters of the day olink's shared memory holds.",
							NULL,
							&max_quota_counters, 16384, 64, 10000000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = quota_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = quota_shmem_startup;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = quota_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = quota_ExecutorRun;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = quota_ExecutorEnd;
	RegisterXactCallback(quota_xact_callback, NULL);
}
