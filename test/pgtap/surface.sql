-- The public surface: names, signatures, privileges.  Nothing is usable by PUBLIC; every
-- SECURITY DEFINER function pins its search_path; settings have the contexts DESIGN.md gives.
BEGIN;
SELECT plan(28);

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
SELECT has_function('olink', 'add_credential', ARRAY['text', 'name']);
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

SELECT * FROM finish();
ROLLBACK;
