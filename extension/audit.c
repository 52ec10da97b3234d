/*-------------------------------------------------------------------------
 *
 * audit.c
 *		Access and connection events: what a counterpart session did, from
 *		where, under which purpose, with what outcome.
 *
 * One access event is written per top-level statement of a counterpart
 * session (of every client session when olink.audit_internal is on).  The
 * event is opened by the outermost hook a statement passes through (the
 * planner, ExecutorStart or ProcessUtility at nesting level 0), collects
 * the relations and columns of every query the statement runs (functions
 * and triggers included), and is closed by the ExecutorEnd or
 * ProcessUtility that ends it, with the number of rows.
 *
 * A statement that fails is closed by emit_log_hook, which sees every
 * error on its way to the client: olink's own refusals, PostgreSQL's
 * "permission denied" raised in parse analysis before any executor hook,
 * and errors of statements that never reached a hook (syntax errors).  An
 * olink refusal caught by a PL/pgSQL exception block never reaches
 * emit_log_hook, so enforce.c hands it over as it is raised
 * (olink_audit_capture_error) and the statement's event says "denied".
 *
 * Connection events: ClientAuthentication_hook records the login (and
 * every failed authentication, whose reason is taken from the FATAL that
 * follows), and a before_shmem_exit callback the logout.
 *
 * Events leave through the shared-memory queue (audit_queue.c).  With
 * olink.audit_durability = sync a statement writes a start record and
 * waits for the worker to commit it before the statement runs (so before
 * its first row leaves), and waits again for its error event before the
 * error is sent.
 *
 * Statement texts are stored with passwords redacted; the same redaction
 * scrubs every message olink sees go to the server log.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/socket.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "common/ip.h"
#include "executor/executor.h"
#include "libpq/auth.h"
#include "libpq/libpq-be.h"
#include "miscadmin.h"
#include "nodes/pathnodes.h"
#include "optimizer/planner.h"
#include "storage/ipc.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "commands/prepare.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "olink.h"

/* statement texts longer than this are cut (the cut is marked) */
#define MAX_STATEMENT_LEN	65536
/* how long an event raised while an error is reported may wait for room */
#define QUIET_WAIT_MS		5000
/* how long a sync statement waits for the worker before it is refused */
#define SYNC_WAIT_MS		10000

typedef struct AuditRel
{
	Oid			relid;
	Bitmapset  *columns;
} AuditRel;

/* the event of the statement under way */
typedef struct PendingEvent
{
	bool		active;
	bool		from_planner;	/* opened by the planner, not yet by ExecutorStart */
	QueryDesc  *query;			/* the top-level query whose end closes it */
	bool		utility;		/* opened by ProcessUtility */
	int64		statement_id;
	char	   *statement;
	const char *command;
	char	   *purpose;
	char	   *counterpart;
	char	   *login;
	List	   *rels;			/* AuditRel * */
	char		outcome;
	char	   *sqlstate;
	char	   *message;
	uint64		rows;
} PendingEvent;

static const char *olink_audit_relation_name(Oid relid);
static const char *olink_audit_column_name(Oid relid, AttrNumber attnum);
static void olink_append_array_element(StringInfo buf, const char *s);

static PendingEvent pending;
static MemoryContext audit_cxt = NULL;
/*
 * How deep in a statement we are: the hooks of this file count planning,
 * ExecutorStart/End and utility statements; enforce.c's count ExecutorRun
 * and ExecutorFinish (where functions and triggers run their queries).
 * A statement is top-level when both are 0.
 */
static int	audit_depth = 0;

static inline bool
at_top_level(void)
{
	return audit_depth == 0 && olink_exec_depth == 0;
}

/* the session */
static bool session_known = false;	/* authenticated, session id assigned */
static int64 session_id = 0;
static bool session_audited = false;	/* last known: a counterpart (or audit_internal) */
static bool login_written = false;
static char session_terminal[NAMEDATALEN];	/* the terminal a counterpart came from */
static bool logout_registered = false;
static int64 session_statements = 0;
static bool auth_failing = false;
static Oid	session_login_oid = InvalidOid;
static char *session_counterpart = NULL;	/* as the registry last said */
static Oid	session_user_oid = InvalidOid;
static char *session_login_name = NULL; /* the session user's name, for session_user_oid */

/* the session user's name, looked up when it changes (SET SESSION AUTHORIZATION) */
static char *
session_user_name(void)
{
	Oid			user = GetSessionUserId();

	if (!OidIsValid(user))
		return NULL;
	if (user != session_user_oid || session_login_name == NULL)
	{
		char	   *name = GetUserNameFromId(user, true);

		if (name == NULL)
			return NULL;
		session_login_name = MemoryContextStrdup(TopMemoryContext, name);
		session_user_oid = user;
	}
	return session_login_name;
}
static bool in_emit_log = false;

static planner_hook_type prev_planner = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;
static ClientAuthentication_hook_type prev_ClientAuthentication = NULL;

/* ---------------------------------------------------------------------
 * Events
 * ---------------------------------------------------------------------
 */

void
olink_event_init(OlinkEventBuilder *b, OlinkEventKind kind)
{
	initStringInfo(&b->buf);
	memset(&b->ev, 0, sizeof(b->ev));
	b->ev.kind = kind;
	b->ev.durable = olink_audit_durability == OLINK_DURABILITY_SYNC;
	b->ev.pid = MyProcPid;
	b->ev.at = GetCurrentTimestamp();
	for (int i = 0; i < OLINK_EV_NSTR; i++)
		b->str[i] = NULL;
}

/*
 * The event as the queue carries it: the fixed part, then each string.
 * Strings are cut (on a character boundary) so that no session can make
 * its events too large for the queue: statements at MAX_STATEMENT_LEN,
 * everything else (messages quoting input, a purpose) at MAX_FIELD_LEN.
 */
#define MAX_FIELD_LEN	4096	/* with the statement, an event stays below 100 kB: half the smallest queue */
#define MAX_LIST_LEN	(MAX_FIELD_LEN - 512)	/* relation and column lists stop here, still valid text[] */

static void
event_serialize(OlinkEventBuilder *b)
{
	resetStringInfo(&b->buf);
	for (int i = 0; i < OLINK_EV_NSTR; i++)
	{
		size_t		len;
		size_t		max;

		if (b->str[i] == NULL)
		{
			b->ev.strlen[i] = OLINK_EV_NULL;
			continue;
		}
		len = strlen(b->str[i]);
		max = (b->ev.kind == OLINK_EV_ACCESS && i == OLINK_EVA_STATEMENT) ?
			MAX_STATEMENT_LEN + 32 : MAX_FIELD_LEN;
		if (len > max)
			len = pg_mbcliplen(b->str[i], len, max);
		b->ev.strlen[i] = (uint32) len;
	}
	appendBinaryStringInfo(&b->buf, (char *) &b->ev, sizeof(OlinkEvent));
	for (int i = 0; i < OLINK_EV_NSTR; i++)
		if (b->str[i])
			appendBinaryStringInfo(&b->buf, b->str[i], b->ev.strlen[i]);
}

uint64
olink_event_put(OlinkEventBuilder *b)
{
	event_serialize(b);
	return olink_queue_put(b->buf.data, b->buf.len);
}

uint64
olink_event_put_quietly(OlinkEventBuilder *b)
{
	event_serialize(b);
	/* queue_full = error: do not wait for room here either; the loss is counted */
	return olink_queue_put_quietly(b->buf.data, b->buf.len,
								   olink_queue_full == OLINK_QUEUE_FULL_ERROR ? 0 : QUIET_WAIT_MS);
}

/* ---------------------------------------------------------------------
 * Redaction of passwords
 * ---------------------------------------------------------------------
 */

static bool
word_is(const char *p, int len, const char *word)
{
	return (int) strlen(word) == len && pg_strncasecmp(p, word, len) == 0;
}

/*
 * A copy of sql with the string literal after every PASSWORD keyword, and
 * every string literal in a call of an olink function that takes a
 * password, replaced by '********'.  A small lexer of its own (quotes,
 * E'' strings, dollar quotes, quoted identifiers, comments), because it
 * must never throw: it also runs while an error is being reported.
 * Unterminated literals are redacted to the end.
 */
/*
 * The literals redact() replaced, as it found them: an error message can
 * quote a piece of the statement ("syntax error at or near ..."), so the
 * values themselves are scrubbed from what goes to the log too.
 */
static List *secrets = NIL;

static void
remember_secret(const char *start, const char *end)
{
	/* the quotes and an E prefix are not part of it; short strings would scrub too much */
	if (end - start >= 2 && (*start == 'E' || *start == 'e') && start[1] == '\'')
		start++;
	if (end - start >= 2 && *start == '\'' && end[-1] == '\'')
	{
		start++;
		end--;
	}
	if (end - start < 4 || strspn(start, "*") >= (size_t) (end - start))
		return;
	secrets = lappend(secrets, pnstrdup(start, end - start));
}

/* text with every remembered secret replaced; text itself when there is none in it */
static char *
scrub_secrets(char *text)
{
	ListCell   *lc;

	if (text == NULL)
		return NULL;
	foreach(lc, secrets)
	{
		const char *secret = lfirst(lc);
		size_t		len = strlen(secret);
		const char *from = text;
		const char *hit;
		StringInfoData out;

		if (strstr(text, secret) == NULL)
			continue;
		/* one pass, resuming after each hit: the mask never matches again */
		initStringInfo(&out);
		while ((hit = strstr(from, secret)) != NULL)
		{
			appendBinaryStringInfo(&out, from, hit - from);
			appendStringInfoString(&out, "********");
			from = hit + len;
		}
		appendStringInfoString(&out, from);
		text = out.data;
	}
	return text;
}

static char *redact(const char *sql, int len);

static bool
contains_password_word(const char *start, const char *end)
{
	for (const char *q = start; q + 8 <= end; q++)
		if (pg_strncasecmp(q, "password", 8) == 0)
			return true;
	return false;
}

/* the text of a quoted literal, its doubled quotes (and backslash escapes) undone */
static char *
unquote_literal(const char *start, const char *end, bool escapes)
{
	StringInfoData buf;
	const char *q = start;

	initStringInfo(&buf);
	if (escapes)
		q++;					/* the E */
	q++;						/* the opening quote */
	if (end > q && end[-1] == '\'')
		end--;
	while (q < end)
	{
		if (*q == '\'' && q + 1 < end && q[1] == '\'')
			q++;
		else if (escapes && *q == '\\' && q + 1 < end)
			q++;
		appendStringInfoChar(&buf, *q++);
	}
	return buf.data;
}

/* the secrets of this statement only are remembered, in the caller's memory context */
char *
olink_redact(const char *sql, int len)
{
	secrets = NIL;
	return redact(sql, len);
}

/* the names of olink's functions that take a password */
static const char *const password_functions[] = {
	"issue_credential", "change_password", "set_password", NULL
};

/*
 * Does the statement call a password function, by any spelling (quoted,
 * U&"..." escapes aside), or EXECUTE a prepared statement that does?
 */
static bool
calls_password_function(const char *sql, int len)
{
	char	   *s = pnstrdup(sql, len);
	const char *p = s;

	for (int i = 0; password_functions[i] != NULL; i++)
		if (strcasestr(s, password_functions[i]) != NULL)
			return true;
	/* EXECUTE name [(...)]: the prepared statement's own text decides */
	while (*p && (isspace((unsigned char) *p) || *p == '('))
		p++;
	if (pg_strncasecmp(p, "execute", 7) == 0 && isspace((unsigned char) p[7]))
	{
		const char *name = p + 7;
		const char *e;
		PreparedStatement *ps;

		while (*name && isspace((unsigned char) *name))
			name++;
		e = name;
		while (*e && (isalnum((unsigned char) *e) || *e == '_' || IS_HIGHBIT_SET(*e)))
			e++;
		if (e > name)
		{
			char	   *n = pnstrdup(name, e - name);

			for (char *q = n; *q; q++)
				*q = pg_ascii_tolower((unsigned char) *q);
			ps = FetchPreparedStatement(n, false);
			if (ps != NULL && ps->plansource != NULL && ps->plansource->query_string != NULL)
				for (int i = 0; password_functions[i] != NULL; i++)
					if (strcasestr(ps->plansource->query_string, password_functions[i]) != NULL)
						return true;
		}
	}
	return false;
}

static char *
redact(const char *sql, int len)
{
	StringInfoData out;
	const char *p = sql;
	const char *end = sql + len;
	bool		after_password = false;
	bool		in_password_call = false;
	/* in change_password(login, ...), the login is not a secret */
	bool		whole;
	int			expect_login = 0;	/* 1: after change_password, 2: after its "(" */
	bool		after_arrow = false;
	bool		after_login_word = false;

	/*
	 * A statement that calls a password function anywhere (or executes a
	 * prepared statement that does) has every literal hidden, wherever it
	 * stands (WITH x AS (SELECT '...')), but the login of change_password.
	 */
	whole = calls_password_function(sql, len);
	in_password_call = whole;

	initStringInfo(&out);
	while (p < end)
	{
		const char *tok = p;

		if (isspace((unsigned char) *p))
		{
			while (p < end && isspace((unsigned char) *p))
				p++;
			appendBinaryStringInfo(&out, tok, p - tok);
			continue;
		}
		if (p + 1 < end && p[0] == '-' && p[1] == '-')
		{
			while (p < end && *p != '\n')
				p++;
			appendBinaryStringInfo(&out, tok, p - tok);
			continue;
		}
		if (p + 1 < end && p[0] == '/' && p[1] == '*')
		{
			int			depth = 0;

			while (p < end)
			{
				if (p + 1 < end && p[0] == '/' && p[1] == '*')
				{
					depth++;
					p += 2;
				}
				else if (p + 1 < end && p[0] == '*' && p[1] == '/')
				{
					p += 2;
					if (--depth == 0)
						break;
				}
				else
					p++;
			}
			appendBinaryStringInfo(&out, tok, p - tok);
			continue;
		}
		if (*p == '\'' || ((*p == 'E' || *p == 'e') && p + 1 < end && p[1] == '\''))
		{
			bool		escapes = (*p != '\'');

			if (escapes)
				p++;
			p++;
			while (p < end)
			{
				if (escapes && *p == '\\' && p + 1 < end)
					p += 2;
				else if (*p == '\'' && p + 1 < end && p[1] == '\'')
					p += 2;
				else if (*p == '\'')
				{
					p++;
					break;
				}
				else
					p++;
			}
			if (in_password_call && !after_password &&
				((after_arrow && after_login_word) || expect_login == 2))
				appendBinaryStringInfo(&out, tok, p - tok);
			else if (after_password || in_password_call)
			{
				remember_secret(tok, p);
				appendStringInfoString(&out, "'********'");
			}
			else if (contains_password_word(tok, p))
			{
				/*
				 * A literal that is SQL itself (EXECUTE 'ALTER ROLE ...
				 * PASSWORD ''...'''): its secrets are found in the unquoted
				 * text, and the whole literal is hidden.
				 */
				char	   *inner = unquote_literal(tok, p, escapes);

				(void) redact(inner, strlen(inner));
				appendStringInfoString(&out, "'********'");
			}
			else
				appendBinaryStringInfo(&out, tok, p - tok);
			after_password = false;
			after_arrow = after_login_word = false;
			expect_login = 0;
			continue;
		}
		if (*p == '$')
		{
			const char *q = p + 1;

			while (q < end && (isalnum((unsigned char) *q) || *q == '_'))
				q++;
			if (q < end && *q == '$')
			{
				int			taglen = q - p + 1;
				const char *close = NULL;

				for (const char *r = q + 1; r + taglen <= end; r++)
					if (memcmp(r, p, taglen) == 0)
					{
						close = r;
						break;
					}
				p = close ? close + taglen : end;
				if (after_password || in_password_call)
				{
					remember_secret(tok + taglen, close ? close : end);
					appendStringInfoString(&out, "'********'");
				}
				else
				{
					/* a body (a DO block, a function): SQL too, redacted in turn */
					const char *body = tok + taglen;
					const char *body_end = close ? close : end;

					appendBinaryStringInfo(&out, tok, taglen);
					appendStringInfoString(&out, redact(body, body_end - body));
					if (close)
						appendBinaryStringInfo(&out, close, taglen);
				}
				after_password = false;
				continue;
			}
		}
		if (*p == '"')
		{
			p++;
			while (p < end)
			{
				if (*p == '"' && p + 1 < end && p[1] == '"')
					p += 2;
				else if (*p++ == '"')
					break;
			}
			appendBinaryStringInfo(&out, tok, p - tok);
			after_password = false;
			expect_login = 0;
			/* "change_password": a quoted name is still the function */
			if (p - tok >= 2 && (word_is(tok + 1, p - tok - 2, "change_password") ||
								 word_is(tok + 1, p - tok - 2, "_change_password")))
			{
				in_password_call = true;
				expect_login = 1;
			}
			else if (p - tok >= 2 && (word_is(tok + 1, p - tok - 2, "issue_credential") ||
									  word_is(tok + 1, p - tok - 2, "_set_password")))
				in_password_call = true;
			continue;
		}
		if (isalpha((unsigned char) *p) || *p == '_' || IS_HIGHBIT_SET(*p))
		{
			while (p < end && (isalnum((unsigned char) *p) || *p == '_' || *p == '$' ||
							   IS_HIGHBIT_SET(*p)))
				p++;
			appendBinaryStringInfo(&out, tok, p - tok);
			after_arrow = false;
			expect_login = 0;
			after_login_word = word_is(tok, p - tok, "login");
			if (word_is(tok, p - tok, "password"))
				after_password = true;
			else if (word_is(tok, p - tok, "change_password") ||
					 word_is(tok, p - tok, "_change_password"))
			{
				in_password_call = true;
				expect_login = 1;
			}
			else if (word_is(tok, p - tok, "issue_credential") ||
					 word_is(tok, p - tok, "set_password") ||
					 word_is(tok, p - tok, "_set_password"))
				in_password_call = true;
			else if (!word_is(tok, p - tok, "encrypted"))
				after_password = false;
			continue;
		}
		/* any other character; ';' ends a call */
		if (*p == '=' && p + 1 < end && p[1] == '>')
		{
			appendBinaryStringInfo(&out, p, 2);
			p += 2;
			after_arrow = true;
			continue;
		}
		if (*p == ';')
			in_password_call = whole;
		expect_login = (*p == '(' && expect_login == 1) ? 2 : 0;
		after_arrow = after_login_word = false;
		appendStringInfoChar(&out, *p);
		p++;
	}
	return out.data;
}

/* is there anything redact() would change?  A cheap test first */
static bool
may_hold_password(const char *s)
{
	const char *p = s;

	if (s == NULL)
		return false;
	if (strcasestr(s, "password") != NULL || strcasestr(s, "issue_credential") != NULL)
		return true;
	/* EXECUTE of a prepared statement that may set one */
	while (*p && isspace((unsigned char) *p))
		p++;
	return pg_strncasecmp(p, "execute", 7) == 0;
}

/* ---------------------------------------------------------------------
 * The session
 * ---------------------------------------------------------------------
 */

static const char *
client_address(Port *port, char *buf, size_t buflen)
{
	if (port == NULL)
		return NULL;
	if (port->raddr.addr.ss_family == AF_UNIX)
		return "[local]";
	buf[0] = '\0';
	if (pg_getnameinfo_all(&port->raddr.addr, port->raddr.salen,
						   buf, buflen, NULL, 0, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return NULL;
	return buf;
}

static void
connection_event(OlinkEventBuilder *b, OlinkEventKind kind, char *addrbuf, size_t addrlen)
{
	Port	   *port = MyProcPort;

	olink_event_init(b, kind);
	b->ev.session_id = session_id;
	if (port)
	{
		b->str[OLINK_EVC_LOGIN] = port->user_name;
		b->str[OLINK_EVC_DATABASE] = port->database_name;
		b->str[OLINK_EVC_CLIENT_ADDR] = (char *) client_address(port, addrbuf, addrlen);
		b->str[OLINK_EVC_APPLICATION] = port->application_name;
		if (session_terminal[0] != '\0')
			b->str[OLINK_EVC_TERMINAL] = session_terminal;
		b->ev.login_oid = session_login_oid;
#ifdef USE_SSL
		b->ev.ssl = port->ssl_in_use;
#endif
	}
}

static void
audit_logout(int code, Datum arg)
{
	OlinkEventBuilder b;
	char		addr[NI_MAXHOST];

	if (!login_written || !olink_queue_ready())
		return;
	connection_event(&b, OLINK_EV_LOGOUT, addr, sizeof(addr));
	b.ev.duration_us = GetCurrentTimestamp() - MyStartTimestamp;
	b.ev.statements = session_statements;
	(void) olink_event_put_quietly(&b);
}

/* the session's login event, if not yet written */
static void
write_login(bool quietly)
{
	OlinkEventBuilder b;
	char		addr[NI_MAXHOST];

	if (login_written)
		return;
	connection_event(&b, OLINK_EV_LOGIN, addr, sizeof(addr));
	b.ev.at = MyStartTimestamp;
	if (!OidIsValid(session_login_oid) && OidIsValid(GetSessionUserId()))
		session_login_oid = GetSessionUserId();
	b.ev.login_oid = session_login_oid;
	if (quietly)
		(void) olink_event_put_quietly(&b);
	else
		(void) olink_event_put(&b);
	login_written = true;
	if (!logout_registered)
	{
		before_shmem_exit(audit_logout, (Datum) 0);
		logout_registered = true;
	}
}

static void
audit_client_auth(Port *port, int status)
{
	if (prev_ClientAuthentication)
		prev_ClientAuthentication(port, status);

	if (!olink_queue_ready())
		return;

	if (status == STATUS_ERROR)
	{
		/* a failed login of a credential counts towards its lockout */
		olink_auth_check(port, status, get_role_oid(port->user_name, true),
						 session_terminal, sizeof(session_terminal));
	}

	session_id = olink_next_id();
	if (status == STATUS_OK)
	{
		Oid			roleid = get_role_oid(port->user_name, true);
		Oid			cprole = get_role_oid("olink_counterpart", true);

		session_known = true;
		session_login_oid = roleid;
		/*
		 * A registered credential is checked at the door even if someone
		 * took it out of olink_counterpart.
		 */
		session_audited = (OidIsValid(roleid) && OidIsValid(cprole) &&
						   is_member_of_role_nosuper(roleid, cprole)) ||
			olink_auth_is_credential(roleid);

		/*
		 * Database (olink enforces and audits only in its own), terminal,
		 * certificate, lockout, standing: refused here with a FATAL that
		 * says no more than a wrong password would, the reason reaching the
		 * connection log through audit_emit_log.
		 */
		if (session_audited)
			olink_auth_check(port, status, roleid, session_terminal, sizeof(session_terminal));
		if (session_audited || olink_audit_connections == OLINK_AUDIT_CONNECTIONS_ALL)
		{
			OlinkEventBuilder b;
			char		addr[NI_MAXHOST];

			/* a counterpart whose login cannot be recorded does not get in */
			connection_event(&b, OLINK_EV_LOGIN, addr, sizeof(addr));
			b.ev.at = MyStartTimestamp;
			b.ev.login_oid = roleid;
			(void) olink_event_put(&b);
			login_written = true;
			before_shmem_exit(audit_logout, (Datum) 0);
			logout_registered = true;
		}
	}
	else if (status == STATUS_ERROR)
	{
		/* the reason is in the FATAL that follows: see audit_emit_log */
		auth_failing = true;
		session_login_oid = get_role_oid(port->user_name, true);
	}
}

/* ---------------------------------------------------------------------
 * Statements
 * ---------------------------------------------------------------------
 */

/* should this session's statements be audited?  Decided at each statement */
static bool
statement_audited(void)
{
	OlinkSession *s;

	if (MyProcPort == NULL || IsParallelWorker() || !olink_queue_ready() ||
		olink_in_registry_read)
		return false;
	if (olink_audit_internal)
		return session_audited = true;
	if (!IsTransactionState())
		return session_audited;
	s = olink_session();
	session_audited = s->installed && s->is_counterpart;
	return session_audited;
}

static char *
statement_text(const char *source, int location, int len)
{
	char	   *text;

	if (source == NULL)
		return NULL;
	if (location > 0 && location < (int) strlen(source))
		source += location;
	if (len <= 0)
		len = strlen(source);
	else
		len = Min(len, (int) strlen(source));
	/* trim the white space a multi-statement string leaves around each */
	while (len > 0 && isspace((unsigned char) *source))
	{
		source++;
		len--;
	}
	while (len > 0 && isspace((unsigned char) source[len - 1]))
		len--;
	if (len > MAX_STATEMENT_LEN)
	{
		int			cut = pg_mbcliplen(source, len, MAX_STATEMENT_LEN);

		text = palloc(cut + 32);
		memcpy(text, source, cut);
		strcpy(text + cut, " /* olink: cut */");
	}
	else
		text = pnstrdup(source, len);
	if (may_hold_password(text))
		text = olink_redact(text, strlen(text));
	return text;
}

/*
 * The relations and columns of the pending event as text[] literals.  A
 * prepared statement touches the same ones every time: the texts of the
 * last event are kept and reused when the relations and columns match.
 */
static List *last_rels = NIL;	/* AuditRel *, in TopMemoryContext */
static char *last_rels_text = NULL;
static char *last_cols_text = NULL;

static bool
same_rels(List *a, List *b)
{
	ListCell   *la;
	ListCell   *lb;

	if (list_length(a) != list_length(b))
		return false;
	forboth(la, a, lb, b)
	{
		AuditRel   *x = lfirst(la);
		AuditRel   *y = lfirst(lb);

		if (x->relid != y->relid || !bms_equal(x->columns, y->columns))
			return false;
	}
	return true;
}

static void
forget_rels_text(void)
{
	ListCell   *lc;

	foreach(lc, last_rels)
	{
		bms_free(((AuditRel *) lfirst(lc))->columns);
		pfree(lfirst(lc));
	}
	list_free(last_rels);
	last_rels = NIL;
	if (last_rels_text)
		pfree(last_rels_text);
	if (last_cols_text)
		pfree(last_cols_text);
	last_rels_text = last_cols_text = NULL;
}

static void
rels_text(char **rels_out, char **cols_out)
{
	StringInfoData rels;
	StringInfoData cols;
	ListCell   *lc;
	MemoryContext old;
	bool		cols_cut = false;

	if (last_rels_text != NULL && same_rels(pending.rels, last_rels))
	{
		*rels_out = last_rels_text;
		*cols_out = last_cols_text;
		return;
	}

	initStringInfo(&rels);
	initStringInfo(&cols);
	appendStringInfoChar(&rels, '{');
	appendStringInfoChar(&cols, '{');
	foreach(lc, pending.rels)
	{
		AuditRel   *ar = lfirst(lc);
		const char *name = olink_audit_relation_name(ar->relid);
		int			attno = -1;

		/* kept within an event field: the list says where it was cut */
		if (rels.len > MAX_LIST_LEN)
		{
			appendStringInfoString(&rels, ",\"...\"");
			break;
		}
		if (rels.len > 1)
			appendStringInfoChar(&rels, ',');
		olink_append_array_element(&rels, name);
		while ((attno = bms_next_member(ar->columns, attno)) >= 0)
		{
			AttrNumber	att = attno + FirstLowInvalidHeapAttributeNumber;
			const char *col;

			if (cols.len > MAX_LIST_LEN)
			{
				if (!cols_cut)
					appendStringInfoString(&cols, ",\"...\"");
				cols_cut = true;
				break;
			}
			/* a whole-row reference reads every column */
			col = att == 0 ? "*" : olink_audit_column_name(ar->relid, att);
			if (col == NULL)
				continue;
			if (cols.len > 1)
				appendStringInfoChar(&cols, ',');
			olink_append_array_element(&cols, psprintf("%s.%s", name, col));
		}
	}
	appendStringInfoChar(&rels, '}');
	appendStringInfoChar(&cols, '}');

	forget_rels_text();
	old = MemoryContextSwitchTo(TopMemoryContext);
	foreach(lc, pending.rels)
	{
		AuditRel   *ar = palloc(sizeof(AuditRel));

		ar->relid = ((AuditRel *) lfirst(lc))->relid;
		ar->columns = bms_copy(((AuditRel *) lfirst(lc))->columns);
		last_rels = lappend(last_rels, ar);
	}
	last_rels_text = pstrdup(rels.data);
	last_cols_text = cols.len > 2 ? pstrdup(cols.data) : NULL;
	MemoryContextSwitchTo(old);
	*rels_out = last_rels_text;
	*cols_out = last_cols_text;
}

/* close the pending event and queue it */
static void
finish_event(bool quietly)
{
	OlinkEventBuilder b;
	uint64		endpos;

	if (!pending.active)
		return;
	pending.active = false;

	olink_event_init(&b, OLINK_EV_ACCESS);
	b.ev.session_id = session_id;
	b.ev.statement_id = pending.statement_id;
	b.ev.rows = pending.rows;
	b.ev.outcome = pending.outcome;
	b.str[OLINK_EVA_STATEMENT] = pending.statement;
	b.str[OLINK_EVA_COUNTERPART] = pending.counterpart;
	b.str[OLINK_EVA_PURPOSE] = pending.purpose;
	b.str[OLINK_EVA_COMMAND] = (char *) pending.command;
	b.str[OLINK_EVA_SQLSTATE] = pending.sqlstate;
	b.str[OLINK_EVA_MESSAGE] = pending.message;
	b.str[OLINK_EVA_LOGIN] = pending.login;

	if (pending.rels != NIL)
	{
		rels_text(&b.str[OLINK_EVA_RELATIONS], &b.str[OLINK_EVA_COLUMNS]);
	}

	session_statements++;
	if (quietly)
	{
		endpos = olink_event_put_quietly(&b);
		if (endpos != 0 && olink_audit_durability == OLINK_DURABILITY_SYNC)
			(void) olink_queue_wait_written(endpos, SYNC_WAIT_MS, true);
	}
	else
		(void) olink_event_put(&b);
}

/*
 * Open the event of a new top-level statement.  Called only when the
 * session is audited; an event still open (a portal never closed) is
 * written first.
 */
static void
begin_event(const char *source, int location, int len, const char *command,
			QueryDesc *query, bool utility, bool from_planner)
{
	MemoryContext old;

	if (pending.active)
		finish_event(false);
	if (!login_written)
		write_login(false);

	MemoryContextReset(audit_cxt);
	old = MemoryContextSwitchTo(audit_cxt);
	memset(&pending, 0, sizeof(pending));
	pending.statement_id = olink_current_statement_id(true);
	pending.statement = statement_text(source, location, len);
	pending.command = command;
	pending.query = query;
	pending.utility = utility;
	pending.from_planner = from_planner;
	pending.outcome = OLINK_OUTCOME_ALLOWED;
	if (IsTransactionState())
	{
		OlinkSession *s = olink_session();

		if (s->installed && s->is_counterpart)
		{
			pending.counterpart = pstrdup(s->counterpart);
			if (session_counterpart == NULL || strcmp(session_counterpart, s->counterpart) != 0)
				session_counterpart = MemoryContextStrdup(TopMemoryContext, s->counterpart);
		}
	}
	else if (session_audited)
		pending.counterpart = session_counterpart;	/* an aborted transaction: as last known */
	pending.purpose = olink_purpose && olink_purpose[0] ? pstrdup(olink_purpose) : NULL;
	pending.login = IsTransactionState() ? session_user_name() : session_login_name;
	MemoryContextSwitchTo(old);
	pending.active = true;
	/* olink.sessions, and the counterpart's statements per minute (which may refuse it) */
	if (session_audited)
		olink_session_note_statement(pending.purpose, command, utility);

	if (olink_audit_durability == OLINK_DURABILITY_SYNC)
	{
		/* the start record, committed before the statement runs */
		OlinkEventBuilder b;
		uint64		endpos;

		olink_event_init(&b, OLINK_EV_ACCESS);
		b.ev.session_id = session_id;
		b.ev.statement_id = pending.statement_id;
		b.ev.outcome = OLINK_OUTCOME_STARTED;
		b.str[OLINK_EVA_STATEMENT] = pending.statement;
		b.str[OLINK_EVA_COUNTERPART] = pending.counterpart;
		b.str[OLINK_EVA_PURPOSE] = pending.purpose;
		b.str[OLINK_EVA_COMMAND] = (char *) pending.command;
		b.str[OLINK_EVA_LOGIN] = pending.login;
		endpos = olink_event_put(&b);
		if (!olink_queue_wait_written(endpos, SYNC_WAIT_MS, false))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("audit event of this statement could not be committed"),
					 errdetail("olink.audit_durability is \"sync\" and the audit worker did not commit the event within %d seconds.",
							   SYNC_WAIT_MS / 1000),
					 errhint("Check the server log for the olink audit worker.")));
	}
}

/* the relations and columns a query of the statement touches */
static void
collect_range_table(List *rtable)
{
	ListCell   *lc;
	MemoryContext old = MemoryContextSwitchTo(audit_cxt);

	foreach(lc, rtable)
	{
		RangeTblEntry *rte = lfirst(lc);
		AuditRel   *ar = NULL;
		ListCell   *lc2;

		if (rte->rtekind != RTE_RELATION || OLINK_RTE_REQUIRED_PERMS(rte) == 0 ||
			rte->relkind == RELKIND_VIEW)
			continue;
		foreach(lc2, pending.rels)
		{
			if (((AuditRel *) lfirst(lc2))->relid == rte->relid)
			{
				ar = lfirst(lc2);
				break;
			}
		}
		if (ar == NULL)
		{
			ar = palloc0(sizeof(AuditRel));
			ar->relid = rte->relid;
			pending.rels = lappend(pending.rels, ar);
		}
		ar->columns = bms_add_members(ar->columns, OLINK_RTE_SELECTED_COLS(rte));
		ar->columns = bms_add_members(ar->columns, OLINK_RTE_INSERTED_COLS(rte));
		ar->columns = bms_add_members(ar->columns, OLINK_RTE_UPDATED_COLS(rte));
	}
	MemoryContextSwitchTo(old);
}

/* from enforce.c's ExecutorCheckPerms hook: COPY and other checks that run no ExecutorStart */
void
olink_audit_note_range_table(List *rtable)
{
	/* olink's own queries (the registry, check-outs) are not the statement's */
	if (pending.active && !olink_in_registry_read)
		collect_range_table(rtable);
}

static void
note_error(ErrorData *edata)
{
	MemoryContext old = MemoryContextSwitchTo(audit_cxt);

	if (pending.outcome != OLINK_OUTCOME_DENIED)
	{
		/* refused by a grant, a quota or a rate limit: denied; anything else: failed */
		pending.outcome = (edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE ||
						   edata->sqlerrcode == ERRCODE_CONFIGURATION_LIMIT_EXCEEDED) ?
			OLINK_OUTCOME_DENIED : OLINK_OUTCOME_FAILED;
		pending.sqlstate = pstrdup(unpack_sql_state(edata->sqlerrcode));
		pending.message = edata->message ? pstrdup(edata->message) : NULL;
		if (pending.message && may_hold_password(pending.message))
			pending.message = olink_redact(pending.message, strlen(pending.message));
	}
	MemoryContextSwitchTo(old);
}

/*
 * Called by enforce.c as it refuses something: the refusal is recorded in
 * the statement's event even if a PL/pgSQL handler catches the error.
 */
void
olink_audit_capture_error(void)
{
	MemoryContext old;
	ErrorData  *edata;

	if (!pending.active)
		return;
	old = MemoryContextSwitchTo(audit_cxt);
	edata = CopyErrorData();
	note_error(edata);
	MemoryContextSwitchTo(old);
}

/* the top-level statement's id, assigned when first asked for */
static int64 current_statement_id = 0;
static uint64 current_statement_round = 0;
static uint64 statement_round = 1;

int64
olink_current_statement_id(bool new_statement)
{
	if (new_statement)
		statement_round++;
	if (current_statement_round != statement_round)
	{
		current_statement_id = olink_next_id();
		current_statement_round = statement_round;
	}
	return current_statement_id;
}

/* ---------------------------------------------------------------------
 * Names of relations and columns, as events name them
 * ---------------------------------------------------------------------
 */

typedef struct NameEntry
{
	Oid			relid;			/* hash key */
	char	   *name;			/* schema-qualified */
	int			ncols;
	char	  **cols;			/* by attnum - 1, filled on demand */
} NameEntry;

static HTAB *name_cache = NULL;
static MemoryContext name_cxt = NULL;

static void forget_rels_text(void);

static void
name_cache_invalidate(Datum arg, Oid relid)
{
	/* texts built from old names are not reused */
	if (last_rels != NIL)
		forget_rels_text();
	if (name_cache != NULL)
	{
		hash_destroy(name_cache);
		name_cache = NULL;
		MemoryContextReset(name_cxt);
	}
}

static NameEntry *
name_entry(Oid relid)
{
	NameEntry  *e;
	bool		found;

	if (name_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(NameEntry);
		ctl.hcxt = name_cxt;
		name_cache = hash_create("olink audit names", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	e = hash_search(name_cache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		char	   *rel = get_rel_name(relid);
		char	   *nsp = get_namespace_name(get_rel_namespace(relid));

		e->name = MemoryContextStrdup(name_cxt,
									  rel ? quote_qualified_identifier(nsp, rel) : psprintf("%u", relid));
		e->ncols = 0;
		e->cols = NULL;
	}
	return e;
}

static const char *
olink_audit_relation_name(Oid relid)
{
	return name_entry(relid)->name;
}

static const char *
olink_audit_column_name(Oid relid, AttrNumber attnum)
{
	NameEntry  *e = name_entry(relid);

	if (attnum <= 0)
		return NULL;
	if (attnum > e->ncols)
	{
		int			n = Max(attnum, 16);

		char	  **cols = MemoryContextAllocZero(name_cxt, n * sizeof(char *));

		if (e->ncols > 0)
			memcpy(cols, e->cols, e->ncols * sizeof(char *));
		e->cols = cols;
		e->ncols = n;
	}
	if (e->cols[attnum - 1] == NULL)
	{
		char	   *att = get_attname(relid, attnum, true);

		if (att == NULL)
			return NULL;
		e->cols[attnum - 1] = MemoryContextStrdup(name_cxt, quote_identifier(att));
	}
	return e->cols[attnum - 1];
}

/* one element of a text[] literal, always quoted */
static void
olink_append_array_element(StringInfo buf, const char *s)
{
	appendStringInfoChar(buf, '"');
	for (; *s; s++)
	{
		if (*s == '"' || *s == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *s);
	}
	appendStringInfoChar(buf, '"');
}

/*
 * A transaction aborted with the statement's event still open: the error
 * did not reach emit_log_hook (log_min_messages above ERROR).  The event
 * is written all the same, as failed.
 */
static void
audit_xact_callback(XactEvent event, void *arg)
{
	/* at depth 0: not the event of a ROLLBACK statement under way */
	if (event == XACT_EVENT_ABORT && pending.active && at_top_level())
	{
		if (pending.outcome == OLINK_OUTCOME_ALLOWED)
			pending.outcome = OLINK_OUTCOME_FAILED;
		finish_event(true);
	}
}

/* ---------------------------------------------------------------------
 * Hooks
 * ---------------------------------------------------------------------
 */

static PlannedStmt *
audit_planner(Query *parse, const char *query_string, int cursorOptions,
			  ParamListInfo boundParams)
{
	PlannedStmt *result;

	if (at_top_level())
	{
		statement_round++;
		if (statement_audited())
			begin_event(query_string, parse->stmt_location, parse->stmt_len,
						GetCommandTagName(CreateCommandTag((Node *) parse)),
						NULL, false, true);
	}
	audit_depth++;
	PG_TRY();
	{
		if (prev_planner)
			result = prev_planner(parse, query_string, cursorOptions, boundParams);
		else
			result = standard_planner(parse, query_string, cursorOptions, boundParams);
	}
	PG_FINALLY();
	{
		audit_depth--;
	}
	PG_END_TRY();
	return result;
}

static void
audit_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (at_top_level())
	{
		if (pending.active && pending.from_planner && pending.query == NULL)
		{
			/* the planner opened it: this is the same statement */
			pending.query = queryDesc;
			pending.from_planner = false;
		}
		else
		{
			statement_round++;
			if (statement_audited())
			{
				PlannedStmt *ps = queryDesc->plannedstmt;

				begin_event(queryDesc->sourceText, ps->stmt_location, ps->stmt_len,
							GetCommandTagName(CreateCommandTag((Node *) ps)),
							queryDesc, false, false);
			}
		}
	}
	if (pending.active && !olink_in_registry_read)
		collect_range_table(queryDesc->plannedstmt->rtable);

	audit_depth++;
	PG_TRY();
	{
		if (prev_ExecutorStart)
			prev_ExecutorStart(queryDesc, eflags);
		else
			standard_ExecutorStart(queryDesc, eflags);
	}
	PG_FINALLY();
	{
		audit_depth--;
	}
	PG_END_TRY();
}

static void
audit_ExecutorEnd(QueryDesc *queryDesc)
{
	bool		closes = at_top_level() && pending.active && pending.query == queryDesc;

	if (closes && queryDesc->estate)
		pending.rows = queryDesc->estate->es_processed;

	audit_depth++;
	PG_TRY();
	{
		if (prev_ExecutorEnd)
			prev_ExecutorEnd(queryDesc);
		else
			standard_ExecutorEnd(queryDesc);
	}
	PG_FINALLY();
	{
		audit_depth--;
	}
	PG_END_TRY();

	if (closes && pending.active && pending.query == queryDesc)
		finish_event(false);
}

static void
audit_ProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					 ProcessUtilityContext context, ParamListInfo params,
					 QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	bool		top = at_top_level();
	bool		opened = false;

	if (top)
	{
		statement_round++;
		if (statement_audited())
		{
			begin_event(queryString, pstmt->stmt_location, pstmt->stmt_len,
						GetCommandTagName(CreateCommandTag(pstmt->utilityStmt)),
						NULL, true, false);
			opened = true;
		}
	}

	audit_depth++;
	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
									queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		audit_depth--;
	}
	PG_END_TRY();

	if (opened && pending.active && pending.utility)
	{
		pending.rows = qc ? qc->nprocessed : 0;
		finish_event(false);
	}
}

/*
 * Every message on its way out: passwords are scrubbed from what goes to
 * the server log, and an error closes the statement's event (or is an
 * event of its own when no statement was open: a syntax error, a
 * permission denied in parse analysis, a refused login).
 */
static void
audit_emit_log(ErrorData *edata)
{
	if (!in_emit_log)
	{
		in_emit_log = true;

		olink_annotate_cut_off(edata);

		if (edata->message && may_hold_password(edata->message))
			edata->message = olink_redact(edata->message, strlen(edata->message));
		if (may_hold_password(debug_query_string))
		{
			/* pieces of the statement quoted in the message are scrubbed by value */
			(void) olink_redact(debug_query_string, strlen(debug_query_string));
			edata->message = scrub_secrets(edata->message);
			edata->detail = scrub_secrets(edata->detail);
			edata->detail_log = scrub_secrets(edata->detail_log);
			edata->hint = scrub_secrets(edata->hint);
			edata->context = scrub_secrets(edata->context);
			edata->internalquery = scrub_secrets(edata->internalquery);
		}
		/*
		 * The values of an extended-protocol statement that sets a password
		 * (log_statement's DETAIL, an error's CONTEXT): hidden.
		 */
		if (may_hold_password(debug_query_string) &&
			calls_password_function(debug_query_string, strlen(debug_query_string)))
		{
			/* palloc'd: errfinish frees what edata points to */
			if (edata->detail && strncmp(edata->detail, "parameters: ", 12) == 0)
				edata->detail = pstrdup("parameters: hidden by olink, the statement sets a password");
			if (edata->detail_log && strncmp(edata->detail_log, "parameters: ", 12) == 0)
				edata->detail_log = pstrdup("parameters: hidden by olink, the statement sets a password");
			if (edata->context && strstr(edata->context, "with parameters: ") != NULL)
				edata->context = pstrdup("extended query with parameters hidden by olink, the statement sets a password");
		}
		if (!edata->hide_stmt && may_hold_password(debug_query_string))
		{
			char	   *redacted = olink_redact(debug_query_string, strlen(debug_query_string));

			/*
			 * The STATEMENT line of the server log, when it holds a password:
			 * hidden, and the redacted statement logged as a server-only
			 * detail instead.  The client sees nothing different.
			 */
			if (strcmp(redacted, debug_query_string) != 0)
			{
				/* the server log shows detail_log instead of detail: keep both */
				const char *prior = edata->detail_log ? edata->detail_log : edata->detail;

				edata->hide_stmt = true;
				edata->detail_log = psprintf("%s%sstatement: %s",
											 prior ? prior : "", prior ? "\n" : "",
											 redacted);
			}
		}

		if (edata->elevel >= ERROR && olink_queue_ready() && MyProcPort != NULL &&
			!IsParallelWorker())
		{
			if (edata->elevel >= FATAL &&
				(auth_failing || ERRCODE_TO_CATEGORY(edata->sqlerrcode) ==
				 ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION))
			{
				OlinkEventBuilder b;
				char		addr[NI_MAXHOST];

				connection_event(&b, OLINK_EV_REFUSED, addr, sizeof(addr));
				if (session_id == 0)
					b.ev.session_id = session_id = olink_next_id();
				b.str[OLINK_EVC_REASON] = edata->message;
				if (olink_auth_refusal != NULL && auth_failing)
					b.str[OLINK_EVC_REASON] = psprintf("%s: %s", edata->message, olink_auth_refusal);
				else if (olink_auth_refusal != NULL)
					b.str[OLINK_EVC_REASON] = olink_auth_refusal;
				(void) olink_event_put_quietly(&b);
				auth_failing = false;
				/* refused after authentication: no logout follows */
				login_written = false;
			}
			else if (session_known && (session_audited || olink_audit_internal))
			{
				if (!pending.active)
				{
					/* no hook saw this statement: it is an event of its own */
					MemoryContextReset(audit_cxt);
					memset(&pending, 0, sizeof(pending));
					pending.statement_id = olink_current_statement_id(true);
					pending.statement = MemoryContextStrdup(audit_cxt, "");
					if (debug_query_string)
					{
						MemoryContext old = MemoryContextSwitchTo(audit_cxt);

						pending.statement = statement_text(debug_query_string, 0, 0);
						MemoryContextSwitchTo(old);
					}
					pending.counterpart = session_counterpart;
					pending.login = session_login_name;
					if (olink_purpose && olink_purpose[0])
						pending.purpose = MemoryContextStrdup(audit_cxt, olink_purpose);
					pending.active = true;
				}
				note_error(edata);
				if (!login_written)
					write_login(true);
				finish_event(true);
			}
		}
		in_emit_log = false;
	}

	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

void
olink_audit_init(void)
{
	audit_cxt = AllocSetContextCreate(TopMemoryContext, "olink audit",
									  ALLOCSET_SMALL_SIZES);
	name_cxt = AllocSetContextCreate(TopMemoryContext, "olink audit names",
									 ALLOCSET_SMALL_SIZES);
	CacheRegisterRelcacheCallback(name_cache_invalidate, (Datum) 0);
	RegisterXactCallback(audit_xact_callback, NULL);

	prev_planner = planner_hook;
	planner_hook = audit_planner;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = audit_ExecutorStart;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = audit_ExecutorEnd;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = audit_ProcessUtility;
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = audit_emit_log;
	prev_ClientAuthentication = ClientAuthentication_hook;
	ClientAuthentication_hook = audit_client_auth;
}
