/*-------------------------------------------------------------------------
 *
 * audit_queue.c
 *		The shared-memory queue that carries audit events from every backend
 *		to olink's audit worker, and the cluster-wide id generator.
 *
 * An audit event must outlive the statement that caused it: a refused
 * statement is rolled back, and with it anything it wrote.  So backends do
 * not write events; they append them to a ring buffer in shared memory, and
 * the audit worker (audit_worker.c) writes them to olink's tables in its
 * own transactions, a batch at a time.
 *
 * Nothing is dropped.  When the ring is full a backend waits for the worker
 * to make room, or fails its statement when olink.queue_full = error, or
 * when the worker is not running (fail closed).  The one exception is an
 * event raised where waiting or failing is impossible (a refused login, an
 * error being reported): if it cannot be queued within a few seconds it is
 * counted, and the worker writes the count as an event of its own, so the
 * loss is on record.
 *
 * The worker takes events out only after it has committed them: it copies
 * entries from the tail, writes them, commits, and only then advances the
 * tail.  A worker that dies mid-batch is restarted and writes the batch
 * again from the same tail.  Backends in olink.audit_durability = sync wait
 * until the tail has passed their event.
 *
 * Ids (statements, sessions, journal rows) come from one 64-bit counter in
 * shared memory, started at the current time in microseconds: ids grow
 * across restarts without any write, as long as fewer than a million are
 * handed out per second on average.  The worker also raises the counter
 * past the largest id it finds in the store when it starts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "olink.h"

typedef struct OlinkQueue
{
	LWLock	   *lock;
	uint64		head;			/* next byte to write */
	uint64		tail;			/* first byte the worker has not committed */
	uint64		events_queued;
	uint64		events_written;
	uint64		lost_events;	/* could not be queued; written as an event */
	pid_t		worker_pid;
	Latch	   *worker_latch;
	TimestampTz last_write;
	TimestampTz last_seal;
	uint64		seal_requested; /* journal seal passes asked for */
	uint64		seal_done;		/* journal seal passes completed */
	bool		fresh;			/* initialised since the worker last attached: a crash lost the queue */
	int64		purge_request;	/* the last purge the worker carried out */
	int64		purge_rows;
	int64		chain_head_id;	/* the last seal the worker committed */
	uint8		chain_head_hash[OLINK_HASH_LEN];
	pg_atomic_uint64 next_id;
	ConditionVariable space_cv; /* the worker made room */
	ConditionVariable written_cv;	/* the worker committed a batch or a seal */
	Size		size;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} OlinkQueue;

/* an entry in the ring: its total length, then the event */
typedef struct QueueEntryHeader
{
	uint32		len;			/* header included, MAXALIGNed */
	uint32		pad;
} QueueEntryHeader;

static OlinkQueue *queue = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* olink.audit_queue_size, in kB */
int			olink_audit_queue_kb = 8192;

static Size
queue_shmem_size(void)
{
	return add_size(offsetof(OlinkQueue, data), (Size) olink_audit_queue_kb * 1024);
}

static void
olink_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(queue_shmem_size());
	RequestNamedLWLockTranche("olink", 1);
}

static void
olink_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	queue = ShmemInitStruct("olink audit queue", queue_shmem_size(), &found);
	if (!found)
	{
		memset(queue, 0, offsetof(OlinkQueue, data));
		queue->lock = &(GetNamedLWLockTranche("olink"))->lock;
		queue->size = (Size) olink_audit_queue_kb * 1024;
		queue->fresh = true;
		pg_atomic_init_u64(&queue->next_id, (uint64) GetCurrentTimestamp());
		ConditionVariableInit(&queue->space_cv);
		ConditionVariableInit(&queue->written_cv);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
olink_queue_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = olink_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = olink_shmem_startup;
}

bool
olink_queue_ready(void)
{
	return queue != NULL;
}

/* ---------------------------------------------------------------------
 * Ids
 * ---------------------------------------------------------------------
 */

int64
olink_next_id(void)
{
	if (queue == NULL)
		elog(ERROR, "olink: shared memory is not initialised");
	return (int64) pg_atomic_fetch_add_u64(&queue->next_id, 1);
}

/* the worker: no id handed out from now on may be at or below floor */
void
olink_id_floor(int64 floor)
{
	uint64		cur = pg_atomic_read_u64(&queue->next_id);

	while (cur <= (uint64) floor)
	{
		if (pg_atomic_compare_exchange_u64(&queue->next_id, &cur, (uint64) floor + 1))
			break;
	}
}

/* ---------------------------------------------------------------------
 * Backends: putting events in
 * ---------------------------------------------------------------------
 */

static void
ring_write(uint64 pos, const char *src, Size len)
{
	Size		off = pos % queue->size;
	Size		first = Min(len, queue->size - off);

	memcpy(queue->data + off, src, first);
	if (first < len)
		memcpy(queue->data, src + first, len - first);
}

static void
ring_read(uint64 pos, char *dst, Size len)
{
	Size		off = pos % queue->size;
	Size		first = Min(len, queue->size - off);

	memcpy(dst, queue->data + off, first);
	if (first < len)
		memcpy(dst + first, queue->data, len - first);
}

static void
wake_worker(void)
{
	Latch	   *latch = queue->worker_latch;

	if (latch != NULL)
		SetLatch(latch);
}

/* work for the audit worker other than the queue (a lockout to hold, say) */
void
olink_queue_wake_worker(void)
{
	if (queue != NULL)
		wake_worker();
}

/* try once; the lock is never held across anything that can fail */
static bool
try_put(const char *event, uint32 len, uint64 *endpos, bool *worker_running)
{
	QueueEntryHeader hdr;
	uint32		total = MAXALIGN(sizeof(QueueEntryHeader) + len);
	bool		ok = false;
	bool		half;

	hdr.len = total;
	hdr.pad = 0;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	if (queue->size - (queue->head - queue->tail) >= total)
	{
		ring_write(queue->head, (const char *) &hdr, sizeof(hdr));
		ring_write(queue->head + sizeof(hdr), event, len);
		queue->head += total;
		queue->events_queued++;
		*endpos = queue->head;
		ok = true;
	}
	*worker_running = queue->worker_pid != 0;
	half = (queue->head - queue->tail) > queue->size / 2;
	LWLockRelease(queue->lock);

	/*
	 * In async mode the worker drains on its own timer, so that a busy
	 * server's events are written in large batches; it is woken early only
	 * when the ring fills up.
	 */
	if (!ok || half || olink_audit_durability == OLINK_DURABILITY_SYNC)
		wake_worker();
	return ok;
}

/*
 * Append one event.  Waits for room (olink.queue_full = wait, the worker
 * running) or fails the statement.  Returns the position the worker must
 * pass for this event to be committed.
 */
uint64
olink_queue_put(const char *event, uint32 len)
{
	uint64		endpos = 0;
	bool		running;
	bool		slept = false;

	if (MAXALIGN(sizeof(QueueEntryHeader) + len) > queue->size / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("audit event of %u bytes is too large for the audit queue", len),
				 errhint("Raise olink.audit_queue_size.")));

	for (;;)
	{
		if (try_put(event, len, &endpos, &running))
			break;
		if (!running)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("audit queue is full and the audit worker is not running"),
					 errdetail("olink refuses statements it cannot audit."),
					 errhint("Check the server log for the olink audit worker.")));
		if (olink_queue_full == OLINK_QUEUE_FULL_ERROR)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("audit queue is full"),
					 errdetail("olink.queue_full is set to \"error\": the statement is refused rather than wait for the audit worker."),
					 errhint("Retry later, or raise olink.audit_queue_size.")));
		ConditionVariablePrepareToSleep(&queue->space_cv);
		slept = true;
		(void) ConditionVariableTimedSleep(&queue->space_cv, 1000, PG_WAIT_EXTENSION);
	}
	if (slept)
		ConditionVariableCancelSleep();
	return endpos;
}

/*
 * Wait without servicing interrupts: for use in error reporting and at
 * process exit, where nothing may be thrown.
 */
static void
sleep_quietly(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
}

/*
 * Append an event where nothing may be thrown.  Waits up to wait_ms for
 * room; if there is none, the loss is counted (and written by the worker
 * as an event of its own).  Returns 0 when the event was not queued.
 */
uint64
olink_queue_put_quietly(const char *event, uint32 len, int wait_ms)
{
	uint64		endpos;
	bool		running;
	int			waited = 0;

	if (queue == NULL)
		return 0;
	if (MAXALIGN(sizeof(QueueEntryHeader) + len) <= queue->size / 2)
	{
		for (;;)
		{
			if (try_put(event, len, &endpos, &running))
				return endpos;
			if (waited >= wait_ms || (!running && waited >= 1000))
				break;
			sleep_quietly(10);
			waited += 10;
		}
	}
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	queue->lost_events++;
	LWLockRelease(queue->lock);
	return 0;
}

/*
 * Wait until the worker has committed everything up to endpos.  Returns
 * false when it did not happen within timeout_ms.  When quietly, no
 * interrupt is serviced (error reporting, process exit).
 */
bool
olink_queue_wait_written(uint64 endpos, int timeout_ms, bool quietly)
{
	TimestampTz start = GetCurrentTimestamp();
	bool		done = false;
	bool		prepared = false;

	for (;;)
	{
		uint64		tail;

		LWLockAcquire(queue->lock, LW_SHARED);
		tail = queue->tail;
		LWLockRelease(queue->lock);
		if (tail >= endpos)
		{
			done = true;
			break;
		}
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(), timeout_ms))
			break;
		wake_worker();
		if (quietly)
			sleep_quietly(5);
		else
		{
			if (!prepared)
			{
				ConditionVariablePrepareToSleep(&queue->written_cv);
				prepared = true;
			}
			(void) ConditionVariableTimedSleep(&queue->written_cv, 100, PG_WAIT_EXTENSION);
		}
	}
	if (prepared)
		ConditionVariableCancelSleep();
	return done;
}

/* the position just past every event queued so far */
uint64
olink_queue_head(void)
{
	uint64		head;

	LWLockAcquire(queue->lock, LW_SHARED);
	head = queue->head;
	LWLockRelease(queue->lock);
	return head;
}

/* ---------------------------------------------------------------------
 * The worker: taking events out
 * ---------------------------------------------------------------------
 */

void
olink_queue_attach_worker(bool attach)
{
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	queue->worker_pid = attach ? MyProcPid : 0;
	queue->worker_latch = attach ? MyLatch : NULL;
	LWLockRelease(queue->lock);
	/* waiters re-check whether anyone will ever make room */
	ConditionVariableBroadcast(&queue->space_cv);
}

/*
 * Copy whole entries from the tail into buf, at most bufsize bytes of
 * events (at least one entry, when any is queued).  The entries stay in the
 * ring until olink_queue_release().  *endpos is where the copied entries
 * end; returns the number of events copied, each stored in buf as
 * uint32 length + event, 4-byte aligned... see OLINK_NEXT_EVENT.
 */
int
olink_queue_peek(StringInfo buf, Size max_bytes, uint64 *endpos, uint64 *lost)
{
	uint64		pos;
	uint64		head;
	int			n = 0;

	LWLockAcquire(queue->lock, LW_SHARED);
	pos = queue->tail;
	head = queue->head;
	*lost = queue->lost_events;
	while (pos < head && (n == 0 || (Size) buf->len < max_bytes))
	{
		QueueEntryHeader hdr;
		uint32		len;

		ring_read(pos, (char *) &hdr, sizeof(hdr));
		len = hdr.len - sizeof(hdr);
		enlargeStringInfo(buf, len + sizeof(uint32) + 8);
		/* keep every event 8-byte aligned in buf */
		buf->len = MAXALIGN(buf->len);
		memcpy(buf->data + buf->len, &len, sizeof(uint32));
		buf->len += MAXALIGN(sizeof(uint32));
		ring_read(pos + sizeof(hdr), buf->data + buf->len, len);
		buf->len += len;
		pos += hdr.len;
		n++;
	}
	LWLockRelease(queue->lock);
	*endpos = pos;
	return n;
}

/* the events up to endpos are committed: make room and tell the waiters */
void
olink_queue_release(uint64 endpos, int nevents, uint64 lost_written)
{
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	Assert(endpos >= queue->tail && endpos <= queue->head);
	queue->tail = endpos;
	queue->events_written += nevents;
	queue->lost_events -= Min(lost_written, queue->lost_events);
	queue->last_write = GetCurrentTimestamp();
	LWLockRelease(queue->lock);
	ConditionVariableBroadcast(&queue->space_cv);
	ConditionVariableBroadcast(&queue->written_cv);
}

/* journal sealing: asked for by verify_audit() and flush_audit() */
uint64
olink_seal_requested(void)
{
	uint64		r;

	LWLockAcquire(queue->lock, LW_SHARED);
	r = queue->seal_requested;
	LWLockRelease(queue->lock);
	return r;
}

void
olink_seal_completed(uint64 request)
{
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	if (request > queue->seal_done)
		queue->seal_done = request;
	queue->last_seal = GetCurrentTimestamp();
	LWLockRelease(queue->lock);
	ConditionVariableBroadcast(&queue->written_cv);
}

/*
 * Write everything queued so far and seal every committed journal row;
 * true when done within timeout_ms.
 */
bool
olink_audit_settle(int timeout_ms)
{
	uint64		head = olink_queue_head();
	uint64		request;
	TimestampTz start = GetCurrentTimestamp();
	bool		done = false;

	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	request = ++queue->seal_requested;
	LWLockRelease(queue->lock);

	if (!olink_queue_wait_written(head, timeout_ms, false))
		return false;

	ConditionVariablePrepareToSleep(&queue->written_cv);
	for (;;)
	{
		uint64		sealed;

		LWLockAcquire(queue->lock, LW_SHARED);
		sealed = queue->seal_done;
		LWLockRelease(queue->lock);
		if (sealed >= request)
		{
			done = true;
			break;
		}
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(), timeout_ms))
			break;
		wake_worker();
		(void) ConditionVariableTimedSleep(&queue->written_cv, 100, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	return done;
}

void
olink_chain_head(int64 *seal_id, uint8 *hash)
{
	LWLockAcquire(queue->lock, LW_SHARED);
	*seal_id = queue->chain_head_id;
	memcpy(hash, queue->chain_head_hash, OLINK_HASH_LEN);
	LWLockRelease(queue->lock);
}

void
olink_set_chain_head(int64 seal_id, const uint8 *hash)
{
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	queue->chain_head_id = seal_id;
	memcpy(queue->chain_head_hash, hash, OLINK_HASH_LEN);
	LWLockRelease(queue->lock);
}

/* was shared memory initialised since the worker last looked?  (once true after each start) */
bool
olink_queue_take_fresh(void)
{
	bool		fresh;

	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	fresh = queue->fresh;
	queue->fresh = false;
	LWLockRelease(queue->lock);
	return fresh;
}

void
olink_purge_done(int64 request, int64 rows)
{
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	queue->purge_request = request;
	queue->purge_rows = rows;
	LWLockRelease(queue->lock);
}

bool
olink_purge_result(int64 request, int64 *rows)
{
	bool		done;

	LWLockAcquire(queue->lock, LW_SHARED);
	done = queue->purge_request == request;
	*rows = queue->purge_rows;
	LWLockRelease(queue->lock);
	return done;
}

bool
olink_worker_running(void)
{
	bool		r;

	LWLockAcquire(queue->lock, LW_SHARED);
	r = queue->worker_pid != 0;
	LWLockRelease(queue->lock);
	return r;
}

/* ---------------------------------------------------------------------
 * SQL-callable
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(olink_flush_audit);
PG_FUNCTION_INFO_V1(olink_audit_status);

/* olink.flush_audit(timeout): every event queued so far written and sealed */
Datum
olink_flush_audit(PG_FUNCTION_ARGS)
{
	Interval   *timeout = PG_GETARG_INTERVAL_P(0);
	int64		ms;

	ms = (timeout->time + (int64) timeout->day * USECS_PER_DAY +
		  (int64) timeout->month * DAYS_PER_MONTH * USECS_PER_DAY) / 1000;
	if (ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must not be negative")));
	if (!olink_audit_settle((int) Min(ms, INT_MAX)))
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("audit events were not written within the timeout"),
				 olink_worker_running() ?
				 errdetail("The audit worker is running but behind.") :
				 errdetail("The audit worker is not running."),
				 errhint("See olink.audit_status() and the server log.")));
	PG_RETURN_VOID();
}

Datum
olink_audit_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[8];
	bool		nulls[8] = {0};
	OlinkQueue	copy;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	LWLockAcquire(queue->lock, LW_SHARED);
	memcpy(&copy, queue, offsetof(OlinkQueue, data));
	LWLockRelease(queue->lock);

	values[0] = Int64GetDatum((int64) copy.size);
	values[1] = Int64GetDatum((int64) (copy.head - copy.tail));
	values[2] = Int64GetDatum((int64) copy.events_queued);
	values[3] = Int64GetDatum((int64) copy.events_written);
	values[4] = Int32GetDatum((int32) copy.worker_pid);
	nulls[4] = copy.worker_pid == 0;
	values[5] = TimestampTzGetDatum(copy.last_write);
	nulls[5] = copy.last_write == 0;
	values[6] = TimestampTzGetDatum(copy.last_seal);
	nulls[6] = copy.last_seal == 0;
	values[7] = Int64GetDatum((int64) copy.lost_events);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
