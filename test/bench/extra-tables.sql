-- Twenty small tables besides the demo's, for grants that are not on registry.residents: the
-- counterparts of a real registry hold grants on many tables.  Same on every cluster.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS benchx CASCADE;
CREATE SCHEMA benchx;
SELECT format('CREATE TABLE benchx.t%s (id bigint PRIMARY KEY, a int NOT NULL, b text);
               INSERT INTO benchx.t%s SELECT i, i %% 100, md5(i::text) FROM generate_series(1, 100) i',
              lpad(n::text, 2, '0'), lpad(n::text, 2, '0'))
  FROM generate_series(1, 20) n
\gexec
