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

	MarkGUCPrefixReserved("olink");

	olink_registry_init();
	olink_enforce_init();
	olink_rowsec_init();
}
