-- One point read of registry.residents by primary key.  :residents comes from pgbench -D.
\set id random(1, :residents)
SELECT resident_id, family_name, given_name, district FROM registry.residents WHERE resident_id = :id;
