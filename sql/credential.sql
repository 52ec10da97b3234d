-- Credentials (第6(2)(2)イ): request → approve (by someone else) → issue, the password policy,
-- revocation and invalidation, terminals.  Every function refuses bad input with a clear error
-- and writes nothing; every step taken is in credential_history.
CREATE EXTENSION olink;
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE ROLE cm_filer LOGIN IN ROLE olink_credential_manager;    -- files requests
CREATE ROLE cm_manager LOGIN IN ROLE olink_credential_manager;  -- the counterpart's manager
CREATE ROLE cm_other LOGIN IN ROLE olink_credential_manager;    -- a manager, but not this counterpart's
CREATE ROLE cm_admin LOGIN IN ROLE olink_admin;
CREATE ROLE cm_stranger LOGIN;
CREATE ROLE cm_plain LOGIN;                                      -- an existing role to be issued
CREATE ROLE cm_privileged LOGIN CREATEDB;

-- a password as a client hashes it (psql's \password does the same)
SET password_encryption = 'scram-sha-256';
CREATE ROLE cm_hash_source PASSWORD 'Hashed-By-Client-1';
SELECT rolpassword AS client_hashed FROM pg_authid WHERE rolname = 'cm_hash_source' \gset
DROP ROLE cm_hash_source;

CREATE FUNCTION public.cm_counts() RETURNS text LANGUAGE sql SECURITY DEFINER AS $$
  SELECT format('requests=%s credentials=%s events=%s history=%s terminals=%s',
    (SELECT count(*) FROM olink.credential_request), (SELECT count(*) FROM olink.credential),
    (SELECT count(*) FROM olink.credential_event), (SELECT count(*) FROM olink.password_history),
    (SELECT count(*) FROM olink.terminal))
$$;

SELECT olink.add_counterpart(name => 'welfare', necessity => 'Welfare benefits need household data',
                             approved_by => 'Privacy review board', approved_on => '2026-04-01');
SELECT olink.add_counterpart(name => 'nursing', necessity => 'Care insurance',
                             approved_by => 'Privacy review board', approved_on => '2026-04-01');

------------------------------------------------------------------------------
-- 第6(2)(2)イ(ア): a credential manager per counterpart
------------------------------------------------------------------------------
SELECT olink.designate_credential_manager(counterpart => 'welfare', manager => 'no_such_role');
SELECT olink.designate_credential_manager(counterpart => 'welfare', manager => 'cm_stranger');
SELECT olink.designate_credential_manager(counterpart => 'nobody', manager => 'cm_manager');
SELECT olink.designate_credential_manager(counterpart => 'welfare', manager => 'cm_manager');
SELECT name, credential_manager FROM olink.counterpart ORDER BY name;

------------------------------------------------------------------------------
-- requests
------------------------------------------------------------------------------
SET SESSION AUTHORIZATION cm_filer;
SELECT olink.request_credential(counterpart => 'welfare', login => '', holder => 'Sato Ichiro');
SELECT olink.request_credential(counterpart => 'welfare', login => 'wf_sato', holder => ' ');
SELECT olink.request_credential(counterpart => 'welfare', login => 'wf_sato', holder => 'Sato Ichiro', requested_by => NULL);
SELECT olink.request_credential(counterpart => 'nobody', login => 'wf_sato', holder => 'Sato Ichiro');
SELECT olink.request_credential(counterpart => 'welfare', login => 'pg_monitor2', holder => 'Sato Ichiro');
SELECT olink.request_credential(counterpart => 'welfare', login => 'olink_admin', holder => 'Sato Ichiro');
SELECT olink.request_credential(counterpart => 'welfare', login => 'cm_privileged', holder => 'Sato Ichiro');
SELECT olink.request_credential(counterpart => 'welfare', login => 'cm_manager', holder => 'Sato Ichiro');
SELECT public.cm_counts();
SELECT olink.request_credential(counterpart => 'welfare', login => 'wf_sato', holder => 'Sato Ichiro',
                                requested_by => 'Suzuki, welfare section chief') AS sato \gset
SELECT olink.request_credential(counterpart => 'welfare', login => 'wf_sato', holder => 'Sato Jiro');
SELECT olink.request_credential(counterpart => 'welfare', login => 'cm_plain', holder => 'Tanaka') AS plain \gset
SELECT olink.request_credential(counterpart => 'nursing', login => 'ns_ito', holder => 'Ito') AS ito \gset
SELECT login, holder, requested_by, filed_by, status FROM olink.credential_requests ORDER BY request_id;

------------------------------------------------------------------------------
-- approval: by the counterpart's manager, never by the requester
------------------------------------------------------------------------------
-- the filer cannot approve its own request, whatever role it takes
SELECT olink.approve_credential(:sato);
SET ROLE cm_manager;
SELECT olink.approve_credential(:sato);
RESET ROLE;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION cm_other;
SELECT olink.approve_credential(:sato);
-- a counterpart with no manager designated cannot have credentials approved
SELECT olink.approve_credential(:ito);
-- nor can the person named as requester approve it
RESET SESSION AUTHORIZATION;
SELECT olink.request_credential(counterpart => 'welfare', login => 'wf_kato', holder => 'Kato',
                                requested_by => 'cm_manager') AS kato \gset
SET SESSION AUTHORIZATION cm_manager;
SELECT olink.approve_credential(:kato);
SELECT olink.approve_credential(NULL);
SELECT olink.approve_credential(999);
SELECT public.cm_counts();
-- issuing before approval is refused
SELECT olink.issue_credential(:sato, 'Sato-Desk-2026!');
SELECT olink.approve_credential(:sato);
SELECT olink.approve_credential(:sato);
SELECT status, approved_by FROM olink.credential_requests WHERE request_id = :sato;

------------------------------------------------------------------------------
-- the password policy, applied on issue
------------------------------------------------------------------------------
SELECT olink.issue_credential(:sato, NULL);
SELECT olink.issue_credential(:sato, 'Ab1!');
SELECT olink.issue_credential(:sato, 'onlylowercaseletters');
SELECT olink.issue_credential(:sato, 'My-wf_sato-Pass1');
SELECT olink.issue_credential(:sato, 'My-WELFARE-Pass1');
-- a password hashed by the client hides its strength: refused without an attestation
SELECT olink.issue_credential(:sato, :'client_hashed');
SELECT olink.issue_credential(:sato, 'md5' || md5('x'), attestation => 'checked');
SELECT public.cm_counts();
SELECT pg_has_role('cm_manager', 'olink_credential_manager', 'MEMBER');
SELECT olink.issue_credential(:sato, 'Sato-Desk-2026!') AS sato_cred \gset
SELECT olink.issue_credential(:sato, 'Sato-Desk-2026!');
RESET SESSION AUTHORIZATION;
SELECT rolcanlogin, rolvaliduntil > now() + interval '89 days' AS expires_in_90_days,
       pg_has_role('wf_sato', 'welfare', 'MEMBER') AS in_group,
       pg_has_role('wf_sato', 'olink_counterpart', 'MEMBER') AS counterpart
  FROM pg_roles WHERE rolname = 'wf_sato';
SELECT counterpart, login, holder, status, request_id = :sato AS from_request,
       password_expires_at > now() AS expires FROM olink.credentials;
-- the history holds a SCRAM secret, never the password
SELECT login, secret LIKE 'SCRAM-SHA-256$4096:%' AS scram, position('Sato-Desk' IN secret) = 0 AS no_plaintext,
       client_hashed FROM olink.password_history;
-- an existing plain role can be issued too
SET olink.password_max_age = 0;
SET SESSION AUTHORIZATION cm_manager;
SELECT olink.approve_credential(:plain);
SELECT olink.issue_credential(:plain, :'client_hashed',
                              attestation => 'hashed by the contractor''s provisioning tool, 20 characters, checked by Tanaka') > 0 AS issued;
RESET SESSION AUTHORIZATION;
RESET olink.password_max_age;
SELECT rolvaliduntil, rolpassword = :'client_hashed' AS as_hashed FROM pg_authid WHERE rolname = 'cm_plain';
SELECT login, client_hashed, attestation, secret = :'client_hashed' AS kept_as_sent FROM olink.password_history WHERE login = 'cm_plain';

------------------------------------------------------------------------------
-- changing a password: its holder or a manager, through olink only
------------------------------------------------------------------------------
SET SESSION AUTHORIZATION cm_stranger;
SELECT olink.change_password('wf_sato', 'Sato-Desk-2027!');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION wf_sato;
SELECT olink.change_password('cm_plain', 'Sato-Desk-2027!');
SELECT olink.change_password('wf_sato', 'Sato-Desk-2026!');
SELECT olink.change_password('wf_sato', 'Sato-Desk-2027!') > now() AS changed;
ALTER ROLE wf_sato PASSWORD 'Sato-Desk-2028!';
RESET SESSION AUTHORIZATION;
-- not even a superuser sets a counterpart's password past the policy
ALTER ROLE wf_sato PASSWORD 'Sato-Desk-2028!';
CREATE ROLE wf_new LOGIN PASSWORD 'x' IN ROLE olink_counterpart;
SELECT olink.change_password('no_such_login', 'Sato-Desk-2028!');
SELECT olink.change_password('cm_stranger', 'Sato-Desk-2028!');
SELECT count(*) AS history_rows FROM olink.password_history WHERE login = 'wf_sato';

------------------------------------------------------------------------------
-- reject, withdraw
------------------------------------------------------------------------------
SET SESSION AUTHORIZATION cm_manager;
SELECT olink.reject_credential(:kato, NULL);
SELECT olink.reject_credential(:kato, 'holder left the section');
SELECT olink.reject_credential(:kato, 'again');
SELECT olink.withdraw_credential(:ito, 'duplicate');
SELECT olink.approve_credential(:ito);
RESET SESSION AUTHORIZATION;
SELECT login, status, closed_reason FROM olink.credential_requests ORDER BY request_id;

------------------------------------------------------------------------------
-- terminals
------------------------------------------------------------------------------
SET SESSION AUTHORIZATION cm_admin;
SELECT olink.add_terminal(counterpart => 'welfare', name => 'wf-desk-1', manager => '', addresses => '{10.1.2.0/24}');
SELECT olink.add_terminal(counterpart => 'welfare', name => 'wf-desk-1', manager => 'Suzuki', addresses => '{}');
SELECT olink.add_terminal(counterpart => 'welfare', name => 'wf-desk-1', manager => 'Suzuki', addresses => NULL);
SELECT olink.add_terminal(counterpart => 'welfare', name => 'wf-desk-1', manager => 'Suzuki',
                          addresses => (SELECT array_agg(('10.0.' || g || '.0/24')::cidr) FROM generate_series(1, 17) g));
SELECT olink.add_terminal(counterpart => 'welfare', name => 'wf-desk-1', manager => 'Suzuki', addresses => '{10.1.2.0/24}',
                          certificate_fingerprint => 'not-a-fingerprint');
SELECT olink.add_terminal(counterpart => 'nobody', name => 'wf-desk-1', manager => 'Suzuki', addresses => '{10.1.2.0/24}');
SELECT public.cm_counts();
SELECT olink.add_terminal(counterpart => 'welfare', name => 'wf-desk-1', manager => 'Suzuki', addresses => '{10.1.2.0/24, 2001:db8::/64}',
                          certificate_fingerprint => 'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89') > 0 AS added;
SELECT olink.add_terminal(counterpart => 'welfare', name => 'wf-desk-1', manager => 'Suzuki', addresses => '{10.1.2.0/24}');
SELECT olink.add_terminal(counterpart => 'welfare', name => 'wf-line', manager => 'Suzuki', addresses => '{192.0.2.7/32}',
                          dedicated_line => true) > 0 AS added;
SELECT counterpart, name, manager, addresses, certificate_fingerprint, certificate_status, dedicated_line, local_connections, status
  FROM olink.terminals ORDER BY terminal_id;
-- a lost ID card
SELECT olink.invalidate_certificate('zz', 'lost');
SELECT olink.invalidate_certificate(repeat('0', 64), 'lost');
SELECT olink.invalidate_certificate(repeat('ab', 32), NULL);
SELECT olink.invalidate_certificate('abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789', 'lost on the train');
SELECT olink.replace_certificate(terminal => 'wf-desk-1', fingerprint => repeat('12', 32), reason => 'new card issued');
SELECT olink.replace_certificate(terminal => 'no-such', fingerprint => repeat('12', 32), reason => 'x');
SELECT olink.remove_terminal('wf-line', NULL);
SELECT olink.remove_terminal('wf-line', 'line cancelled');
SELECT olink.remove_terminal('wf-line', 'again');
SELECT name, certificate_fingerprint, certificate_status, status, status_reason FROM olink.terminals ORDER BY terminal_id;
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- 第6(2)(2)イ(ウ)(エ): revocation, invalidation, re-issue
------------------------------------------------------------------------------
SET SESSION AUTHORIZATION cm_manager;
SELECT olink.invalidate_password('wf_sato', ' ');
SELECT olink.invalidate_password('wf_sato', 'written on a sticky note');
SELECT olink.invalidate_password('wf_sato', 'again');
SELECT olink.change_password('wf_sato', 'Sato-Desk-2029!');
RESET SESSION AUTHORIZATION;
SELECT rolpassword IS NULL AS no_password FROM pg_authid WHERE rolname = 'wf_sato';
SET SESSION AUTHORIZATION cm_manager;
SELECT olink.revoke_credential('wf_sato', NULL);
SELECT olink.revoke_credential('wf_sato', 'moved to another department');
SELECT olink.revoke_credential('wf_sato', 'again');
RESET SESSION AUTHORIZATION;
SELECT rolcanlogin, pg_has_role('wf_sato', 'welfare', 'MEMBER') AS in_group FROM pg_roles WHERE rolname = 'wf_sato';
-- a revoked session user is denied at its next statement
SET SESSION AUTHORIZATION wf_sato;
SELECT 1;
RESET SESSION AUTHORIZATION;
-- re-issue: the whole workflow again; an old password is still refused
SET SESSION AUTHORIZATION cm_filer;
SELECT olink.request_credential(counterpart => 'welfare', login => 'wf_sato', holder => 'Sato Ichiro',
                                requested_by => 'Suzuki, welfare section chief') AS again \gset
SELECT olink.request_credential(counterpart => 'nursing', login => 'wf_sato', holder => 'Sato Ichiro');
SET SESSION AUTHORIZATION cm_manager;
SELECT olink.approve_credential(:again);
SELECT olink.issue_credential(:again, 'Sato-Desk-2027!');
SELECT olink.issue_credential(:again, 'Sato-Desk-2030!') = :sato_cred AS same_credential;
RESET SESSION AUTHORIZATION;
SELECT login, status, status_reason, request_id = :again AS reissued FROM olink.credentials WHERE login = 'wf_sato';
SELECT rolcanlogin, pg_has_role('wf_sato', 'welfare', 'MEMBER') AS in_group FROM pg_roles WHERE rolname = 'wf_sato';

------------------------------------------------------------------------------
-- lockouts: nothing to clear yet
------------------------------------------------------------------------------
SET SESSION AUTHORIZATION cm_manager;
SELECT olink.unlock_credential('wf_sato', NULL);
SELECT olink.unlock_credential('wf_sato', 'holder called the help desk');
SELECT * FROM olink.lockouts();
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- every step on record; the record cannot be changed
------------------------------------------------------------------------------
SELECT counterpart, login, action, done_by, reason FROM olink.credential_history ORDER BY event_id;
UPDATE olink.credential_event SET done_by = 'someone else';
DELETE FROM olink.credential_event;
DELETE FROM olink.password_history;
DELETE FROM olink.credential_request;
TRUNCATE olink.terminal;

-- who sees what: managers the workflow, counterparts nothing
SET SESSION AUTHORIZATION cm_manager;
SELECT count(*) > 0 AS sees FROM olink.credential_history;
SELECT count(*) FROM olink.password_history;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION cm_admin;
SELECT olink.request_credential(counterpart => 'welfare', login => 'wf_x', holder => 'x');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION wf_sato;
SELECT count(*) FROM olink.credentials;
SELECT olink.revoke_credential('wf_sato', 'self');
SELECT olink.unlock_credential('wf_sato', 'self');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION cm_stranger;
SELECT count(*) FROM olink.terminals;
SELECT olink.add_terminal(counterpart => 'welfare', name => 'x', manager => 'x', addresses => '{10.0.0.1/32}');
RESET SESSION AUTHORIZATION;

DROP EXTENSION olink CASCADE;
DROP FUNCTION public.cm_counts();
DROP OWNED BY welfare, nursing, wf_sato, cm_plain;
DROP ROLE wf_new, welfare, nursing, wf_sato, cm_plain, cm_filer, cm_manager, cm_other, cm_admin, cm_stranger, cm_privileged;
