-- Run only with pgaudit and pg_stat_statements preloaded beside olink, in both orders: every hook
-- olink sets must call the one it replaced, so pg_stat_statements still sees each statement of a
-- counterpart session (executor and utility hooks alike), refused ones excepted.
CREATE EXTENSION pg_stat_statements;
CREATE EXTENSION olink;
\set VERBOSITY terse
CREATE TABLE beside_people (id int PRIMARY KEY, district text);
INSERT INTO beside_people VALUES (1, 'east'), (2, 'west');
CREATE ROLE beside_clerk LOGIN;
SELECT olink.add_counterpart(name => 'beside_cp', necessity => 'x', approved_by => 'b', approved_on => '2026-01-01') > 0 AS ok;
SELECT olink.add_agreement(counterpart => 'beside_cp', title => 'm', purposes => ARRAY['p'], valid_from => '2026-01-01',
                           staff_duties => 'd', disposal_terms => 'd') > 0 AS ok;
SELECT olink.protect(relation => 'beside_people', description => 'x');
SELECT olink._adopt_credential(counterpart => 'beside_cp', login => 'beside_clerk') > 0 AS ok;
SELECT olink.grant_access(counterpart => 'beside_cp', relation => 'beside_people', privileges => ARRAY['select'],
                          row_filter => $$district = 'east'$$, purposes => ARRAY['p']) > 0 AS ok;
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
SET SESSION AUTHORIZATION beside_clerk;
SET olink.purpose = 'p';
SELECT id FROM beside_people /* beside-marker */;
SELECT id FROM beside_people /* beside-marker */;
SELECT id, district FROM beside_people WHERE id = 2 /* beside-hidden */;
RESET SESSION AUTHORIZATION;
SELECT calls, rows FROM pg_stat_statements WHERE query LIKE '%beside-marker%';
SELECT calls, rows FROM pg_stat_statements WHERE query LIKE '%beside-hidden%';
SELECT calls FROM pg_stat_statements WHERE query LIKE 'SET olink.purpose%';
DROP EXTENSION olink;
DROP TABLE beside_people;
DROP OWNED BY beside_cp;
DROP ROLE beside_cp, beside_clerk;
DROP EXTENSION pg_stat_statements;
