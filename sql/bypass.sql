-- Ways around the grants, each tried by a counterpart and each refused or limited:
-- views, functions, SECURITY DEFINER, CTEs, sublinks, rules, COPY, utility commands,
-- settings, EXPLAIN, statistics, cursors, prepared plans, broken filters.
CREATE EXTENSION olink;
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE ROLE town_owner NOLOGIN;
CREATE SCHEMA town AUTHORIZATION town_owner;
GRANT USAGE ON SCHEMA town TO PUBLIC;
CREATE TABLE town.people (id int PRIMARY KEY, name text NOT NULL, district text NOT NULL, income int, secret text);
CREATE TABLE town.other (id int, v text);
CREATE TABLE town.cases (id int, district text, flag boolean, extra text);
INSERT INTO town.people SELECT g, 'person ' || g, CASE WHEN g <= 3 THEN 'north' ELSE 'south' END, g * 1000, 'secret ' || g
  FROM generate_series(1, 6) g;
INSERT INTO town.other VALUES (1, 'other');
INSERT INTO town.cases VALUES (1, 'north', true, 'x'), (2, 'south', true, 'y');
ALTER TABLE town.people OWNER TO town_owner;
ALTER TABLE town.other OWNER TO town_owner;
ALTER TABLE town.cases OWNER TO town_owner;
ANALYZE town.people;

SELECT olink.add_counterpart(name => 'agency', necessity => 'Statistics for the prefecture', approved_by => 'Review board', approved_on => '2026-04-01');
SELECT olink.add_agreement(counterpart => 'agency', title => 'Statistics memorandum', purposes => ARRAY['statistics'],
                           valid_from => '2026-01-01', staff_duties => 'Named staff', disposal_terms => 'Delete after publication');
SELECT olink.protect(relation => 'town.people', description => 'People');
SELECT olink.protect(relation => 'town.cases', description => 'Cases');
CREATE ROLE agent LOGIN;
SELECT olink._adopt_credential(counterpart => 'agency', login => 'agent');
SELECT olink.add_terminal(counterpart => 'agency', name => 'agency-local', manager => 'test operator', addresses => '{}', local_connections => true) > 0 AS terminal_added;
SELECT olink.grant_access(counterpart => 'agency', relation => 'town.people', privileges => ARRAY['select'],
                          columns => ARRAY['id', 'name', 'district'], row_filter => $$district = 'north'$$,
                          purposes => ARRAY['statistics']) AS g_people \gset
SELECT olink.grant_access(counterpart => 'agency', relation => 'town.cases', privileges => ARRAY['select'],
                          columns => ARRAY['id', 'district', 'extra'], row_filter => 'flag',
                          purposes => ARRAY['statistics']) AS g_cases \gset

-- objects an internal developer made, some carelessly
CREATE VIEW town.v_definer AS SELECT id, name FROM town.people;                      -- owned by the superuser
CREATE VIEW town.v_owner AS SELECT id, name FROM town.people;
ALTER VIEW town.v_owner OWNER TO town_owner;                                          -- owned by the table owner
CREATE VIEW town.v_invoker WITH (security_invoker = true) AS SELECT id, name FROM town.people;
CREATE VIEW town.v_all WITH (security_invoker = true) AS SELECT * FROM town.people;
CREATE VIEW town.v_other WITH (security_invoker = true) AS SELECT * FROM town.other;
CREATE VIEW town.v_rule AS SELECT id, v FROM town.other WHERE false;
CREATE RULE v_rule_ins AS ON INSERT TO town.v_rule DO INSTEAD INSERT INTO town.other VALUES (NEW.id, NEW.v);
GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA town TO PUBLIC;
REVOKE ALL ON town.people, town.other, town.cases FROM PUBLIC;
CREATE FUNCTION town.secrets_invoker() RETURNS SETOF text LANGUAGE sql AS 'SELECT secret FROM town.people';
CREATE FUNCTION town.count_definer() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM town.people';
CREATE FUNCTION town.secrets_definer() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER AS 'SELECT secret FROM town.people';
CREATE FUNCTION town.names_plpgsql() RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN RETURN QUERY EXECUTE 'SELECT name FROM town.people ORDER BY id'; END $$;
CREATE FUNCTION town.leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN RAISE NOTICE 'leak saw %', $1; RETURN true; END $$;
CREATE FUNCTION town.make_table() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN CREATE TABLE town.made_by_counterpart (x int); END $$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA town TO PUBLIC;

SET SESSION AUTHORIZATION agent;
SET olink.purpose = 'statistics';
SELECT id, name FROM town.people ORDER BY id;

------------------------------------------------------------------------------
-- views
------------------------------------------------------------------------------
-- a view whose owner bypasses row security cannot carry the row filter: refused
SELECT id, name FROM town.v_definer ORDER BY id;
SELECT id, name FROM town.v_owner ORDER BY id;
-- a security_invoker view is limited like the table
SELECT id, name FROM town.v_invoker ORDER BY id;
-- a view over columns the grant lacks, or over an ungranted table
SELECT id FROM town.v_all;
SELECT id FROM town.v_other;
-- a rule that redirects a write
INSERT INTO town.v_rule VALUES (2, 'sneaky');

------------------------------------------------------------------------------
-- functions
------------------------------------------------------------------------------
SELECT town.secrets_invoker();
SELECT town.count_definer();
SELECT town.secrets_definer();
SELECT town.names_plpgsql();
SELECT town.make_table();
-- leaky functions see only the rows the filter admits
SELECT id FROM town.people WHERE town.leak(name) ORDER BY id;
-- functions that run a query given as text are checked like any query
SELECT query_to_xml('SELECT secret FROM town.people', false, false, '');
SELECT query_to_xml('SELECT count(*) AS n FROM town.people', false, false, '');

------------------------------------------------------------------------------
-- CTEs and sublinks
------------------------------------------------------------------------------
WITH s AS (SELECT secret FROM town.people) SELECT count(*) FROM s;
WITH n AS (SELECT id FROM town.people) SELECT count(*) FROM n;
SELECT 1 AS one WHERE EXISTS (SELECT 1 FROM town.other);
SELECT (SELECT max(income) FROM town.people) AS top;
SELECT id FROM town.people p WHERE id IN (SELECT id FROM town.people WHERE secret LIKE 'secret%');
SELECT count(*) FROM town.people WHERE district = 'south';

------------------------------------------------------------------------------
-- COPY
------------------------------------------------------------------------------
COPY town.people TO STDOUT;
COPY town.people (id, name) TO STDOUT;
COPY (SELECT id, district FROM town.people ORDER BY id) TO STDOUT;
COPY (SELECT secret FROM town.people) TO STDOUT;
COPY town.people (id, name, district) FROM STDIN;
9	intruder	north
\.
COPY town.people (id, name) TO '/tmp/olink-people.txt';
COPY town.people (id, name) TO PROGRAM 'cat';

------------------------------------------------------------------------------
-- utility commands and settings
------------------------------------------------------------------------------
CREATE TABLE town.mine (x int);
CREATE TEMP TABLE scratch (x int);
CREATE TABLE town.copy_of AS SELECT id, name FROM town.people;
SELECT id, name INTO TEMP grabbed FROM town.people;
TRUNCATE town.people;
ALTER TABLE town.people DISABLE ROW LEVEL SECURITY;
ALTER TABLE town.people DISABLE TRIGGER ALL;
CREATE POLICY p ON town.people USING (true);
ALTER ROLE agent SET olink.purpose = 'statistics';
ALTER ROLE agent PASSWORD 'new';
ALTER DATABASE contrib_regression SET olink.enforce = off;
GRANT SELECT ON town.people TO agent;
DO $$ BEGIN PERFORM 1; END $$;
LOAD 'olink';
LOCK TABLE town.people;
VACUUM town.people;
ANALYZE town.people;
LISTEN somewhere;
NOTIFY somewhere;
CHECKPOINT;
EXPLAIN SELECT id FROM town.people;
EXPLAIN (ANALYZE, COSTS OFF) SELECT id FROM town.people WHERE district = 'south';
SET olink.enforce = off;
SET olink.anything = 'x';
SET "OLINK.enforce" = off;
SELECT set_config('olink.enforce', 'off', false);
RESET olink.enforce;
-- what drivers and poolers do at connect and reset still works
SET extra_float_digits = 3;
SET application_name = 'pgjdbc';
SHOW olink.purpose;
SET LOCAL olink.purpose = 'statistics';
BEGIN;
SET LOCAL olink.purpose = 'statistics';
SELECT count(*) FROM town.people;
COMMIT;
DISCARD ALL;
SHOW olink.purpose;
-- DISCARD ALL also resets the session authorization of this test harness
SELECT session_user;
SET SESSION AUTHORIZATION agent;
SET olink.purpose = 'statistics';
SELECT current_setting('olink.purpose');

------------------------------------------------------------------------------
-- statistics do not reveal hidden rows or columns
------------------------------------------------------------------------------
SELECT count(*) FROM pg_stats WHERE schemaname = 'town' AND tablename = 'people';
SELECT count(*) FROM pg_statistic;

------------------------------------------------------------------------------
-- cursors and prepared plans see a revocation at their next use
------------------------------------------------------------------------------
PREPARE names AS SELECT name FROM town.people ORDER BY id;
EXECUTE names;
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM town.people ORDER BY id;
DECLARE h CURSOR WITH HOLD FOR SELECT id FROM town.people ORDER BY id;
FETCH 1 FROM c;
COMMIT;
FETCH 1 FROM h;
RESET SESSION AUTHORIZATION;
SELECT olink.revoke_access(grant_id => :g_people, reason => 'Statistics project ended');
SET SESSION AUTHORIZATION agent;
-- the held cursor's rows come from a store no executor reads: it is closed at the next statement
SELECT cursor_to_xml('h', 10, false, false, '');
FETCH 1 FROM h;
EXECUTE names;
SELECT id FROM town.people;
CLOSE h;
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- a grant whose filter or column list no longer fits the table fails closed
------------------------------------------------------------------------------
SET SESSION AUTHORIZATION agent;
SET olink.purpose = 'statistics';
SELECT id, district FROM town.cases ORDER BY id;
RESET SESSION AUTHORIZATION;
ALTER TABLE town.cases DROP COLUMN flag;
SET SESSION AUTHORIZATION agent;
SET olink.purpose = 'statistics';
SELECT id, district FROM town.cases ORDER BY id;
RESET SESSION AUTHORIZATION;
SELECT olink.revoke_access(grant_id => :g_cases, reason => 'filter broken');
SELECT olink.grant_access(counterpart => 'agency', relation => 'town.cases', privileges => ARRAY['select'],
                          columns => ARRAY['id', 'extra'], purposes => ARRAY['statistics']) AS g_cases2 \gset
ALTER TABLE town.cases DROP COLUMN extra;
SET SESSION AUTHORIZATION agent;
SET olink.purpose = 'statistics';
SELECT id FROM town.cases ORDER BY id;
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- startup options: the purpose may come with the connection; other olink settings may not
------------------------------------------------------------------------------
SELECT olink.grant_access(counterpart => 'agency', relation => 'town.people', privileges => ARRAY['select'],
                          columns => ARRAY['id', 'district'], purposes => ARRAY['statistics']) > 0 AS granted;
\c "dbname=contrib_regression user=agent options='-c olink.purpose=statistics'"
SELECT session_user, current_setting('olink.purpose') AS purpose;
SELECT count(*) FROM town.people;
\c "dbname=contrib_regression user=postgres"

-- an internal session is not touched by any of this
SELECT count(*) FROM town.people;
SELECT town.count_definer();

DROP EXTENSION olink CASCADE;
DROP SCHEMA town CASCADE;
DROP OWNED BY agency;
DROP ROLE agency, agent, town_owner;
