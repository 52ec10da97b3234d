-- Row quotas (第7(1)エ): rows of protected tables a counterpart's statement reads, after the row
-- filter, per statement and per day, per grant and per counterpart.  However the rows are read: a
-- plain SELECT, an aggregate, a function, COPY, a cursor fetched in batches.  A refused statement
-- sends no row: COPY below prints none of the rows it read before the quota ran out.
CREATE EXTENSION olink;
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE TABLE public.q_people (id int PRIMARY KEY, ward text NOT NULL, name text);
INSERT INTO public.q_people SELECT g, CASE WHEN g % 2 = 0 THEN 'east' ELSE 'west' END, 'p' || g FROM generate_series(1, 100) g;
SELECT olink.protect('public.q_people', 'people');
SELECT olink.add_counterpart(name => 'q_cp', necessity => 'n', approved_by => 'b', approved_on => '2026-01-01');
SELECT olink.add_agreement(counterpart => 'q_cp', title => 'memo', purposes => ARRAY['count', 'bulk'],
                           valid_from => '2026-01-01', staff_duties => 'd', disposal_terms => 'd');
CREATE ROLE q_agent LOGIN;
SELECT olink._adopt_credential(counterpart => 'q_cp', login => 'q_agent');
-- under 'count': the east ward only, at most 10 rows a statement and 200 a day
SELECT olink.grant_access(counterpart => 'q_cp', relation => 'public.q_people', privileges => ARRAY['select'],
                          row_filter => $$ward = 'east'$$, purposes => ARRAY['count'],
                          max_rows_per_statement => 10, max_rows_per_day => 200) AS g1 \gset
-- under 'bulk': no quota of its own
SELECT olink.grant_access(counterpart => 'q_cp', relation => 'public.q_people', privileges => ARRAY['select'],
                          purposes => ARRAY['bulk']) AS g2 \gset
CREATE FUNCTION public.q_names() RETURNS SETOF text LANGUAGE sql STABLE AS $$ SELECT name FROM public.q_people $$;
GRANT EXECUTE ON FUNCTION public.q_names() TO q_agent;
-- a function that catches the refusal and goes on
CREATE FUNCTION public.q_sneak() RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    n int := 0;
    r record;
BEGIN
    BEGIN
        FOR r IN SELECT id FROM public.q_people LOOP
            n := n + 1;
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        NULL;
    END;
    RETURN n;
END
$$;
GRANT EXECUTE ON FUNCTION public.q_sneak() TO q_agent;
CREATE FUNCTION public.q_one(g int) RETURNS text LANGUAGE sql STABLE AS $$ SELECT name FROM public.q_people WHERE id = g $$;
GRANT EXECUTE ON FUNCTION public.q_one(int) TO q_agent;
-- under 'fix': updates, at most 3 rows a statement
SELECT olink.add_agreement(counterpart => 'q_cp', title => 'fixes', purposes => ARRAY['fix'],
                           valid_from => '2026-01-01', staff_duties => 'd', disposal_terms => 'd') > 0 AS agreed;
SELECT olink.grant_access(counterpart => 'q_cp', relation => 'public.q_people', privileges => ARRAY['select', 'update'],
                          purposes => ARRAY['fix'], max_rows_per_statement => 3) AS g3 \gset

SET SESSION AUTHORIZATION q_agent;
SET olink.purpose = 'count';
-- within the quota; rows outside the row filter are not read, so not counted
SELECT count(*) FROM public.q_people WHERE id <= 20;
SELECT name FROM public.q_people WHERE id = 4;
-- over it, however the rows are read
SELECT count(*) FROM public.q_people;
SELECT string_agg(name, ',') FROM public.q_people;
SELECT array_length(array_agg(id), 1) FROM public.q_people;
SELECT json_agg(name) IS NOT NULL FROM public.q_people;
SELECT count(*) FROM public.q_names();
-- caught inside a function, the refusal still ends the statement
SELECT public.q_sneak();
SELECT name FROM public.q_people ORDER BY id;
COPY (SELECT id FROM public.q_people ORDER BY id) TO STDOUT;
COPY public.q_people (id) TO STDOUT;
-- a cursor: its FETCHes add up, and the FETCH that goes over sends none of its rows
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM public.q_people ORDER BY id;
FETCH 10 FROM c;
FETCH 10 FROM c;
ROLLBACK;
-- the day: 10 + 1 + 11 x 9 (refused statements read rows too) + 10 + 1 = 121 rows so far;
-- seven more statements of 10 make 191, the eighth goes over 200
SELECT count(*) FROM public.q_people WHERE id <= 20 \g
SELECT count(*) FROM public.q_people WHERE id <= 20 \g
SELECT count(*) FROM public.q_people WHERE id <= 20 \g
SELECT count(*) FROM public.q_people WHERE id <= 20 \g
SELECT count(*) FROM public.q_people WHERE id <= 20 \g
SELECT count(*) FROM public.q_people WHERE id <= 20 \g
SELECT count(*) FROM public.q_people WHERE id <= 20 \g
SELECT count(*) FROM public.q_people WHERE id <= 20 \g
SELECT count(*) FROM public.q_people WHERE id <= 20 \g
-- 200: the next row is one too many today, in any statement of any session of the counterpart
SELECT name FROM public.q_people WHERE id = 6;
-- the day is the server's: a session's time zone does not start a new one
SET TimeZone = 'Etc/GMT+12';
SELECT name FROM public.q_people WHERE id = 6;
RESET TimeZone;
-- an UPDATE reads rows to change them, not to take them away: not counted; with RETURNING it is
SET olink.purpose = 'fix';
UPDATE public.q_people SET name = name WHERE id <= 6;
UPDATE public.q_people SET name = name WHERE id <= 6 RETURNING id;
UPDATE public.q_people SET name = name WHERE id <= 2 RETURNING id;
-- another purpose, another grant with no quota of its own
SET olink.purpose = 'bulk';
SELECT count(*) FROM public.q_people;
RESET SESSION AUTHORIZATION;

-- the counterpart's own quotas, across its grants
SELECT olink.set_counterpart_limits('q_cp', max_connections => NULL, max_statements_per_minute => NULL,
                                    max_rows_per_statement => 50, max_rows_per_day => NULL);
SET SESSION AUTHORIZATION q_agent;
SET olink.purpose = 'bulk';
SELECT count(*) FROM public.q_people WHERE id <= 50;
SELECT count(*) FROM public.q_people;
-- rows read one by one inside a function, the table not in the statement's own plan: the
-- statement's output is held all the same, and none of it leaves
COPY (SELECT public.q_one(g) FROM generate_series(1, 60) g) TO STDOUT;
RESET SESSION AUTHORIZATION;
SELECT olink.set_counterpart_limits('q_cp', NULL, NULL, max_rows_per_statement => 0);
SELECT olink.set_counterpart_limits('q_cp', NULL, NULL, max_rows_per_day => -1);
SELECT olink.set_counterpart_limits('nobody', NULL, NULL);
SELECT name, max_rows_per_statement, max_rows_per_day FROM olink.counterparts;

-- a transaction in which a quota refused a row does not commit, however the refusal was handled
SET SESSION AUTHORIZATION q_agent;
SET olink.purpose = 'bulk';
BEGIN;
SAVEPOINT before_bulk;
SELECT count(*) FROM public.q_people;
ROLLBACK TO SAVEPOINT before_bulk;
SELECT count(*) FROM public.q_people WHERE id <= 5;
COMMIT;
RESET SESSION AUTHORIZATION;
-- every refusal is audited as denied
SELECT olink.flush_audit();
SELECT outcome, sqlstate, left(message, 45) AS message, count(*)
  FROM olink.access_log WHERE login = 'q_agent' AND outcome <> 'allowed' GROUP BY 1, 2, 3 ORDER BY 3;

-- an internal session is not counted nor limited
SELECT count(*) FROM public.q_people;

DROP EXTENSION olink CASCADE;
DROP TABLE public.q_people;
DROP FUNCTION public.q_names(), public.q_sneak(), public.q_one(int);
DROP OWNED BY q_cp, q_agent;
DROP ROLE q_cp, q_agent;
