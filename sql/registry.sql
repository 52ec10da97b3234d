-- The registry: counterparts, agreements, protected tables, credentials, grants.
-- Every admin function validates its input and, on bad input, fails with a clear
-- error and writes nothing.
CREATE EXTENSION olink;
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE SCHEMA reg;
CREATE TABLE reg.people (id int PRIMARY KEY, name text, district text, income int);
CREATE TABLE reg.notes (id int, body text);
CREATE VIEW reg.people_v AS SELECT id, name FROM reg.people;
CREATE ROLE reg_login LOGIN;
CREATE ROLE reg_super LOGIN SUPERUSER;
CREATE ROLE reg_nologin NOLOGIN;

-- counts of what is registered, to prove failed calls wrote nothing
CREATE FUNCTION reg.counts() RETURNS text LANGUAGE sql AS $$
  SELECT format('counterparts=%s agreements=%s protected=%s credentials=%s grants=%s',
    (SELECT count(*) FROM olink.counterpart), (SELECT count(*) FROM olink.agreement),
    (SELECT count(*) FROM olink.protected_relation), (SELECT count(*) FROM olink.credential),
    (SELECT count(*) FROM olink.access_grant))
$$;

------------------------------------------------------------------------------
-- counterparts (clause 5: no counterpart without a necessity and its approval)
------------------------------------------------------------------------------
SELECT olink.add_counterpart(name => 'tax', necessity => 'Prefectural tax assessment needs resident income data',
                             approved_by => 'Privacy review board', approved_on => '2026-04-01');
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = 'tax';
SELECT olink.add_counterpart(name => 'tax', necessity => 'again', approved_by => 'board', approved_on => '2026-04-01');
SELECT olink.add_counterpart(name => 'nonecessity', necessity => '  ', approved_by => 'board', approved_on => '2026-04-01');
SELECT olink.add_counterpart(name => 'noapproval', necessity => 'x', approved_by => NULL, approved_on => '2026-04-01');
SELECT olink.add_counterpart(name => 'future', necessity => 'x', approved_by => 'board', approved_on => '2999-01-01');
SELECT olink.add_counterpart(name => '', necessity => 'x', approved_by => 'board', approved_on => '2026-04-01');
-- an existing role is used only when named explicitly, and must be a plain NOLOGIN role
SELECT olink.add_counterpart(name => 'reg_nologin', necessity => 'x', approved_by => 'board', approved_on => '2026-04-01');
SELECT olink.add_counterpart(name => 'bad1', necessity => 'x', approved_by => 'board', approved_on => '2026-04-01', role => 'reg_login');
SELECT olink.add_counterpart(name => 'bad3', necessity => 'x', approved_by => 'board', approved_on => '2026-04-01', role => 'pg_read_all_data');
SELECT olink.add_counterpart(name => 'bad4', necessity => 'x', approved_by => 'board', approved_on => '2026-04-01', role => 'olink_admin');
SELECT olink.add_counterpart(name => 'bad2', necessity => 'x', approved_by => 'board', approved_on => '2026-04-01', role => 'no_such_role');
SELECT olink.add_counterpart(name => 'welfare', necessity => 'Welfare benefit service run by a contractor',
                             approved_by => 'Privacy review board', approved_on => '2026-04-01', role => 'reg_nologin');
SELECT olink.add_counterpart(name => 'dup-role', necessity => 'x', approved_by => 'board', approved_on => '2026-04-01', role => 'reg_nologin');
SELECT reg.counts();

------------------------------------------------------------------------------
-- agreements (clause 6(1))
------------------------------------------------------------------------------
SELECT olink.add_agreement(counterpart => 'tax', title => 'Memorandum 2026-01', purposes => ARRAY['tax-assessment', 'tax-collection'],
                           valid_from => '2026-04-01', valid_until => '2030-03-31',
                           staff_duties => 'Named staff only', disposal_terms => 'Shred within 30 days');
SELECT olink.add_agreement(counterpart => 'nobody', title => 't', purposes => ARRAY['p'], valid_from => '2026-04-01',
                           staff_duties => 'd', disposal_terms => 'd');
SELECT olink.add_agreement(counterpart => 'tax', title => 'Memorandum 2026-01', purposes => ARRAY['p'], valid_from => '2026-04-01',
                           staff_duties => 'd', disposal_terms => 'd');
SELECT olink.add_agreement(counterpart => 'tax', title => 'backwards', purposes => ARRAY['p'], valid_from => '2026-04-01',
                           valid_until => '2026-03-01', staff_duties => 'd', disposal_terms => 'd');
SELECT olink.add_agreement(counterpart => 'tax', title => 'no purposes', purposes => '{}', valid_from => '2026-04-01',
                           staff_duties => 'd', disposal_terms => 'd');
SELECT olink.add_agreement(counterpart => 'tax', title => 'dup purposes', purposes => ARRAY['a', 'a'], valid_from => '2026-04-01',
                           staff_duties => 'd', disposal_terms => 'd');
SELECT olink.add_agreement(counterpart => 'tax', title => 'null purpose', purposes => ARRAY['a', NULL], valid_from => '2026-04-01',
                           staff_duties => 'd', disposal_terms => 'd');
SELECT olink.add_agreement(counterpart => 'tax', title => 'no duties', purposes => ARRAY['p'], valid_from => '2026-04-01',
                           disposal_terms => 'd');
SELECT olink.add_agreement(counterpart => 'tax', title => 'no disposal', purposes => ARRAY['p'], valid_from => '2026-04-01',
                           staff_duties => 'd');
SELECT olink.add_agreement(counterpart => 'tax', title => 'expired', purposes => ARRAY['old-purpose'], valid_from => '2020-04-01',
                           valid_until => '2021-03-31', staff_duties => 'd', disposal_terms => 'd');
SELECT olink.add_agreement(counterpart => 'welfare', title => 'Service contract', purposes => ARRAY['welfare-benefit'],
                           valid_from => '2026-04-01', staff_duties => 'Operators named in annex', disposal_terms => 'Delete at contract end');
SELECT counterpart, title, purposes, valid_now FROM olink.agreements ORDER BY agreement_id;
SELECT reg.counts();

------------------------------------------------------------------------------
-- protected tables
------------------------------------------------------------------------------
SELECT olink.protect(relation => 'reg.people', description => 'Residents: names, districts, income');
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'reg.people'::regclass;
SELECT olink.protect(relation => 'reg.people', description => 'again');
SELECT olink.protect(relation => 'reg.people_v', description => 'a view');
SELECT olink.protect(relation => 'pg_catalog.pg_class', description => 'catalog');
SELECT olink.protect(relation => 'olink.access_grant', description => 'ours');
SELECT olink.protect(relation => 'reg.notes', description => '');
SELECT olink.protect(relation => 'reg.no_such_table', description => 'x');
SELECT olink.protect(relation => 'reg.notes', description => 'Free-text notes about residents');
SELECT olink.unprotect(relation => 'reg.notes');
SELECT relrowsecurity FROM pg_class WHERE oid = 'reg.notes'::regclass;
SELECT olink.unprotect(relation => 'reg.notes');
SELECT relation, description FROM olink.protected_relations;

------------------------------------------------------------------------------
-- credentials
------------------------------------------------------------------------------
SELECT olink._adopt_credential(counterpart => 'tax', login => 'reg_login');
SELECT pg_has_role('reg_login', 'tax', 'MEMBER');
SELECT olink._adopt_credential(counterpart => 'tax', login => 'reg_login');
SELECT olink._adopt_credential(counterpart => 'tax', login => 'reg_super');
SELECT olink._adopt_credential(counterpart => 'tax', login => 'reg_nologin');
SELECT olink._adopt_credential(counterpart => 'tax', login => 'nobody');
SELECT olink._adopt_credential(counterpart => 'nobody', login => 'reg_login');
SELECT counterpart, login, status FROM olink.credentials;

------------------------------------------------------------------------------
-- grants
------------------------------------------------------------------------------
SELECT reg.counts();
-- unknown counterpart, unprotected table, bad privilege, unknown column
SELECT olink.grant_access(counterpart => 'nobody', relation => 'reg.people', privileges => ARRAY['select'], purposes => ARRAY['tax-assessment']);
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.notes', privileges => ARRAY['select'], purposes => ARRAY['tax-assessment']);
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select', 'truncate'], purposes => ARRAY['tax-assessment']);
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select', 'SELECT'], purposes => ARRAY['tax-assessment']);
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => '{}', purposes => ARRAY['tax-assessment']);
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select'], columns => ARRAY['id', 'salary'], purposes => ARRAY['tax-assessment']);
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select'], columns => ARRAY['id', 'id'], purposes => ARRAY['tax-assessment']);
-- filters that do not parse, use unknown columns, call volatile functions, use subqueries, or smuggle SQL
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select'], row_filter => 'district =', purposes => ARRAY['tax-assessment']);
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select'], row_filter => 'ward = 1', purposes => ARRAY['tax-assessment']);
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select'], row_filter => 'random() < 0.5', purposes => ARRAY['tax-assessment']);
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select'], row_filter => 'id IN (SELECT 1)', purposes => ARRAY['tax-assessment']);
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select'], row_filter => 'true) UNION (SELECT 1', purposes => ARRAY['tax-assessment']);
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select'], row_filter => 'true); DROP TABLE reg.people; SELECT (1', purposes => ARRAY['tax-assessment']);
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select'], row_filter => 'count(*) > 0', purposes => ARRAY['tax-assessment']);
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select'], row_filter => 'income', purposes => ARRAY['tax-assessment']);
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select'], row_filter => '', purposes => ARRAY['tax-assessment']);
-- purposes must be in an agreement of this counterpart that is in force
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select'], purposes => ARRAY['welfare-benefit']);
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select'], purposes => ARRAY['old-purpose']);
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select'], purposes => NULL);
-- a validity window that ends before it starts; quotas that are not positive
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select'], purposes => ARRAY['tax-assessment'],
                          valid_from => '2026-06-01', valid_until => '2026-05-01');
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select'], purposes => ARRAY['tax-assessment'],
                          max_rows_per_statement => 0);
SELECT reg.counts();

-- good ones
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['SELECT'],
                          columns => ARRAY['id', 'name', 'income'], row_filter => 'income > 1000',
                          purposes => ARRAY['tax-assessment'], max_rows_per_statement => 100, max_rows_per_day => 10000) AS g1 \gset
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.people', privileges => ARRAY['select'],
                          columns => ARRAY['id', 'name', 'income'], row_filter => 'income > 1000', purposes => ARRAY['tax-assessment']);
SELECT olink._check_row_filter('reg.people', $$lower(name) LIKE 'a%' AND district = 'east'$$);
SELECT counterpart, relation, privileges, columns, row_filter, purposes, active FROM olink.grants;
-- native privileges follow as a second line
SELECT has_column_privilege('tax', 'reg.people', 'name', 'SELECT') AS name_sel,
       has_column_privilege('tax', 'reg.people', 'district', 'SELECT') AS district_sel,
       has_table_privilege('tax', 'reg.people', 'UPDATE') AS upd;

-- they are held by one role per shape of grant, not per counterpart: a second counterpart with
-- the same shape adds a member, not an ACL entry
SELECT olink.grant_access(counterpart => 'welfare', relation => 'reg.people', privileges => ARRAY['select'],
                          columns => ARRAY['id', 'name', 'income'], purposes => ARRAY['welfare-benefit']) AS g_w \gset
SELECT count(*) AS acl_entries_on_name FROM pg_attribute a, aclexplode(a.attacl) x
 WHERE a.attrelid = 'reg.people'::regclass AND a.attname = 'name';
SELECT has_column_privilege('reg_nologin', 'reg.people', 'name', 'SELECT') AS welfare_name_sel;
SELECT olink.revoke_access(grant_id => :g_w, reason => 'shape test over');
SELECT has_column_privilege('reg_nologin', 'reg.people', 'name', 'SELECT') AS welfare_name_sel;

-- revocation
SELECT olink.revoke_access(grant_id => :g1, reason => NULL);
SELECT olink.revoke_access(grant_id => 999999, reason => 'x');
SELECT olink.revoke_access(grant_id => :g1, reason => 'Memorandum ended');
SELECT olink.revoke_access(grant_id => :g1, reason => 'again');
SELECT active, revoke_reason FROM olink.grants WHERE grant_id = :g1;
SELECT has_column_privilege('tax', 'reg.people', 'name', 'SELECT') AS name_sel;
SELECT olink.unprotect(relation => 'reg.people');

-- suspension
SELECT olink.suspend_counterpart(name => 'welfare', reason => '');
SELECT olink.suspend_counterpart(name => 'welfare', reason => 'Contract under review');
SELECT olink.suspend_counterpart(name => 'welfare', reason => 'again');
SELECT olink.grant_access(counterpart => 'welfare', relation => 'reg.people', privileges => ARRAY['select'], purposes => ARRAY['welfare-benefit']);
SELECT olink.resume_counterpart(name => 'welfare', reason => 'Review passed');
SELECT name, status, status_reason FROM olink.counterparts ORDER BY counterpart_id;
SELECT reg.counts();

-- a protected table that is dropped ends its grants and is marked dropped
CREATE TABLE reg.temporary_list (id int, name text);
SELECT olink.protect(relation => 'reg.temporary_list', description => 'A list kept for a while');
SELECT olink.grant_access(counterpart => 'tax', relation => 'reg.temporary_list', privileges => ARRAY['select'],
                          purposes => ARRAY['tax-assessment']) > 0 AS granted;
DROP TABLE reg.temporary_list;
SELECT relation_name, dropped_at IS NOT NULL AS dropped FROM olink.protected_relations WHERE relation_name = 'reg.temporary_list';
SELECT relation_name, active, revoke_reason FROM olink.grants WHERE relation_name = 'reg.temporary_list';

-- registry rows are ended, never deleted: not even a superuser deletes a credential by mistake
DELETE FROM olink.credential;
DELETE FROM olink.access_grant WHERE grant_id = :g1;
TRUNCATE olink.counterpart CASCADE;
SELECT reg.counts();

-- nothing of the registry is usable by PUBLIC
CREATE ROLE reg_public LOGIN;
SET SESSION AUTHORIZATION reg_public;
SELECT count(*) FROM olink.counterpart;
SELECT count(*) FROM olink.grants;
SELECT olink.add_counterpart(name => 'x', necessity => 'x', approved_by => 'x', approved_on => '2026-01-01');
RESET SESSION AUTHORIZATION;

DROP EXTENSION olink CASCADE;
DROP SCHEMA reg CASCADE;
DROP OWNED BY tax, reg_nologin;
DROP ROLE tax, reg_nologin, reg_login, reg_super, reg_public;
