-- Check-out locks (第7(2)(1)イ): checkout, checkin, force_release and olink.locks; bad input gets
-- a clear error and writes nothing; a counterpart checks out only what its grants let it change.
-- (Races, waits and expiry are in test/specs/checkout.spec.)
CREATE EXTENSION olink;
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE TABLE public.co_people (person_id int PRIMARY KEY, ward text NOT NULL, name text);
INSERT INTO public.co_people SELECT g, CASE WHEN g % 2 = 0 THEN 'east' ELSE 'west' END, 'p' || g FROM generate_series(1, 6) g;
CREATE TABLE public.co_pair (a int, b text, v text, PRIMARY KEY (a, b));
INSERT INTO public.co_pair VALUES (1, 'x', 'one');
CREATE TABLE public.co_nokey (v text);
CREATE TABLE public.co_plain (id int PRIMARY KEY);
SELECT olink.protect('public.co_people', 'people');
SELECT olink.protect('public.co_pair', 'pairs');
SELECT olink.protect('public.co_nokey', 'no key');
CREATE ROLE co_clerk LOGIN;
CREATE ROLE co_reader LOGIN;
GRANT SELECT, UPDATE ON public.co_people, public.co_pair TO co_clerk;
GRANT SELECT ON public.co_people TO co_reader;
GRANT USAGE ON SCHEMA olink TO co_clerk, co_reader;
GRANT EXECUTE ON FUNCTION olink.checkout(regclass, jsonb, interval, interval), olink.checkin(bigint) TO co_clerk, co_reader;
CREATE FUNCTION public.co_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS $$ SELECT count(*) FROM olink.checkout_lock $$;

-- bad input
SET SESSION AUTHORIZATION co_clerk;
SELECT olink.checkout(NULL, '{"person_id": 1}', '1 hour');
SELECT olink.checkout('public.co_people', NULL, '1 hour');
SELECT olink.checkout('public.co_people', '{"person_id": 1}', NULL);
SELECT olink.checkout('public.co_people', '{"person_id": 1}', '0');
SELECT olink.checkout('public.co_people', '{"person_id": 1}', '-1 hour');
SELECT olink.checkout('public.co_people', '{"person_id": 1}', '2 days');
SELECT olink.checkout('public.co_people', '{"person_id": 1}', '1 hour', wait => '-1 s');
SELECT olink.checkout('public.co_people', '[1]', '1 hour');
SELECT olink.checkout('public.co_people', '{"id": 1}', '1 hour');
SELECT olink.checkout('public.co_people', '{"person_id": 1, "ward": "east"}', '1 hour');
SELECT olink.checkout('public.co_people', '{"person_id": "one"}', '1 hour');
SELECT olink.checkout('public.co_people', '{"person_id": null}', '1 hour');
SELECT olink.checkout('public.co_people', '{"person_id": [1]}', '1 hour');
SELECT olink.checkout('public.co_pair', '{"a": 1}', '1 hour');
SELECT olink.checkout('public.co_plain', '{"id": 1}', '1 hour');
RESET SESSION AUTHORIZATION;
SELECT olink.checkout('public.co_nokey', '{"v": "x"}', '1 hour');
SET SESSION AUTHORIZATION co_reader;
-- no UPDATE or DELETE on the table: no check-out
SELECT olink.checkout('public.co_people', '{"person_id": 1}', '1 hour');
RESET SESSION AUTHORIZATION;
SELECT public.co_count();

-- a key is read as its columns' types: "2" and 2 name the same record
-- (from here on, errors without their DETAIL, which names the time a check-out ends)
\set VERBOSITY terse
SET SESSION AUTHORIZATION co_clerk;
SELECT olink.checkout('public.co_people', '{"person_id": "2"}', '1 hour') AS lock2 \gset
SELECT olink.checkout('public.co_pair', '{"b": "x", "a": 1}', '1 hour') AS lockpair \gset
SELECT olink.checkout('public.co_people', '{"person_id": 2}', '1 hour');
UPDATE public.co_people SET name = 'clerk' WHERE person_id = 2;
UPDATE public.co_pair SET v = 'clerk' WHERE a = 1;
RESET SESSION AUTHORIZATION;
-- anyone else, a superuser too, is refused; other records are not held
UPDATE public.co_people SET name = 'dba' WHERE person_id = 2;
UPDATE public.co_people SET name = 'dba' WHERE ward = 'east';
DELETE FROM public.co_pair;
UPDATE public.co_people SET name = 'dba' WHERE person_id = 3;
-- and under session_replication_role = replica as well: the trigger fires ALWAYS
SET session_replication_role = replica;
UPDATE public.co_people SET name = 'dba' WHERE person_id = 2;
RESET session_replication_role;
-- in a subtransaction that is rolled back, a check-out never was
BEGIN;
SAVEPOINT s;
SELECT olink.checkout('public.co_people', '{"person_id": 4}', '1 hour') > 0 AS taken;
ROLLBACK TO SAVEPOINT s;
UPDATE public.co_people SET name = 'dba' WHERE person_id = 4;
COMMIT;
SELECT lock_id, relation, key, holder, counterpart, state FROM olink.locks ORDER BY lock_id;

-- check-in: by its holder only, once; force_release: with a reason
SELECT olink.checkin(:lock2);
SET SESSION AUTHORIZATION co_reader;
SELECT olink.checkin(:lock2);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION co_clerk;
SELECT olink.checkin(:lock2);
SELECT olink.checkin(:lock2);
SELECT olink.checkin(NULL);
SELECT olink.checkin(999);
SELECT olink.force_release(:lockpair, 'x');
RESET SESSION AUTHORIZATION;
SELECT olink.force_release(:lockpair, NULL);
SELECT olink.force_release(:lockpair, '  ');
SELECT olink.force_release(:lockpair, 'the clerk is on leave');
UPDATE public.co_people SET name = 'dba' WHERE person_id = 2;
DELETE FROM public.co_pair;
-- a check-in rolled back keeps the record held
SET SESSION AUTHORIZATION co_clerk;
SELECT olink.checkout('public.co_people', '{"person_id": 5}', '1 hour') AS lock5 \gset
BEGIN;
SELECT olink.checkin(:lock5);
ROLLBACK;
RESET SESSION AUTHORIZATION;
UPDATE public.co_people SET name = 'dba' WHERE person_id = 5;
SELECT lock_id, key, holder, state, released_by, release_reason FROM olink.locks ORDER BY lock_id;
-- the record of it is kept
DELETE FROM olink.checkout_lock;
-- a check-out cannot wait in a prepared transaction
SET SESSION AUTHORIZATION co_clerk;
BEGIN;
SELECT olink.checkout('public.co_people', '{"person_id": 6}', '1 hour') > 0 AS taken;
PREPARE TRANSACTION 'co_x';
RESET SESSION AUTHORIZATION;
UPDATE public.co_people SET name = 'dba' WHERE person_id = 6;
\set VERBOSITY default

-- a counterpart: only records of tables it may change under its purpose
SELECT olink.add_counterpart(name => 'co_cp', necessity => 'n', approved_by => 'b', approved_on => '2026-01-01');
SELECT olink.add_agreement(counterpart => 'co_cp', title => 'memo', purposes => ARRAY['edit', 'look'],
                           valid_from => '2026-01-01', staff_duties => 'd', disposal_terms => 'd');
CREATE ROLE co_agent LOGIN;
SELECT olink._adopt_credential(counterpart => 'co_cp', login => 'co_agent');
SELECT olink.grant_access(counterpart => 'co_cp', relation => 'public.co_people', privileges => ARRAY['select', 'update'],
                          columns => ARRAY['person_id', 'ward', 'name'], row_filter => $$ward = 'west'$$, purposes => ARRAY['edit']) > 0 AS granted;
SELECT olink.grant_access(counterpart => 'co_cp', relation => 'public.co_people', privileges => ARRAY['select'],
                          purposes => ARRAY['look']) > 0 AS granted;
SET SESSION AUTHORIZATION co_agent;
SET olink.purpose = 'look';
SELECT olink.checkout('public.co_people', '{"person_id": 1}', '1 hour');
SET olink.purpose = 'edit';
SELECT olink.checkout('public.co_people', '{"person_id": 1}', '1 hour') > 0 AS taken;
SELECT olink.checkout('public.co_pair', '{"a": 1, "b": "x"}', '1 hour');
-- only a record it can see: not one its row filter hides, not one that does not exist
SELECT olink.checkout('public.co_people', '{"person_id": 2}', '1 hour');
SELECT olink.checkout('public.co_people', '{"person_id": 99}', '1 hour');
-- the record it holds is its own to change; one the clerk holds is not
UPDATE public.co_people SET name = 'agent' WHERE person_id = 1;
\set VERBOSITY terse
UPDATE public.co_people SET name = 'agent' WHERE person_id = 5;
\set VERBOSITY default
SELECT count(*) FROM olink.locks;
RESET SESSION AUTHORIZATION;
SELECT holder, counterpart, key, state FROM olink.locks WHERE state = 'held' ORDER BY lock_id;
SELECT person_id, name FROM public.co_people ORDER BY person_id;

-- keys are compared as the primary key compares them, whatever the session's settings:
-- a timestamptz in another time zone, numeric 1 and 1.00, text under its collation
CREATE TABLE public.co_kinds (at timestamptz, amount numeric, code text, PRIMARY KEY (at, amount, code));
INSERT INTO public.co_kinds VALUES ('2026-04-01 09:00+09', 1.00, 'A');
SELECT olink.protect('public.co_kinds', 'kinds');
GRANT SELECT, UPDATE ON public.co_kinds TO co_clerk;
SET TimeZone = 'UTC';
SELECT olink.checkout('public.co_kinds', '{"at": "2026-04-01 00:00:00+00", "amount": 1, "code": "A"}', '1 hour') > 0 AS taken;
SET SESSION AUTHORIZATION co_clerk;
SET TimeZone = 'Asia/Tokyo';
SET extra_float_digits = 0;
\set VERBOSITY terse
UPDATE public.co_kinds SET code = 'A' WHERE amount = 1.00;
\set VERBOSITY default
RESET SESSION AUTHORIZATION;
RESET TimeZone;
RESET extra_float_digits;
-- a partitioned table: a record checked out through it is held in its partition
CREATE TABLE public.co_parted (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
CREATE TABLE public.co_parted_1 PARTITION OF public.co_parted FOR VALUES FROM (1) TO (100);
INSERT INTO public.co_parted VALUES (7, 'seven'), (8, 'eight');
SELECT olink.protect('public.co_parted', 'parted');
GRANT UPDATE, SELECT ON public.co_parted, public.co_parted_1 TO co_clerk;
SELECT olink.checkout('public.co_parted', '{"id": 7}', '1 hour') > 0 AS taken;
SET SESSION AUTHORIZATION co_clerk;
\set VERBOSITY terse
UPDATE public.co_parted SET v = 'x' WHERE id = 7;
UPDATE public.co_parted_1 SET v = 'x' WHERE id = 7;
\set VERBOSITY default
UPDATE public.co_parted SET v = 'x' WHERE id = 8;
RESET SESSION AUTHORIZATION;
-- a table with records checked out stays protected until they are checked in or released,
-- its partitions' check-outs included
SELECT olink.unprotect('public.co_kinds');
SELECT olink.unprotect('public.co_parted');
SELECT relation, state FROM olink.locks WHERE relation::text ~ 'co_(kinds|parted)' ORDER BY lock_id;
SELECT count(olink.force_release(lock_id, 'table leaves olink')) AS released FROM olink.locks
 WHERE relation::text ~ 'co_(kinds|parted)' AND state = 'held';
SELECT olink.unprotect('public.co_kinds');
SELECT olink.unprotect('public.co_parted');
-- checked in after it expired: a warning, and it stays on record as expired
SELECT olink.checkout('public.co_people', '{"person_id": 3}', '1 second') AS short_lock \gset
SELECT pg_sleep(1.1);
-- (the warning names the time it expired: its SQLSTATE only here)
\set VERBOSITY sqlstate
SELECT olink.checkin(:short_lock);
\set VERBOSITY default
SELECT state, released_at IS NULL AS not_released FROM olink.locks WHERE lock_id = :short_lock;
-- one holder may not take every check-out there is: two more than it holds now, then no more
CREATE TABLE public.co_many (id int PRIMARY KEY);
INSERT INTO public.co_many SELECT generate_series(1, 3);
SELECT olink.protect('public.co_many', 'many');
SELECT set_config('olink.max_checkouts_per_holder',
                  (SELECT count(*) + 2 FROM olink.locks WHERE holder = session_user AND state = 'held')::text, false) IS NOT NULL AS set;
SELECT olink.checkout('public.co_many', '{"id": 1}', '1 hour') > 0 AS taken;
SELECT olink.checkout('public.co_many', '{"id": 2}', '1 hour') > 0 AS taken;
\set VERBOSITY terse
SELECT olink.checkout('public.co_many', '{"id": 3}', '1 hour') > 0 AS taken;
\set VERBOSITY default
RESET olink.max_checkouts_per_holder;
SELECT olink.checkout('public.co_many', '{"id": 3}', '1 hour') > 0 AS taken;

DROP EXTENSION olink CASCADE;
DROP TABLE public.co_people, public.co_pair, public.co_nokey, public.co_plain, public.co_kinds, public.co_parted, public.co_many;
DROP FUNCTION public.co_count();
DROP OWNED BY co_clerk, co_reader, co_cp, co_agent;
DROP ROLE co_clerk, co_reader, co_cp, co_agent;
