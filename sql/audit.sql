-- The audit store: access events (allowed, denied, failed, after rollback), connection events,
-- the change journal, redaction of passwords, who may read what, the append-only guard and
-- verify_audit() against tampering by a superuser.
--
-- Events are written by the audit worker, asynchronously: olink.flush_audit() waits until every
-- event queued so far is written and every committed journal row sealed.
DROP EXTENSION IF EXISTS olink CASCADE;
CREATE EXTENSION olink;
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE ROLE audit_owner NOLOGIN;
CREATE SCHEMA reg AUTHORIZATION audit_owner;
CREATE TABLE reg.people (id int PRIMARY KEY, name text NOT NULL, ward text NOT NULL, income numeric, flag boolean, born date);
INSERT INTO reg.people SELECT g, 'person ' || g, CASE WHEN g % 2 = 0 THEN 'north' ELSE 'south' END, g * 1000.5, g % 3 = 0,
                              date '1980-01-01' + g FROM generate_series(1, 6) g;
ALTER TABLE reg.people OWNER TO audit_owner;
SELECT olink.protect(relation => 'reg.people', description => 'Residents');
SELECT olink.add_counterpart(name => 'pension', necessity => 'Pension office', approved_by => 'Board', approved_on => '2026-04-01');
SELECT olink.add_agreement(counterpart => 'pension', title => 'Pension memo', purposes => ARRAY['pension-check'],
                           valid_from => '2026-01-01', staff_duties => 'Named staff', disposal_terms => 'Shred');
CREATE ROLE pension_clerk LOGIN;
SELECT olink._adopt_credential(counterpart => 'pension', login => 'pension_clerk');
-- a counterpart logs in only from a registered terminal: here, the local socket
SELECT olink.add_terminal(counterpart => 'pension', name => 'pension-local', manager => 'test operator', addresses => '{}', local_connections => true) > 0 AS terminal_added;
SELECT olink.grant_access(counterpart => 'pension', relation => 'reg.people', privileges => ARRAY['select', 'update'],
                          columns => ARRAY['id', 'name', 'income'], row_filter => $$ward = 'north'$$,
                          purposes => ARRAY['pension-check']) IS NOT NULL AS granted;
-- a function the counterpart may call, which catches a refusal
CREATE FUNCTION reg.probe() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ward FROM reg.people;
    RETURN 'read';
EXCEPTION WHEN insufficient_privilege THEN
    RETURN 'caught';
END $$;
GRANT USAGE ON SCHEMA reg TO pension_clerk;
GRANT EXECUTE ON FUNCTION reg.probe() TO pension_clerk;
CREATE ROLE audit_reader LOGIN IN ROLE olink_auditor;

-- the counterpart at work (over a connection of its own, so the connection log sees it)
\c "dbname=contrib_regression user=pension_clerk application_name=pension-app"
SET olink.purpose = 'pension-check';
SELECT id, name FROM reg.people ORDER BY id;
SELECT ward FROM reg.people;
UPDATE reg.people SET income = income + 1 WHERE id = 2;
COPY reg.people (id, name) TO STDOUT;
SELECT p FROM reg.people p;
BEGIN;
UPDATE reg.people SET income = 0 WHERE id = 4;
SELECT name, ward FROM reg.people WHERE id = 4;
ROLLBACK;
SELECT reg.probe();
SELEC 1;
SELECT count(*) FROM olink.access_log;
ALTER ROLE pension_clerk PASSWORD 'Sekret-horse-42';
\c "dbname=contrib_regression user=postgres"

-- an internal session: not in the access log unless olink.audit_internal is on, always in the journal
UPDATE reg.people SET name = 'person two' WHERE id = 2;
SET olink.audit_internal = on;
CREATE ROLE someone_else PASSWORD 'plain-Secret-99';
ALTER ROLE someone_else PASSWORD $pw$dollar-Secret-77$pw$;
SELECT 'recorded' AS internal;
RESET olink.audit_internal;
BEGIN;
INSERT INTO reg.people VALUES (100, 'rolled back', 'north', 1, false, NULL);
ROLLBACK;
INSERT INTO reg.people VALUES (7, 'person 7', 'north', NULL, NULL, NULL);
DELETE FROM reg.people WHERE id = 7;
TRUNCATE reg.people;

SELECT olink.flush_audit();

-- what an auditor sees: every statement of the counterpart, refusals included, in order
SET ROLE audit_reader;
SELECT login, counterpart, purpose, command, relations, columns, rows, outcome, sqlstate, message, statement
  FROM olink.access_log WHERE login = 'pension_clerk' ORDER BY event_id;
-- the internal session's statements, while olink.audit_internal was on (passwords redacted)
SELECT command, outcome, statement FROM olink.access_log WHERE login = current_user OR login = 'postgres'
 ORDER BY event_id;
SELECT kind, login, counterpart, client_addr, ssl, application_name, statements
  FROM olink.connection_log WHERE login = 'pension_clerk' ORDER BY event_id;
-- one statement id joins an access event to its journal rows
SELECT j.op, j.login, j.counterpart, j.purpose, j.relation, j.key, j.before->'income' AS before, j.after->'income' AS after
  FROM olink.change_journal j JOIN olink.access_log a USING (statement_id)
 WHERE a.login = 'pension_clerk' ORDER BY j.journal_id;
-- every change to the protected table, by anyone: committed ones only
SELECT op, login, counterpart, key, before, after FROM olink.change_journal ORDER BY journal_id;
-- no password anywhere in the store
SELECT count(*) AS leaks FROM olink.access_log
 WHERE statement ~* 'Sekret-horse|plain-Secret|dollar-Secret' OR message ~* 'Sekret-horse|plain-Secret|dollar-Secret';
RESET ROLE;
SELECT count(*) AS leaks FROM olink.audit_text WHERE body ~* 'Sekret-horse|plain-Secret|dollar-Secret';

-- counterparts read none of it, nor can they learn of other counterparts through it
SET SESSION AUTHORIZATION pension_clerk;
SELECT count(*) FROM olink.access_log;
SELECT count(*) FROM olink.change_journal;
SELECT count(*) FROM olink.connection_log;
SELECT count(*) FROM olink.audit_seal;
SELECT * FROM olink.verify_audit();
RESET SESSION AUTHORIZATION;

-- the store is append-only, for superusers too
UPDATE olink.access_event SET outcome = 'a';
DELETE FROM olink.journal;
INSERT INTO olink.audit_text VALUES (-1, 'forged');
TRUNCATE olink.audit_seal;

-- intact
SELECT * FROM olink.verify_audit();

-- retention: superusers only; it needs a reason, and the purge itself is recorded in the chain
SET ROLE audit_reader;
SELECT olink.purge_audit(older_than => now(), reason => 'no');
RESET ROLE;
SELECT olink.purge_audit(older_than => now(), reason => ' ');
SELECT olink.purge_audit(older_than => now() + interval '1 day', reason => 'future');
SELECT olink.purge_audit(older_than => now(), reason => 'retention test') > 0 AS removed;
SELECT count(*) AS journal_rows FROM olink.change_journal;
SELECT count(*) AS access_rows FROM olink.access_log;
SELECT row_count > 0 AS removed, note ~ 'retention test' AS reason_kept FROM olink.audit_seal WHERE kind = 'p';
SELECT * FROM olink.verify_audit();

-- more activity after the purge
\c "dbname=contrib_regression user=pension_clerk"
SET olink.purpose = 'pension-check';
SELECT id FROM reg.people WHERE id = 2;
SELECT ward FROM reg.people;
\c "dbname=contrib_regression user=postgres"
INSERT INTO reg.people VALUES (8, 'person 8', 'north', NULL, NULL, NULL);
DELETE FROM reg.people WHERE id = 8;
SELECT olink.flush_audit();
SELECT * FROM olink.verify_audit();

-- a superuser who switches the guard off is still found out
ALTER TABLE olink.access_event DISABLE TRIGGER append_only;
ALTER TABLE olink.journal DISABLE TRIGGER append_only;
ALTER TABLE olink.connection_event DISABLE TRIGGER append_only;
-- changed
UPDATE olink.access_event SET outcome = 'a' WHERE outcome = 'd' AND login = 'pension_clerk'
   AND event_id = (SELECT min(event_id) FROM olink.access_event WHERE outcome = 'd');
SELECT finding, log, detail ~ 'not as it was written' AS as_expected FROM olink.verify_audit();
-- deleted (a journal row)
DELETE FROM olink.journal WHERE op = 'd';
SELECT finding, log FROM olink.verify_audit() ORDER BY 1, 2;
-- inserted (a connection event no seal covers)
INSERT INTO olink.connection_event (event_id, at, kind, session_id, pid, login)
VALUES (1000000, now(), 'i', 1, 1, 'ghost');
SELECT finding, log, log <> 'connection_log' OR first_id = 1000000 AS the_ghost FROM olink.verify_audit() ORDER BY 1, 2;
-- reordered: two texts of one seal swap their ids (the statements shown in access_log change places)
ALTER TABLE olink.audit_text DISABLE TRIGGER append_only;
SELECT first_id AS t1 FROM olink.audit_seal WHERE kind = 't' AND row_count >= 2 ORDER BY seal_id LIMIT 1 \gset
UPDATE olink.audit_text SET text_id = -1 WHERE text_id = :t1;
UPDATE olink.audit_text SET text_id = :t1 WHERE text_id = :t1 + 1;
UPDATE olink.audit_text SET text_id = :t1 + 1 WHERE text_id = -1;
SELECT finding, log FROM olink.verify_audit() ORDER BY 1, 2;
-- a journal row forged in a transaction of its own: no journal trigger said it wrote it, so the
-- worker holds back its seal for a few passes (then seals it, and it is named all the same)
INSERT INTO olink.journal (journal_id, at, statement_id, xid, login, relid, relation, op, key, after)
VALUES (1, now(), 1, txid_current(), 'ghost', 'reg.people'::regclass, 'reg.people', 'i', '{"id": 99}', '{"id": 99}');
SELECT olink.flush_audit();
SELECT finding, log, detail ~ 'not written by olink''s journal trigger|have no seal' AS unattested
  FROM olink.verify_audit() WHERE log = 'change_journal' ORDER BY 1;
-- a journal row slipped into a journaled transaction
BEGIN;
UPDATE reg.people SET income = 1 WHERE id = 6;
INSERT INTO olink.journal (journal_id, at, statement_id, xid, login, relid, relation, op, key, after)
VALUES (2, now(), 1, txid_current(), 'ghost', 'reg.people'::regclass, 'reg.people', 'i', '{"id": 98}', '{"id": 98}');
COMMIT;
SELECT olink.flush_audit();
SELECT finding, log, detail ~ 'wrote 1 rows' AS counted
  FROM olink.verify_audit() WHERE log = 'change_journal' ORDER BY 1, 3;
-- a seal rewritten
ALTER TABLE olink.audit_seal DISABLE TRIGGER append_only;
UPDATE olink.audit_seal SET row_count = row_count + 1 WHERE seal_id = 1;
SELECT finding, log FROM olink.verify_audit() WHERE log = 'seal';

-- the journal stays on: neither the owner nor a superuser disables, drops or renames it
ALTER TABLE reg.people DISABLE TRIGGER olink_journal;
ALTER TABLE reg.people DISABLE TRIGGER ALL;
ALTER TABLE reg.people DISABLE TRIGGER USER;
ALTER TABLE reg.people ENABLE REPLICA TRIGGER olink_journal;
DROP TRIGGER olink_journal ON reg.people;
ALTER TRIGGER olink_journal ON reg.people RENAME TO quiet;
SET ROLE audit_owner;
ALTER TABLE reg.people DISABLE TRIGGER olink_journal;
RESET ROLE;
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'reg.people'::regclass ORDER BY tgname;
-- unprotect() takes it off
CREATE TABLE reg.scratch (id int PRIMARY KEY);
SELECT olink.protect('reg.scratch', 'for a moment');
SELECT count(*) AS journal_triggers FROM pg_trigger WHERE tgrelid = 'reg.scratch'::regclass;
SELECT olink.unprotect('reg.scratch', 'end of test');
SELECT count(*) AS journal_triggers FROM pg_trigger WHERE tgrelid = 'reg.scratch'::regclass;
TRUNCATE reg.scratch;

-- a protected partitioned table: rows journaled through its partitions, which cannot be truncated alone
CREATE TABLE reg.parted (id int, k int) PARTITION BY RANGE (id);
CREATE TABLE reg.parted_1 PARTITION OF reg.parted FOR VALUES FROM (0) TO (100);
SELECT olink.protect('reg.parted', 'partitioned');
INSERT INTO reg.parted VALUES (1, 1);
TRUNCATE reg.parted_1;
TRUNCATE reg.parted;
SELECT op, relation, after FROM olink.change_journal WHERE relation LIKE 'reg.parted%' ORDER BY journal_id;

DROP EXTENSION olink CASCADE;
DROP SCHEMA reg CASCADE;
DROP OWNED BY pension, pension_clerk, audit_reader, someone_else, audit_owner;
DROP ROLE pension, pension_clerk, audit_reader, someone_else, audit_owner;
