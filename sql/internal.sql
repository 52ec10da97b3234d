-- Sessions that are not counterparts see no difference: the same rows, errors and plans
-- before and after a table is protected, and before and after the extension exists.
\set VERBOSITY default
\set SHOW_CONTEXT never

-- olink preloaded but not installed in this database: nothing changes
SELECT count(*) FROM pg_extension WHERE extname = 'olink';
CREATE TABLE plain (id int PRIMARY KEY, v text);
INSERT INTO plain VALUES (1, 'a'), (2, 'b');
SELECT * FROM plain ORDER BY id;
SET olink.purpose = 'anything';
RESET olink.purpose;
SET olink.no_such_setting = 1;

CREATE EXTENSION olink;
CREATE ROLE clerk LOGIN;
CREATE ROLE ledger_owner NOLOGIN;
CREATE TABLE ledger (id int PRIMARY KEY, district text, amount int);
INSERT INTO ledger SELECT g, CASE WHEN g % 2 = 0 THEN 'east' ELSE 'west' END, g FROM generate_series(1, 1000) g;
ALTER TABLE ledger OWNER TO ledger_owner;
GRANT SELECT, INSERT, UPDATE ON ledger TO clerk;
CREATE TABLE guarded (id int, owner_name name);
INSERT INTO guarded VALUES (1, 'clerk'), (2, 'someone_else');
ALTER TABLE guarded ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine ON guarded USING (owner_name = current_user);
GRANT SELECT ON guarded TO clerk;
ANALYZE ledger;

-- what an internal non-owner role sees before protection
SET SESSION AUTHORIZATION clerk;
SELECT count(*), sum(amount) FROM ledger;
EXPLAIN (COSTS OFF) SELECT * FROM ledger WHERE id = 5;
EXPLAIN (COSTS OFF) SELECT district, count(*) FROM ledger GROUP BY district;
SELECT 1 / (amount - 7) FROM ledger WHERE id = 7;
SELECT id FROM guarded;
RESET SESSION AUTHORIZATION;

SELECT olink.protect(relation => 'ledger', description => 'Ledger');
SELECT olink.protect(relation => 'guarded', description => 'Guarded, with its own policy');

-- and after: the same
SET SESSION AUTHORIZATION clerk;
SELECT count(*), sum(amount) FROM ledger;
EXPLAIN (COSTS OFF) SELECT * FROM ledger WHERE id = 5;
EXPLAIN (COSTS OFF) SELECT district, count(*) FROM ledger GROUP BY district;
SELECT 1 / (amount - 7) FROM ledger WHERE id = 7;
UPDATE ledger SET amount = amount WHERE id = 1;
INSERT INTO ledger VALUES (1001, 'north', 1);
SELECT id FROM guarded;
RESET SESSION AUTHORIZATION;

-- parallel plans work as before (workers never read the registry)
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*) FROM plain;
SELECT count(*) FROM plain;
SELECT count(*) > 0 AS ok FROM pg_attribute;
SET SESSION AUTHORIZATION clerk;
SELECT count(*), sum(amount) FROM ledger;
RESET SESSION AUTHORIZATION;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- the owner and superusers are not touched either
SET SESSION AUTHORIZATION ledger_owner;
SELECT count(*) FROM ledger;
RESET SESSION AUTHORIZATION;
SELECT count(*) FROM ledger;
SELECT count(*) FROM guarded;

-- unprotecting restores the table as it was
SELECT olink.unprotect(relation => 'ledger');
SELECT olink.unprotect(relation => 'guarded');
SELECT relname, relrowsecurity FROM pg_class WHERE relname IN ('ledger', 'guarded') ORDER BY relname;

-- dropping the extension (here with its schema) gives protected tables back and cuts counterparts off
SELECT olink.protect(relation => 'ledger', description => 'Ledger');
SELECT olink.add_counterpart(name => 'leaver', necessity => 'x', approved_by => 'board', approved_on => '2026-01-01');
SELECT olink.add_agreement(counterpart => 'leaver', title => 'm', purposes => ARRAY['p'], valid_from => '2026-01-01',
                           staff_duties => 'd', disposal_terms => 'd');
SELECT olink.grant_access(counterpart => 'leaver', relation => 'ledger', privileges => ARRAY['select'],
                          row_filter => $$district = 'east'$$, purposes => ARRAY['p']) > 0 AS granted;
SELECT has_table_privilege('leaver', 'ledger', 'SELECT') AS leaver_can_read;
DROP SCHEMA olink CASCADE;
SELECT count(*) FROM pg_extension WHERE extname = 'olink';
SELECT relrowsecurity FROM pg_class WHERE relname = 'ledger';
SELECT has_table_privilege('leaver', 'ledger', 'SELECT') AS leaver_can_read;
SET SESSION AUTHORIZATION clerk;
SELECT count(*) FROM ledger;
RESET SESSION AUTHORIZATION;

DROP TABLE plain, ledger, guarded;
DROP OWNED BY leaver;
DROP ROLE clerk, ledger_owner, leaver;
