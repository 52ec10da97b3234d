-- Enforcement for counterpart sessions: identity, purpose, relations, columns, rows,
-- validity, suspension.  A counterpart is played with SET SESSION AUTHORIZATION, which
-- changes the session user, the identity olink enforces.
CREATE EXTENSION olink;
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE ROLE city_owner NOLOGIN;
CREATE SCHEMA city AUTHORIZATION city_owner;
CREATE TABLE city.residents (id int PRIMARY KEY, name text NOT NULL, district text NOT NULL, income int, note text);
CREATE TABLE city.benefits (id int PRIMARY KEY, resident_id int REFERENCES city.residents, amount int, district text NOT NULL);
CREATE TABLE city.unprotected (id int, secret text);
INSERT INTO city.residents SELECT g, 'resident ' || g, CASE WHEN g % 2 = 0 THEN 'east' ELSE 'west' END, g * 1000, 'note ' || g
  FROM generate_series(1, 10) g;
INSERT INTO city.benefits SELECT g, g, 100 * g, CASE WHEN g % 2 = 0 THEN 'east' ELSE 'west' END FROM generate_series(1, 10) g;
INSERT INTO city.unprotected VALUES (1, 'internal only');
ALTER TABLE city.residents OWNER TO city_owner;
ALTER TABLE city.benefits OWNER TO city_owner;
ALTER TABLE city.unprotected OWNER TO city_owner;
GRANT SELECT ON city.unprotected TO PUBLIC;

SELECT olink.add_counterpart(name => 'tax', necessity => 'Prefectural tax assessment', approved_by => 'Review board', approved_on => '2026-04-01');
SELECT olink.add_counterpart(name => 'welfare', necessity => 'Contracted welfare service', approved_by => 'Review board', approved_on => '2026-04-01');
SELECT olink.add_agreement(counterpart => 'tax', title => 'Tax memorandum', purposes => ARRAY['tax-assessment', 'tax-collection'],
                           valid_from => '2026-01-01', staff_duties => 'Named staff', disposal_terms => 'Shred after use');
SELECT olink.add_agreement(counterpart => 'welfare', title => 'Welfare contract', purposes => ARRAY['welfare-benefit'],
                           valid_from => '2026-01-01', staff_duties => 'Named operators', disposal_terms => 'Delete at contract end');
SELECT olink.protect(relation => 'city.residents', description => 'Residents');
SELECT olink.protect(relation => 'city.benefits', description => 'Welfare benefits');
CREATE ROLE tax_clerk LOGIN;
CREATE ROLE welfare_op LOGIN;
SELECT olink._adopt_credential(counterpart => 'tax', login => 'tax_clerk');
SELECT olink._adopt_credential(counterpart => 'welfare', login => 'welfare_op');
SELECT olink.grant_access(counterpart => 'tax', relation => 'city.residents', privileges => ARRAY['select'],
                          columns => ARRAY['id', 'name', 'district', 'income'], row_filter => 'income >= 5000',
                          purposes => ARRAY['tax-assessment']) AS g_tax \gset
SELECT olink.grant_access(counterpart => 'welfare', relation => 'city.residents', privileges => ARRAY['select'],
                          columns => ARRAY['id', 'name', 'district'], row_filter => $$district = 'east'$$,
                          purposes => ARRAY['welfare-benefit']) AS g_wr \gset
SELECT olink.grant_access(counterpart => 'welfare', relation => 'city.benefits', privileges => ARRAY['select', 'insert', 'update', 'delete'],
                          row_filter => $$district = 'east'$$, purposes => ARRAY['welfare-benefit']) AS g_wb \gset

------------------------------------------------------------------------------
-- identity and purpose
------------------------------------------------------------------------------
SET SESSION AUTHORIZATION tax_clerk;
SELECT login, counterpart, purpose, purpose_valid, enforced FROM olink.session_status();
-- statements that touch no relation, and catalog reads, need no purpose (drivers run them at connect)
SELECT 1 AS one;
SELECT count(*) > 0 AS catalogs_readable FROM pg_class WHERE relname = 'residents';
SELECT count(*) FROM information_schema.tables WHERE table_name = 'residents';
-- everything else does
SELECT id FROM city.residents;
SET olink.purpose = 'welfare-benefit';
SET olink.purpose = 'no-such-purpose';
SELECT olink.begin_purpose('no-such-purpose');
-- renaming the login changes nothing: credentials are bound to the role, not its name
RESET SESSION AUTHORIZATION;
ALTER ROLE tax_clerk RENAME TO tax_clerk_renamed;
SET SESSION AUTHORIZATION tax_clerk_renamed;
SELECT login, counterpart, enforced FROM olink.session_status();
SELECT id FROM city.residents;
RESET SESSION AUTHORIZATION;
ALTER ROLE tax_clerk_renamed RENAME TO tax_clerk;
SELECT counterpart, login FROM olink.credentials ORDER BY login;
SET SESSION AUTHORIZATION tax_clerk;
-- an empty purpose declares none
SET olink.purpose = '';
-- a purpose of the agreement for which no grant exists
SET olink.purpose = 'tax-collection';
SELECT id FROM city.residents;
-- a purpose set some other way is checked when used
SELECT set_config('olink.purpose', 'made-up', false);
SELECT id FROM city.residents;
SELECT olink.begin_purpose('tax-assessment');
SELECT purpose, purpose_valid FROM olink.session_status();

------------------------------------------------------------------------------
-- columns and rows
------------------------------------------------------------------------------
SELECT id, name, income FROM city.residents ORDER BY id;
SELECT count(*) FROM city.residents;
SELECT sum(income) FROM city.residents;
SELECT note FROM city.residents;
SELECT * FROM city.residents;
SELECT r FROM city.residents r;
SELECT row_to_json(r) FROM city.residents r;
SELECT id FROM city.residents WHERE note IS NOT NULL;
SELECT id FROM city.residents ORDER BY note;
-- no grant on these
SELECT id FROM city.benefits;
SELECT id FROM city.unprotected;
SELECT count(*) FROM olink.counterpart;
-- no write grants
UPDATE city.residents SET name = 'x' WHERE id = 6;
DELETE FROM city.residents WHERE id = 6;
INSERT INTO city.residents (id, name, district) VALUES (99, 'x', 'east');
SELECT id FROM city.residents WHERE id = 6 FOR UPDATE;
-- hidden rows stay hidden from leaky expressions: income 1000 (id 1) would divide by zero
SELECT id FROM city.residents WHERE 1 / (income - 1000) = 0;
-- SET ROLE does not change who the counterpart is
SET ROLE tax;
SELECT current_user, session_user;
SELECT note FROM city.residents;
SELECT count(*) FROM city.residents;
RESET ROLE;
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- writes within the row filter (welfare: all privileges on benefits, east only)
------------------------------------------------------------------------------
SET SESSION AUTHORIZATION welfare_op;
SET olink.purpose = 'welfare-benefit';
SELECT id, name, district FROM city.residents ORDER BY id;
SELECT id, district, amount FROM city.benefits ORDER BY id;
UPDATE city.benefits SET amount = amount + 1;
UPDATE city.benefits SET amount = 0 WHERE id = 1;
UPDATE city.benefits SET amount = amount + 1 WHERE id = 2 RETURNING id, amount;
-- moving a row out of the filter, or inserting one outside it, is refused
UPDATE city.benefits SET district = 'west' WHERE id = 2;
INSERT INTO city.benefits VALUES (11, 1, 50, 'west');
INSERT INTO city.benefits VALUES (12, 2, 50, 'east') RETURNING id, district;
DELETE FROM city.benefits WHERE id IN (1, 12) RETURNING id;
-- ON CONFLICT against a hidden row, and against a visible one
INSERT INTO city.benefits VALUES (3, 3, 1, 'east') ON CONFLICT (id) DO UPDATE SET amount = excluded.amount;
INSERT INTO city.benefits VALUES (4, 4, 1, 'east') ON CONFLICT (id) DO UPDATE SET amount = excluded.amount RETURNING id, amount;
INSERT INTO city.benefits VALUES (5, 5, 1, 'east') ON CONFLICT (id) DO NOTHING;
-- MERGE sees only visible target rows
MERGE INTO city.benefits b USING (VALUES (6, 7), (8, 9)) v(id, amt) ON b.id = v.id
  WHEN MATCHED THEN UPDATE SET amount = v.amt;
MERGE INTO city.benefits b USING (VALUES (7, 7)) v(id, amt) ON b.id = v.id
  WHEN MATCHED THEN UPDATE SET amount = v.amt
  WHEN NOT MATCHED THEN INSERT VALUES (v.id, 1, v.amt, 'east');
-- a column the grant on residents does not carry, through a join
SELECT b.id, r.income FROM city.benefits b JOIN city.residents r ON r.id = b.resident_id;
RESET SESSION AUTHORIZATION;
SELECT id, amount, district FROM city.benefits ORDER BY id;

------------------------------------------------------------------------------
-- validity windows
------------------------------------------------------------------------------
CREATE TABLE city.archive (id int, district text);
ALTER TABLE city.archive OWNER TO city_owner;
INSERT INTO city.archive VALUES (1, 'east');
SELECT olink.protect(relation => 'city.archive', description => 'Archive');
SELECT olink.grant_access(counterpart => 'tax', relation => 'city.archive', privileges => ARRAY['select'],
                          purposes => ARRAY['tax-assessment'], valid_from => '2099-01-01');
SELECT olink.grant_access(counterpart => 'tax', relation => 'city.archive', privileges => ARRAY['select'],
                          purposes => ARRAY['tax-collection'], valid_from => '2020-01-01', valid_until => '2021-01-01');
SET SESSION AUTHORIZATION tax_clerk;
SET olink.purpose = 'tax-assessment';
SELECT id FROM city.archive;
SET olink.purpose = 'tax-collection';
SELECT id FROM city.archive;
RESET SESSION AUTHORIZATION;

-- a grant whose window has passed keeps its native privileges until they are synchronised
CREATE TABLE city.short_list (id int);
ALTER TABLE city.short_list OWNER TO city_owner;
SELECT olink.protect(relation => 'city.short_list', description => 'A list needed for a while');
SELECT olink.grant_access(counterpart => 'tax', relation => 'city.short_list', privileges => ARRAY['select'],
                          purposes => ARRAY['tax-assessment'], valid_until => '2099-01-01') AS g_short \gset
SELECT has_table_privilege('tax', 'city.short_list', 'SELECT') AS tax_reads_natively;
-- as if its window had passed
UPDATE olink.access_grant SET valid_from = '2020-01-01', valid_until = '2021-01-01' WHERE grant_id = :g_short;
SELECT has_table_privilege('tax', 'city.short_list', 'SELECT') AS tax_reads_natively;
SELECT olink.sync_native_privileges() > 0 AS synced;
SELECT has_table_privilege('tax', 'city.short_list', 'SELECT') AS tax_reads_natively;

------------------------------------------------------------------------------
-- two grants in force: rows are their union, columns those both carry
------------------------------------------------------------------------------
SELECT olink.grant_access(counterpart => 'tax', relation => 'city.residents', privileges => ARRAY['select'],
                          columns => ARRAY['id', 'district'], row_filter => $$district = 'west'$$,
                          purposes => ARRAY['tax-assessment']) AS g_tax2 \gset
SET SESSION AUTHORIZATION tax_clerk;
SET olink.purpose = 'tax-assessment';
SELECT id, district FROM city.residents ORDER BY id;
SELECT id, income FROM city.residents ORDER BY id;
RESET SESSION AUTHORIZATION;
SELECT olink.revoke_access(grant_id => :g_tax2, reason => 'test over');

------------------------------------------------------------------------------
-- suspension and revocation reach the next statement
------------------------------------------------------------------------------
SELECT olink.suspend_counterpart(name => 'tax', reason => 'Incident under investigation');
SET SESSION AUTHORIZATION tax_clerk;
SELECT 1 AS one;
SET olink.purpose = 'tax-assessment';
SHOW olink.purpose;
RESET SESSION AUTHORIZATION;
SELECT olink.resume_counterpart(name => 'tax', reason => 'Cleared');
SET SESSION AUTHORIZATION tax_clerk;
SET olink.purpose = 'tax-assessment';
PREPARE q AS SELECT count(*) FROM city.residents;
EXECUTE q;
RESET SESSION AUTHORIZATION;
SELECT olink.revoke_access(grant_id => :g_tax, reason => 'Memorandum ended');
SET SESSION AUTHORIZATION tax_clerk;
EXECUTE q;
SELECT count(*) FROM city.residents;
RESET SESSION AUTHORIZATION;

-- a credential marked revoked in the registry is refused at its next statement
UPDATE olink.credential SET status = 'revoked', status_reason = 'left the office'
 WHERE login = 'welfare_op'::regrole;
SET SESSION AUTHORIZATION welfare_op;
SELECT 1 AS one;
SHOW olink.purpose;
RESET SESSION AUTHORIZATION;
UPDATE olink.credential SET status = 'active', status_reason = NULL WHERE login = 'welfare_op'::regrole;

-- olink.enforce is for superusers, and off lets counterparts through on their native privileges
SET SESSION AUTHORIZATION welfare_op;
SET olink.enforce = off;
RESET SESSION AUTHORIZATION;
SET olink.enforce = off;
SET SESSION AUTHORIZATION welfare_op;
SELECT count(*) FROM city.benefits;
RESET SESSION AUTHORIZATION;
RESET olink.enforce;

DROP EXTENSION olink CASCADE;
-- the protected tables are given back
SELECT relname, relrowsecurity FROM pg_class WHERE relnamespace = 'city'::regnamespace AND relkind = 'r' ORDER BY relname;
DROP SCHEMA city CASCADE;
DROP OWNED BY tax, welfare;
DROP ROLE tax, welfare, tax_clerk, welfare_op, city_owner;
