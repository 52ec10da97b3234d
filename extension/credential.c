/*-------------------------------------------------------------------------
 *
 * credential.c
 *		The door: who may log in as a counterpart, from where, with what;
 *		the password policy; and cutting live sessions off at once.
 *
 * ClientAuthentication_hook runs before the backend has a database: only
 * shared catalogs can be read there.  What the door needs of olink's
 * registry (credentials and their standing, terminals, certificates) is
 * therefore copied into shared memory.  The copy is rebuilt by every
 * transaction that changes the registry, read with the latest snapshot at
 * PRE_COMMIT and published at COMMIT while the transaction still holds the
 * lock that serialises rebuilders, and by the audit worker when it starts.
 * Until a copy exists (just after start, or with the extension dropped),
 * counterpart logins are refused: olink cannot decide, so it says no.
 *
 * Publishing a copy also scans the session slots: every live counterpart
 * session whose credential, counterpart, terminal or certificate lost its
 * standing in the new copy is marked and sent SIGTERM, so an idle session
 * ends at once and a running one at its next interrupt check.  The mark is
 * read again at each statement (enforce.c), in case the signal is slow.
 *
 * The password policy is applied in check_password_hook, for passwords set
 * through olink._set_password(); any other way of setting the password of
 * a counterpart login (ALTER ROLE ... PASSWORD, in any database) is refused.
 * Past passwords are kept as SCRAM-SHA-256 secrets, never as plaintext.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>

#ifdef USE_OPENSSL
#include <openssl/evp.h>
#include <openssl/x509.h>
#endif

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_namespace.h"
#include "common/ip.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/user.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/auth.h"
#include "libpq/hba.h"
#include "libpq/libpq-be.h"
#include "libpq/scram.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/guc.h"
#include "utils/inet.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "olink.h"

PG_FUNCTION_INFO_V1(olink_set_password);
PG_FUNCTION_INFO_V1(olink_clear_lockout);
PG_FUNCTION_INFO_V1(olink_set_valid_until);
PG_FUNCTION_INFO_V1(olink_lockouts);
PG_FUNCTION_INFO_V1(olink_change_password);

/* settings */
int			olink_lockout_attempts = 5;
int			olink_lockout_duration = 30 * 60;	/* seconds */
int			olink_password_min_length = 12;
int			olink_password_min_classes = 3;
int			olink_password_history = 5;
int			olink_password_max_age = 90 * 86400;	/* seconds; 0: no expiry */
static int	olink_alert_threshold = 80;
static int	max_credentials = 1000;
static int	max_terminals = 500;

#define MAX_TERMINAL_ADDRESSES	16
#define FINGERPRINT_LEN			32	/* SHA-256 */

typedef struct AuthCidr
{
	uint8		family;			/* PGSQL_AF_INET or PGSQL_AF_INET6 */
	uint8		bits;
	uint8		addr[16];
} AuthCidr;

typedef struct AuthCredential
{
	Oid			login;
	int64		credential_id;
	int64		counterpart_id;
	char		status;			/* a active, r revoked, p password invalidated */
	bool		counterpart_active;
	int			max_connections;	/* the counterpart's limits; 0: none */
	int			max_statements_per_minute;
} AuthCredential;

/* the load of one counterpart, counted where its statements start */
typedef struct CounterpartLoad
{
	int64		counterpart_id; /* 0: free */
	slock_t		mutex;
	int64		minute;			/* the minute (since the epoch) count is for */
	int			count;
	int64		hour;			/* the same by the hour and by the (UTC) day */
	int64		hour_count;
	int64		day;
	int64		day_count;
	int64		statements;		/* since the server started */
	int64		refused;		/* statements refused by the rate limit */
} CounterpartLoad;

typedef struct AuthTerminal
{
	int64		terminal_id;
	int64		counterpart_id;
	char		name[NAMEDATALEN];
	bool		dedicated_line;
	bool		local_connections;
	char		certificate;	/* 0 none, v valid, x invalidated */
	uint8		fingerprint[FINGERPRINT_LEN];
	int			naddresses;
	AuthCidr	addresses[MAX_TERMINAL_ADDRESSES];
} AuthTerminal;

typedef struct Lockout
{
	Oid			login;			/* InvalidOid: free */
	int			failures;		/* consecutive */
	TimestampTz locked_until;	/* 0: not locked */
} Lockout;

/* one per PGPROC: a live counterpart session */
typedef struct SessionSlot
{
	pid_t		pid;			/* 0: free */
	Oid			login;
	int64		counterpart_id;
	int64		terminal_id;
	bool		has_certificate;
	uint8		fingerprint[FINGERPRINT_LEN];
	bool		network;		/* else a Unix socket */
	bool		ssl;
	AuthCidr	client;
	TimestampTz since;
	volatile bool cut_off;
	char		reason[128];
	/* kept by the session itself, read by olink.sessions */
	int			load_index;		/* its counterpart's CounterpartLoad */
	int			max_statements_per_minute;	/* refreshed by each publish */
	TimestampTz last_statement_at;
	int64		statements;
	char		purpose[64];
} SessionSlot;

typedef struct AuthShared
{
	LWLock	   *lock;
	bool		loaded;			/* a copy of the registry is in place */
	uint64		generation;
	int			ncredentials;
	int			nterminals;
	int			nslots;
	TimestampTz started;		/* when these counters began (shared memory made) */
	/* lockouts whose password the audit worker is to hold expired, or let go */
	bool		lockout_changed;	/* one started, or was cleared */
	bool		lockouts_restored;	/* held ones read back from olink.credential */
	TimestampTz next_release;	/* the earliest held one ends (0: none) */
	AuthCredential *credentials;
	AuthTerminal *terminals;
	Lockout    *lockouts;		/* max_credentials of them */
	CounterpartLoad *loads;		/* max_credentials of them */
	SessionSlot *slots;
} AuthShared;

/* a copy being built, before it is published */
typedef struct AuthCopy
{
	bool		loaded;
	int			ncredentials;
	int			nterminals;
	AuthCredential *credentials;
	AuthTerminal *terminals;
} AuthCopy;

static AuthShared *auth = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static check_password_hook_type prev_check_password_hook = NULL;

/* this backend's slot, when it is a counterpart session */
static SessionSlot *my_slot = NULL;

/* the registry changed in this transaction; the copy to publish at commit */
static bool registry_dirty = false;
static AuthCopy *pending_copy = NULL;

/*
 * Lockouts cleared by this transaction (unlock_credential, issue_credential):
 * cleared in shared memory when it commits, forgotten if it, or the
 * subtransaction that cleared them, aborts.
 */
typedef struct PendingUnlock
{
	Oid			login;
	SubTransactionId subid;
} PendingUnlock;
static List *pending_unlocks = NIL;

/* set by olink._set_password() around its ALTER ROLE */
static const char *expected_login = NULL;
static const char *expected_counterpart = NULL;
static const char *expected_attestation = NULL;
static bool policy_applied = false;

/* why olink refused this login (for the connection log), or a note on a failed one */
char	   *olink_auth_refusal = NULL;

static int
slot_count(void)
{
	return MaxBackends + NUM_AUXILIARY_PROCS;
}

static Size
auth_shmem_size(void)
{
	Size		size = MAXALIGN(sizeof(AuthShared));

	size = add_size(size, MAXALIGN(mul_size(max_credentials, sizeof(AuthCredential))));
	size = add_size(size, MAXALIGN(mul_size(max_terminals, sizeof(AuthTerminal))));
	size = add_size(size, MAXALIGN(mul_size(max_credentials, sizeof(Lockout))));
	size = add_size(size, MAXALIGN(mul_size(max_credentials, sizeof(CounterpartLoad))));
	size = add_size(size, MAXALIGN(mul_size(slot_count(), sizeof(SessionSlot))));
	return size;
}

static void
auth_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(auth_shmem_size());
	RequestNamedLWLockTranche("olink credentials", 1);
}

static void
auth_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	auth = ShmemInitStruct("olink credentials", auth_shmem_size(), &found);
	if (!found)
	{
		char	   *p = (char *) auth;

		memset(auth, 0, auth_shmem_size());
		auth->lock = &(GetNamedLWLockTranche("olink credentials"))->lock;
		auth->nslots = slot_count();
		auth->started = GetCurrentTimestamp();
		p += MAXALIGN(sizeof(AuthShared));
		auth->credentials = (AuthCredential *) p;
		p += MAXALIGN(mul_size(max_credentials, sizeof(AuthCredential)));
		auth->terminals = (AuthTerminal *) p;
		p += MAXALIGN(mul_size(max_terminals, sizeof(AuthTerminal)));
		auth->lockouts = (Lockout *) p;
		p += MAXALIGN(mul_size(max_credentials, sizeof(Lockout)));
		auth->loads = (CounterpartLoad *) p;
		for (int i = 0; i < max_credentials; i++)
			SpinLockInit(&auth->loads[i].mutex);
		p += MAXALIGN(mul_size(max_credentials, sizeof(CounterpartLoad)));
		auth->slots = (SessionSlot *) p;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* ---------------------------------------------------------------------
 * The copy of the registry
 * ---------------------------------------------------------------------
 */

static SPITupleTable *
latest_query(const char *sql)
{
	SPIPlanPtr	plan = SPI_prepare(sql, 0, NULL);
	int			rc;

	if (plan == NULL)
		elog(ERROR, "olink: could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	/* the latest snapshot: a REPEATABLE READ transaction must not publish an old registry */
	rc = SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(), InvalidSnapshot,
							  true, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "olink: registry query failed: %s", SPI_result_code_string(rc));
	return SPI_tuptable;
}

static void
read_cidrs(AuthTerminal *t, Datum arr)
{
	ArrayType  *a = DatumGetArrayTypeP(arr);
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(a, CIDROID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n > MAX_TERMINAL_ADDRESSES)
		n = MAX_TERMINAL_ADDRESSES;	/* the table's CHECK keeps this from happening */
	t->naddresses = 0;
	for (int i = 0; i < n; i++)
	{
		inet	   *ip;
		AuthCidr   *c;

		if (nulls[i])
			continue;
		ip = DatumGetInetPP(elems[i]);
		c = &t->addresses[t->naddresses++];
		c->family = ip_family(ip);
		c->bits = ip_bits(ip);
		memset(c->addr, 0, sizeof(c->addr));
		memcpy(c->addr, ip_addr(ip), ip_addrsize(ip));
	}
}

static void
read_fingerprint(const char *hex, uint8 *out)
{
	for (int i = 0; i < FINGERPRINT_LEN; i++)
	{
		unsigned int b;

		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			elog(ERROR, "olink: malformed certificate fingerprint in olink.terminal");
		out[i] = (uint8) b;
	}
}

/* the registry holds more than the shared copy has room for: refused (the change, or the load) */
static void
check_capacity(uint64 n, int max, const char *what)
{
	if (n > (uint64) max)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("olink holds %llu %s, more than olink.max_%s (%d)",
						(unsigned long long) n, what, what, max),
				 errhint("Raise olink.max_%s and restart the server.", what)));
}

/*
 * Reads the registry into a new copy, in CurrentMemoryContext.  Needs a
 * transaction; connects to SPI itself.  Without the extension (dropped, or
 * not yet created) the copy is "not loaded": counterparts are refused.
 */
static AuthCopy *
read_registry(void)
{
	AuthCopy   *copy = palloc0(sizeof(AuthCopy));
	Oid			nsp = get_namespace_oid("olink", true);
	SPITupleTable *tt;
	MemoryContext cxt = CurrentMemoryContext;
	OlinkOwnQuery own;

	if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("terminal", nsp)) ||
		!OidIsValid(get_relname_relid("credential", nsp)))
		return copy;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "olink: SPI_connect failed");
	olink_own_enter(&own);
	PG_TRY();
	{
		tt = latest_query("SELECT cr.login::oid, cr.credential_id, cr.counterpart_id, "
						  "       left(cr.status, 1), c.status = 'active', "
						  "       coalesce(c.max_connections, 0), coalesce(c.max_statements_per_minute, 0) "
						  "  FROM olink.credential cr JOIN olink.counterpart c USING (counterpart_id)");
		check_capacity(tt->numvals, max_credentials, "credentials");
		copy->ncredentials = (int) tt->numvals;
		copy->credentials = MemoryContextAllocZero(cxt, sizeof(AuthCredential) * (copy->ncredentials + 1));
		for (uint64 i = 0; i < tt->numvals; i++)
		{
			HeapTuple	tup = tt->vals[i];
			TupleDesc	desc = tt->tupdesc;
			AuthCredential *c = &copy->credentials[i];
			bool		isnull;
			char	   *st;

			c->login = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
			c->credential_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			c->counterpart_id = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
			st = SPI_getvalue(tup, desc, 4);
			c->status = st ? st[0] : 'r';
			c->counterpart_active = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
			c->max_connections = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
			c->max_statements_per_minute = DatumGetInt32(SPI_getbinval(tup, desc, 7, &isnull));
		}

		tt = latest_query("SELECT terminal_id, counterpart_id, name, dedicated_line, local_connections, "
						  "       certificate_fingerprint, left(certificate_status, 1), addresses "
						  "  FROM olink.terminal WHERE status = 'active'");
		check_capacity(tt->numvals, max_terminals, "terminals");
		copy->nterminals = (int) tt->numvals;
		copy->terminals = MemoryContextAllocZero(cxt, sizeof(AuthTerminal) * (copy->nterminals + 1));
		for (uint64 i = 0; i < tt->numvals; i++)
		{
			HeapTuple	tup = tt->vals[i];
			TupleDesc	desc = tt->tupdesc;
			AuthTerminal *t = &copy->terminals[i];
			bool		isnull;
			char	   *s;
			Datum		d;

			t->terminal_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
			t->counterpart_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			s = SPI_getvalue(tup, desc, 3);
			strlcpy(t->name, s ? s : "?", NAMEDATALEN);
			t->dedicated_line = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
			t->local_connections = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
			s = SPI_getvalue(tup, desc, 6);
			if (s != NULL)
			{
				char	   *st = SPI_getvalue(tup, desc, 7);

				read_fingerprint(s, t->fingerprint);
				t->certificate = (st && st[0] == 'v') ? 'v' : 'x';
			}
			d = SPI_getbinval(tup, desc, 8, &isnull);
			if (!isnull)
				read_cidrs(t, d);
		}
		copy->loaded = true;
	}
	PG_CATCH();
	{
		olink_own_abort(&own);
		PG_RE_THROW();
	}
	PG_END_TRY();
	olink_own_leave(&own);
	SPI_finish();
	return copy;
}

static AuthCredential *
find_credential(Oid login)
{
	for (int i = 0; i < auth->ncredentials; i++)
		if (auth->credentials[i].login == login)
			return &auth->credentials[i];
	return NULL;
}

static AuthTerminal *
find_terminal(int64 terminal_id)
{
	for (int i = 0; i < auth->nterminals; i++)
		if (auth->terminals[i].terminal_id == terminal_id)
			return &auth->terminals[i];
	return NULL;
}

static bool cidr_contains(const AuthCidr *net, const AuthCidr *host);

/* why a live session no longer stands, under the published copy; NULL if it does */
static const char *
slot_standing(SessionSlot *slot)
{
	AuthCredential *c;
	AuthTerminal *t;

	if (!auth->loaded)
		return "olink's registry is no longer available";
	c = find_credential(slot->login);
	if (c == NULL || c->status == 'r')
		return "its credential was revoked";
	if (c->status == 'p')
		return "its password was invalidated";
	if (!c->counterpart_active)
		return "its counterpart was suspended";
	t = find_terminal(slot->terminal_id);
	if (t == NULL)
		return "its terminal was removed";
	if (slot->has_certificate &&
		(t->certificate != 'v' || memcmp(t->fingerprint, slot->fingerprint, FINGERPRINT_LEN) != 0))
		return "its client certificate was invalidated";
	if (!slot->has_certificate && t->certificate != 0)
		return "its terminal now requires a client certificate";
	if (slot->network)
	{
		bool		matched = false;

		for (int k = 0; k < t->naddresses && !matched; k++)
			matched = cidr_contains(&t->addresses[k], &slot->client);
		if (!matched)
			return "its terminal no longer includes its address";
		if (!t->dedicated_line && !slot->ssl)
			return "its terminal now requires TLS";
	}
	else if (!t->local_connections)
		return "its terminal no longer allows local connections";
	return NULL;
}

/*
 * Puts a copy in place and cuts off the sessions that lost their standing.
 * The caller holds the rebuild lock (or is the worker at start), so copies
 * are published in commit order.
 */
static void
publish(AuthCopy *copy)
{
	pid_t	   *victims;
	int			nvictims = 0;

	victims = palloc(sizeof(pid_t) * slot_count() * 2);
	LWLockAcquire(auth->lock, LW_EXCLUSIVE);
	auth->loaded = copy->loaded;
	auth->ncredentials = copy->ncredentials;
	auth->nterminals = copy->nterminals;
	if (copy->ncredentials > 0)
		memcpy(auth->credentials, copy->credentials, sizeof(AuthCredential) * copy->ncredentials);
	if (copy->nterminals > 0)
		memcpy(auth->terminals, copy->terminals, sizeof(AuthTerminal) * copy->nterminals);
	auth->generation++;

	for (int i = 0; i < auth->nslots; i++)
	{
		SessionSlot *slot = &auth->slots[i];
		const char *why;

		if (slot->pid == 0 || slot->cut_off)
			continue;
		{
			AuthCredential *cr = find_credential(slot->login);

			if (cr != NULL)
				slot->max_statements_per_minute = cr->max_statements_per_minute;
		}
		why = slot_standing(slot);
		if (why == NULL)
			continue;
		strlcpy(slot->reason, why, sizeof(slot->reason));
		pg_write_barrier();
		slot->cut_off = true;
		victims[nvictims++] = slot->pid;
	}

	/*
	 * Sessions of a credential's login that never passed the door: they
	 * logged in before the login was registered (or while no copy was in
	 * place and it was not in olink_counterpart).  They go too.
	 */
	for (int i = 0; i < MaxBackends && i < auth->nslots; i++)
	{
		PGPROC	   *proc = &ProcGlobal->allProcs[i];
		int			pid = proc->pid;
		AuthCredential *c;

		/* parallel workers carry their leader's role; the leader's slot speaks for them */
		if (pid == 0 || pid == MyProcPid || auth->slots[i].pid == pid || proc->isBackgroundWorker)
			continue;
		c = find_credential(proc->roleId);
		if (c == NULL)
			continue;
		victims[nvictims++] = pid;
	}
	LWLockRelease(auth->lock);
	/* olink dropped: its check-outs go with it */
	if (!copy->loaded)
	{
		olink_checkout_reset();
		olink_quota_reset();
	}

	for (int i = 0; i < nvictims; i++)
	{
		if (victims[i] == MyProcPid)
			continue;			/* this one finds out at its next statement */
		if (kill(victims[i], SIGTERM) != 0 && errno != ESRCH)
			ereport(WARNING,
					(errmsg("olink: could not signal process %d: %m", (int) victims[i])));
	}
	pfree(victims);
}

/* the rebuild lock: an object lock nobody else takes, held to the end of the transaction */
static void
lock_rebuild(void)
{
	LockDatabaseObject(NamespaceRelationId, get_namespace_oid("olink", false), 0x6f6c, ExclusiveLock);
}

/* the registry trigger: a change to credentials, counterparts or terminals */
void
olink_credentials_changed(void)
{
	registry_dirty = true;
}

/* is this login a registered credential (of any standing)?  For logins no longer in olink_counterpart */
bool
olink_auth_is_credential(Oid login)
{
	bool		found;

	if (auth == NULL || !OidIsValid(login))
		return false;
	LWLockAcquire(auth->lock, LW_SHARED);
	found = find_credential(login) != NULL;
	LWLockRelease(auth->lock);
	return found;
}

bool
olink_auth_loaded(void)
{
	return auth != NULL && auth->loaded;
}

/* the audit worker, at start and whenever no copy is in place; in a transaction */
void
olink_auth_load(void)
{
	AuthCopy   *copy;

	if (auth == NULL)
		return;
	if (OidIsValid(get_namespace_oid("olink", true)))
		lock_rebuild();
	copy = read_registry();
	if (copy->loaded)
		publish(copy);
}

static Lockout *lockout_entry(Oid login, bool create);

/* at commit: the lockouts this transaction cleared */
static void
clear_lockouts_now(void)
{
	ListCell   *lc;

	LWLockAcquire(auth->lock, LW_EXCLUSIVE);
	foreach(lc, pending_unlocks)
	{
		Lockout    *l = lockout_entry(((PendingUnlock *) lfirst(lc))->login, false);

		if (l != NULL)
		{
			l->login = InvalidOid;
			l->failures = 0;
			l->locked_until = 0;
		}
	}
	/* a hold the transaction did not let go itself: the worker does */
	auth->lockout_changed = true;
	LWLockRelease(auth->lock);
	pending_unlocks = NIL;
	olink_queue_wake_worker();
}

static void
credential_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event != SUBXACT_EVENT_ABORT_SUB || pending_unlocks == NIL)
		return;
	foreach(lc, pending_unlocks)
	{
		if (((PendingUnlock *) lfirst(lc))->subid >= mySubid)
			pending_unlocks = foreach_delete_current(pending_unlocks, lc);
	}
}

static void
credential_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (registry_dirty && auth != NULL)
			{
				/* the last statement's own changes, in autocommit too */
				CommandCounterIncrement();
				if (OidIsValid(get_namespace_oid("olink", true)))
					lock_rebuild();
				{
					MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

					pending_copy = read_registry();
					MemoryContextSwitchTo(old);
				}
			}
			break;
		case XACT_EVENT_COMMIT:
			/* the lock is still held: locks are released after these callbacks */
			if (pending_copy != NULL)
				publish(pending_copy);
			pending_copy = NULL;
			registry_dirty = false;
			if (pending_unlocks != NIL)
				clear_lockouts_now();
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (registry_dirty || pending_unlocks != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that changed olink's registry")));
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			pending_copy = NULL;
			registry_dirty = false;
			pending_unlocks = NIL;
			break;
		default:
			break;
	}
}

/* ---------------------------------------------------------------------
 * At the door
 * ---------------------------------------------------------------------
 */

static Lockout *
lockout_entry(Oid login, bool create)
{
	Lockout    *free_entry = NULL;
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < max_credentials; i++)
	{
		Lockout    *l = &auth->lockouts[i];

		if (l->login == login)
			return l;
		if (free_entry == NULL &&
			(l->login == InvalidOid || (l->failures == 0 && l->locked_until < now)))
			free_entry = l;
	}
	if (create && free_entry != NULL)
	{
		free_entry->login = login;
		free_entry->failures = 0;
		free_entry->locked_until = 0;
		return free_entry;
	}
	return NULL;
}

static const char *
address_text(Port *port)
{
	static char buf[NI_MAXHOST];

	buf[0] = '\0';
	if (pg_getnameinfo_all(&port->raddr.addr, port->raddr.salen, buf, sizeof(buf),
						   NULL, 0, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		strlcpy(buf, "?", sizeof(buf));
	return buf;
}

/* the client's address as family and bytes; false for a Unix socket */
static bool
client_cidr(Port *port, AuthCidr *out)
{
	const struct sockaddr *sa = (const struct sockaddr *) &port->raddr.addr;

	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET)
	{
		out->family = PGSQL_AF_INET;
		out->bits = 32;
		memcpy(out->addr, &((const struct sockaddr_in *) sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6)
	{
		const uint8 *a = (const uint8 *) &((const struct sockaddr_in6 *) sa)->sin6_addr;
		static const uint8 v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

		if (memcmp(a, v4mapped, 12) == 0)
		{
			out->family = PGSQL_AF_INET;
			out->bits = 32;
			memcpy(out->addr, a + 12, 4);
		}
		else
		{
			out->family = PGSQL_AF_INET6;
			out->bits = 128;
			memcpy(out->addr, a, 16);
		}
		return true;
	}
	return false;
}

static bool
cidr_contains(const AuthCidr *net, const AuthCidr *host)
{
	int			bits = net->bits;
	int			bytes = bits / 8;

	if (net->family != host->family)
		return false;
	if (memcmp(net->addr, host->addr, bytes) != 0)
		return false;
	if (bits % 8 != 0)
	{
		uint8		mask = (uint8) (0xff << (8 - bits % 8));

		if ((net->addr[bytes] & mask) != (host->addr[bytes] & mask))
			return false;
	}
	return true;
}

static bool
peer_fingerprint(Port *port, uint8 *out)
{
#ifdef USE_OPENSSL
	unsigned int len = 0;

	if (port->peer == NULL)
		return false;
	if (!X509_digest(port->peer, EVP_sha256(), out, &len) || len != FINGERPRINT_LEN)
		return false;
	return true;
#else
	return false;
#endif
}

static const char *
hex_fingerprint(const uint8 *fp)
{
	static char buf[FINGERPRINT_LEN * 2 + 1];

	for (int i = 0; i < FINGERPRINT_LEN; i++)
		snprintf(buf + 2 * i, 3, "%02x", fp[i]);
	return buf;
}

/* the load entry of a counterpart, made if need be; -1 when there is no room.  Lock held */
static int
load_entry(int64 counterpart_id)
{
	int			free_index = -1;

	for (int i = 0; i < max_credentials; i++)
	{
		if (auth->loads[i].counterpart_id == counterpart_id)
			return i;
		if (free_index < 0 && auth->loads[i].counterpart_id == 0)
			free_index = i;
	}
	if (free_index >= 0)
	{
		CounterpartLoad *load = &auth->loads[free_index];

		SpinLockAcquire(&load->mutex);
		load->counterpart_id = counterpart_id;
		load->minute = 0;
		load->count = 0;
		load->statements = 0;
		load->refused = 0;
		SpinLockRelease(&load->mutex);
	}
	return free_index;
}

/*
 * A counterpart login whose authentication succeeded: may it come in?
 * Returns NULL and fills the session slot when it may, else the reason
 * (for the connection log and the server log, never for the client).
 */
static char *
admit(Port *port, Oid login, TimestampTz valid_until, char *terminal_out, size_t terminal_len)
{
	AuthCredential *c;
	Lockout    *l;
	TimestampTz now = GetCurrentTimestamp();
	AuthCidr	client;
	bool		network;
	bool		any_matched = false;
	char	   *reason = NULL;
	uint8		fp[FINGERPRINT_LEN];
	bool		has_fp;
	AuthTerminal *admitted = NULL;

	/* olink enforces and audits only in its own database */
	if (olink_database != NULL && strcmp(port->database_name, olink_database) != 0)
		return psprintf("counterpart logins may connect only to database \"%s\"", olink_database);
	if (!auth->loaded)
		return pstrdup("olink has not loaded its registry (the audit worker loads it at start, in olink.database)");
	c = find_credential(login);
	if (c == NULL)
		return pstrdup("the login is a member of olink_counterpart but not a registered credential");
	if (c->status == 'r')
		return pstrdup("the credential is revoked");
	if (c->status == 'p')
		return pstrdup("the credential's password is invalidated");
	if (!c->counterpart_active)
		return pstrdup("the counterpart is suspended");

	l = lockout_entry(login, false);
	if (l != NULL && l->locked_until > now)
		return psprintf("the credential is locked after %d failed logins, until %s",
						l->failures, timestamptz_to_str(l->locked_until));

	/* expiry: password methods check it before us, certificate authentication does not */
	if (valid_until != 0 && valid_until < now)
		return psprintf("the password expired at %s", timestamptz_to_str(valid_until));

	network = client_cidr(port, &client);
	has_fp = peer_fingerprint(port, fp);
	for (int i = 0; i < auth->nterminals && admitted == NULL; i++)
	{
		AuthTerminal *t = &auth->terminals[i];
		bool		matched = false;

		if (t->counterpart_id != c->counterpart_id)
			continue;
		if (!network)
			matched = t->local_connections;
		else
			for (int k = 0; k < t->naddresses && !matched; k++)
				matched = cidr_contains(&t->addresses[k], &client);
		if (!matched)
			continue;
		any_matched = true;
		if (network && !t->dedicated_line && !port->ssl_in_use)
			reason = psprintf("terminal \"%s\" is not on a dedicated line, and the connection does not use TLS",
							  t->name);
		else if (t->certificate != 0 && !has_fp)
			reason = psprintf("terminal \"%s\" requires its client certificate, and none was presented", t->name);
		else if (t->certificate != 0 && memcmp(fp, t->fingerprint, FINGERPRINT_LEN) != 0)
			reason = psprintf("the client certificate (SHA-256 %s) is not the one registered for terminal \"%s\"",
							  hex_fingerprint(fp), t->name);
		else if (t->certificate == 'x')
			reason = psprintf("the client certificate of terminal \"%s\" is invalidated", t->name);
		else
			admitted = t;
	}
	if (admitted == NULL)
	{
		if (!any_matched)
			reason = network ?
				psprintf("address %s is not a registered terminal of the login's counterpart", address_text(port)) :
				pstrdup("a Unix-socket connection, and no terminal of the login's counterpart allows local connections");
		return reason;
	}

	if (c->max_connections > 0)
	{
		int			n = 0;

		for (int i = 0; i < auth->nslots; i++)
			if (auth->slots[i].pid != 0 && !auth->slots[i].cut_off &&
				auth->slots[i].counterpart_id == c->counterpart_id)
				n++;
		if (n >= c->max_connections)
			return psprintf("the counterpart has %d sessions, its limit (max_connections)", n);
	}

	strlcpy(terminal_out, admitted->name, terminal_len);
	if (l != NULL)
	{
		l->failures = 0;
		l->locked_until = 0;
	}
	if (MyProc != NULL && MyProc->pgprocno < auth->nslots)
	{
		SessionSlot *slot = &auth->slots[MyProc->pgprocno];

		slot->login = login;
		slot->counterpart_id = c->counterpart_id;
		slot->terminal_id = admitted->terminal_id;
		slot->has_certificate = admitted->certificate != 0;
		memcpy(slot->fingerprint, fp, FINGERPRINT_LEN);
		slot->network = network;
		slot->ssl = port->ssl_in_use;
		slot->client = client;
		slot->since = MyStartTimestamp;
		slot->reason[0] = '\0';
		slot->load_index = load_entry(c->counterpart_id);
		if (slot->load_index < 0 && c->max_statements_per_minute > 0)
		{
			slot->pid = 0;
			my_slot = NULL;
			return pstrdup("no room to count the counterpart's statements (olink.max_credentials)");
		}
		slot->max_statements_per_minute = c->max_statements_per_minute;
		slot->last_statement_at = 0;
		slot->statements = 0;
		slot->purpose[0] = '\0';
		slot->cut_off = false;
		slot->pid = MyProcPid;
		my_slot = slot;
	}
	return NULL;
}

static void
release_slot(int code, Datum arg)
{
	if (my_slot != NULL)
	{
		LWLockAcquire(auth->lock, LW_EXCLUSIVE);
		my_slot->pid = 0;
		my_slot->cut_off = false;
		LWLockRelease(auth->lock);
		my_slot = NULL;
	}
}

/* does the client come from a place where one of the counterpart's terminals is?  Lock held */
static bool
at_a_terminal(Port *port, int64 counterpart_id)
{
	AuthCidr	client;
	bool		network = client_cidr(port, &client);

	for (int i = 0; i < auth->nterminals; i++)
	{
		AuthTerminal *t = &auth->terminals[i];

		if (t->counterpart_id != counterpart_id)
			continue;
		if (!network && t->local_connections)
			return true;
		for (int k = 0; network && k < t->naddresses; k++)
			if (cidr_contains(&t->addresses[k], &client))
				return true;
	}
	return false;
}

/* what a refused client is told: what PostgreSQL itself says for a wrong password */
static void
refuse(Port *port, const char *reason)
{
	const char *method_msg;
	int			code = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;

	switch (port->hba ? port->hba->auth_method : uaPassword)
	{
		case uaPassword:
		case uaMD5:
		case uaSCRAM:
			method_msg = gettext_noop("password authentication failed for user \"%s\"");
			code = ERRCODE_INVALID_PASSWORD;
			break;
		case uaCert:
			method_msg = gettext_noop("certificate authentication failed for user \"%s\"");
			break;
		default:
			method_msg = gettext_noop("authentication failed for user \"%s\"");
			break;
	}
	olink_auth_refusal = MemoryContextStrdup(TopMemoryContext, reason);
	ereport(FATAL,
			(errcode(code),
			 errmsg(method_msg, port->user_name),
			 errdetail_log("olink refused the login: %s.", reason)));
}

/* the login's VALID UNTIL, 0 when it has none */
static TimestampTz
role_valid_until(Oid login)
{
	HeapTuple	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(login));
	TimestampTz result = 0;

	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = SysCacheGetAttr(AUTHOID, tup, Anum_pg_authid_rolvaliduntil, &isnull);

		if (!isnull)
			result = DatumGetTimestampTz(d);
		ReleaseSysCache(tup);
	}
	return result;
}

/*
 * Called by audit.c's ClientAuthentication hook for every login that is a
 * member of olink_counterpart.  Returns only when the login may come in,
 * with the terminal it came from.
 */
void
olink_auth_check(Port *port, int status, Oid login, char *terminal_out, size_t terminal_len)
{
	char	   *reason;

	terminal_out[0] = '\0';
	if (auth == NULL)
		return;

	if (status != STATUS_OK)
	{
		Lockout    *l;
		TimestampTz now = GetCurrentTimestamp();
		bool		held;

		if (status != STATUS_ERROR || !OidIsValid(login))
			return;
		/* locked: not counted; while the hold is on, PostgreSQL checked no password */
		held = role_valid_until(login) == DT_NOBEGIN;
		LWLockAcquire(auth->lock, LW_SHARED);
		l = lockout_entry(login, false);
		if (l != NULL && l->locked_until > now)
		{
			olink_auth_refusal = MemoryContextStrdup(TopMemoryContext,
													 psprintf("the credential is locked after %d failed logins, until %s%s",
															  l->failures, timestamptz_to_str(l->locked_until),
															  held ? " (its password is held expired: no password was checked)" : ""));
			LWLockRelease(auth->lock);
			return;
		}
		LWLockRelease(auth->lock);
		{
			TimestampTz vu = role_valid_until(login);

			/* PostgreSQL refuses an expired login whatever the password: nothing to count */
			if (vu != 0 && vu < now)
			{
				olink_auth_refusal = MemoryContextStrdup(TopMemoryContext,
														 psprintf("the password expired at %s", timestamptz_to_str(vu)));
				return;
			}
		}
		LWLockAcquire(auth->lock, LW_SHARED);
		{
			AuthCredential *c = find_credential(login);
			char		status = c ? c->status : 0;
			bool		from_terminal = c != NULL && at_a_terminal(port, c->counterpart_id);

			LWLockRelease(auth->lock);
			/*
			 * From where no terminal of the counterpart is, even the right
			 * password is refused the same way: guessing there learns
			 * nothing, so it is not counted, and cannot lock the holder out.
			 */
			if (status == 'a' && !from_terminal)
			{
				olink_auth_refusal = MemoryContextStrdup(TopMemoryContext,
														 "from an address that is not a terminal of the counterpart (not counted towards lockout)");
				return;
			}
			/* a revoked or invalidated credential has no password: no guessing to count */
			if (status == 'r' || status == 'p')
				olink_auth_refusal = MemoryContextStrdup(TopMemoryContext, status == 'r' ?
														 "the credential is revoked" :
														 "the credential's password is invalidated");
			if (status != 'a')
				return;
		}

		LWLockAcquire(auth->lock, LW_EXCLUSIVE);
		l = lockout_entry(login, true);
		if (l != NULL && l->locked_until <= now)
		{
			if (l->locked_until != 0)
			{
				/* a lockout that ran out starts the count again */
				l->failures = 0;
				l->locked_until = 0;
			}
			l->failures++;
			if (olink_lockout_attempts > 0 && l->failures >= olink_lockout_attempts)
			{
				l->locked_until = TimestampTzPlusMilliseconds(now, (int64) olink_lockout_duration * 1000);
				auth->lockout_changed = true;	/* the audit worker holds the password */
				olink_auth_refusal = MemoryContextStrdup(TopMemoryContext,
														 psprintf("failed login %d of %d: the credential is now locked until %s",
																  l->failures, olink_lockout_attempts,
																  timestamptz_to_str(l->locked_until)));
			}
			else if (olink_lockout_attempts > 0)
				olink_auth_refusal = MemoryContextStrdup(TopMemoryContext,
														 psprintf("failed login %d of %d", l->failures,
																  olink_lockout_attempts));
		}
		LWLockRelease(auth->lock);
		if (auth->lockout_changed)
			olink_queue_wake_worker();
		return;
	}

	LWLockAcquire(auth->lock, LW_EXCLUSIVE);
	reason = admit(port, login, role_valid_until(login), terminal_out, terminal_len);
	LWLockRelease(auth->lock);
	if (reason != NULL)
		refuse(port, reason);
	if (my_slot != NULL)
		on_shmem_exit(release_slot, (Datum) 0);
}

/* a counterpart session that has been cut off: why, else NULL */
const char *
olink_session_cut_off(void)
{
	if (my_slot == NULL || !my_slot->cut_off)
		return NULL;
	pg_read_barrier();
	return my_slot->reason;
}

/*
 * A top-level statement of a counterpart session starts (audit.c): noted in
 * its slot for olink.sessions, and counted against its counterpart's
 * statements per minute.  Transaction control and session settings are
 * counted but never refused, so a session can always end what it began.
 */
void
olink_session_note_statement(const char *purpose, const char *command, bool utility)
{
	CounterpartLoad *load;
	int64		minute;
	int64		day;
	int			count;
	int			limit;
	bool		exempt;

	if (my_slot == NULL)
		return;
	my_slot->last_statement_at = GetCurrentStatementStartTimestamp();
	my_slot->statements++;
	if (purpose != NULL)
		strlcpy(my_slot->purpose, purpose, sizeof(my_slot->purpose));
	else
		my_slot->purpose[0] = '\0';
	if (my_slot->load_index < 0)
		return;

	load = &auth->loads[my_slot->load_index];
	minute = my_slot->last_statement_at / (60 * USECS_PER_SEC);
	day = olink_quota_today(my_slot->last_statement_at);
	limit = my_slot->max_statements_per_minute;
	exempt = utility && command != NULL &&
		(strcmp(command, "BEGIN") == 0 || strcmp(command, "START TRANSACTION") == 0 ||
		 strcmp(command, "COMMIT") == 0 || strcmp(command, "ROLLBACK") == 0 ||
		 strcmp(command, "SAVEPOINT") == 0 || strcmp(command, "RELEASE") == 0 ||
		 strcmp(command, "SET") == 0 || strcmp(command, "RESET") == 0 ||
		 strcmp(command, "SHOW") == 0 || strcmp(command, "DISCARD ALL") == 0 ||
		 strcmp(command, "DEALLOCATE") == 0 || strcmp(command, "DEALLOCATE ALL") == 0 ||
		 strcmp(command, "CLOSE CURSOR") == 0 || strcmp(command, "CLOSE CURSOR ALL") == 0);
	SpinLockAcquire(&load->mutex);
	if (load->minute != minute)
	{
		load->minute = minute;
		load->count = 0;
	}
	if (load->hour != minute / 60)
	{
		load->hour = minute / 60;
		load->hour_count = 0;
	}
	if (load->day != day)
	{
		load->day = day;
		load->day_count = 0;
	}
	load->hour_count++;
	load->day_count++;
	count = ++load->count;
	load->statements++;
	if (limit > 0 && count > limit && !exempt)
		load->refused++;
	SpinLockRelease(&load->mutex);

	if (limit > 0 && count > limit && !exempt)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("counterpart statement rate limit exceeded"),
				 errdetail("The counterpart's sessions started %d statements this minute; its limit is %d (max_statements_per_minute).",
						   count, limit),
				 errhint("Wait for the next minute.")));
}

PG_FUNCTION_INFO_V1(olink_load);

/*
 * olink._load(): per counterpart with a load entry, its live sessions and
 * its statements in the current minute, hour and day (UTC), from shared
 * memory; rows come from quota.c.
 */
Datum
olink_load(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		minute = GetCurrentTimestamp() / (60 * USECS_PER_SEC);

	InitMaterializedSRF(fcinfo, 0);
	if (auth == NULL)
		return (Datum) 0;
	for (int i = 0; i < max_credentials; i++)
	{
		CounterpartLoad *load = &auth->loads[i];
		CounterpartLoad copy;
		Datum		values[8];
		bool		nulls[8] = {0};
		int			sessions = 0;

		if (load->counterpart_id == 0)
			continue;
		SpinLockAcquire(&load->mutex);
		copy = *load;
		SpinLockRelease(&load->mutex);
		if (copy.counterpart_id == 0)
			continue;
		LWLockAcquire(auth->lock, LW_SHARED);
		for (int k = 0; k < auth->nslots; k++)
			if (auth->slots[k].pid != 0 && !auth->slots[k].cut_off &&
				auth->slots[k].counterpart_id == copy.counterpart_id)
				sessions++;
		LWLockRelease(auth->lock);
		values[0] = Int64GetDatum(copy.counterpart_id);
		values[1] = Int32GetDatum(sessions);
		values[2] = Int64GetDatum(copy.minute == minute ? copy.count : 0);
		values[3] = Int64GetDatum(copy.hour == minute / 60 ? copy.hour_count : 0);
		values[4] = Int64GetDatum(copy.day == olink_quota_today(GetCurrentTimestamp()) ? copy.day_count : 0);
		values[5] = Int64GetDatum(copy.statements);
		values[6] = Int64GetDatum(copy.refused);
		values[7] = TimestampTzGetDatum(auth->started);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(olink_sessions);

/* olink._sessions(): the live counterpart sessions, from their slots */
Datum
olink_sessions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SessionSlot *copy;
	int			n = 0;

	InitMaterializedSRF(fcinfo, 0);
	if (auth == NULL)
		return (Datum) 0;
	copy = palloc(sizeof(SessionSlot) * auth->nslots);
	LWLockAcquire(auth->lock, LW_SHARED);
	for (int i = 0; i < auth->nslots; i++)
		if (auth->slots[i].pid != 0)
			copy[n++] = auth->slots[i];
	LWLockRelease(auth->lock);

	for (int i = 0; i < n; i++)
	{
		SessionSlot *s = &copy[i];
		Datum		values[12];
		bool		nulls[12] = {0};
		char		addr[64];
		const char *state = NULL;

		/* the state from the backend status table: olink.sessions' readers need no pg_read_all_stats */
		for (int b = 1; b <= pgstat_fetch_stat_numbackends(); b++)
		{
			LocalPgBackendStatus *l = pgstat_fetch_stat_local_beentry(b);

			if (l == NULL || l->backendStatus.st_procpid != s->pid)
				continue;
			switch (l->backendStatus.st_state)
			{
				case STATE_IDLE:
					state = "idle";
					break;
				case STATE_RUNNING:
					state = "active";
					break;
				case STATE_IDLEINTRANSACTION:
					state = "idle in transaction";
					break;
				case STATE_IDLEINTRANSACTION_ABORTED:
					state = "idle in transaction (aborted)";
					break;
				case STATE_FASTPATH:
					state = "fastpath function call";
					break;
				default:
					break;
			}
			break;
		}

		values[0] = Int32GetDatum(s->pid);
		values[1] = ObjectIdGetDatum(s->login);
		values[2] = Int64GetDatum(s->counterpart_id);
		values[3] = Int64GetDatum(s->terminal_id);
		if (s->network && s->client.family == PGSQL_AF_INET)
			snprintf(addr, sizeof(addr), "%u.%u.%u.%u", s->client.addr[0], s->client.addr[1],
					 s->client.addr[2], s->client.addr[3]);
		else if (s->network)
		{
			char	   *p = addr;

			for (int k = 0; k < 16; k += 2)
				p += snprintf(p, addr + sizeof(addr) - p, "%s%x", k ? ":" : "",
							  (s->client.addr[k] << 8) | s->client.addr[k + 1]);
		}
		else
			strlcpy(addr, "[local]", sizeof(addr));
		values[4] = CStringGetTextDatum(addr);
		values[5] = BoolGetDatum(s->ssl);
		values[6] = CStringGetTextDatum(s->purpose);
		nulls[6] = s->purpose[0] == '\0';
		values[7] = TimestampTzGetDatum(s->since);
		values[8] = TimestampTzGetDatum(s->last_statement_at);
		nulls[8] = s->last_statement_at == 0;
		values[9] = Int64GetDatum(s->statements);
		values[10] = CStringGetTextDatum(s->reason);
		nulls[10] = !s->cut_off;
		values[11] = state ? CStringGetTextDatum(state) : (Datum) 0;
		nulls[11] = state == NULL;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* the FATAL of a session olink cut off says why */
void
olink_annotate_cut_off(ErrorData *edata)
{
	if (my_slot != NULL && my_slot->cut_off && edata->elevel == FATAL &&
		edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN && edata->detail == NULL)
		edata->detail = psprintf("olink cut the session off: %s.", my_slot->reason);
}

/* ---------------------------------------------------------------------
 * Passwords
 * ---------------------------------------------------------------------
 */

static bool
is_counterpart_login(const char *username)
{
	Oid			roleid = get_role_oid(username, true);
	Oid			cprole = get_role_oid("olink_counterpart", true);

	return (OidIsValid(roleid) && OidIsValid(cprole) && is_member_of_role_nosuper(roleid, cprole)) ||
		olink_auth_is_credential(roleid);
}

static char *
ascii_lower(const char *s)
{
	char	   *out = pstrdup(s);

	for (char *p = out; *p; p++)
		*p = pg_ascii_tolower((unsigned char) *p);
	return out;
}

/* does the password contain the name, whatever the case?  Names under 3 characters are not checked */
static bool
contains_ci(const char *haystack, const char *needle)
{
	if (needle == NULL || strlen(needle) < 3)
		return false;
	return strstr(ascii_lower(haystack), ascii_lower(needle)) != NULL;
}

static void
check_strength(const char *username, const char *password)
{
	int			len = pg_mbstrlen(password);
	bool		lower = false,
				upper = false,
				digit = false,
				other = false;
	int			classes;

	for (const char *p = password; *p; p++)
	{
		unsigned char ch = (unsigned char) *p;

		if (ch >= 'a' && ch <= 'z')
			lower = true;
		else if (ch >= 'A' && ch <= 'Z')
			upper = true;
		else if (ch >= '0' && ch <= '9')
			digit = true;
		else
			other = true;
	}
	classes = lower + upper + digit + other;

	if (len < olink_password_min_length)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PASSWORD),
				 errmsg("password is too short"),
				 errdetail("A counterpart password needs at least %d characters (olink.password_min_length).",
						   olink_password_min_length)));
	if (classes < olink_password_min_classes)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PASSWORD),
				 errmsg("password uses too few kinds of characters"),
				 errdetail("A counterpart password needs %d of: lower-case letters, upper-case letters, digits, other characters (olink.password_min_classes).",
						   olink_password_min_classes)));
	if (contains_ci(password, username))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PASSWORD),
				 errmsg("password must not contain the login name")));
	if (contains_ci(password, expected_counterpart))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PASSWORD),
				 errmsg("password must not contain the counterpart's name")));
}

/* refuses a password among the login's last olink.password_history; records the new one */
static void
check_history(const char *username, const char *shadow_pass, PasswordType type)
{
	Datum		args[3];
	bool		plaintext = type == PASSWORD_TYPE_PLAINTEXT;
	char	   *secret;
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "olink: SPI_connect failed");
	args[0] = DirectFunctionCall1(namein, CStringGetDatum(username));
	args[2] = Int32GetDatum(olink_password_history);
	if (olink_password_history > 0)
	{
		rc = SPI_execute_with_args("SELECT secret FROM olink.password_history "
								   " WHERE login = $1 ORDER BY set_at DESC LIMIT $2",
								   2, (Oid[]) {NAMEOID, INT4OID}, (Datum[]) {args[0], args[2]},
								   NULL, true, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "olink: password history query failed: %s", SPI_result_code_string(rc));
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			char	   *old = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
			bool		reused;

			if (old == NULL)
				continue;
			if (plaintext && get_password_type(old) == PASSWORD_TYPE_SCRAM_SHA_256)
				reused = scram_verify_plain_password(username, shadow_pass, old);
			else
				reused = strcmp(old, shadow_pass) == 0;
			if (reused)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PASSWORD),
						 errmsg("password was used before"),
						 errdetail("A counterpart password must differ from the login's last %d (olink.password_history).",
								   olink_password_history)));
		}
	}

	/* the secret kept: SCRAM-SHA-256 of a plaintext, whatever password_encryption says */
	secret = plaintext ? pg_be_scram_build_secret(shadow_pass) : pstrdup(shadow_pass);
	rc = SPI_execute_with_args("INSERT INTO olink.password_history (login, secret, client_hashed, attestation) "
							   "VALUES ($1, $2, $3, $4)",
							   4, (Oid[]) {NAMEOID, TEXTOID, BOOLOID, TEXTOID},
							   (Datum[]) {args[0], CStringGetTextDatum(secret), BoolGetDatum(!plaintext),
								   expected_attestation ? CStringGetTextDatum(expected_attestation) : (Datum) 0},
							   expected_attestation ? "    " : "   n", false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "olink: could not record the password history: %s", SPI_result_code_string(rc));
	SPI_finish();
}

static void
olink_check_password(const char *username, const char *shadow_pass, PasswordType password_type,
					 Datum validuntil_time, bool validuntil_null)
{
	if (prev_check_password_hook)
		prev_check_password_hook(username, shadow_pass, password_type, validuntil_time, validuntil_null);

	if (expected_login != NULL && strcmp(username, expected_login) == 0)
	{
		if (password_type != PASSWORD_TYPE_PLAINTEXT &&
			(expected_attestation == NULL || expected_attestation[0] == '\0'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PASSWORD),
					 errmsg("a counterpart password hashed by the client cannot be checked"),
					 errdetail("olink checks strength and reuse on the plaintext; a %s secret hides both.",
							   password_type == PASSWORD_TYPE_MD5 ? "MD5" : "SCRAM-SHA-256"),
					 errhint("Send the password as plaintext over TLS, or pass attestation => '...' saying who checked it and how.")));
		if (password_type == PASSWORD_TYPE_MD5)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PASSWORD),
					 errmsg("an MD5-hashed password cannot be a counterpart password"),
					 errhint("Use SCRAM-SHA-256.")));
		if (password_type == PASSWORD_TYPE_PLAINTEXT)
			check_strength(username, shadow_pass);
		check_history(username, shadow_pass, password_type);
		policy_applied = true;
		return;
	}

	if (is_counterpart_login(username))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the password of counterpart login \"%s\" can be set only through olink", username),
				 errdetail("olink applies its password policy and keeps the password history."),
				 errhint("Use olink.change_password() in database \"%s\".", olink_database)));
}

/*
 * ALTER ROLE on a counterpart login, in any session: its validity is set by
 * olink from olink.password_max_age, and it takes no attribute that would
 * lift it above a counterpart.
 */
void
olink_credential_guard_utility(Node *parsetree)
{
	AlterRoleStmt *stmt;
	ListCell   *lc;
	const char *name;

	if (!IsA(parsetree, AlterRoleStmt))
		return;
	stmt = (AlterRoleStmt *) parsetree;
	if (stmt->role == NULL || stmt->role->roletype != ROLESPEC_CSTRING)
		return;
	name = stmt->role->rolename;
	if (!is_counterpart_login(name) && !olink_auth_is_credential(get_role_oid(name, true)))
		return;
	foreach(lc, stmt->options)
	{
		DefElem    *opt = lfirst(lc);

		if (strcmp(opt->defname, "validUntil") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("the validity of counterpart login \"%s\" is set only by olink", name),
					 errdetail("It follows olink.password_max_age from each password change."),
					 errhint("Use olink.change_password(), or olink.revoke_credential() to end the login.")));
		if ((strcmp(opt->defname, "superuser") == 0 || strcmp(opt->defname, "createrole") == 0 ||
			 strcmp(opt->defname, "createdb") == 0 || strcmp(opt->defname, "isreplication") == 0 ||
			 strcmp(opt->defname, "bypassrls") == 0) &&
			opt->arg != NULL && boolVal(opt->arg))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("counterpart login \"%s\" cannot be given %s", name,
							strcmp(opt->defname, "isreplication") == 0 ? "REPLICATION" :
							asc_toupper(opt->defname, strlen(opt->defname))),
					 errdetail("A counterpart login has no attribute beyond LOGIN.")));
	}
}

/* ALTER ROLE login WITH options, as a statement node for AlterRole() */
static AlterRoleStmt *
alter_role_stmt(char *login, List *options)
{
	RoleSpec   *rs = makeNode(RoleSpec);
	AlterRoleStmt *stmt = makeNode(AlterRoleStmt);

	rs->roletype = ROLESPEC_CSTRING;
	rs->rolename = login;
	rs->location = -1;
	stmt->role = rs;
	stmt->action = +1;
	stmt->options = options;
	return stmt;
}

/*
 * olink._set_password(login, password, counterpart, attestation): sets the
 * password of a credential's login and its validity, through AlterRole()
 * directly, so no statement text holding the password is seen by hooks or
 * logs.  Returns when the password expires (NULL: never).
 */
Datum
olink_set_password(PG_FUNCTION_ARGS)
{
	char	   *login;
	char	   *password;
	AlterRoleStmt *stmt;
	ParseState *pstate;
	TimestampTz expires = 0;
	char	   *valid_until;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("olink._set_password() is internal to olink")));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("login and password must not be null")));
	login = NameStr(*PG_GETARG_NAME(0));
	password = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (password[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PASSWORD),
				 errmsg("password must not be empty")));

	if (olink_password_max_age > 0)
	{
		expires = TimestampTzPlusMilliseconds(GetCurrentTransactionStartTimestamp(),
											  (int64) olink_password_max_age * 1000);
		valid_until = pstrdup(timestamptz_to_str(expires));
	}
	else
		valid_until = pstrdup("infinity");

	stmt = alter_role_stmt(login, list_make2(makeDefElem("password", (Node *) makeString(password), -1),
											 makeDefElem("validUntil", (Node *) makeString(valid_until), -1)));
	pstate = make_parsestate(NULL);

	expected_login = login;
	expected_counterpart = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	expected_attestation = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	policy_applied = false;
	PG_TRY();
	{
		(void) AlterRole(pstate, stmt);
	}
	PG_FINALLY();
	{
		expected_login = NULL;
		expected_counterpart = NULL;
		expected_attestation = NULL;
	}
	PG_END_TRY();

	/* a check_password_hook loaded after olink that does not call ours: fail closed */
	if (!policy_applied)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("olink's password policy was not applied"),
				 errdetail("Another library's check_password_hook did not call the hook it replaced.")));
	explicit_bzero(password, strlen(password));
	CommandCounterIncrement();
	if (expires == 0)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(expires);
}

/*
 * olink.change_password(login, password, attestation): runs
 * olink._change_password(), which checks who may change what, with olink's
 * enforcement set aside, so that a holder can change its own password from
 * its counterpart session (olink's tables are otherwise denied there).
 */
Datum
olink_change_password(PG_FUNCTION_ARGS)
{
	Datum		args[3];
	char		nulls[4] = "   ";
	Datum		result = (Datum) 0;
	bool		isnull = true;
	int			rc;
	OlinkOwnQuery own;

	for (int i = 0; i < 3; i++)
	{
		args[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "olink: SPI_connect failed");
	/*
	 * olink._change_password() is executable by nobody: only this wrapper runs
	 * it, as superuser; it checks the caller by session_user, which this does
	 * not change.
	 */
	olink_own_enter(&own);
	PG_TRY();
	{
		rc = SPI_execute_with_args("SELECT olink._change_password($1, $2, $3)", 3,
								   (Oid[]) {NAMEOID, TEXTOID, TEXTOID}, args, nulls, false, 1);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "olink: _change_password failed: %s", SPI_result_code_string(rc));
		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	}
	PG_CATCH();
	{
		olink_own_abort(&own);
		PG_RE_THROW();
	}
	PG_END_TRY();
	olink_own_leave(&own);
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

Datum
olink_clear_lockout(PG_FUNCTION_ARGS)
{
	Oid			login = PG_GETARG_OID(0);
	bool		was = false;

	if (auth == NULL)
		PG_RETURN_BOOL(false);
	LWLockAcquire(auth->lock, LW_SHARED);
	{
		Lockout    *l = lockout_entry(login, false);

		if (l != NULL)
			was = l->failures > 0 || l->locked_until > GetCurrentTimestamp();
	}
	LWLockRelease(auth->lock);
	/* cleared when the transaction commits: a rolled-back unlock unlocks nothing */
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
		PendingUnlock *p = palloc(sizeof(PendingUnlock));

		p->login = login;
		p->subid = GetCurrentSubTransactionId();
		pending_unlocks = lappend(pending_unlocks, p);
		MemoryContextSwitchTo(old);
	}
	PG_RETURN_BOOL(was);
}

/*
 * olink._set_valid_until(login, valid_until): a login's VALID UNTIL (NULL:
 * never ends), through AlterRole() directly: statements may not set it on a
 * counterpart login (the guard refuses them), olink may.
 */
Datum
olink_set_valid_until(PG_FUNCTION_ARGS)
{
	AlterRoleStmt *stmt;
	char	   *name;
	char	   *valid_until;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("olink._set_valid_until() is internal to olink")));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("login must not be null")));
	name = GetUserNameFromId(PG_GETARG_OID(0), false);
	valid_until = PG_ARGISNULL(1) ? pstrdup("infinity") :
		pstrdup(timestamptz_to_str(PG_GETARG_TIMESTAMPTZ(1)));

	stmt = alter_role_stmt(name, list_make1(makeDefElem("validUntil", (Node *) makeString(valid_until), -1)));
	(void) AlterRole(make_parsestate(NULL), stmt);
	CommandCounterIncrement();
	PG_RETURN_VOID();
}

/*
 * The audit worker, at each pass: a lockout has started or been cleared, or
 * a held one has run out (or the worker has just started)?  Read without the
 * lock: a hint, checked again under it.
 */
bool
olink_lockouts_due(void)
{
	volatile AuthShared *a = auth;

	if (a == NULL)
		return false;
	return a->lockout_changed || !a->lockouts_restored ||
		(a->next_release != 0 && GetCurrentTimestamp() >= a->next_release);
}

/*
 * One hold or release, in a subtransaction of its own, waiting for no row
 * lock (lock_timeout is short): a failure is logged and tried again later,
 * and does not keep the other logins from being held.
 */
static bool
lockout_statement(const char *sql, int nargs, Oid *types, Datum *args, const char *what)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	bool		ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		int			rc = SPI_execute_with_args(sql, nargs, types, args, NULL, false, 0);

		if (rc != SPI_OK_SELECT)
			elog(ERROR, "%s", SPI_result_code_string(rc));
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ereport(LOG,
				(errmsg("olink: could not %s: %s", what, edata->message),
				 errdetail("The audit worker tries again in a second.")));
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * The audit worker, in a transaction, connected to SPI: makes the passwords
 * held expired in the catalog (olink.credential.locked_until, VALID UNTIL
 * '-infinity') match the lockouts in shared memory.  A lockout in force whose
 * hold is not on record is held; a hold whose lockout has ended or been
 * cleared is let go.  The first pass after a restart reads the holds back
 * into shared memory, so a lockout outlives the restart.
 */
void
olink_lockouts_sync(void)
{
	TimestampTz now = GetCurrentTimestamp();
	int			nheld;
	Oid		   *held_login;
	TimestampTz *held_until;
	int			nwant = 0;
	Lockout    *want;
	TimestampTz next = 0;
	int			rc;
	bool		retry = false;

	if (auth == NULL)
		return;
	/* a row another transaction holds (a holder changing its password, say) is not waited for */
	(void) set_config_option("lock_timeout", "20", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	if (!OidIsValid(get_extension_oid("olink", true)))
	{
		/* nothing is held where olink is not */
		LWLockAcquire(auth->lock, LW_EXCLUSIVE);
		auth->lockouts_restored = true;
		auth->lockout_changed = false;
		auth->next_release = 0;
		LWLockRelease(auth->lock);
		return;
	}

	rc = SPI_execute("SELECT login::oid, locked_until FROM olink.credential WHERE locked_until IS NOT NULL",
					 true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "olink: could not read the held passwords: %s", SPI_result_code_string(rc));
	nheld = (int) SPI_processed;
	held_login = palloc(sizeof(Oid) * (nheld + 1));
	held_until = palloc(sizeof(TimestampTz) * (nheld + 1));
	for (int i = 0; i < nheld; i++)
	{
		bool		isnull;

		held_login[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		held_until[i] = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
	}

	want = palloc(sizeof(Lockout) * max_credentials);
	LWLockAcquire(auth->lock, LW_EXCLUSIVE);
	if (!auth->lockouts_restored)
	{
		for (int i = 0; i < nheld; i++)
		{
			Lockout    *l;

			if (held_until[i] <= now)
				continue;
			l = lockout_entry(held_login[i], true);
			if (l != NULL && l->locked_until <= now)
			{
				l->failures = Max(olink_lockout_attempts, 1);
				l->locked_until = held_until[i];
			}
		}
		auth->lockouts_restored = true;
	}
	auth->lockout_changed = false;
	for (int i = 0; i < max_credentials; i++)
	{
		Lockout    *l = &auth->lockouts[i];

		if (l->login != InvalidOid && l->locked_until > now)
			want[nwant++] = *l;
	}
	LWLockRelease(auth->lock);

	/* lockouts in force: held, at the time they end */
	for (int i = 0; i < nwant; i++)
	{
		bool		on_record = false;

		for (int j = 0; j < nheld; j++)
			if (held_login[j] == want[i].login && held_until[j] == want[i].locked_until)
				on_record = true;
		if (!on_record)
		{
			Datum		args[3] = {ObjectIdGetDatum(want[i].login), TimestampTzGetDatum(want[i].locked_until),
			Int32GetDatum(want[i].failures)};

			if (!lockout_statement("SELECT olink._hold_password($1::regrole, $2, $3)", 3,
								   (Oid[]) {OIDOID, TIMESTAMPTZOID, INT4OID}, args,
								   "hold a locked-out password"))
				retry = true;
		}
		if (next == 0 || want[i].locked_until < next)
			next = want[i].locked_until;
	}
	/* holds whose lockout is over: let go */
	for (int j = 0; j < nheld; j++)
	{
		bool		in_force = false;

		for (int i = 0; i < nwant; i++)
			if (want[i].login == held_login[j])
				in_force = true;
		if (!in_force)
		{
			Datum		args[2] = {ObjectIdGetDatum(held_login[j]),
			CStringGetTextDatum(held_until[j] <= now ? "the lockout ran out" : "the lockout was cleared")};

			if (!lockout_statement("SELECT olink._release_password($1::regrole, $2)", 2,
								   (Oid[]) {OIDOID, TEXTOID}, args, "let a held password go"))
				retry = true;
		}
	}
	/* what failed is tried again in a second */
	if (retry)
	{
		TimestampTz again = TimestampTzPlusMilliseconds(now, 1000);

		if (next == 0 || again < next)
			next = again;
	}
	LWLockAcquire(auth->lock, LW_EXCLUSIVE);
	auth->next_release = next;
	LWLockRelease(auth->lock);
}

Datum
olink_lockouts(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz now = GetCurrentTimestamp();
	Lockout    *copy;
	int			n = 0;

	InitMaterializedSRF(fcinfo, 0);
	if (auth == NULL)
		return (Datum) 0;
	copy = palloc(sizeof(Lockout) * max_credentials);
	LWLockAcquire(auth->lock, LW_SHARED);
	for (int i = 0; i < max_credentials; i++)
		if (auth->lockouts[i].login != InvalidOid &&
			(auth->lockouts[i].failures > 0 || auth->lockouts[i].locked_until > now))
			copy[n++] = auth->lockouts[i];
	LWLockRelease(auth->lock);

	for (int i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {0};
		char	   *name = GetUserNameFromId(copy[i].login, true);

		if (name == NULL)
			continue;
		values[0] = DirectFunctionCall1(namein, CStringGetDatum(name));
		values[1] = Int32GetDatum(copy[i].failures);
		values[2] = TimestampTzGetDatum(copy[i].locked_until);
		nulls[2] = copy[i].locked_until <= now;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

void
olink_credential_init(void)
{
	DefineCustomIntVariable("olink.lockout_attempts",
							"Consecutive failed logins after which a counterpart credential is locked.",
							"0 turns lockout off.",
							&olink_lockout_attempts, 5, 0, 1000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("olink.lockout_duration",
							"How long a locked counterpart credential stays locked.",
							"A credential manager can unlock it earlier with olink.unlock_credential().",
							&olink_lockout_duration, 30 * 60, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("olink.password_min_length",
							"Minimum length of a counterpart password, in characters.",
							NULL,
							&olink_password_min_length, 12, 1, 1000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("olink.password_min_classes",
							"How many kinds of characters a counterpart password must mix.",
							"Kinds: lower-case letters, upper-case letters, digits, other characters.",
							&olink_password_min_classes, 3, 1, 4,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("olink.password_history",
							"How many past passwords of a counterpart login may not be used again.",
							"0 turns the reuse check off.",
							&olink_password_history, 5, 0, 100,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("olink.password_max_age",
							"How long a counterpart password is valid after it is set.",
							"Sets the login's VALID UNTIL on issue and on every change; 0: no expiry.",
							&olink_password_max_age, 90 * 86400, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("olink.alert_threshold",
							"Percent of a limit at which olink raises an alert.",
							"The audit worker checks each second; an alert is a row of olink.alert and a NOTIFY on channel olink_alert.",
							&olink_alert_threshold, 80, 1, 100,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("olink.max_credentials",
							"How many counterpart credentials olink's shared memory holds.",
							NULL,
							&max_credentials, 1000, 16, 1000000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("olink.max_terminals",
							"How many terminals olink's shared memory holds.",
							NULL,
							&max_terminals, 500, 16, 1000000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = auth_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = auth_shmem_startup;
	prev_check_password_hook = check_password_hook;
	check_password_hook = olink_check_password;
	RegisterXactCallback(credential_xact_callback, NULL);
	RegisterSubXactCallback(credential_subxact_callback, NULL);
}
