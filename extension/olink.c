/*-------------------------------------------------------------------------
 *
 * olink.c
 *		Module entry point: settings and the installation of every hook.
 *
 * olink must be loaded through shared_preload_libraries: its checks have to
 * be in place before the first statement of every session, and later
 * versions keep state in shared memory.  Each concern installs its own hooks
 * from its own file, always saving and calling the hook it replaces, so
 * olink works beside pgaudit, pg_stat_statements and auto_explain in either
 * load order.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/plancache.h"

#include "olink.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* olink.enforce: superuser only; off lets counterparts through unchecked */
bool		olink_enforce = true;

/* olink.purpose: the purpose a counterpart session works under */
char	   *olink_purpose = NULL;

/* olink.database: where the audit store is, and the only database olink may be created in */
char	   *olink_database = NULL;

/* olink.audit_durability: async (written within a second) or sync (committed before rows leave) */
int			olink_audit_durability = OLINK_DURABILITY_ASYNC;

/* olink.queue_full: wait for the audit worker, or refuse the statement */
int			olink_queue_full = OLINK_QUEUE_FULL_WAIT;

/* olink.audit_internal: audit every client session, not only counterparts */
bool		olink_audit_internal = false;

/* olink.audit_connections: whose logins and logouts are recorded (refusals always are) */
int			olink_audit_connections = OLINK_AUDIT_CONNECTIONS_COUNTERPARTS;

static const struct config_enum_entry durability_options[] = {
	{"async", OLINK_DURABILITY_ASYNC, false},
	{"sync", OLINK_DURABILITY_SYNC, false},
	{NULL, 0, false}
};

static const struct config_enum_entry queue_full_options[] = {
	{"wait", OLINK_QUEUE_FULL_WAIT, false},
	{"error", OLINK_QUEUE_FULL_ERROR, false},
	{NULL, 0, false}
};

static const struct config_enum_entry connections_options[] = {
	{"counterparts", OLINK_AUDIT_CONNECTIONS_COUNTERPARTS, false},
	{"all", OLINK_AUDIT_CONNECTIONS_ALL, false},
	{NULL, 0, false}
};

/*
 * Plans of counterpart sessions carry row filters chosen for the enforcement
 * state; when a superuser turns enforcement off or on, no cached plan built
 * under the other state may be reused.
 */
static void
olink_enforce_assign(bool newval, void *extra)
{
	if (newval != olink_enforce)
		ResetPlanCache();
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("olink must be loaded via shared_preload_libraries"),
				 errhint("Add olink to shared_preload_libraries in postgresql.conf and restart the server.")));

	DefineCustomBoolVariable("olink.enforce",
							 "Enforces olink grants on counterpart sessions.",
							 "Turning this off lets counterparts through with their native privileges only.",
							 &olink_enforce,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, olink_enforce_assign, NULL);

	DefineCustomStringVariable("olink.purpose",
							   "The purpose this session works under.",
							   "A counterpart session may touch protected relations only under a purpose of one of its valid agreements.",
							   &olink_purpose,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("olink.database",
							   "The database that holds olink's registry and audit store.",
							   "olink can be created only in this database; its audit worker writes there the events of the whole cluster.",
							   &olink_database,
							   "postgres",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);

	DefineCustomEnumVariable("olink.audit_durability",
							 "When a statement's audit event must be committed.",
							 "async: within about a second, by the audit worker; sync: before the statement runs and before its error is returned.",
							 &olink_audit_durability,
							 OLINK_DURABILITY_ASYNC,
							 durability_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomEnumVariable("olink.queue_full",
							 "What a statement does when the audit queue is full.",
							 "wait: wait for the audit worker to make room; error: refuse the statement.",
							 &olink_queue_full,
							 OLINK_QUEUE_FULL_WAIT,
							 queue_full_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("olink.audit_internal",
							 "Audits the statements of every client session, not only of counterparts.",
							 NULL,
							 &olink_audit_internal,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomEnumVariable("olink.audit_connections",
							 "Whose logins and logouts are recorded; failed logins always are.",
							 NULL,
							 &olink_audit_connections,
							 OLINK_AUDIT_CONNECTIONS_COUNTERPARTS,
							 connections_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("olink.audit_queue_size",
							"Size of the shared-memory queue that carries audit events to the audit worker.",
							NULL,
							&olink_audit_queue_kb,
							8192,
							256,
							1024 * 1024,
							PGC_POSTMASTER,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	olink_credential_init();
	olink_checkout_init();
	MarkGUCPrefixReserved("olink");

	olink_queue_init();
	olink_registry_init();
	olink_enforce_init();
	olink_quota_init();
	olink_rowsec_init();
	/* after enforce.c: its hooks run inside audit's, so an event is open before any check */
	olink_audit_init();
	olink_journal_init();
	olink_audit_worker_register();
}
