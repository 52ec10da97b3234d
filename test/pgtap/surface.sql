-- The public surface: names, signatures, privileges.  Nothing is usable by PUBLIC; every
-- SECURITY DEFINER function pins its search_path; settings have the contexts DESIGN.md gives.
BEGIN;
SELECT plan(80);

SELECT has_schema('olink');
SELECT has_role('olink_admin');
SELECT has_role('olink_credential_manager');
SELECT has_role('olink_auditor');
SELECT has_role('olink_counterpart');

SELECT has_function('olink', 'add_counterpart', ARRAY['text', 'text', 'text', 'date', 'name']);
SELECT has_function('olink', 'add_agreement', ARRAY['text', 'text', 'text[]', 'timestamp with time zone',
                    'timestamp with time zone', 'text', 'text', 'text']);
SELECT has_function('olink', 'protect', ARRAY['regclass', 'text']);
SELECT has_function('olink', 'unprotect', ARRAY['regclass', 'text']);
SELECT has_function('olink', 'grant_access', ARRAY['text', 'regclass', 'text[]', 'text[]', 'text', 'text[]',
                    'timestamp with time zone', 'timestamp with time zone', 'bigint', 'bigint']);
SELECT is(pg_get_function_result('olink.grant_access(text, regclass, text[], text[], text, text[], timestamptz, timestamptz, bigint, bigint)'::regprocedure),
          'bigint', 'grant_access returns the grant id as bigint');
SELECT has_function('olink', 'revoke_access', ARRAY['bigint', 'text']);
SELECT has_function('olink', 'suspend_counterpart', ARRAY['text', 'text']);
SELECT has_function('olink', 'begin_purpose', ARRAY['text']);

SELECT has_view('olink', 'counterparts', 'registry view counterparts');
SELECT has_view('olink', 'agreements', 'registry view agreements');
SELECT has_view('olink', 'grants', 'registry view grants');
SELECT has_view('olink', 'credentials', 'registry view credentials');

SELECT is_empty($$
    SELECT p.proname FROM pg_proc p
     WHERE p.pronamespace = 'olink'::regnamespace
       AND has_function_privilege('public', p.oid, 'EXECUTE')
$$, 'no olink function is executable by PUBLIC');

SELECT is_empty($$
    SELECT c.relname FROM pg_class c
     WHERE c.relnamespace = 'olink'::regnamespace AND c.relkind IN ('r', 'v')
       AND (has_table_privilege('public', c.oid, 'SELECT') OR has_table_privilege('public', c.oid, 'INSERT')
            OR has_table_privilege('public', c.oid, 'UPDATE') OR has_table_privilege('public', c.oid, 'DELETE'))
$$, 'no olink table or view is readable or writable by PUBLIC');

SELECT ok(NOT has_schema_privilege('public', 'olink', 'USAGE'), 'PUBLIC has no USAGE on schema olink');

SELECT is_empty($$
    SELECT p.proname FROM pg_proc p
     WHERE p.pronamespace = 'olink'::regnamespace AND p.prosecdef
       AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
$$, 'every SECURITY DEFINER function pins search_path = pg_catalog, pg_temp');

SELECT ok(has_function_privilege('olink_admin', 'olink.grant_access(text, regclass, text[], text[], text, text[], timestamptz, timestamptz, bigint, bigint)', 'EXECUTE'),
          'olink_admin may grant access');
SELECT ok(NOT has_function_privilege('olink_auditor', 'olink.grant_access(text, regclass, text[], text[], text, text[], timestamptz, timestamptz, bigint, bigint)', 'EXECUTE'),
          'olink_auditor may not grant access');
SELECT ok(has_table_privilege('olink_auditor', 'olink.grants', 'SELECT'), 'olink_auditor reads olink.grants');

SELECT is((SELECT context FROM pg_settings WHERE name = 'olink.enforce'), 'superuser', 'olink.enforce is superuser-only');
SELECT is((SELECT context FROM pg_settings WHERE name = 'olink.purpose'), 'user', 'olink.purpose is set by users');

-- the audit surface
SELECT has_function('olink', 'verify_audit', ARRAY[]::text[]);
SELECT has_function('olink', 'flush_audit', ARRAY['interval']);
SELECT has_function('olink', 'audit_status', ARRAY[]::text[]);
SELECT has_function('olink', 'purge_audit', ARRAY['timestamp with time zone', 'text']);
SELECT function_returns('olink', 'purge_audit', ARRAY['timestamp with time zone', 'text'], 'bigint');
SELECT has_view('olink', 'access_log', 'view olink.access_log');
SELECT has_view('olink', 'connection_log', 'view olink.connection_log');
SELECT has_view('olink', 'change_journal', 'view olink.change_journal');
SELECT columns_are('olink', 'access_log', ARRAY['event_id', 'at', 'statement_id', 'login', 'counterpart', 'client_addr',
    'terminal', 'purpose', 'command', 'relations', 'columns', 'rows', 'outcome', 'sqlstate', 'message', 'statement',
    'session_id', 'application_name'], 'access_log has the columns DESIGN.md names');
SELECT columns_are('olink', 'change_journal', ARRAY['journal_id', 'at', 'statement_id', 'xid', 'login', 'counterpart',
    'purpose', 'relation', 'relid', 'op', 'key', 'before', 'after'], 'change_journal has the columns DESIGN.md names');
SELECT columns_are('olink', 'connection_log', ARRAY['event_id', 'at', 'kind', 'session_id', 'login', 'counterpart',
    'client_addr', 'terminal', 'ssl', 'application_name', 'reason', 'duration', 'statements', 'database', 'pid'],
    'connection_log has the columns DESIGN.md names');
SELECT col_type_is('olink', 'change_journal', 'key', 'jsonb', 'journal keys are jsonb');
SELECT col_type_is('olink', 'access_log', 'statement_id', 'bigint', 'statement ids are bigint');
SELECT ok(has_table_privilege('olink_auditor', 'olink.access_log', 'SELECT')
          AND has_table_privilege('olink_auditor', 'olink.connection_log', 'SELECT')
          AND has_table_privilege('olink_auditor', 'olink.change_journal', 'SELECT'),
          'olink_auditor reads the audit views');
SELECT ok(NOT has_table_privilege('olink_counterpart', 'olink.access_log', 'SELECT')
          AND NOT has_table_privilege('olink_counterpart', 'olink.change_journal', 'SELECT')
          AND NOT has_table_privilege('olink_counterpart', 'olink.connection_log', 'SELECT')
          AND NOT has_function_privilege('olink_counterpart', 'olink.verify_audit()', 'EXECUTE'),
          'counterparts read no audit view');
SELECT ok(NOT has_function_privilege('olink_admin', 'olink.purge_audit(timestamptz, text)', 'EXECUTE')
          AND NOT has_function_privilege('olink_auditor', 'olink.purge_audit(timestamptz, text)', 'EXECUTE'),
          'only superusers purge the audit store');
SELECT ok(NOT has_table_privilege('olink_auditor', 'olink.access_event', 'INSERT')
          AND NOT has_table_privilege('olink_admin', 'olink.journal', 'UPDATE'),
          'no olink role writes the audit store');
SELECT is((SELECT context FROM pg_settings WHERE name = 'olink.audit_durability'), 'superuser', 'olink.audit_durability is superuser-only');
SELECT is((SELECT context FROM pg_settings WHERE name = 'olink.queue_full'), 'superuser', 'olink.queue_full is superuser-only');
SELECT is((SELECT context FROM pg_settings WHERE name = 'olink.audit_internal'), 'superuser', 'olink.audit_internal is superuser-only');
SELECT is((SELECT context FROM pg_settings WHERE name = 'olink.database'), 'postmaster', 'olink.database is set at server start');

-- the credential surface (DESIGN.md: names and argument types)
SELECT has_function('olink', 'add_terminal', ARRAY['text', 'text', 'text', 'cidr[]', 'text', 'boolean', 'boolean']);
SELECT has_function('olink', 'request_credential', ARRAY['text', 'name', 'text', 'text']);
SELECT function_returns('olink', 'request_credential', ARRAY['text', 'name', 'text', 'text'], 'bigint');
SELECT has_function('olink', 'approve_credential', ARRAY['bigint']);
SELECT has_function('olink', 'issue_credential', ARRAY['bigint', 'text', 'text']);
SELECT has_function('olink', 'revoke_credential', ARRAY['name', 'text']);
SELECT has_function('olink', 'invalidate_password', ARRAY['name', 'text']);
SELECT has_function('olink', 'invalidate_certificate', ARRAY['text', 'text']);
SELECT has_function('olink', 'change_password', ARRAY['name', 'text', 'text']);
SELECT has_function('olink', 'unlock_credential', ARRAY['name', 'text']);
SELECT has_view('olink', 'terminals', 'registry view terminals');
SELECT has_view('olink', 'credential_requests', 'view credential_requests');
SELECT has_view('olink', 'credential_history', 'view credential_history');
SELECT ok(NOT has_table_privilege('olink_credential_manager', 'olink.password_history', 'SELECT')
          AND NOT has_table_privilege('olink_auditor', 'olink.password_history', 'SELECT')
          AND NOT has_table_privilege('olink_admin', 'olink.password_history', 'SELECT'),
          'no olink role reads password history');
SELECT is_empty($$
    SELECT a.attname FROM pg_attribute a
     WHERE a.attrelid IN ('olink.credentials'::regclass, 'olink.credential_requests'::regclass,
                          'olink.credential_history'::regclass, 'olink.terminals'::regclass)
       AND a.attname ~ '(password$|secret|hash)' AND a.attnum > 0
$$, 'no view a role can read carries password material');
SELECT ok(has_function_privilege('olink_credential_manager', 'olink.approve_credential(bigint)', 'EXECUTE')
          AND NOT has_function_privilege('olink_admin', 'olink.approve_credential(bigint)', 'EXECUTE')
          AND NOT has_function_privilege('olink_counterpart', 'olink.issue_credential(bigint, text, text)', 'EXECUTE'),
          'credential managers approve and issue; admins and counterparts do not');
SELECT ok(has_function_privilege('olink_admin', 'olink.add_terminal(text, text, text, cidr[], text, boolean, boolean)', 'EXECUTE')
          AND NOT has_function_privilege('olink_auditor', 'olink.add_terminal(text, text, text, cidr[], text, boolean, boolean)', 'EXECUTE'),
          'admins register terminals; auditors do not');
SELECT is(array_agg(name || '=' || context ORDER BY name)::text,
          '{olink.lockout_attempts=superuser,olink.lockout_duration=superuser,olink.max_checkouts=postmaster,olink.max_checkouts_per_holder=superuser,olink.max_credentials=postmaster,olink.max_quota_counters=postmaster,olink.max_terminals=postmaster,olink.password_history=superuser,olink.password_max_age=superuser,olink.password_min_classes=superuser,olink.password_min_length=superuser}',
          'credential settings are superuser-only or set at server start')
  FROM pg_settings WHERE name ~ '^olink\.(lockout|password|max_)';
SELECT ok(NOT has_function_privilege('olink_credential_manager', 'olink._set_password(name, text, text, text)', 'EXECUTE')
          AND NOT has_function_privilege('olink_admin', 'olink._set_password(name, text, text, text)', 'EXECUTE'),
          'only olink itself sets passwords');
SELECT ok(NOT has_function_privilege('olink_credential_manager', 'olink._set_valid_until(regrole, timestamptz)', 'EXECUTE')
          AND NOT has_function_privilege('olink_admin', 'olink._hold_password(regrole, timestamptz, integer)', 'EXECUTE')
          AND NOT has_function_privilege('olink_admin', 'olink._release_password(regrole, text)', 'EXECUTE'),
          'only olink itself holds a locked-out password expired, and lets it go');

-- check-outs and load (DESIGN.md: checkout(relation, key jsonb, ttl interval) → lock id)
SELECT has_function('olink', 'checkout', ARRAY['regclass', 'jsonb', 'interval', 'interval']);
SELECT function_returns('olink', 'checkout', ARRAY['regclass', 'jsonb', 'interval', 'interval'], 'bigint');
SELECT has_function('olink', 'checkin', ARRAY['bigint']);
SELECT has_function('olink', 'force_release', ARRAY['bigint', 'text']);
SELECT has_view('olink', 'locks', 'view olink.locks');
SELECT has_view('olink', 'sessions', 'view olink.sessions');
SELECT has_function('olink', 'set_counterpart_limits', ARRAY['text', 'integer', 'integer', 'bigint', 'bigint']);
SELECT ok(has_function_privilege('olink_counterpart', 'olink.checkout(regclass, jsonb, interval, interval)', 'EXECUTE')
          AND NOT has_function_privilege('olink_counterpart', 'olink.force_release(bigint, text)', 'EXECUTE')
          AND has_function_privilege('olink_admin', 'olink.force_release(bigint, text)', 'EXECUTE'),
          'counterparts check out and in; only admins force a release');
SELECT ok(has_table_privilege('olink_auditor', 'olink.sessions', 'SELECT')
          AND has_table_privilege('olink_auditor', 'olink.locks', 'SELECT')
          AND NOT has_table_privilege('olink_counterpart', 'olink.sessions', 'SELECT')
          AND NOT has_table_privilege('olink_counterpart', 'olink.locks', 'SELECT'),
          'operators and auditors read sessions and locks; counterparts do not');

SELECT has_view('olink', 'load_status', 'view olink.load_status');
SELECT has_view('olink', 'alerts', 'view olink.alerts');
SELECT is((SELECT context FROM pg_settings WHERE name = 'olink.alert_threshold'), 'sighup', 'olink.alert_threshold is set in the configuration');

SELECT * FROM finish();
ROLLBACK;
