-- Attacks found in review, each kept as a regression test.
CREATE EXTENSION olink;
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE ROLE rt_owner NOLOGIN;
CREATE SCHEMA rt AUTHORIZATION rt_owner;
GRANT USAGE ON SCHEMA rt TO PUBLIC;
CREATE TABLE rt.people (id int PRIMARY KEY, name text, district text NOT NULL, ssn text, born date);
INSERT INTO rt.people SELECT g, 'p' || g, CASE WHEN g % 2 = 1 THEN 'north' ELSE 'south' END, 'SSN-' || (1000 + g),
                             DATE '1990-01-01' + g * 10
  FROM generate_series(1, 6) g;
CREATE TABLE rt.tenant (id int, tenant text, v text);
INSERT INTO rt.tenant VALUES (1, 'agency', 'mine'), (2, 'other', 'NOT MINE');
ALTER TABLE rt.tenant ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_tenant ON rt.tenant USING (tenant = 'agency');
CREATE TABLE rt.births (id int, born date);
INSERT INTO rt.births SELECT g, DATE '1990-01-01' + g * 10 FROM generate_series(1, 6) g;
CREATE TABLE rt.dormant (id int);
CREATE POLICY only_one ON rt.dormant USING (id = 1);
ALTER TABLE rt.people OWNER TO rt_owner;
ALTER TABLE rt.tenant OWNER TO rt_owner;
ALTER TABLE rt.dormant OWNER TO rt_owner;
ALTER TABLE rt.births OWNER TO rt_owner;

SELECT olink.add_counterpart(name => 'rt_agency', necessity => 'x', approved_by => 'board', approved_on => '2026-01-01');
SELECT olink.add_agreement(counterpart => 'rt_agency', title => 'm', purposes => ARRAY['pa', 'pb'], valid_from => '2026-01-01',
                           staff_duties => 'd', disposal_terms => 'd');
SELECT olink.protect(relation => 'rt.people', description => 'people');
SELECT olink.protect(relation => 'rt.tenant', description => 'tenant rows, with a policy of their own');
CREATE ROLE rt_agent LOGIN;
SELECT olink._adopt_credential(counterpart => 'rt_agency', login => 'rt_agent');
SELECT olink.grant_access(counterpart => 'rt_agency', relation => 'rt.people', privileges => ARRAY['select'],
                          columns => ARRAY['id', 'name', 'district'], row_filter => $$district = 'north'$$, purposes => ARRAY['pa']) > 0;
SELECT olink.grant_access(counterpart => 'rt_agency', relation => 'rt.people', privileges => ARRAY['select'],
                          columns => ARRAY['id', 'ssn', 'district'], row_filter => $$district = 'south'$$, purposes => ARRAY['pb']) > 0;
SELECT olink.grant_access(counterpart => 'rt_agency', relation => 'rt.tenant', privileges => ARRAY['select'], purposes => ARRAY['pa']) > 0;

-- a table whose policies exist but are not enabled is not protected silently
SELECT olink.protect(relation => 'rt.dormant', description => 'dormant policies');

SET SESSION AUTHORIZATION rt_agent;

-- 1. switching the purpose half way through a statement pairs no purpose's columns with
--    another's rows: the whole statement runs under the purpose it started with
SET olink.purpose = 'pb';
SELECT t.id, t.ssn, t.district
  FROM (SELECT set_config('olink.purpose', 'pa', false) p, query_to_xml('select 1', false, false, '') x OFFSET 0) s
  CROSS JOIN LATERAL (SELECT id, ssn, district FROM rt.people WHERE s.p IS NOT NULL) t
 ORDER BY t.id;
SHOW olink.purpose;
-- the next statement runs under the new purpose, with its own columns
SELECT id, ssn FROM rt.people;
SELECT id, name FROM rt.people ORDER BY id;

-- 2. a table's own permissive policies still bound a counterpart
SELECT id, v FROM rt.tenant ORDER BY id;

-- 3. SET ROLE to a role other than the counterpart's group role is refused at the next statement
RESET SESSION AUTHORIZATION;
CREATE ROLE rt_analyst NOLOGIN BYPASSRLS;
GRANT SELECT ON rt.people TO rt_analyst;
GRANT rt_analyst TO rt_agent;
ANALYZE rt.people;
SET SESSION AUTHORIZATION rt_agent;
SET olink.purpose = 'pa';
SET ROLE rt_analyst;
SELECT count(*) FROM pg_stats WHERE tablename = 'people' AND schemaname = 'rt';
SELECT 1 AS one;
SELECT set_config('role', 'rt_analyst', false);
SELECT 1 AS one;
RESET ROLE;
SET ROLE rt_agency;
SELECT id FROM rt.people ORDER BY id;
RESET ROLE;
SELECT count(*) FROM pg_stats WHERE tablename = 'people' AND schemaname = 'rt';

-- 4. a filter means the same under any DateStyle of the session that first uses it
RESET SESSION AUTHORIZATION;
SELECT olink.protect(relation => 'rt.births', description => 'births');
-- read as month/day: 1 February 1990
SELECT olink.grant_access(counterpart => 'rt_agency', relation => 'rt.births', privileges => ARRAY['select'],
                          row_filter => $$born > '02/01/1990'$$, purposes => ARRAY['pb']) > 0;
SET SESSION AUTHORIZATION rt_agent;
SET DateStyle = 'ISO, DMY';
SET olink.purpose = 'pb';
SELECT id, born FROM rt.births ORDER BY id;
RESET DateStyle;
RESET SESSION AUTHORIZATION;

-- 5. an internal login is told apart without reading the registry (no credential, not a member of
-- olink_counterpart); a credential taken out of olink_counterpart and its group, given a privilege
-- of its own, is still a counterpart: refused (its row guard is olink_counterpart's to run)
REVOKE olink_counterpart, rt_agency FROM rt_agent;
GRANT SELECT ON rt.people TO rt_agent;
RESET olink.purpose;
SET SESSION AUTHORIZATION rt_agent;
SELECT id, name FROM rt.people ORDER BY id;
SET olink.purpose = 'pa';
SELECT id, name FROM rt.people ORDER BY id;
RESET olink.purpose;
RESET SESSION AUTHORIZATION;
REVOKE SELECT ON rt.people FROM rt_agent;
GRANT olink_counterpart, rt_agency TO rt_agent;
-- a credential bound in the same transaction is a counterpart before the commit
BEGIN;
CREATE ROLE rt_fresh LOGIN;
SELECT olink._adopt_credential(counterpart => 'rt_agency', login => 'rt_fresh') > 0 AS adopted;
SET SESSION AUTHORIZATION rt_fresh;
SET olink.purpose = 'pa';
SELECT id FROM rt.people ORDER BY id;
ROLLBACK;
-- an internal role with native privileges reads a protected table as before, in a new session
CREATE ROLE rt_clerk LOGIN;
GRANT SELECT ON rt.people TO rt_clerk;
\c
SET SESSION AUTHORIZATION rt_clerk;
SELECT count(*) FROM rt.people;
RESET SESSION AUTHORIZATION;
-- ... and when it first meets one in a function run during a parallel plan (no registry read is
-- possible in parallel mode: the protected tables are read before it starts)
CREATE TABLE rt.big AS SELECT g FROM generate_series(1, 1000) g;
GRANT SELECT ON rt.big TO rt_clerk;
CREATE FUNCTION rt.npeople() RETURNS bigint LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
  AS $$BEGIN RETURN (SELECT count(*) FROM rt.people); END$$;
\c
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET SESSION AUTHORIZATION rt_clerk;
SELECT rt.npeople(), count(*) FROM rt.big;
SELECT rt.npeople();
EXPLAIN (COSTS OFF) SELECT rt.npeople(), count(*) FROM rt.big;
RESET SESSION AUTHORIZATION;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;

-- 6. a parallel worker plans the queries of the PARALLEL SAFE functions it runs: it reads the
-- registry with its leader's snapshot and applies olink's policies and checks there too.  A
-- counterpart's rows are counted in its own process, so reading them in a worker is refused; a
-- table it holds no grant on is refused in a worker as in the statement; an internal session
-- reads as before.
CREATE TABLE rt.vault (id int PRIMARY KEY, owner text, v text);
INSERT INTO rt.vault VALUES (1, 'agency', 'mine'), (2, 'agency', 'not granted'), (3, 'other', 'not mine');
ALTER TABLE rt.vault OWNER TO rt_owner;
ALTER TABLE rt.vault ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON rt.vault USING (owner = 'agency');
SELECT olink.protect(relation => 'rt.vault', description => 'a table with row security of its own');
SELECT olink.grant_access(counterpart => 'rt_agency', relation => 'rt.vault', privileges => ARRAY['select'],
                          row_filter => 'id = 1', purposes => ARRAY['pa']) > 0 AS granted;
GRANT SELECT ON rt.vault TO rt_clerk;
CREATE TABLE rt.notice_board (msg text);
INSERT INTO rt.notice_board VALUES ('open to all');
GRANT SELECT ON rt.notice_board TO PUBLIC;
CREATE FUNCTION rt.peek() RETURNS text LANGUAGE plpgsql STABLE PARALLEL SAFE
  AS $$BEGIN RETURN (SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM rt.vault); END$$;
CREATE FUNCTION rt.board() RETURNS text LANGUAGE plpgsql STABLE PARALLEL SAFE
  AS $$BEGIN RETURN (SELECT string_agg(msg, ',') FROM rt.notice_board); END$$;
\c
SET SESSION AUTHORIZATION rt_agent;
SET olink.purpose = 'pa';
SELECT rt.peek();
SELECT rt.board();
SET force_parallel_mode = on;
SELECT rt.peek();
SELECT rt.board();
RESET force_parallel_mode;
RESET SESSION AUTHORIZATION;
\c
SET SESSION AUTHORIZATION rt_clerk;
SET force_parallel_mode = on;
SELECT rt.peek();
RESET force_parallel_mode;
RESET SESSION AUTHORIZATION;

-- 7. a credential whose counterpart row is gone (a superuser past the constraints) is still a
-- counterpart's, refused everything
BEGIN;
SET LOCAL session_replication_role = replica;
DELETE FROM olink.counterpart WHERE name = 'rt_agency';
SET SESSION AUTHORIZATION rt_agent;
SELECT id FROM rt.people ORDER BY id;
ROLLBACK;

DROP EXTENSION olink CASCADE;
DROP SCHEMA rt CASCADE;
DROP OWNED BY rt_agency, rt_analyst, rt_clerk;
DROP ROLE rt_agency, rt_agent, rt_analyst, rt_owner, rt_clerk;
