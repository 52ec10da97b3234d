-- What olink's journal is measured against: the classic full-image audit trigger in PL/pgSQL.
-- AFTER ... FOR EACH ROW, one row per change into a log table (no index), with both images as
-- jsonb.  Run as a superuser in a database of the baseline cluster (no olink); :tables lists the
-- tables to put it on.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE SCHEMA IF NOT EXISTS bench_audit AUTHORIZATION bench_owner;
CREATE TABLE IF NOT EXISTS bench_audit.change_log (
    at          timestamptz NOT NULL,
    login       text NOT NULL,
    op          text NOT NULL,
    relation    text NOT NULL,
    old_row     jsonb,
    new_row     jsonb
);
ALTER TABLE bench_audit.change_log OWNER TO bench_owner;
CREATE OR REPLACE FUNCTION bench_audit.log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_audit.change_log (at, login, op, relation, old_row, new_row)
    VALUES (now(), session_user, TG_OP, TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
            CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
            CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);
    RETURN NULL;
END
$$;
SELECT format('CREATE TRIGGER log_change AFTER INSERT OR UPDATE OR DELETE ON %s
                 FOR EACH ROW EXECUTE FUNCTION bench_audit.log_change()', t)
  FROM unnest(string_to_array(:'tables', ',')) t
\gexec
