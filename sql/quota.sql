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
SELECT name FROM public.q_people ORDER BY id;
COPY (SELECT id FROM public.q_people ORDER BY id) TO STDOUT;
COPY public.q_people (id) TO STDOUT;
-- a cursor: its FETCHes add up, and the FETCH that goes over sends none of its rows
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM public.q_people ORDER BY id;
FETCH 4 FROM c;
FETCH 4 FROM c;
FETCH 4 FROM c;
ROLLBACK;
-- the day: 10 + 1 + 11 x 8 (refused statements read rows too) + 4 + 4 + 3 = 110 rows so far
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
RESET SESSION AUTHORIZATION;
SELECT olink.set_counterpart_limits('q_cp', NULL, NULL, max_rows_per_statement => 0);
SELECT olink.set_counterpart_limits('q_cp', NULL, NULL, max_rows_per_day => -1);
SELECT olink.set_counterpart_limits('nobody', NULL, NULL);
SELECT name, max_rows_per_statement, max_rows_per_day FROM olink.counterparts;

-- every refusal is audited as denied
SELECT olink.flush_audit();
SELECT outcome, sqlstate, left(message, 45) AS message, count(*)
  FROM olink.access_log WHERE login = 'q_agent' AND outcome <> 'allowed' GROUP BY 1, 2, 3 ORDER BY 3;

-- an internal session is not counted nor limited
SELECT count(*) FROM public.q_people;

DROP EXTENSION olink CASCADE;
DROP TABLE public.q_people;
DROP FUNCTION public.q_names();
DROP OWNED BY q_cp, q_agent;
DROP ROLE q_cp, q_agent;
