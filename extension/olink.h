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

#include "access/tupdesc.h"
#include "lib/stringinfo.h"
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
	int64		max_rows_per_statement; /* 0: none */
	int64		max_rows_per_day;

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
	int64		max_rows_per_statement; /* the counterpart's own quotas; 0: none */
	int64		max_rows_per_day;
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
extern char *olink_database;
extern int	olink_audit_durability;
extern int	olink_queue_full;
extern bool olink_audit_internal;
extern int	olink_audit_connections;
extern int	olink_audit_queue_kb;

#define OLINK_DURABILITY_ASYNC	0
#define OLINK_DURABILITY_SYNC	1
#define OLINK_QUEUE_FULL_WAIT	0
#define OLINK_QUEUE_FULL_ERROR	1
#define OLINK_AUDIT_CONNECTIONS_COUNTERPARTS	0
#define OLINK_AUDIT_CONNECTIONS_ALL	1

/*
 * An audit event as it travels through the queue: this fixed part, then
 * the strings that are not NULL, one after another, unterminated.
 */
typedef enum OlinkEventKind
{
	OLINK_EV_ACCESS = 1,
	OLINK_EV_LOGIN,
	OLINK_EV_LOGOUT,
	OLINK_EV_REFUSED,
	OLINK_EV_JOURNAL_ATTEST,	/* a transaction's count of journal rows */
	OLINK_EV_PURGE				/* purge_audit(): remove sealed rows older than 'before' */
} OlinkEventKind;

#define OLINK_OUTCOME_ALLOWED	'a'
#define OLINK_OUTCOME_DENIED	'd'
#define OLINK_OUTCOME_FAILED	'f'
#define OLINK_OUTCOME_STARTED	'i'

/* string slots of an access event */
#define OLINK_EVA_STATEMENT		0
#define OLINK_EVA_RELATIONS		1
#define OLINK_EVA_COLUMNS		2
#define OLINK_EVA_COUNTERPART	3
#define OLINK_EVA_PURPOSE		4
#define OLINK_EVA_COMMAND		5
#define OLINK_EVA_SQLSTATE		6
#define OLINK_EVA_MESSAGE		7
#define OLINK_EVA_LOGIN			8
/* string slots of a connection event */
#define OLINK_EVC_LOGIN			0
#define OLINK_EVC_DATABASE		1
#define OLINK_EVC_CLIENT_ADDR	2
#define OLINK_EVC_APPLICATION	3
#define OLINK_EVC_REASON		4
#define OLINK_EVC_TERMINAL		5
#define OLINK_EV_NSTR			9
#define OLINK_EV_NULL			PG_UINT32_MAX

typedef struct OlinkEvent
{
	uint8		kind;			/* OlinkEventKind */
	char		outcome;		/* OLINK_OUTCOME_* */
	bool		ssl;
	bool		durable;		/* from a session in olink.audit_durability = sync */
	int32		pid;
	Oid			login_oid;
	TimestampTz at;
	int64		statement_id;
	int64		session_id;
	uint64		rows;
	int64		duration_us;
	int64		statements;
	uint64		xid;			/* JOURNAL_ATTEST: full transaction id */
	TimestampTz before;			/* PURGE: rows sealed before this go */
	uint32		strlen[OLINK_EV_NSTR];
} OlinkEvent;

typedef struct OlinkEventBuilder
{
	OlinkEvent	ev;
	char	   *str[OLINK_EV_NSTR];
	StringInfoData buf;
} OlinkEventBuilder;

/* audit_queue.c */
extern void olink_queue_init(void);
extern bool olink_queue_ready(void);
extern int64 olink_next_id(void);
extern void olink_id_floor(int64 floor);
extern uint64 olink_queue_put(const char *event, uint32 len);
extern uint64 olink_queue_put_quietly(const char *event, uint32 len, int wait_ms);
extern bool olink_queue_wait_written(uint64 endpos, int timeout_ms, bool quietly);
extern uint64 olink_queue_head(void);
extern void olink_queue_attach_worker(bool attach);
extern void olink_queue_wake_worker(void);
extern int	olink_queue_peek(StringInfo buf, Size max_bytes, uint64 *endpos, uint64 *lost);
extern void olink_queue_release(uint64 endpos, int nevents, uint64 lost_written);
extern uint64 olink_seal_requested(void);
extern void olink_seal_completed(uint64 request);
extern bool olink_audit_settle(int timeout_ms);
extern bool olink_worker_running(void);
extern void olink_chain_head(int64 *seal_id, uint8 *hash);
extern void olink_set_chain_head(int64 seal_id, const uint8 *hash);
extern void olink_purge_done(int64 request, int64 rows);
extern bool olink_queue_take_fresh(void);
extern bool olink_purge_result(int64 request, int64 *rows);

/* store.c: appending rows to olink's own tables, without the executor */
typedef struct OlinkAppender
{
	Relation	rel;
	int			nindexes;
	Relation   *indexes;
	struct IndexInfo **index_info;
	struct TupleTableSlot **slots;	/* rows kept back, written by heap_multi_insert */
	int			nbuffered;
	struct BulkInsertStateData *bistate;
	TupleDesc	desc;
	MemoryContext cxt;
	struct ResourceOwnerData *owner;
} OlinkAppender;
extern void olink_appender_open(OlinkAppender *a, Oid relid);
extern void olink_append(OlinkAppender *a, Datum *values, bool *nulls);
extern void olink_appender_flush(OlinkAppender *a);
extern void olink_appender_discard(OlinkAppender *a);
extern void olink_appender_close(OlinkAppender *a);

/* credential.c */
struct Port;
extern char *olink_auth_refusal;
extern void olink_credential_init(void);
extern void olink_credentials_changed(void);
extern bool olink_auth_loaded(void);
extern bool olink_auth_is_credential(Oid login);
extern void olink_auth_load(void);
extern bool olink_lockouts_due(void);
extern void olink_lockouts_sync(void);
extern void olink_auth_check(struct Port *port, int status, Oid login, char *terminal_out, size_t terminal_len);
extern const char *olink_session_cut_off(void);
extern void olink_annotate_cut_off(struct ErrorData *edata);
extern void olink_credential_guard_utility(Node *parsetree);
extern void olink_session_note_statement(const char *purpose, const char *command, bool utility);

/* quota.c */
extern void olink_quota_init(void);
extern void olink_quota_persist(void);
extern void olink_quota_reset(void);
extern int32 olink_quota_today(TimestampTz ts);

/* checkout.c */
extern void olink_checkout_init(void);
extern void olink_checkout_reset(void);
extern void olink_checkout_check(Relation rel, int nkey, const AttrNumber *attnums, struct HeapTupleData *oldtup);

/* audit.c */
extern void olink_audit_init(void);
extern void olink_event_init(OlinkEventBuilder *b, OlinkEventKind kind);
extern uint64 olink_event_put(OlinkEventBuilder *b);
extern uint64 olink_event_put_quietly(OlinkEventBuilder *b);
extern char *olink_redact(const char *sql, int len);
extern void olink_audit_capture_error(void);
extern void olink_audit_note_range_table(List *rtable);
extern int64 olink_current_statement_id(bool new_statement);

/* journal.c */
extern void olink_journal_init(void);
extern void olink_journal_guard_utility(Node *parsetree);

/* audit_worker.c */
extern void olink_audit_worker_register(void);
extern PGDLLEXPORT void olink_audit_worker_main(Datum arg);

/*
 * The audit store's tables, as olink writes them (olink--1.0.sql): the
 * number of columns, and where the id and the seal's hash are.
 */
#define OLINK_ACCESS_NATTS		15
#define OLINK_CONNECTION_NATTS	15
#define OLINK_TEXT_NATTS		2
#define OLINK_JOURNAL_NATTS		13
#define OLINK_SEAL_NATTS		15
#define OLINK_SEAL_HASH			15

/* chain.c: canonical rows, their hashes and the seal chain */
#define OLINK_HASH_LEN	32
/* the rows of one seal, hashed as they come */
typedef struct OlinkRowStream
{
	struct pg_cryptohash_ctx *ctx;	/* NULL until the first row */
	int64		count;
	int64		first_id;
	int64		last_id;
	bool		out_of_order;	/* an id not above the one before */
	bool		with_content_sum;	/* keep content_sum (costs a hash per row) */
	uint64		content_sum;	/* sum of 64-bit hashes of the rows without ids */
} OlinkRowStream;
extern void olink_stream_reset(OlinkRowStream *rs);
extern void olink_stream_row(OlinkRowStream *rs, char tag, TupleDesc desc, Datum *values, bool *nulls);
extern void olink_stream_finish(OlinkRowStream *rs, uint8 *digest);
extern void olink_seal_content_hash(TupleDesc desc, Datum *values, bool *nulls, uint8 *out);
extern void olink_seal_link(const uint8 *prev, const uint8 *content, uint8 *out);
extern Oid	olink_audit_table(const char *name, bool missing_ok);
extern void olink_sha256(const void *data, size_t len, uint8 *out);
extern bool olink_append_allowed;

/* registry.c */
extern bool olink_in_registry_read;

/*
 * Running olink's own queries: as the bootstrap superuser, with search_path
 * pg_catalog, pg_temp (so no operator or function of the session's schemas
 * is found), and outside enforcement.  enter; then leave on success, or
 * abort in PG_CATCH before re-throwing (the transaction's abort restores
 * search_path).
 */
typedef struct OlinkOwnQuery
{
	Oid			save_userid;
	int			save_sec_context;
	int			guc_level;
	bool		save_in_read;
} OlinkOwnQuery;

extern void olink_own_enter(OlinkOwnQuery *q);
extern void olink_own_leave(OlinkOwnQuery *q);
extern void olink_own_abort(OlinkOwnQuery *q);
extern MemoryContext olink_registry_cxt;
extern void olink_registry_init(void);
extern uint64 olink_registry_generation(void);
extern Oid	olink_count_read_function(void);
extern Oid	olink_grant_live_function(void);
extern bool olink_purpose_registered(OlinkSession *s, const char *purpose, TimestampTz now);
extern void olink_require_purpose(OlinkSession *s, const char *purpose);
extern OlinkSession *olink_session(void);
extern void olink_registry_before_parallel(void);
extern OlinkRelation *olink_find_relation(OlinkSession *s, Oid relid);
extern OlinkGrant *olink_find_grant(OlinkSession *s, int64 grant_id);
extern bool olink_purpose_valid(OlinkSession *s, TimestampTz now);
extern bool olink_grant_live(OlinkSession *s, OlinkGrant *g);
extern void olink_begin_statement(void);
extern const char *olink_statement_purpose(void);

/* enforce.c */
extern int	olink_exec_depth;
extern void olink_enforce_init(void);
extern bool olink_check_range_table(List *rangeTable, bool ereport_on_violation);
extern bool olink_check_identity(OlinkSession *s, bool ereport_on_violation);
extern OlinkSession *olink_counterpart_session(void);

/* rowsec.c */
extern void olink_rowsec_init(void);
extern Node *olink_parse_row_filter(Relation rel, const char *filter, List **columns);
extern bool olink_grant_filter_usable(OlinkGrant *g, Relation rel);

#endif							/* OLINK_H */
