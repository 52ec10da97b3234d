-- One single-row UPDATE of registry.residents_w (a copy of registry.residents that only the UPDATE
-- workloads change) by primary key: a random resident gets a new given name.  :residents comes
-- from pgbench -D.
\set id random(1, :residents)
\set v random(100000, 999999)
UPDATE registry.residents_w SET given_name = 'n' || :v WHERE resident_id = :id;
