-- The counterpart of the UPDATE workload, in olink's database (run as a superuser, after
-- setup-olink.sql): counterpart "bench_w" (group role bench_wgrp, credential bench_cpw) may read
-- and update two columns of registry.residents_w, purpose bench, under a row filter that every
-- row passes -- enforced like any grant, yet updating as many rows as the baseline does.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT format('CREATE ROLE %I %s', r, o)
  FROM (VALUES ('bench_wgrp', 'NOLOGIN'), ('bench_cpw', 'LOGIN')) x(r, o)
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = x.r)
\gexec
SELECT olink.add_counterpart(name => 'bench_w', necessity => 'benchmark of journaled updates',
                             approved_by => 'bench committee', approved_on => current_date,
                             role => 'bench_wgrp');
SELECT olink.add_agreement(counterpart => 'bench_w', title => 'bench agreement (updates)',
                           purposes => '{bench}', valid_from => now() - interval '1 day',
                           staff_duties => 'keeps names up to date',
                           disposal_terms => 'nothing is kept');
SELECT olink._adopt_credential(counterpart => 'bench_w', login => 'bench_cpw');
SELECT olink.add_terminal(counterpart => 'bench_w', name => 'bench_w-local', manager => 'test operator', addresses => '{}', local_connections => true);
SELECT olink.grant_access(counterpart => 'bench_w', relation => 'registry.residents_w',
                          privileges => '{select,update}', columns => '{resident_id,given_name}',
                          row_filter => $$district <> ''$$, purposes => '{bench}');
