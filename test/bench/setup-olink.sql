-- olink's registry for the bench, in one database of the olink cluster (run as a superuser):
--   psql -v grants=10000 -v peers=1000 -v own_grants=20 -f setup-olink.sql
--
-- Every table of schemas registry and benchx is protected.  Counterpart "bench" (group role
-- bench_grp, credential bench_cp) holds :own_grants grants: SELECT of four columns of
-- registry.residents for rows outside Mihama, purpose bench; the rest on benchx tables.  :peers
-- other counterparts hold the remaining :grants - :own_grants grants, spread round-robin over the
-- protected tables (at most one grant per counterpart and table), so the registry holds :grants
-- active grants in all.  The roles are cluster-wide: they are created if missing and passed to
-- add_counterpart(role => ...), so two databases of one cluster can each hold a registry.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS olink;

SELECT olink.protect(c.oid::regclass, 'bench: personal information')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('registry', 'benchx') AND c.relkind IN ('r', 'p') AND NOT c.relispartition
 ORDER BY n.nspname, c.relname;

SELECT format('CREATE ROLE %I NOLOGIN', r)
  FROM (SELECT 'bench_grp' AS r
        UNION ALL SELECT 'peer_' || lpad(i::text, 4, '0') FROM generate_series(1, :peers) i) x
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = x.r)
\gexec

-- the counterpart the bench connects as
SELECT olink.add_counterpart(name => 'bench', necessity => 'benchmark of enforced point reads',
                             approved_by => 'bench committee', approved_on => current_date,
                             role => 'bench_grp');
SELECT olink.add_agreement(counterpart => 'bench', title => 'bench agreement', purposes => '{bench}',
                           valid_from => now() - interval '1 day', staff_duties => 'read only',
                           disposal_terms => 'nothing is kept');
SELECT olink._adopt_credential(counterpart => 'bench', login => 'bench_cp');
SELECT olink.add_terminal(counterpart => 'bench', name => 'bench-local', manager => 'test operator', addresses => '{}', local_connections => true);
SELECT olink.grant_access(counterpart => 'bench', relation => 'registry.residents',
                          privileges => '{select}',
                          columns => '{resident_id,family_name,given_name,district}',
                          row_filter => $$district <> 'Mihama'$$, purposes => '{bench}');
SELECT olink.grant_access(counterpart => 'bench',
                          relation => format('benchx.t%s', lpad(n::text, 2, '0'))::regclass,
                          privileges => '{select}', columns => '{id,a}', row_filter => 'a >= 0',
                          purposes => '{bench}')
  FROM generate_series(1, :own_grants - 1) n;

-- the others
SELECT olink.add_counterpart(name => 'peer_' || lpad(i::text, 4, '0'),
                             necessity => 'another counterpart of the registry',
                             approved_by => 'bench committee', approved_on => current_date,
                             role => ('peer_' || lpad(i::text, 4, '0'))::name)
  FROM generate_series(1, :peers) i;
SELECT olink.add_agreement(counterpart => 'peer_' || lpad(i::text, 4, '0'), title => 'agreement',
                           purposes => '{peer-work}', valid_from => now() - interval '1 day',
                           staff_duties => 'read only', disposal_terms => 'nothing is kept')
  FROM generate_series(1, :peers) i;

CREATE TEMP TABLE pool AS
SELECT (row_number() OVER (ORDER BY n.nspname, c.relname) - 1)::int AS k, c.oid::regclass AS rel,
       n.nspname::text AS nsp, c.relname::text AS relname
  FROM olink.protected_relation p JOIN pg_class c ON c.oid = p.relid
  JOIN pg_namespace n ON n.oid = c.relnamespace;

-- one grant per counterpart and table needs fewer grants per counterpart than tables
SELECT (:grants - :own_grants + :peers - 1) / :peers <= count(*) AS spread_ok FROM pool \gset
\if :spread_ok
\else
DO $$ BEGIN RAISE EXCEPTION 'too few protected tables to spread the grants one per counterpart and table'; END $$;
\endif

CREATE TEMP TABLE plan AS
SELECT g.k, 'peer_' || lpad(g.peer::text, 4, '0') AS counterpart, pool.rel,
       CASE WHEN pool.nsp = 'registry' AND pool.relname = 'residents'
              THEN '{resident_id,family_name,given_name,district}'::text[]
            WHEN pool.nsp = 'benchx' THEN '{id,a}'::text[] END AS columns,
       CASE WHEN pool.nsp = 'registry' AND pool.relname = 'residents'
              THEN format('district <> %L',
                          (ARRAY['Chuo','Hanamigawa','Inage','Wakaba','Midori','Mihama'])[1 + g.peer % 6])
            WHEN pool.nsp = 'benchx' THEN format('a >= %s', g.peer % 100) END AS row_filter
  FROM (SELECT k, k % :peers + 1 AS peer, k / :peers AS j
          FROM generate_series(0, :grants - :own_grants - 1) k) g
  JOIN pool ON pool.k = (g.j + g.peer) % (SELECT count(*) FROM pool);

-- 200 grants a transaction: one transaction that rewrites the same catalog rows (the native
-- grants olink keeps in step) thousands of times gets slower with every grant
SELECT format('SELECT count(olink.grant_access(counterpart => p.counterpart, relation => p.rel,
                                               privileges => ''{select}'', columns => p.columns,
                                               row_filter => p.row_filter, purposes => ''{peer-work}''))
                 FROM (SELECT * FROM plan WHERE k / 200 = %s ORDER BY k) p', c)
  FROM generate_series(0, (SELECT max(k) FROM plan) / 200) c
\gexec

ANALYZE;
SELECT count(*) AS active_grants FROM olink.access_grant WHERE revoked_at IS NULL;
