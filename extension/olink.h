/*-------------------------------------------------------------------------
 *
 * olink.h
 *		What the parts of olink share: settings, the per-backend registry
 *		cache that every enforcement decision is made from, and the entry
 *		points of each concern.
 *
 * The registry lives in tables of schema olink; a backend reads what it
 * needs once (registry.c) and then decides every statement from memory.
 * A change to the registry reaches every backend as a relcache
 * invalidation sent at commit, so the next statement of every session
 * sees it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OLINK_H
#define OLINK_H

#include "postgres.h"

#include "nodes/bitmapset.h"
#include "nodes/parsenodes.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

#include "compat.h"

/* privileges a grant can carry, as bits */
#define OLINK_PRIV_SELECT	0x01
#define OLINK_PRIV_INSERT	0x02
#define OLINK_PRIV_UPDATE	0x04
#define OLINK_PRIV_DELETE	0x08

/* state of a grant's parsed row filter */
typedef enum OlinkFilterState
{
	OLINK_FILTER_UNPARSED = 0,
	OLINK_FILTER_OK,
	OLINK_FILTER_BROKEN
} OlinkFilterState;

/* one active (not revoked) grant of this session's counterpart */
typedef struct OlinkGrant
{
	int64		id;
	Oid			relid;
	int			privs;			/* OLINK_PRIV_* bits */
	bool		all_columns;	/* columns => NULL: every column, now and later */
	Bitmapset  *columns;		/* attnums, when !all_columns */
	char	   *missing_column; /* a listed column that no longer exists */
	char	   *row_filter;		/* NULL: every row */
	int			npurposes;
	char	  **purposes;
	TimestampTz valid_from;
	TimestampTz valid_until;	/* DT_NOEND when open-ended */

	OlinkFilterState filter_state;
	Node	   *filter_expr;	/* parsed filter, Vars of varno 1 */
	char	   *filter_error;	/* why it no longer parses */

	uint64		live_stamp;		/* memo of grant_live() for one check round */
	bool		live;
} OlinkGrant;

/* a relation that is protected, with this counterpart's grants on it */
typedef struct OlinkRelation
{
	Oid			relid;			/* hash key */
	bool		protected;
	bool		native_rls;		/* row security was on before olink.protect() */
	bool		rls_direct_known;	/* memo of check_enable_rls for the login itself */
	bool		rls_direct_enabled;
	List	   *grants;			/* OlinkGrant *, in grant id order */
} OlinkRelation;

typedef struct OlinkAgreement
{
	int			npurposes;
	char	  **purposes;
	TimestampTz valid_from;
	TimestampTz valid_until;
} OlinkAgreement;

/* what this backend knows of its session user and the registry */
typedef struct OlinkSession
{
	bool		installed;		/* extension present in this database */
	bool		is_counterpart; /* session user is a counterpart credential */
	int64		counterpart_id;
	char	   *counterpart;
	char	   *login;
	Oid			group_role;		/* the counterpart's NOLOGIN role */
	bool		counterpart_active;
	bool		credential_active;
	int			nagreements;
	OlinkAgreement *agreements;
	struct HTAB *relations;		/* Oid -> OlinkRelation */
	struct HTAB *grants;		/* int64 -> OlinkGrant * */
} OlinkSession;

/* olink.c: settings */
extern bool olink_enforce;
extern char *olink_purpose;

/* registry.c */
extern bool olink_in_registry_read;
extern MemoryContext olink_registry_cxt;
extern void olink_registry_init(void);
extern uint64 olink_registry_generation(void);
extern Oid	olink_grant_live_function(void);
extern bool olink_purpose_registered(OlinkSession *s, const char *purpose, TimestampTz now);
extern void olink_require_purpose(OlinkSession *s, const char *purpose);
extern OlinkSession *olink_session(void);
extern OlinkRelation *olink_find_relation(OlinkSession *s, Oid relid);
extern OlinkGrant *olink_find_grant(OlinkSession *s, int64 grant_id);
extern bool olink_purpose_valid(OlinkSession *s, TimestampTz now);
extern bool olink_grant_live(OlinkSession *s, OlinkGrant *g);
extern void olink_begin_statement(void);
extern const char *olink_statement_purpose(void);

/* enforce.c */
extern void olink_enforce_init(void);
extern bool olink_check_range_table(List *rangeTable, bool ereport_on_violation);
extern bool olink_check_identity(OlinkSession *s, bool ereport_on_violation);
extern OlinkSession *olink_counterpart_session(void);

/* rowsec.c */
extern void olink_rowsec_init(void);
extern Node *olink_parse_row_filter(Relation rel, const char *filter, List **columns);
extern bool olink_grant_filter_usable(OlinkGrant *g, Relation rel);

#endif							/* OLINK_H */
