/* olink--1.0.sql — the registry of counterparts, agreements, protected relations, credentials and
 * grants, and the admin functions that keep it.  Enforcement itself is in C (enforce.c, rowsec.c);
 * what is here is what the C side reads (through registry.c) and the checks that keep bad input out.
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION olink" to load this file. \quit

/*
 * One database per cluster holds olink: its audit worker writes the events of every session there.
 */
DO $database$
BEGIN
    IF pg_catalog.current_database() <> pg_catalog.current_setting('olink.database') THEN
        RAISE EXCEPTION 'olink can only be created in database "%"', pg_catalog.current_setting('olink.database')
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'olink.database names the database that holds the registry and the audit store of the cluster.',
                  HINT = 'Connect to that database, or set olink.database in postgresql.conf and restart the server.';
    END IF;
END
$database$;

/*
 * Roles are cluster-wide: another database may have created them already.
 */
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['olink_admin', 'olink_credential_manager', 'olink_auditor', 'olink_counterpart'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$roles$;

REVOKE ALL ON SCHEMA @extschema@ FROM PUBLIC;
-- olink_counterpart carries what every counterpart session needs of schema olink (declaring a
-- purpose, the guard in its row policies): one role, so the ACLs stay one entry long however
-- many counterparts there are
GRANT USAGE ON SCHEMA @extschema@ TO olink_admin, olink_credential_manager, olink_auditor, olink_counterpart;

/*
 * Registry tables.  Their rows are the DBA's: pg_extension_config_dump keeps them in pg_dump.
 */

-- 第5: a counterpart and the necessity that justifies connecting it
CREATE TABLE @extschema@.counterpart (
    counterpart_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    necessity       text NOT NULL,
    approved_by     text NOT NULL,
    approved_on     date NOT NULL,
    role            regrole NOT NULL UNIQUE,
    role_created    boolean NOT NULL,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    status_reason   text,
    credential_manager name,        -- 第6(2)(2)イ(ア): approves the counterpart's credentials
    max_connections integer CHECK (max_connections > 0),     -- 第7(2)(1)ア: load limits; NULL: none
    max_statements_per_minute integer CHECK (max_statements_per_minute > 0),
    max_rows_per_statement bigint CHECK (max_rows_per_statement > 0),   -- 第7(1)エ: quotas on rows read
    max_rows_per_day bigint CHECK (max_rows_per_day > 0),
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by      name NOT NULL DEFAULT session_user,
    CHECK (pg_catalog.length(pg_catalog.btrim(name)) > 0),
    CHECK (pg_catalog.length(pg_catalog.btrim(necessity)) > 0),
    CHECK (pg_catalog.length(pg_catalog.btrim(approved_by)) > 0)
);

-- 第6(1): the memorandum; its purposes are the only ones grants may use
CREATE TABLE @extschema@.agreement (
    agreement_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    counterpart_id  bigint NOT NULL REFERENCES @extschema@.counterpart,
    title           text NOT NULL,
    purposes        text[] NOT NULL,
    valid_from      timestamptz NOT NULL,
    valid_until     timestamptz,
    staff_duties    text NOT NULL,
    disposal_terms  text NOT NULL,
    other_measures  text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by      name NOT NULL DEFAULT session_user,
    UNIQUE (counterpart_id, title),
    CHECK (valid_until IS NULL OR valid_until > valid_from),
    CHECK (pg_catalog.cardinality(purposes) > 0)
);

-- tables that hold personal information
CREATE TABLE @extschema@.protected_relation (
    relid           regclass PRIMARY KEY,
    relation_name   text NOT NULL,
    description     text NOT NULL,
    native_rls      boolean NOT NULL,
    dropped_at      timestamptz,
    protected_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    protected_by    name NOT NULL DEFAULT session_user
);

-- 第6(2)(2)イ(イ): a request for a login, approved by someone other than its requester, then issued
CREATE TABLE @extschema@.credential_request (
    request_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    counterpart_id  bigint NOT NULL REFERENCES @extschema@.counterpart,
    login           name NOT NULL,
    holder          text NOT NULL,          -- the person who will hold the login
    requested_by    text NOT NULL,          -- the person asking for it
    filed_by        name NOT NULL DEFAULT session_user,
    filed_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    status          text NOT NULL DEFAULT 'requested'
                    CHECK (status IN ('requested', 'approved', 'issued', 'rejected', 'withdrawn')),
    approved_by     name,
    approved_at     timestamptz,
    issued_by       name,
    issued_at       timestamptz,
    closed_reason   text,                   -- why it was rejected or withdrawn
    CHECK (pg_catalog.length(pg_catalog.btrim(holder)) > 0),
    CHECK (pg_catalog.length(pg_catalog.btrim(requested_by)) > 0),
    CHECK ((status IN ('requested', 'rejected', 'withdrawn')) OR approved_by IS NOT NULL),
    CHECK (status <> 'issued' OR issued_by IS NOT NULL)
);
-- one open request per login
CREATE UNIQUE INDEX credential_request_open ON @extschema@.credential_request (login)
    WHERE status IN ('requested', 'approved');

-- a login role bound to a counterpart; made by issue_credential() at the end of the workflow
CREATE TABLE @extschema@.credential (
    credential_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    counterpart_id  bigint NOT NULL REFERENCES @extschema@.counterpart,
    login           regrole NOT NULL UNIQUE,
    status          text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'revoked', 'password_invalidated')),
    status_reason   text,
    holder          text,
    request_id      bigint REFERENCES @extschema@.credential_request,
    password_set_at timestamptz,
    password_expires_at timestamptz,
    -- locked out after failed logins: until then olink holds the login's password expired in the
    -- catalog (VALID UNTIL '-infinity'), so PostgreSQL checks no password, the right one included
    locked_until    timestamptz,
    -- the login's VALID UNTIL before the hold, given back when it ends (NULL: none)
    saved_valid_until timestamptz,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by      name NOT NULL DEFAULT session_user
);

-- every step taken on a credential or a request: who, when, why; append-only
CREATE TABLE @extschema@.credential_event (
    event_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    counterpart_id  bigint NOT NULL REFERENCES @extschema@.counterpart,
    login           name NOT NULL,
    request_id      bigint REFERENCES @extschema@.credential_request,
    credential_id   bigint REFERENCES @extschema@.credential,
    action          text NOT NULL CHECK (action IN ('requested', 'approved', 'rejected', 'withdrawn',
                        'issued', 'adopted', 'password_changed', 'password_invalidated', 'revoked',
                        'locked', 'lock_ended', 'unlocked', 'certificate_invalidated', 'certificate_replaced',
                        'terminal_added', 'terminal_removed', 'manager_designated')),
    done_by         name NOT NULL DEFAULT session_user,
    reason          text
);

-- the logins' past passwords, as SCRAM-SHA-256 secrets (never plaintext): the reuse check reads them
CREATE TABLE @extschema@.password_history (
    login           name NOT NULL,
    secret          text NOT NULL,
    client_hashed   boolean NOT NULL,       -- set as a hash: strength and reuse could not be checked
    attestation     text,                   -- who vouched for a client-hashed password, and how
    set_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    set_by          name NOT NULL DEFAULT session_user,
    CHECK (NOT client_hashed OR attestation IS NOT NULL)
);
CREATE INDEX ON @extschema@.password_history (login, set_at);

-- 第6(2)(2)イ(エ): certificates invalidated once stay invalid: no terminal may register them again
CREATE TABLE @extschema@.invalidated_certificate (
    fingerprint     text PRIMARY KEY CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    invalidated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    invalidated_by  name NOT NULL DEFAULT session_user,
    reason          text NOT NULL
);

-- 第6(2)(1)ア, 第7(1)ウ: a terminal a counterpart may connect from
CREATE TABLE @extschema@.terminal (
    terminal_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    counterpart_id  bigint NOT NULL REFERENCES @extschema@.counterpart,
    name            text NOT NULL UNIQUE,
    manager         text NOT NULL,          -- the person responsible for it
    addresses       cidr[] NOT NULL,
    certificate_fingerprint text,           -- SHA-256 of the client certificate (DER), lower-case hex
    certificate_status text CHECK (certificate_status IN ('valid', 'invalidated')),
    dedicated_line  boolean NOT NULL,
    local_connections boolean NOT NULL DEFAULT false,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'removed')),
    status_reason   text,
    added_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    added_by        name NOT NULL DEFAULT session_user,
    CHECK (pg_catalog.length(pg_catalog.btrim(name)) > 0),
    CHECK (pg_catalog.length(pg_catalog.btrim(manager)) > 0),
    CHECK ((certificate_fingerprint IS NULL) = (certificate_status IS NULL)),
    CHECK (certificate_fingerprint ~ '^[0-9a-f]{64}$'),
    CHECK (pg_catalog.cardinality(addresses) BETWEEN 0 AND 16),
    CHECK (pg_catalog.cardinality(addresses) > 0 OR local_connections)
);

-- 第6(2)(2)ア: an access qualification
CREATE TABLE @extschema@.access_grant (
    grant_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    counterpart_id  bigint NOT NULL REFERENCES @extschema@.counterpart,
    relid           regclass NOT NULL REFERENCES @extschema@.protected_relation,
    privileges      text[] NOT NULL,
    columns         name[],
    row_filter      text,
    purposes        text[] NOT NULL,
    valid_from      timestamptz NOT NULL,
    valid_until     timestamptz,
    max_rows_per_statement bigint CHECK (max_rows_per_statement > 0),
    max_rows_per_day bigint CHECK (max_rows_per_day > 0),
    granted_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    granted_by      name NOT NULL DEFAULT session_user,
    revoked_at      timestamptz,
    revoked_by      name,
    revoke_reason   text,
    CHECK (valid_until IS NULL OR valid_until > valid_from),
    CHECK (pg_catalog.cardinality(privileges) > 0),
    CHECK (pg_catalog.cardinality(purposes) > 0),
    CHECK (privileges <@ ARRAY['select', 'insert', 'update', 'delete']),
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);
CREATE INDEX ON @extschema@.access_grant (counterpart_id, relid);

SELECT pg_catalog.pg_extension_config_dump('@extschema@.counterpart', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.agreement', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.protected_relation', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.credential', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.access_grant', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.credential_request', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.credential_event', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.password_history', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.terminal', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.invalidated_certificate', '');
-- and the sequences behind their ids, so a restored registry goes on numbering where it stopped
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('@extschema@.counterpart', 'counterpart_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('@extschema@.agreement', 'agreement_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('@extschema@.credential', 'credential_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('@extschema@.access_grant', 'grant_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('@extschema@.credential_request', 'request_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('@extschema@.credential_event', 'event_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('@extschema@.terminal', 'terminal_id'), '');

REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;

/*
 * Every change to the registry, through the functions below or by hand, reaches every backend at
 * its next statement: the trigger queues a relcache invalidation of the registry table (and of the
 * protected relation a row names, so cached plans over it are rebuilt), sent when the change commits.
 */
CREATE FUNCTION @extschema@._registry_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'olink_registry_changed'
LANGUAGE C;

CREATE TRIGGER registry_changed AFTER INSERT OR UPDATE OR DELETE ON @extschema@.counterpart
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._registry_changed();
CREATE TRIGGER registry_changed AFTER INSERT OR UPDATE OR DELETE ON @extschema@.agreement
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._registry_changed();
CREATE TRIGGER registry_changed AFTER INSERT OR UPDATE OR DELETE ON @extschema@.credential
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._registry_changed();
CREATE TRIGGER registry_changed AFTER INSERT OR UPDATE OR DELETE ON @extschema@.terminal
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._registry_changed();
CREATE TRIGGER registry_changed AFTER INSERT OR UPDATE OR DELETE ON @extschema@.protected_relation
    FOR EACH ROW EXECUTE FUNCTION @extschema@._registry_changed();
CREATE TRIGGER registry_changed AFTER INSERT OR UPDATE OR DELETE ON @extschema@.access_grant
    FOR EACH ROW EXECUTE FUNCTION @extschema@._registry_changed();
CREATE TRIGGER registry_truncated AFTER TRUNCATE ON @extschema@.access_grant
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._registry_changed();
CREATE TRIGGER registry_truncated AFTER TRUNCATE ON @extschema@.protected_relation
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._registry_changed();

-- Registry rows are evidence (who was allowed what, when, on whose approval), and a credential row
-- that vanished would turn a counterpart session into an unrestricted internal one: rows are ended
-- (revoked, suspended), never deleted.
CREATE FUNCTION @extschema@._keep_history()
RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'rows of %.% cannot be %', TG_TABLE_SCHEMA, TG_TABLE_NAME,
                    CASE TG_OP WHEN 'UPDATE' THEN 'changed' ELSE 'deleted' END
        USING ERRCODE = 'object_in_use',
              DETAIL = 'Registry rows are kept as evidence of past connections.',
              HINT = CASE TG_TABLE_NAME
                         WHEN 'access_grant' THEN 'End a grant with olink.revoke_access().'
                         WHEN 'counterpart' THEN 'Suspend a counterpart with olink.suspend_counterpart().'
                         WHEN 'credential' THEN 'End a credential with olink.revoke_credential().'
                         WHEN 'terminal' THEN 'Remove a terminal with olink.remove_terminal().'
                         WHEN 'credential_request' THEN 'Close a request with olink.reject_credential() or olink.withdraw_credential().'
                         WHEN 'checkout_lock' THEN 'End a check-out with olink.checkin() or olink.force_release().'
                         ELSE 'These rows are a record: they are never changed or removed.' END;
END
$$;
CREATE TRIGGER keep_history BEFORE DELETE ON @extschema@.counterpart
    FOR EACH ROW EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history BEFORE DELETE ON @extschema@.agreement
    FOR EACH ROW EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history BEFORE DELETE ON @extschema@.credential
    FOR EACH ROW EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history BEFORE DELETE ON @extschema@.access_grant
    FOR EACH ROW EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history BEFORE DELETE ON @extschema@.credential_request
    FOR EACH ROW EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history BEFORE DELETE ON @extschema@.terminal
    FOR EACH ROW EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history BEFORE DELETE OR UPDATE ON @extschema@.credential_event
    FOR EACH ROW EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history BEFORE DELETE OR UPDATE ON @extschema@.invalidated_certificate
    FOR EACH ROW EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history_truncate BEFORE TRUNCATE ON @extschema@.invalidated_certificate
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history BEFORE DELETE OR UPDATE ON @extschema@.password_history
    FOR EACH ROW EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history_truncate BEFORE TRUNCATE ON @extschema@.credential_request
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history_truncate BEFORE TRUNCATE ON @extschema@.terminal
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history_truncate BEFORE TRUNCATE ON @extschema@.credential_event
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history_truncate BEFORE TRUNCATE ON @extschema@.password_history
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history_truncate BEFORE TRUNCATE ON @extschema@.counterpart
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history_truncate BEFORE TRUNCATE ON @extschema@.agreement
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history_truncate BEFORE TRUNCATE ON @extschema@.credential
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history_truncate BEFORE TRUNCATE ON @extschema@.access_grant
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._keep_history();

/*
 * C helpers.
 */

-- parses a row filter as PostgreSQL will when it limits rows; errors on anything it would refuse
CREATE FUNCTION @extschema@._check_row_filter(relation regclass, row_filter text)
RETURNS name[]
AS 'MODULE_PATHNAME', 'olink_check_row_filter'
LANGUAGE C STRICT;

-- the guard in every generated row policy: is this grant usable now, under the session's purpose?
CREATE FUNCTION @extschema@._grant_live(grant_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'olink_grant_live_fn'
LANGUAGE C STRICT STABLE LEAKPROOF PARALLEL RESTRICTED;

-- declares the purpose of a counterpart session, checked against its agreements
CREATE FUNCTION @extschema@.begin_purpose(purpose text)
RETURNS text
AS 'MODULE_PATHNAME', 'olink_begin_purpose'
LANGUAGE C STRICT VOLATILE;

-- what olink knows of this session: counterpart, purpose, and whether a purpose is usable now
CREATE FUNCTION @extschema@.session_status(
    OUT login name, OUT counterpart text, OUT purpose text, OUT purpose_valid boolean,
    OUT enforced boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'olink_session_status'
LANGUAGE C VOLATILE;

/*
 * Internal helpers of the admin functions.
 */

CREATE FUNCTION @extschema@._counterpart_id(counterpart text)
RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id bigint;
BEGIN
    IF counterpart IS NULL THEN
        RAISE EXCEPTION 'counterpart must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.counterpart_id INTO id FROM @extschema@.counterpart c WHERE c.name = counterpart;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'counterpart "%" does not exist', counterpart
            USING ERRCODE = 'undefined_object',
                  HINT = 'Register it with olink.add_counterpart().';
    END IF;
    RETURN id;
END
$$;

-- lower-cases, checks and sorts a privilege list
CREATE FUNCTION @extschema@._privileges(privileges text[])
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p text;
    result text[] := '{}';
BEGIN
    IF privileges IS NULL OR cardinality(privileges) = 0 THEN
        RAISE EXCEPTION 'privileges must name at least one of select, insert, update, delete'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH p IN ARRAY privileges LOOP
        IF p IS NULL OR lower(btrim(p)) NOT IN ('select', 'insert', 'update', 'delete') THEN
            RAISE EXCEPTION 'unrecognized privilege "%"', p
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Privileges are select, insert, update and delete.';
        END IF;
        IF lower(btrim(p)) = ANY (result) THEN
            RAISE EXCEPTION 'privilege "%" is listed more than once', lower(btrim(p))
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        result := result || lower(btrim(p));
    END LOOP;
    RETURN ARRAY(SELECT x FROM unnest(result) x ORDER BY x);
END
$$;

-- a text[] with no null, empty or repeated element
CREATE FUNCTION @extschema@._check_list(what text, list text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF list IS NULL OR cardinality(list) = 0 THEN
        RAISE EXCEPTION '% must not be empty', what USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF array_position(list, NULL) IS NOT NULL
       OR EXISTS (SELECT FROM unnest(list) x WHERE btrim(x) = '') THEN
        RAISE EXCEPTION '% must not contain null or empty elements', what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (SELECT count(DISTINCT x) FROM unnest(list) x) <> cardinality(list) THEN
        RAISE EXCEPTION '% must not contain duplicates', what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- Native privileges, the second line.  They are not granted to each counterpart's role: a column
-- ACL with an entry per counterpart makes every PostgreSQL permission check scan (and decompress)
-- it.  Each distinct shape of grant on a table (privileges, columns) gets one NOLOGIN role that
-- holds exactly those privileges, and a counterpart's group role is a member of the shapes its
-- grants in force need.  ACLs grow with the number of shapes, not of counterparts.
CREATE TABLE @extschema@.native_shape (
    shape_role      regrole PRIMARY KEY,
    relid           oid NOT NULL,
    privileges      text[] NOT NULL,
    columns         name[]
);
CREATE UNIQUE INDEX ON @extschema@.native_shape (relid, privileges, (coalesce(columns, '{}')), (columns IS NULL));

CREATE FUNCTION @extschema@._native_shape(p_relid regclass, p_privileges text[], p_columns name[])
RETURNS regrole
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shape regrole;
    rname text;
    cols text;
BEGIN
    SELECT s.shape_role INTO shape FROM @extschema@.native_shape s
     WHERE s.relid = p_relid AND s.privileges = p_privileges AND s.columns IS NOT DISTINCT FROM p_columns;
    IF FOUND THEN
        RETURN shape;
    END IF;
    rname := 'olink_shape_' || substr(md5(current_database() || ':' || p_relid::oid || ':' ||
                                          array_to_string(p_privileges, ',') || ':' ||
                                          coalesce(array_to_string(p_columns, ','), '*')), 1, 24);
    IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = rname) THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN', rname);
    END IF;
    IF p_columns IS NULL OR 'delete' = ANY (p_privileges) THEN
        EXECUTE format('GRANT %s ON TABLE %s TO %I', array_to_string(p_privileges, ', '), p_relid, rname);
    ELSE
        SELECT string_agg(quote_ident(c), ', ') INTO cols FROM unnest(p_columns) c;
        EXECUTE format('GRANT %s ON TABLE %s TO %I',
                       (SELECT string_agg(p || ' (' || cols || ')', ', ') FROM unnest(p_privileges) p),
                       p_relid, rname);
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I',
                   (SELECT n.nspname FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace
                     WHERE r.oid = p_relid), rname);
    INSERT INTO @extschema@.native_shape (shape_role, relid, privileges, columns)
    VALUES (quote_ident(rname)::regrole, p_relid, p_privileges, p_columns);
    RETURN quote_ident(rname)::regrole;
END
$$;

-- brings a counterpart group role's native privileges on one relation in step with its grants in
-- force: membership of the shapes they need, and of no other shape on that relation
CREATE FUNCTION @extschema@._sync_native_grants(p_counterpart_id bigint, p_relid regclass)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    grp regrole;
    g record;
    needed oid[] := '{}';
    shape regrole;
BEGIN
    SELECT c.role INTO grp FROM @extschema@.counterpart c WHERE c.counterpart_id = p_counterpart_id;
    FOR g IN SELECT DISTINCT a.privileges, a.columns FROM @extschema@.access_grant a
              WHERE a.counterpart_id = p_counterpart_id AND a.relid = p_relid
                AND a.revoked_at IS NULL AND (a.valid_until IS NULL OR a.valid_until > now())
    LOOP
        shape := @extschema@._native_shape(p_relid, g.privileges, g.columns);
        needed := needed || shape::oid;
        IF NOT EXISTS (SELECT FROM pg_auth_members m WHERE m.roleid = shape AND m.member = grp) THEN
            EXECUTE format('GRANT %s TO %s', shape, grp);
        END IF;
    END LOOP;
    FOR shape IN SELECT s.shape_role FROM @extschema@.native_shape s
                  WHERE s.relid = p_relid AND NOT (s.shape_role::oid = ANY (needed))
                    AND EXISTS (SELECT FROM pg_auth_members m WHERE m.roleid = s.shape_role AND m.member = grp)
    LOOP
        EXECUTE format('REVOKE %s FROM %s', shape, grp);
    END LOOP;
END
$$;

-- drops the shape roles of one relation (its privileges and schema usage first)
CREATE FUNCTION @extschema@._drop_shapes(p_relid oid, p_schema name)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s record;
BEGIN
    FOR s IN SELECT n.shape_role FROM @extschema@.native_shape n WHERE n.relid = p_relid LOOP
        IF EXISTS (SELECT FROM pg_class r WHERE r.oid = p_relid) THEN
            EXECUTE format('REVOKE ALL ON TABLE %s FROM %s', p_relid::regclass, s.shape_role);
        END IF;
        IF p_schema IS NOT NULL AND EXISTS (SELECT FROM pg_namespace ns WHERE ns.nspname = p_schema) THEN
            EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM %s', p_schema, s.shape_role);
        END IF;
        -- a shape role serves one table only: with its table and schema privileges gone, nothing
        -- else depends on it, and dropping it ends every membership in it
        EXECUTE format('DROP ROLE %s', s.shape_role);
        DELETE FROM @extschema@.native_shape n WHERE n.shape_role = s.shape_role;
    END LOOP;
END
$$;

-- run by the ProcessUtility hook just before DROP EXTENSION olink: gives every protected table back
-- as it was (row security off unless it had its own) and takes the counterparts' native privileges
-- away, so that dropping olink neither hides rows from internal roles nor opens them to counterparts
CREATE FUNCTION @extschema@._release_all()
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT pr.relid, pr.native_rls FROM @extschema@.protected_relation pr
              WHERE pr.dropped_at IS NULL AND EXISTS (SELECT FROM pg_class r WHERE r.oid = pr.relid) LOOP
        PERFORM @extschema@._drop_shapes(p.relid,
            (SELECT n.nspname FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace WHERE r.oid = p.relid));
        IF NOT p.native_rls THEN
            EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', p.relid);
        END IF;
        PERFORM @extschema@._release_journal(p.relid);
        EXECUTE format('DROP TRIGGER IF EXISTS olink_journal ON %s', p.relid);
        EXECUTE format('DROP TRIGGER IF EXISTS olink_journal_truncate ON %s', p.relid);
    END LOOP;
    -- passwords held expired by a lockout get their VALID UNTIL back
    PERFORM @extschema@._release_password(c.login, 'olink dropped')
       FROM @extschema@.credential c WHERE c.locked_until IS NOT NULL;
END
$$;

-- a protected table that is dropped ends its grants and is marked dropped: its OID may be reused
CREATE FUNCTION @extschema@._on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o record;
BEGIN
    FOR o IN SELECT d.objid, d.schema_name FROM pg_event_trigger_dropped_objects() d
              WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
                AND d.object_type IN ('table', 'partitioned table') LOOP
        PERFORM @extschema@._drop_shapes(o.objid, o.schema_name);
        UPDATE @extschema@.access_grant g
           SET revoked_at = now(), revoked_by = session_user, revoke_reason = 'relation dropped'
         WHERE g.relid = o.objid AND g.revoked_at IS NULL;
        UPDATE @extschema@.protected_relation p SET dropped_at = now()
         WHERE p.relid = o.objid AND p.dropped_at IS NULL;
    END LOOP;
END
$$;
CREATE EVENT TRIGGER olink_relation_dropped ON sql_drop
    EXECUTE FUNCTION @extschema@._on_sql_drop();

/*
 * Admin functions.  All are SECURITY DEFINER with a pinned search_path, revoked from PUBLIC and
 * granted to olink_admin; each validates everything before it writes anything.
 */

CREATE FUNCTION @extschema@.add_counterpart(
    name text, necessity text, approved_by text, approved_on date, role name DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rname name := coalesce(role, add_counterpart.name);
    created boolean := false;
    r record;
    id bigint;
BEGIN
    IF name IS NULL OR btrim(name) = '' THEN
        RAISE EXCEPTION 'counterpart name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF necessity IS NULL OR btrim(necessity) = '' THEN
        RAISE EXCEPTION 'counterpart "%" needs a necessity statement', name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Clause 5 of the online connection standard allows a connection only for a stated public-interest need.';
    END IF;
    IF approved_by IS NULL OR btrim(approved_by) = '' OR approved_on IS NULL THEN
        RAISE EXCEPTION 'counterpart "%" needs the approving body and the date of approval', name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF approved_on > current_date THEN
        RAISE EXCEPTION 'approval date % is in the future', approved_on
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.counterpart c WHERE c.name = add_counterpart.name) THEN
        RAISE EXCEPTION 'counterpart "%" already exists', name USING ERRCODE = 'duplicate_object';
    END IF;
    SELECT * INTO r FROM pg_roles WHERE rolname = rname;
    IF FOUND AND EXISTS (SELECT FROM @extschema@.counterpart c WHERE c.role = r.oid) THEN
        RAISE EXCEPTION 'role "%" already belongs to another counterpart', rname
            USING ERRCODE = 'duplicate_object';
    END IF;
    IF FOUND THEN
        IF role IS NULL THEN
            RAISE EXCEPTION 'role "%" already exists', rname
                USING ERRCODE = 'duplicate_object',
                      HINT = 'Pass role => to use an existing role as the counterpart''s group role.';
        END IF;
        IF r.rolcanlogin OR r.rolsuper OR r.rolbypassrls OR r.rolcreaterole OR r.rolcreatedb OR NOT r.rolinherit
           OR r.oid < 16384 OR rname IN ('olink_admin', 'olink_credential_manager', 'olink_auditor', 'olink_counterpart') THEN
            RAISE EXCEPTION 'role "%" cannot be a counterpart group role', rname
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'A counterpart group role must be an ordinary NOLOGIN INHERIT role, without SUPERUSER, BYPASSRLS, CREATEROLE or CREATEDB, and neither predefined nor olink''s own.';
        END IF;
    ELSE
        IF role IS NOT NULL THEN
            RAISE EXCEPTION 'role "%" does not exist', role USING ERRCODE = 'undefined_object';
        END IF;
        EXECUTE format('CREATE ROLE %I NOLOGIN', rname);
        created := true;
    END IF;
    EXECUTE format('GRANT olink_counterpart TO %I', rname);
    INSERT INTO @extschema@.counterpart (name, necessity, approved_by, approved_on, role, role_created)
    VALUES (name, necessity, approved_by, approved_on, quote_ident(rname)::regrole, created)
    RETURNING counterpart_id INTO id;
    RETURN id;
END
$$;

CREATE FUNCTION @extschema@.add_agreement(
    counterpart text, title text, purposes text[], valid_from timestamptz,
    valid_until timestamptz DEFAULT NULL, staff_duties text DEFAULT NULL,
    disposal_terms text DEFAULT NULL, other_measures text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cid bigint := @extschema@._counterpart_id(counterpart);
    id bigint;
BEGIN
    IF title IS NULL OR btrim(title) = '' THEN
        RAISE EXCEPTION 'agreement title must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@._check_list('purposes', purposes);
    IF valid_from IS NULL THEN
        RAISE EXCEPTION 'valid_from must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF valid_until IS NOT NULL AND valid_until <= valid_from THEN
        RAISE EXCEPTION 'validity window ends before it starts'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('valid_from is %s, valid_until is %s.', valid_from, valid_until);
    END IF;
    IF staff_duties IS NULL OR btrim(staff_duties) = '' THEN
        RAISE EXCEPTION 'agreement must set the duties of the staff who handle the information'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Clause 6(1)(i) of the online connection standard requires it.';
    END IF;
    IF disposal_terms IS NULL OR btrim(disposal_terms) = '' THEN
        RAISE EXCEPTION 'agreement must set how information no longer needed is disposed of'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Clause 6(1)(u) of the online connection standard requires it.';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.agreement a
                WHERE a.counterpart_id = cid AND a.title = add_agreement.title) THEN
        RAISE EXCEPTION 'counterpart "%" already has an agreement titled "%"', counterpart, title
            USING ERRCODE = 'duplicate_object';
    END IF;
    INSERT INTO @extschema@.agreement (counterpart_id, title, purposes, valid_from, valid_until,
                                       staff_duties, disposal_terms, other_measures)
    VALUES (cid, title, purposes, valid_from, valid_until, staff_duties, disposal_terms, other_measures)
    RETURNING agreement_id INTO id;
    RETURN id;
END
$$;

CREATE FUNCTION @extschema@.protect(relation regclass, description text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    IF relation IS NULL THEN
        RAISE EXCEPTION 'relation must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF description IS NULL OR btrim(description) = '' THEN
        RAISE EXCEPTION 'a protected relation needs a description of the personal information it holds'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT c.relkind, c.relpersistence, c.relrowsecurity, n.nspname INTO r
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = relation;
    IF r.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%" is not a table', relation
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'Only ordinary and partitioned tables can be protected.';
    END IF;
    IF r.relpersistence = 't' OR r.nspname IN ('pg_catalog', 'information_schema', '@extschema@')
       OR relation::oid < 16384 THEN
        RAISE EXCEPTION 'table "%" cannot be protected', relation
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'System catalogs, temporary tables and olink''s own tables cannot be protected.';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.protected_relation p WHERE p.relid = relation AND p.dropped_at IS NULL) THEN
        RAISE EXCEPTION 'table "%" is already protected', relation USING ERRCODE = 'duplicate_object';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.protected_relation p WHERE p.relid = relation) THEN
        RAISE EXCEPTION 'table "%" reuses the identifier of a dropped protected table', relation
            USING ERRCODE = 'object_in_use',
                  DETAIL = 'The registry keeps the dropped table''s history under the same identifier.',
                  HINT = 'Recreate the table again to get a new identifier.';
    END IF;
    IF NOT r.relrowsecurity AND EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = relation) THEN
        RAISE EXCEPTION 'table "%" has row security policies that are not enabled', relation
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Protecting the table would enable row level security and bring those policies into force.',
                  HINT = 'Drop the policies, or enable row level security on the table yourself first.';
    END IF;
    INSERT INTO @extschema@.protected_relation (relid, relation_name, description, native_rls)
    VALUES (relation, relation::text, description, r.relrowsecurity);
    IF NOT r.relrowsecurity THEN
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', relation);
    END IF;
    -- the change journal, in force also under session_replication_role = replica; TRUNCATE
    -- would change rows without row images, so it is refused
    EXECUTE format('CREATE TRIGGER olink_journal AFTER INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION @extschema@._journal()', relation);
    EXECUTE format('CREATE TRIGGER olink_journal_truncate BEFORE TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._journal()', relation);
    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER olink_journal', relation);
    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER olink_journal_truncate', relation);
END
$$;

CREATE FUNCTION @extschema@.unprotect(relation regclass, reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
BEGIN
    -- locked first: a check-out being taken (it holds the row FOR KEY SHARE) commits before the check below
    SELECT * INTO p FROM @extschema@.protected_relation pr WHERE pr.relid = relation AND pr.dropped_at IS NULL
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table "%" is not protected', relation USING ERRCODE = 'undefined_object';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.access_grant g WHERE g.relid = relation AND g.revoked_at IS NULL) THEN
        RAISE EXCEPTION 'table "%" still has active grants', relation
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Revoke them with olink.revoke_access() first.';
    END IF;
    -- a check-out in force would silently stop holding: end it first
    IF EXISTS (SELECT FROM @extschema@.checkout_lock l
                WHERE (l.relid = relation OR l.relid IN (SELECT t.relid FROM pg_partition_tree(relation) t))
                  AND l.released_at IS NULL AND l.expires_at > now()) THEN
        RAISE EXCEPTION 'table "%" has records checked out', relation
            USING ERRCODE = 'object_in_use',
                  DETAIL = format('%s check-outs of its records are in force; unprotected, the table would no longer hold them.',
                                  (SELECT count(*) FROM @extschema@.checkout_lock l
                                    WHERE (l.relid = relation OR l.relid IN (SELECT t.relid FROM pg_partition_tree(relation) t))
                                      AND l.released_at IS NULL AND l.expires_at > now())),
                  HINT = 'End them with olink.checkin() or olink.force_release() first.';
    END IF;
    -- ended grants stay as history; the relation keeps its registry row while any refers to it
    IF EXISTS (SELECT FROM @extschema@.access_grant g WHERE g.relid = relation) THEN
        RAISE EXCEPTION 'table "%" has grant history and stays registered', relation
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'Ended grants are kept as evidence of past access qualifications.';
    END IF;
    DELETE FROM @extschema@.protected_relation pr WHERE pr.relid = relation;
    PERFORM @extschema@._release_journal(relation);
    EXECUTE format('DROP TRIGGER IF EXISTS olink_journal ON %s', relation);
    EXECUTE format('DROP TRIGGER IF EXISTS olink_journal_truncate ON %s', relation);
    IF NOT p.native_rls THEN
        EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', relation);
    END IF;
END
$$;

CREATE FUNCTION @extschema@._adopt_credential(counterpart text, login name)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cid bigint := @extschema@._counterpart_id(counterpart);
    grp regrole;
    r record;
    id bigint;
BEGIN
    SELECT * INTO r FROM pg_roles WHERE rolname = login;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not exist', login USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT r.rolcanlogin THEN
        RAISE EXCEPTION 'role "%" cannot log in', login
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A credential is an individual login role.';
    END IF;
    IF r.rolsuper OR r.rolbypassrls OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication THEN
        RAISE EXCEPTION 'role "%" is too privileged to be a counterpart credential', login
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A credential must not have SUPERUSER, BYPASSRLS, CREATEROLE, CREATEDB or REPLICATION.';
    END IF;
    IF EXISTS (SELECT FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                WHERE m.member = r.oid AND g.rolname IN ('olink_admin', 'olink_credential_manager', 'olink_auditor')) THEN
        RAISE EXCEPTION 'role "%" is a member of an olink administrative role', login
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.credential c WHERE c.login = r.oid) THEN
        RAISE EXCEPTION 'role "%" is already a credential', login USING ERRCODE = 'duplicate_object';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.counterpart c WHERE c.role = r.oid) THEN
        RAISE EXCEPTION 'role "%" is a counterpart group role', login USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT c.role INTO grp FROM @extschema@.counterpart c WHERE c.counterpart_id = cid;
    EXECUTE format('GRANT %s TO %I', grp, login);
    EXECUTE format('GRANT olink_counterpart TO %I', login);
    EXECUTE format('ALTER ROLE %I INHERIT', login);
    INSERT INTO @extschema@.credential (counterpart_id, login) VALUES (cid, r.oid::regrole)
    RETURNING credential_id INTO id;
    INSERT INTO @extschema@.credential_event (counterpart_id, login, credential_id, action, reason)
    VALUES (cid, login, id, 'adopted', 'an existing login adopted by a superuser, outside the workflow');
    RETURN id;
END
$$;

/*
 * Credentials (第6(2)(2)イ): request → approve (by someone else) → issue; revocation and
 * invalidation.  Every step is a row of credential_event.  What must hold at the door (terminals,
 * lockout, expiry) is checked in C at authentication (credential.c), from a copy of these tables in
 * shared memory that each committing change refreshes; the same commit cuts off the live sessions
 * that lost their standing.
 */

-- the password helpers in C: policy and history are checked by olink's check_password_hook
CREATE FUNCTION @extschema@._set_password(login name, password text, counterpart text, attestation text)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'olink_set_password'
LANGUAGE C;

CREATE FUNCTION @extschema@._clear_lockout(login regrole)
RETURNS boolean
AS 'MODULE_PATHNAME', 'olink_clear_lockout'
LANGUAGE C STRICT;

-- a login's VALID UNTIL (NULL: 'infinity'), set by olink itself: statements may not set it on a
-- counterpart login
CREATE FUNCTION @extschema@._set_valid_until(login regrole, valid_until timestamptz)
RETURNS void
AS 'MODULE_PATHNAME', 'olink_set_valid_until'
LANGUAGE C;

-- 第7(1)ウ: a locked-out credential's password is held expired in the catalog.  PostgreSQL then
-- runs its mock exchange for every password, the right one included, so guessing while locked
-- learns nothing (the door alone refuses only after SCRAM has confirmed a right password).  Run
-- by the audit worker when a lockout starts; returns false when the login is no active credential.
CREATE FUNCTION @extschema@._hold_password(login regrole, locked_until timestamptz, failures integer)
RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cr @extschema@.credential;
BEGIN
    -- the VALID UNTIL to give back: the one before the first hold (a new hold only moves the end)
    UPDATE @extschema@.credential c SET locked_until = _hold_password.locked_until,
           saved_valid_until = CASE WHEN c.locked_until IS NULL
                                    THEN (SELECT r.rolvaliduntil FROM pg_roles r WHERE r.oid = c.login)
                                    ELSE c.saved_valid_until END
     WHERE c.login = _hold_password.login AND c.status = 'active'
       AND EXISTS (SELECT FROM pg_roles r WHERE r.oid = c.login)
    RETURNING * INTO cr;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM @extschema@._set_valid_until(login, '-infinity');
    INSERT INTO @extschema@.credential_event (counterpart_id, login, credential_id, action, reason)
    VALUES (cr.counterpart_id, login::text, cr.credential_id, 'locked',
            format('%s failed logins: locked until %s', failures, _hold_password.locked_until));
    RETURN true;
END
$$;

-- the hold ends (the lockout ran out, or unlock_credential): VALID UNTIL back to what it was
CREATE FUNCTION @extschema@._release_password(login regrole, reason text)
RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cr @extschema@.credential;
BEGIN
    SELECT * INTO cr FROM @extschema@.credential c
     WHERE c.login = _release_password.login AND c.locked_until IS NOT NULL
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE @extschema@.credential c SET locked_until = NULL, saved_valid_until = NULL
     WHERE c.credential_id = cr.credential_id;
    -- a login dropped meanwhile has nothing to give back
    IF EXISTS (SELECT FROM pg_roles r WHERE r.oid = login) THEN
        PERFORM @extschema@._set_valid_until(login, cr.saved_valid_until);
    END IF;
    INSERT INTO @extschema@.credential_event (counterpart_id, login, credential_id, action, reason)
    VALUES (cr.counterpart_id, login::text, cr.credential_id, 'lock_ended', reason);
    RETURN true;
END
$$;

-- failed-login counts and lockouts, from shared memory
CREATE FUNCTION @extschema@.lockouts(
    OUT login name, OUT failures integer, OUT locked_until timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'olink_lockouts'
LANGUAGE C STRICT;

CREATE FUNCTION @extschema@._require_reason(reason text, what text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF reason IS NULL OR btrim(reason) = '' THEN
        RAISE EXCEPTION '% needs a reason', what USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- lower-case hex without colons, as `openssl x509 -fingerprint -sha256` prints it or not
CREATE FUNCTION @extschema@._fingerprint(fingerprint text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fp text := lower(replace(btrim(fingerprint), ':', ''));
BEGIN
    IF fp IS NULL THEN
        RETURN NULL;
    END IF;
    fp := regexp_replace(fp, '^sha256 fingerprint=', '');
    IF fp !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION 'invalid certificate fingerprint "%"', fingerprint
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A fingerprint is the SHA-256 digest of the certificate: 64 hexadecimal digits, colons allowed.',
                  HINT = 'openssl x509 -in client.crt -noout -fingerprint -sha256';
    END IF;
    RETURN fp;
END
$$;

-- for the history: the attestation of the login's newest password, when it was set hashed
CREATE FUNCTION @extschema@._attested(login name)
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN h.client_hashed THEN 'client-hashed password, attested: ' || h.attestation END
      FROM @extschema@.password_history h WHERE h.login = _attested.login
     ORDER BY h.set_at DESC LIMIT 1
$$;

-- refuses a fingerprint that was invalidated before
CREATE FUNCTION @extschema@._usable_fingerprint(fp text)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    inv @extschema@.invalidated_certificate;
BEGIN
    SELECT * INTO inv FROM @extschema@.invalidated_certificate i WHERE i.fingerprint = fp;
    IF FOUND THEN
        RAISE EXCEPTION 'certificate % was invalidated on %', fp, inv.invalidated_at
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Reason: %s.', inv.reason),
                  HINT = 'Issue a new client certificate.';
    END IF;
    RETURN fp;
END
$$;

-- the credential of a login, locked for update
CREATE FUNCTION @extschema@._credential(login name)
RETURNS @extschema@.credential
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cr @extschema@.credential;
BEGIN
    IF login IS NULL THEN
        RAISE EXCEPTION 'login must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO cr FROM @extschema@.credential c
     WHERE c.login = (SELECT r.oid FROM pg_roles r WHERE r.rolname = _credential.login)
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'login "%" is not a credential', login
            USING ERRCODE = 'undefined_object',
                  HINT = 'Credentials are made by olink.request_credential(), approve_credential() and issue_credential().';
    END IF;
    RETURN cr;
END
$$;

-- the request, locked; refuses one that is not in the expected state
CREATE FUNCTION @extschema@._request(id bigint, expected text)
RETURNS @extschema@.credential_request
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rq @extschema@.credential_request;
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'request id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO rq FROM @extschema@.credential_request r WHERE r.request_id = id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'credential request % does not exist', id USING ERRCODE = 'undefined_object';
    END IF;
    IF expected IS NOT NULL AND rq.status <> ALL (string_to_array(expected, ',')) THEN
        IF expected = 'approved' AND rq.status = 'requested' THEN
            RAISE EXCEPTION 'credential request % is not approved', id
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'It must be approved first, by someone other than its requester.';
        END IF;
        RAISE EXCEPTION 'credential request % is %', id, rq.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('This step needs a request that is %s.', replace(expected, ',', ' or '));
    END IF;
    RETURN rq;
END
$$;

-- 第6(2)(2)イ(ア): the person who approves the counterpart's credentials
CREATE FUNCTION @extschema@.designate_credential_manager(counterpart text, manager name)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cid bigint := @extschema@._counterpart_id(counterpart);
BEGIN
    IF manager IS NULL OR NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = manager) THEN
        RAISE EXCEPTION 'role "%" does not exist', manager USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT pg_has_role(manager, 'olink_credential_manager', 'MEMBER') THEN
        RAISE EXCEPTION 'role "%" is not a member of olink_credential_manager', manager
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('GRANT olink_credential_manager TO %I;', manager);
    END IF;
    IF EXISTS (SELECT FROM @extschema@.credential c WHERE c.login = (SELECT oid FROM pg_roles WHERE rolname = manager)) THEN
        RAISE EXCEPTION 'a counterpart credential cannot manage credentials' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE @extschema@.counterpart c SET credential_manager = manager WHERE c.counterpart_id = cid;
    INSERT INTO @extschema@.credential_event (counterpart_id, login, action, reason)
    VALUES (cid, manager, 'manager_designated', NULL);
END
$$;

-- may this login be issued to counterpart cid?  Checked on request and again on issue
CREATE FUNCTION @extschema@._check_eligible(login name, cid bigint)
RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    cr @extschema@.credential;
    grp oid := (SELECT c.role FROM @extschema@.counterpart c WHERE c.counterpart_id = cid);
BEGIN
    SELECT * INTO r FROM pg_roles WHERE rolname = login;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO cr FROM @extschema@.credential c WHERE c.login = r.oid;
    IF FOUND AND cr.status = 'active' THEN
        RAISE EXCEPTION 'login "%" is already an active credential', login USING ERRCODE = 'duplicate_object';
    ELSIF FOUND AND cr.counterpart_id <> cid THEN
        RAISE EXCEPTION 'login "%" was a credential of another counterpart', login
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Request a new login name.';
    END IF;
    IF r.rolsuper OR r.rolbypassrls OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication
       OR EXISTS (SELECT FROM @extschema@.counterpart c WHERE c.role = r.oid)
       OR EXISTS (SELECT FROM pg_auth_members m
                   WHERE m.member = r.oid
                     AND m.roleid NOT IN (grp, (SELECT oid FROM pg_roles WHERE rolname = 'olink_counterpart')))
       OR (cr.credential_id IS NULL
           AND EXISTS (SELECT FROM pg_auth_members m WHERE m.member = r.oid)) THEN
        RAISE EXCEPTION 'role "%" exists and cannot become a counterpart credential', login
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'An existing role can be issued as a credential only if it has no attributes beyond LOGIN and is a member of no role.';
    END IF;
    IF EXISTS (SELECT FROM pg_auth_members m WHERE m.roleid = r.oid) THEN
        RAISE EXCEPTION 'role "%" has members and cannot become a counterpart credential', login
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Its members would act as the counterpart.';
    END IF;
    IF EXISTS (SELECT FROM pg_shdepend d WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = r.oid
                                           AND d.deptype = 'o') THEN
        RAISE EXCEPTION 'role "%" owns objects and cannot become a counterpart credential', login
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'An owner bypasses row security and grants on what it owns.';
    END IF;
END
$$;

-- may the session user act as the counterpart's credential manager?
CREATE FUNCTION @extschema@._require_manager(cid bigint, what text)
RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mgr name := (SELECT c.credential_manager FROM @extschema@.counterpart c WHERE c.counterpart_id = cid);
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
        RETURN;
    END IF;
    IF mgr IS NULL THEN
        RAISE EXCEPTION 'counterpart "%" has no credential manager',
                        (SELECT c.name FROM @extschema@.counterpart c WHERE c.counterpart_id = cid)
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Designate one with olink.designate_credential_manager().';
    END IF;
    IF session_user <> mgr THEN
        RAISE EXCEPTION 'only the credential manager of the counterpart can %', what
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The credential manager is %s.', mgr);
    END IF;
END
$$;

CREATE FUNCTION @extschema@.request_credential(counterpart text, login name, holder text,
                                               requested_by text DEFAULT session_user)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cid bigint := @extschema@._counterpart_id(counterpart);
    id bigint;
BEGIN
    IF login IS NULL OR btrim(login) = '' THEN
        RAISE EXCEPTION 'login must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF holder IS NULL OR btrim(holder) = '' THEN
        RAISE EXCEPTION 'a credential request must name its holder' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF requested_by IS NULL OR btrim(requested_by) = '' THEN
        RAISE EXCEPTION 'a credential request must name who requests it' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (SELECT c.status FROM @extschema@.counterpart c WHERE c.counterpart_id = cid) <> 'active' THEN
        RAISE EXCEPTION 'counterpart "%" is suspended', counterpart USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF login LIKE 'pg\_%' OR login IN ('olink_admin', 'olink_credential_manager', 'olink_auditor', 'olink_counterpart') THEN
        RAISE EXCEPTION 'role name "%" is reserved', login USING ERRCODE = 'reserved_name';
    END IF;
    PERFORM @extschema@._check_eligible(login, cid);
    INSERT INTO @extschema@.credential_request (counterpart_id, login, holder, requested_by)
    VALUES (cid, login, holder, requested_by)
    RETURNING request_id INTO id;
    INSERT INTO @extschema@.credential_event (counterpart_id, login, request_id, action, reason)
    VALUES (cid, login, id, 'requested', format('for %s, requested by %s', holder, requested_by));
    RETURN id;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'login "%" already has an open request', login
        USING ERRCODE = 'duplicate_object', HINT = 'Approve, reject or withdraw it first.';
END
$$;

CREATE FUNCTION @extschema@.approve_credential(id bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rq @extschema@.credential_request := @extschema@._request(id, 'requested');
BEGIN
    -- the session user: SET ROLE and SECURITY DEFINER cannot make a requester into an approver
    IF session_user = rq.filed_by OR session_user::text = rq.requested_by THEN
        RAISE EXCEPTION 'credential request % cannot be approved by its requester', id
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('It was filed by %s for %s.', rq.filed_by, rq.requested_by),
                  HINT = 'Another person, the counterpart''s credential manager, approves it.';
    END IF;
    PERFORM @extschema@._require_manager(rq.counterpart_id, 'approve its credentials');
    UPDATE @extschema@.credential_request r
       SET status = 'approved', approved_by = session_user, approved_at = now()
     WHERE r.request_id = id;
    INSERT INTO @extschema@.credential_event (counterpart_id, login, request_id, action)
    VALUES (rq.counterpart_id, rq.login, id, 'approved');
END
$$;

CREATE FUNCTION @extschema@._close_request(id bigint, reason text, new_status text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rq @extschema@.credential_request := @extschema@._request(id, 'requested,approved');
BEGIN
    PERFORM @extschema@._require_reason(reason, CASE new_status WHEN 'rejected' THEN 'rejecting' ELSE 'withdrawing' END || ' a request');
    UPDATE @extschema@.credential_request r SET status = new_status, closed_reason = reason
     WHERE r.request_id = id;
    INSERT INTO @extschema@.credential_event (counterpart_id, login, request_id, action, reason)
    VALUES (rq.counterpart_id, rq.login, id, new_status, reason);
END
$$;

CREATE FUNCTION @extschema@.reject_credential(id bigint, reason text)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@._close_request(id, reason, 'rejected') $$;

CREATE FUNCTION @extschema@.withdraw_credential(id bigint, reason text)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@._close_request(id, reason, 'withdrawn') $$;

/*
 * Issues an approved request: makes (or re-enables) the login, puts it in the counterpart's group
 * and sets its password, which olink's password policy checks.  A password already hashed by the
 * client (SCRAM-SHA-256) cannot be checked: it is accepted only with an attestation of who checked
 * it and how, which is recorded.
 */
CREATE FUNCTION @extschema@.issue_credential(id bigint, password text, attestation text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rq @extschema@.credential_request := @extschema@._request(id, 'approved');
    cp @extschema@.counterpart;
    roleid oid;
    cred bigint;
    expires timestamptz;
BEGIN
    SELECT * INTO cp FROM @extschema@.counterpart c WHERE c.counterpart_id = rq.counterpart_id;
    IF cp.status <> 'active' THEN
        RAISE EXCEPTION 'counterpart "%" is suspended', cp.name USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM @extschema@._require_manager(rq.counterpart_id, 'issue its credentials');
    IF password IS NULL THEN
        RAISE EXCEPTION 'a credential needs a password' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- again: the role may have been made or changed since the request
    PERFORM @extschema@._check_eligible(rq.login, rq.counterpart_id);
    SELECT r.oid INTO roleid FROM pg_roles r WHERE r.rolname = rq.login;
    IF roleid IS NULL THEN
        EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS', rq.login);
        SELECT r.oid INTO roleid FROM pg_roles r WHERE r.rolname = rq.login;
    ELSE
        EXECUTE format('ALTER ROLE %I LOGIN INHERIT', rq.login);
    END IF;
    IF NOT pg_has_role(rq.login, cp.role, 'MEMBER') THEN
        EXECUTE format('GRANT %s TO %I', cp.role, rq.login);
    END IF;
    IF NOT pg_has_role(rq.login, 'olink_counterpart', 'MEMBER') THEN
        EXECUTE format('GRANT olink_counterpart TO %I', rq.login);
    END IF;
    expires := @extschema@._set_password(rq.login, password, cp.name, attestation);

    SELECT c.credential_id INTO cred FROM @extschema@.credential c WHERE c.login = roleid;
    IF cred IS NULL THEN
        INSERT INTO @extschema@.credential (counterpart_id, login, holder, request_id, password_set_at, password_expires_at)
        VALUES (rq.counterpart_id, roleid::regrole, rq.holder, id, now(), expires)
        RETURNING credential_id INTO cred;
    ELSE
        UPDATE @extschema@.credential c
           SET status = 'active', status_reason = NULL, holder = rq.holder, request_id = id,
               password_set_at = now(), password_expires_at = expires, locked_until = NULL,
               saved_valid_until = NULL
         WHERE c.credential_id = cred;
    END IF;
    UPDATE @extschema@.credential_request r SET status = 'issued', issued_by = session_user, issued_at = now()
     WHERE r.request_id = id;
    INSERT INTO @extschema@.credential_event (counterpart_id, login, request_id, credential_id, action, reason)
    VALUES (rq.counterpart_id, rq.login, id, cred, 'issued', @extschema@._attested(rq.login));
    PERFORM @extschema@._clear_lockout(roleid::regrole);
    RETURN cred;
END
$$;

-- 第6(2)(2)イ(オ): a new password for an active credential, by its holder or its manager.  The
-- public function is in C: a holder calls it from its counterpart session, where olink's own
-- tables are otherwise out of reach, and the C wrapper runs this body outside enforcement.
CREATE FUNCTION @extschema@._change_password(login name, password text, attestation text)
RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cr @extschema@.credential := @extschema@._credential(login);
    cp @extschema@.counterpart;
    expires timestamptz;
BEGIN
    SELECT * INTO cp FROM @extschema@.counterpart c WHERE c.counterpart_id = cr.counterpart_id;
    IF session_user <> login
       AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user)
       AND session_user IS DISTINCT FROM cp.credential_manager THEN
        RAISE EXCEPTION 'permission denied to change the password of "%"', login
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'A credential''s password is changed by its holder or by its counterpart''s credential manager.';
    END IF;
    IF cr.status <> 'active' THEN
        RAISE EXCEPTION 'credential "%" is %', login, replace(cr.status, '_', ' ')
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A revoked or invalidated credential is issued again through olink.request_credential().';
    END IF;
    IF password IS NULL THEN
        RAISE EXCEPTION 'password must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    expires := @extschema@._set_password(login, password, cp.name, attestation);
    -- a new password does not end a lockout: it stays held expired until the lockout ends
    IF cr.locked_until IS NOT NULL THEN
        PERFORM @extschema@._set_valid_until(cr.login, '-infinity');
    END IF;
    UPDATE @extschema@.credential c SET password_set_at = now(), password_expires_at = expires,
           saved_valid_until = CASE WHEN c.locked_until IS NOT NULL THEN expires END
     WHERE c.credential_id = cr.credential_id;
    INSERT INTO @extschema@.credential_event (counterpart_id, login, credential_id, action, reason)
    VALUES (cr.counterpart_id, login, cr.credential_id, 'password_changed', @extschema@._attested(login));
    RETURN expires;
END
$$;

CREATE FUNCTION @extschema@.change_password(login name, password text, attestation text DEFAULT NULL)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'olink_change_password'
LANGUAGE C;

-- 第6(2)(2)イ(ウ): the holder lost the qualification; new logins and live sessions end at commit
CREATE FUNCTION @extschema@.revoke_credential(login name, reason text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cr @extschema@.credential := @extschema@._credential(login);
    grp regrole;
BEGIN
    PERFORM @extschema@._require_reason(reason, 'revoking a credential');
    IF cr.status = 'revoked' THEN
        RAISE EXCEPTION 'credential "%" is already revoked', login USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT c.role INTO grp FROM @extschema@.counterpart c WHERE c.counterpart_id = cr.counterpart_id;
    UPDATE @extschema@.credential c SET status = 'revoked', status_reason = reason
     WHERE c.credential_id = cr.credential_id;
    EXECUTE format('ALTER ROLE %I NOLOGIN PASSWORD NULL', login);
    EXECUTE format('REVOKE %s FROM %I', grp, login);
    INSERT INTO @extschema@.credential_event (counterpart_id, login, credential_id, action, reason)
    VALUES (cr.counterpart_id, login, cr.credential_id, 'revoked', reason);
END
$$;

-- 第6(2)(2)イ(エ): a leaked password; the login stays, without a password, until issued again
CREATE FUNCTION @extschema@.invalidate_password(login name, reason text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cr @extschema@.credential := @extschema@._credential(login);
BEGIN
    PERFORM @extschema@._require_reason(reason, 'invalidating a password');
    IF cr.status <> 'active' THEN
        RAISE EXCEPTION 'credential "%" is %', login, replace(cr.status, '_', ' ')
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE @extschema@.credential c SET status = 'password_invalidated', status_reason = reason
     WHERE c.credential_id = cr.credential_id;
    EXECUTE format('ALTER ROLE %I PASSWORD NULL', login);
    INSERT INTO @extschema@.credential_event (counterpart_id, login, credential_id, action, reason)
    VALUES (cr.counterpart_id, login, cr.credential_id, 'password_invalidated', reason);
END
$$;

-- 第6(2)(2)イ(エ): a lost ID card; every terminal holding it is refused until a new one is registered
CREATE FUNCTION @extschema@.invalidate_certificate(fingerprint text, reason text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fp text := @extschema@._fingerprint(fingerprint);
    t record;
    n integer := 0;
BEGIN
    PERFORM @extschema@._require_reason(reason, 'invalidating a certificate');
    IF fp IS NULL THEN
        RAISE EXCEPTION 'fingerprint must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR t IN UPDATE @extschema@.terminal x SET certificate_status = 'invalidated', status_reason = reason
              WHERE x.certificate_fingerprint = fp AND x.certificate_status = 'valid'
             RETURNING x.counterpart_id, x.name
    LOOP
        INSERT INTO @extschema@.credential_event (counterpart_id, login, action, reason)
        VALUES (t.counterpart_id, t.name, 'certificate_invalidated', reason);
        n := n + 1;
    END LOOP;
    IF n = 0 THEN
        RAISE EXCEPTION 'no terminal holds a valid certificate with fingerprint %', fp
            USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO @extschema@.invalidated_certificate (fingerprint, reason) VALUES (fp, reason)
    ON CONFLICT DO NOTHING;
    RETURN n;
END
$$;

-- clears a login's failed-login count and lockout
CREATE FUNCTION @extschema@.unlock_credential(login name, reason text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cr @extschema@.credential := @extschema@._credential(login);
    was boolean;
BEGIN
    PERFORM @extschema@._require_reason(reason, 'unlocking a credential');
    PERFORM @extschema@._require_manager(cr.counterpart_id, 'unlock its credentials');
    was := @extschema@._clear_lockout(cr.login);
    INSERT INTO @extschema@.credential_event (counterpart_id, login, credential_id, action, reason)
    VALUES (cr.counterpart_id, login, cr.credential_id, 'unlocked', reason);
    PERFORM @extschema@._release_password(cr.login, 'unlocked');
    RETURN was;
END
$$;

-- 第6(2)(1)ア, 第7(1)ウ
CREATE FUNCTION @extschema@.add_terminal(counterpart text, name text, manager text, addresses cidr[],
                                         certificate_fingerprint text DEFAULT NULL,
                                         dedicated_line boolean DEFAULT false,
                                         local_connections boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cid bigint := @extschema@._counterpart_id(counterpart);
    fp text := @extschema@._usable_fingerprint(@extschema@._fingerprint(certificate_fingerprint));
    id bigint;
BEGIN
    IF name IS NULL OR btrim(name) = '' THEN
        RAISE EXCEPTION 'a terminal needs a name' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF manager IS NULL OR btrim(manager) = '' THEN
        RAISE EXCEPTION 'terminal "%" needs a responsible manager', name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = '第6(2)(1)ア: a person responsible for each terminal is designated.';
    END IF;
    IF dedicated_line IS NULL OR local_connections IS NULL THEN
        RAISE EXCEPTION 'dedicated_line and local_connections must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF addresses IS NULL OR array_position(addresses, NULL) IS NOT NULL
       OR (cardinality(addresses) = 0 AND NOT local_connections) THEN
        RAISE EXCEPTION 'terminal "%" needs its client addresses', name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Give one or more CIDR blocks (up to 16), or an empty array with local_connections => true.';
    END IF;
    IF cardinality(addresses) > 16 THEN
        RAISE EXCEPTION 'terminal "%" has more than 16 address blocks', name USING ERRCODE = 'program_limit_exceeded';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.terminal t WHERE t.name = add_terminal.name) THEN
        RAISE EXCEPTION 'terminal "%" already exists', name USING ERRCODE = 'duplicate_object';
    END IF;
    INSERT INTO @extschema@.terminal (counterpart_id, name, manager, addresses, certificate_fingerprint,
                                      certificate_status, dedicated_line, local_connections)
    VALUES (cid, name, manager, addresses, fp, CASE WHEN fp IS NOT NULL THEN 'valid' END,
            dedicated_line, local_connections)
    RETURNING terminal_id INTO id;
    INSERT INTO @extschema@.credential_event (counterpart_id, login, action, reason)
    VALUES (cid, name, 'terminal_added', format('manager %s, addresses %s', manager, addresses));
    RETURN id;
END
$$;

CREATE FUNCTION @extschema@.remove_terminal(name text, reason text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cid bigint;
BEGIN
    PERFORM @extschema@._require_reason(reason, 'removing a terminal');
    UPDATE @extschema@.terminal t SET status = 'removed', status_reason = reason
     WHERE t.name = remove_terminal.name AND t.status = 'active'
    RETURNING t.counterpart_id INTO cid;
    IF cid IS NULL THEN
        RAISE EXCEPTION 'terminal "%" does not exist or is removed', name USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO @extschema@.credential_event (counterpart_id, login, action, reason)
    VALUES (cid, name, 'terminal_removed', reason);
END
$$;

-- a new ID card for a terminal, after one was lost or expired
CREATE FUNCTION @extschema@.replace_certificate(terminal text, fingerprint text, reason text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fp text := @extschema@._usable_fingerprint(@extschema@._fingerprint(fingerprint));
    cid bigint;
BEGIN
    PERFORM @extschema@._require_reason(reason, 'replacing a certificate');
    IF fp IS NULL THEN
        RAISE EXCEPTION 'fingerprint must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE @extschema@.terminal t SET certificate_fingerprint = fp, certificate_status = 'valid', status_reason = reason
     WHERE t.name = replace_certificate.terminal AND t.status = 'active'
    RETURNING t.counterpart_id INTO cid;
    IF cid IS NULL THEN
        RAISE EXCEPTION 'terminal "%" does not exist or is removed', terminal USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO @extschema@.credential_event (counterpart_id, login, action, reason)
    VALUES (cid, terminal, 'certificate_replaced', reason);
END
$$;

CREATE FUNCTION @extschema@.grant_access(
    counterpart text, relation regclass, privileges text[], columns text[] DEFAULT NULL,
    row_filter text DEFAULT NULL, purposes text[] DEFAULT NULL, valid_from timestamptz DEFAULT NULL,
    valid_until timestamptz DEFAULT NULL, max_rows_per_statement bigint DEFAULT NULL,
    max_rows_per_day bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cid bigint := @extschema@._counterpart_id(counterpart);
    privs text[] := @extschema@._privileges(privileges);
    cols name[];
    c text;
    p text;
    vfrom timestamptz := coalesce(valid_from, now());
    id bigint;
BEGIN
    IF relation IS NULL THEN
        RAISE EXCEPTION 'relation must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.protected_relation pr
                    WHERE pr.relid = relation AND pr.dropped_at IS NULL) THEN
        RAISE EXCEPTION 'table "%" is not protected', relation
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Mark it with olink.protect() before granting access to it.';
    END IF;
    IF (SELECT cp.status FROM @extschema@.counterpart cp WHERE cp.counterpart_id = cid) <> 'active' THEN
        RAISE EXCEPTION 'counterpart "%" is suspended', counterpart
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF columns IS NOT NULL THEN
        PERFORM @extschema@._check_list('columns', columns);
        FOREACH c IN ARRAY columns LOOP
            IF NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = relation AND a.attname = c
                            AND a.attnum > 0 AND NOT a.attisdropped) THEN
                RAISE EXCEPTION 'column "%" of relation "%" does not exist', c, relation
                    USING ERRCODE = 'undefined_column';
            END IF;
        END LOOP;
        cols := columns::name[];
    END IF;
    IF row_filter IS NOT NULL THEN
        IF btrim(row_filter) = '' THEN
            RAISE EXCEPTION 'row filter must not be empty' USING ERRCODE = 'invalid_parameter_value',
                HINT = 'Pass NULL for all rows.';
        END IF;
        PERFORM @extschema@._check_row_filter(relation, row_filter);
    END IF;
    PERFORM @extschema@._check_list('purposes', purposes);
    IF valid_until IS NOT NULL AND valid_until <= vfrom THEN
        RAISE EXCEPTION 'validity window ends before it starts'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('valid_from is %s, valid_until is %s.', vfrom, valid_until);
    END IF;
    FOREACH p IN ARRAY purposes LOOP
        IF NOT EXISTS (SELECT FROM @extschema@.agreement a
                        WHERE a.counterpart_id = cid AND p = ANY (a.purposes)
                          AND (a.valid_until IS NULL OR a.valid_until > now())) THEN
            RAISE EXCEPTION 'purpose "%" is not in a valid agreement of counterpart "%"', p, counterpart
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Register the purpose in an agreement with olink.add_agreement() first.';
        END IF;
    END LOOP;
    IF max_rows_per_statement IS NOT NULL AND max_rows_per_statement <= 0
       OR max_rows_per_day IS NOT NULL AND max_rows_per_day <= 0 THEN
        RAISE EXCEPTION 'row quotas must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.access_grant g
                WHERE g.counterpart_id = cid AND g.relid = relation AND g.revoked_at IS NULL
                  AND g.privileges = privs AND g.columns IS NOT DISTINCT FROM cols
                  AND g.row_filter IS NOT DISTINCT FROM grant_access.row_filter
                  AND g.purposes && grant_access.purposes
                  AND tstzrange(g.valid_from, g.valid_until) && tstzrange(vfrom, grant_access.valid_until)) THEN
        RAISE EXCEPTION 'an identical grant already exists for counterpart "%" on "%"', counterpart, relation
            USING ERRCODE = 'duplicate_object';
    END IF;
    INSERT INTO @extschema@.access_grant (counterpart_id, relid, privileges, columns, row_filter, purposes,
                                          valid_from, valid_until, max_rows_per_statement, max_rows_per_day)
    VALUES (cid, relation, privs, cols, row_filter, purposes, vfrom, valid_until,
            max_rows_per_statement, max_rows_per_day)
    RETURNING grant_id INTO id;
    PERFORM @extschema@._sync_native_grants(cid, relation);
    RETURN id;
END
$$;

CREATE FUNCTION @extschema@.revoke_access(grant_id bigint, reason text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g record;
BEGIN
    IF reason IS NULL OR btrim(reason) = '' THEN
        RAISE EXCEPTION 'a revocation needs a reason' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO g FROM @extschema@.access_grant a WHERE a.grant_id = revoke_access.grant_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'grant % does not exist', grant_id USING ERRCODE = 'undefined_object';
    END IF;
    IF g.revoked_at IS NOT NULL THEN
        RAISE EXCEPTION 'grant % is already revoked', grant_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE @extschema@.access_grant a
       SET revoked_at = now(), revoked_by = session_user, revoke_reason = reason
     WHERE a.grant_id = revoke_access.grant_id;
    PERFORM @extschema@._sync_native_grants(g.counterpart_id, g.relid);
END
$$;

-- suspends or resumes a counterpart: the status change and its reason, checked and recorded
CREATE FUNCTION @extschema@._set_counterpart_status(name text, reason text, new_status text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cid bigint := @extschema@._counterpart_id(name);
BEGIN
    IF reason IS NULL OR btrim(reason) = '' THEN
        RAISE EXCEPTION '% a counterpart needs a reason',
                        CASE new_status WHEN 'suspended' THEN 'suspending' ELSE 'resuming' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (SELECT c.status FROM @extschema@.counterpart c WHERE c.counterpart_id = cid) = new_status THEN
        RAISE EXCEPTION 'counterpart "%" is %', name,
                        CASE new_status WHEN 'suspended' THEN 'already suspended' ELSE 'not suspended' END
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE @extschema@.counterpart c SET status = new_status, status_reason = reason
     WHERE c.counterpart_id = cid;
END
$$;

CREATE FUNCTION @extschema@.suspend_counterpart(name text, reason text)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@._set_counterpart_status(name, reason, 'suspended') $$;

CREATE FUNCTION @extschema@.resume_counterpart(name text, reason text)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@._set_counterpart_status(name, reason, 'active') $$;

-- rebuilds every counterpart's native privileges from its grants in force: after a restore into a
-- new cluster (the shape roles are not in a database dump), or to end the native privileges of
-- grants whose validity window has passed; returns how many (counterpart, table) pairs it visited
CREATE FUNCTION @extschema@.sync_native_privileges()
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pair record;
    n integer := 0;
BEGIN
    -- shapes whose role is gone (a restore) are forgotten, and made again where still needed
    DELETE FROM @extschema@.native_shape s
     WHERE NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = s.shape_role);
    FOR pair IN SELECT DISTINCT g.counterpart_id, g.relid FROM @extschema@.access_grant g
                  JOIN @extschema@.protected_relation p ON p.relid = g.relid AND p.dropped_at IS NULL
    LOOP
        PERFORM @extschema@._sync_native_grants(pair.counterpart_id, pair.relid);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

/*
 * Registry views for olink_admin and olink_auditor.
 */
CREATE VIEW @extschema@.counterparts AS
SELECT c.counterpart_id, c.name, c.necessity, c.approved_by, c.approved_on,
       pg_catalog.pg_get_userbyid(c.role) AS role_name, c.status,
       c.status_reason, c.credential_manager, c.max_connections, c.max_statements_per_minute,
       c.max_rows_per_statement, c.max_rows_per_day,
       c.created_at, c.created_by
  FROM @extschema@.counterpart c;

CREATE VIEW @extschema@.agreements AS
SELECT a.agreement_id, c.name AS counterpart, a.title, a.purposes, a.valid_from, a.valid_until,
       a.staff_duties, a.disposal_terms, a.other_measures, a.created_at, a.created_by,
       (a.valid_from <= pg_catalog.now() AND (a.valid_until IS NULL OR a.valid_until > pg_catalog.now()))
           AS valid_now
  FROM @extschema@.agreement a JOIN @extschema@.counterpart c USING (counterpart_id);

CREATE VIEW @extschema@.protected_relations AS
SELECT p.relid AS relation, p.relation_name, p.description, p.protected_at, p.protected_by, p.dropped_at
  FROM @extschema@.protected_relation p;

CREATE VIEW @extschema@.grants AS
SELECT g.grant_id, c.name AS counterpart, g.relid AS relation, p.relation_name, g.privileges, g.columns, g.row_filter,
       g.purposes, g.valid_from, g.valid_until, g.max_rows_per_statement, g.max_rows_per_day,
       g.granted_at, g.granted_by, g.revoked_at, g.revoked_by, g.revoke_reason,
       (g.revoked_at IS NULL AND g.valid_from <= pg_catalog.now()
        AND (g.valid_until IS NULL OR g.valid_until > pg_catalog.now())) AS active
  FROM @extschema@.access_grant g JOIN @extschema@.counterpart c USING (counterpart_id)
  JOIN @extschema@.protected_relation p ON p.relid = g.relid;

CREATE VIEW @extschema@.credentials AS
SELECT cr.credential_id, c.name AS counterpart, pg_catalog.pg_get_userbyid(cr.login) AS login,
       cr.holder, cr.status, cr.status_reason, cr.request_id,
       cr.password_set_at, cr.password_expires_at,
       l.failures AS failed_logins, l.locked_until,
       cr.created_at, cr.created_by
  FROM @extschema@.credential cr JOIN @extschema@.counterpart c USING (counterpart_id)
  LEFT JOIN @extschema@.lockouts() l ON l.login = pg_catalog.pg_get_userbyid(cr.login);

CREATE VIEW @extschema@.credential_requests AS
SELECT r.request_id, c.name AS counterpart, r.login, r.holder, r.requested_by, r.filed_by, r.filed_at,
       r.status, r.approved_by, r.approved_at, r.issued_by, r.issued_at, r.closed_reason
  FROM @extschema@.credential_request r JOIN @extschema@.counterpart c USING (counterpart_id);

CREATE VIEW @extschema@.credential_history AS
SELECT e.event_id, e.at, c.name AS counterpart, e.login, e.request_id, e.credential_id, e.action,
       e.done_by, e.reason
  FROM @extschema@.credential_event e JOIN @extschema@.counterpart c USING (counterpart_id);

CREATE VIEW @extschema@.terminals AS
SELECT t.terminal_id, c.name AS counterpart, t.name, t.manager, t.addresses,
       t.certificate_fingerprint, t.certificate_status, t.dedicated_line, t.local_connections,
       t.status, t.status_reason, t.added_at, t.added_by
  FROM @extschema@.terminal t JOIN @extschema@.counterpart c USING (counterpart_id);

/*
 * Load (第7(2)(1)ア, 第7(2)(2)ア): limits per counterpart, checked where sessions and statements
 * start (credential.c), and the live counterpart sessions.
 */
-- every call sets all four; NULL: no limit
CREATE FUNCTION @extschema@.set_counterpart_limits(counterpart text, max_connections integer,
                                                   max_statements_per_minute integer,
                                                   max_rows_per_statement bigint DEFAULT NULL,
                                                   max_rows_per_day bigint DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cid bigint := @extschema@._counterpart_id(counterpart);
BEGIN
    IF max_connections <= 0 OR max_statements_per_minute <= 0 OR max_rows_per_statement <= 0
       OR max_rows_per_day <= 0 THEN
        RAISE EXCEPTION 'a limit must be positive, or NULL for none' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE @extschema@.counterpart c
       SET max_connections = set_counterpart_limits.max_connections,
           max_statements_per_minute = set_counterpart_limits.max_statements_per_minute,
           max_rows_per_statement = set_counterpart_limits.max_rows_per_statement,
           max_rows_per_day = set_counterpart_limits.max_rows_per_day
     WHERE c.counterpart_id = cid;
END
$$;

-- rows read today, per counterpart (grant_id 0) and per grant; written by the audit worker from
-- shared memory every second, read back after a restart (quota.c)
CREATE TABLE @extschema@.quota_usage (
    day             date NOT NULL,
    counterpart_id  bigint NOT NULL,
    grant_id        bigint NOT NULL,
    rows            bigint NOT NULL,
    PRIMARY KEY (day, counterpart_id, grant_id)
);

-- in every counterpart row policy: counts a row read under a grant, and refuses the one over a quota
CREATE FUNCTION @extschema@._count_read(grant_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'olink_count_read'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED
-- costly on purpose: the planner then tests the statement's own cheap, leakproof conditions first,
-- and a row the statement does not want is not counted as read
COST 1000;

CREATE FUNCTION @extschema@._sessions(
    OUT pid integer, OUT login_oid oid, OUT counterpart_id bigint, OUT terminal_id bigint,
    OUT client_addr text, OUT ssl boolean, OUT purpose text, OUT since timestamptz,
    OUT last_statement_at timestamptz, OUT statements bigint, OUT cut_off_reason text, OUT state text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'olink_sessions'
LANGUAGE C STRICT;

CREATE VIEW @extschema@.sessions AS
SELECT s.pid, pg_catalog.pg_get_userbyid(s.login_oid) AS login, c.name AS counterpart, t.name AS terminal,
       s.client_addr, s.ssl, s.purpose, s.since, s.last_statement_at, s.statements,
       s.state, s.cut_off_reason
  FROM @extschema@._sessions() s
  LEFT JOIN @extschema@.counterpart c ON c.counterpart_id = s.counterpart_id
  LEFT JOIN @extschema@.terminal t ON t.terminal_id = s.terminal_id;

/*
 * Check-out locks (第7(2)(1)イ, checkout.c): while a record is checked out, nobody but its holder
 * updates or deletes it.  A check-out is this row; the shared-memory table the write path reads
 * follows it.  Rows are kept when a check-out ends, as the record of who held what.
 */
CREATE TABLE @extschema@.checkout_lock (
    lock_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    relid           regclass NOT NULL,
    key             jsonb NOT NULL,
    key_hash        bigint NOT NULL,        -- of the canonical key: what the write path looks up
    holder          name NOT NULL,          -- the session user that checked it out
    holder_oid      oid NOT NULL,
    counterpart_id  bigint REFERENCES @extschema@.counterpart,
    checked_out_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at      timestamptz NOT NULL,
    released_at     timestamptz,
    released_by     name,
    release_kind    text CHECK (release_kind IN ('checkin', 'forced')),
    release_reason  text,
    CHECK ((released_at IS NULL) = (release_kind IS NULL)),
    CHECK (release_kind IS DISTINCT FROM 'forced' OR release_reason IS NOT NULL)
);
CREATE INDEX ON @extschema@.checkout_lock (expires_at) WHERE released_at IS NULL;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.checkout_lock', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('@extschema@.checkout_lock', 'lock_id'), '');
CREATE TRIGGER keep_history BEFORE DELETE ON @extschema@.checkout_lock
    FOR EACH ROW EXECUTE FUNCTION @extschema@._keep_history();
CREATE TRIGGER keep_history_truncate BEFORE TRUNCATE ON @extschema@.checkout_lock
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._keep_history();

CREATE FUNCTION @extschema@.checkout(relation regclass, key jsonb, ttl interval,
                                     wait interval DEFAULT '0')
RETURNS bigint
AS 'MODULE_PATHNAME', 'olink_checkout'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.checkin(lock_id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'olink_checkin'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.force_release(lock_id bigint, reason text)
RETURNS void
AS 'MODULE_PATHNAME', 'olink_force_release'
LANGUAGE C VOLATILE;

CREATE VIEW @extschema@.locks AS
SELECT l.lock_id, l.relid AS relation, l.key, l.holder, c.name AS counterpart, l.checked_out_at, l.expires_at,
       CASE WHEN l.release_kind = 'checkin' THEN 'checked in'
            WHEN l.release_kind = 'forced' THEN 'released'
            WHEN l.expires_at <= pg_catalog.now() THEN 'expired'
            ELSE 'held' END AS state,
       l.released_at, l.released_by, l.release_reason
  FROM @extschema@.checkout_lock l LEFT JOIN @extschema@.counterpart c USING (counterpart_id);

/*
 * The audit store (audit.c, audit_worker.c, journal.c, chain.c).
 *
 * Access and connection events leave each backend through a shared-memory queue and are written
 * here by olink's audit worker, in batches; journal rows are written by the C trigger olink_journal
 * in the changing transaction itself.  Nobody writes these tables through SQL: a guard trigger
 * refuses INSERT, UPDATE, DELETE and TRUNCATE, and every row is covered by the seal chain, so a
 * superuser who disables the guard is still found out by verify_audit().
 *
 * Long texts (statements, relation and column lists) are kept once in audit_text and referred to
 * by id, which keeps an access event near 100 bytes.  The tables carry BRIN indexes only: the ids
 * and times grow with the table, and a B-tree per event would double the WAL an event costs.
 */
CREATE TABLE @extschema@.audit_text (
    text_id     bigint NOT NULL PRIMARY KEY,
    body        text NOT NULL
);

CREATE TABLE @extschema@.access_event (
    event_id    bigint NOT NULL,
    at          timestamptz NOT NULL,
    statement_id bigint NOT NULL,
    session_id  bigint NOT NULL,
    rows        bigint,
    statement   bigint,             -- audit_text
    relations   bigint,             -- audit_text: a text[] literal
    columns     bigint,             -- audit_text: a text[] literal
    outcome     "char" NOT NULL,    -- a allowed, d denied, f failed, i incomplete (sync start record)
    login       text,               -- the session user as the statement ran
    counterpart text,
    purpose     text,
    command     text,
    sqlstate    text,
    message     text
);
-- one BRIN index over all three: every index is paid for on every insert
CREATE INDEX access_event_brin ON @extschema@.access_event USING brin (event_id, at, statement_id);

CREATE TABLE @extschema@.connection_event (
    event_id    bigint NOT NULL,
    at          timestamptz NOT NULL,
    kind        "char" NOT NULL,    -- i login, o logout, r refused
    session_id  bigint NOT NULL,
    pid         integer NOT NULL,
    login_oid   oid,
    login       text,
    database    text,
    client_addr text,
    ssl         boolean,
    application_name text,
    reason      text,
    duration_us bigint,
    statements  bigint,
    terminal    text
);
CREATE INDEX connection_event_brin ON @extschema@.connection_event USING brin (event_id, at);
CREATE INDEX connection_event_session ON @extschema@.connection_event (session_id);

CREATE TABLE @extschema@.journal (
    journal_id  bigint NOT NULL,
    at          timestamptz NOT NULL,
    statement_id bigint NOT NULL,
    xid         bigint NOT NULL,    -- the top-level transaction's full id (xid8 in the view)
    login       text NOT NULL,
    counterpart text,
    purpose     text,
    relid       oid NOT NULL,
    relation    text NOT NULL,
    op          "char" NOT NULL,    -- i insert, u update, d delete
    key         jsonb,
    before      jsonb,
    after       jsonb
);
-- summarised as pages fill, so the worker's seal pass reads only the journal's new pages
CREATE INDEX journal_brin ON @extschema@.journal USING brin (xid, statement_id, at) WITH (autosummarize = on);

-- the chain: one seal per batch of rows, each seal hashed over the one before it
CREATE TABLE @extschema@.audit_seal (
    seal_id     bigint NOT NULL PRIMARY KEY,
    at          timestamptz NOT NULL,
    kind        "char" NOT NULL,    -- a access, c connection, t text, j journal, x attestations,
                                    -- p purge, r restart
    xid         bigint,             -- j, x: the highest transaction id in xids
    horizon     bigint,             -- j: every journal transaction below it had been sealed;
                                    -- r: the next transaction id at the restart
    first_id    bigint,
    last_id     bigint,
    row_count   bigint NOT NULL,
    digest      bytea NOT NULL,     -- a, c, t: SHA-256 over the rows' canonical forms in id order;
                                    -- j: SHA-256 over digests
    content_digest bytea NOT NULL,  -- sum of 64-bit hashes of the rows without their ids: tells
                                    -- reordering from change
    xids        bigint[],           -- j: the transactions sealed (full ids); x: those attested
    counts      bigint[],           -- j: rows sealed of each; x: rows each said it wrote
    digests     bytea,              -- j: each transaction's SHA-256, as digest above, one after another
    note        text,
    hash        bytea NOT NULL      -- SHA-256 over the previous seal's hash and this seal
);
CREATE INDEX audit_seal_xid ON @extschema@.audit_seal (xid) WHERE xid IS NOT NULL;
-- the worker writes these once a second; compressing them cost more than it saved
ALTER TABLE @extschema@.audit_seal ALTER COLUMN xids SET STORAGE EXTERNAL,
    ALTER COLUMN counts SET STORAGE EXTERNAL, ALTER COLUMN digests SET STORAGE EXTERNAL;

CREATE FUNCTION @extschema@._append_only()
RETURNS trigger LANGUAGE c AS 'MODULE_PATHNAME', 'olink_append_only';
DO $guards$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['audit_text', 'access_event', 'connection_event', 'journal', 'audit_seal'] LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER append_only BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.%I '
                                  'FOR EACH ROW EXECUTE FUNCTION @extschema@._append_only()', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON @extschema@.%I '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._append_only()', t);
        -- also in force under session_replication_role = replica
        EXECUTE pg_catalog.format('ALTER TABLE @extschema@.%I ENABLE ALWAYS TRIGGER append_only', t);
        EXECUTE pg_catalog.format('ALTER TABLE @extschema@.%I ENABLE ALWAYS TRIGGER append_only_truncate', t);
    END LOOP;
END
$guards$;

-- the change journal of one protected table: installed by protect()
CREATE FUNCTION @extschema@._journal()
RETURNS trigger LANGUAGE c AS 'MODULE_PATHNAME', 'olink_journal';
-- lets unprotect() and DROP EXTENSION drop the journal triggers, which are otherwise kept on
CREATE FUNCTION @extschema@._release_journal(relation regclass)
RETURNS void LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'olink_release_journal';

CREATE FUNCTION @extschema@.verify_audit()
RETURNS TABLE (finding text, log text, first_id bigint, last_id bigint, detail text)
LANGUAGE c AS 'MODULE_PATHNAME', 'olink_verify_audit';

-- retention: superusers only (not granted to any olink role)
CREATE FUNCTION @extschema@.purge_audit(older_than timestamptz, reason text)
RETURNS bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'olink_purge_audit';

CREATE FUNCTION @extschema@.flush_audit(timeout interval DEFAULT '10 s')
RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'olink_flush_audit';

CREATE FUNCTION @extschema@.audit_status(
    OUT queue_bytes bigint, OUT queue_used bigint, OUT events_queued bigint, OUT events_written bigint,
    OUT worker_pid integer, OUT last_write timestamptz, OUT last_seal timestamptz,
    OUT lost_events bigint)
RETURNS record
LANGUAGE c AS 'MODULE_PATHNAME', 'olink_audit_status';

/*
 * Load and operating status (第7(2)(1)ア, 第7(2)(2)ア): counters kept in shared memory where
 * sessions, statements and rows happen (credential.c, quota.c), read here without touching a table.
 */
CREATE FUNCTION @extschema@._load(
    OUT counterpart_id bigint, OUT sessions integer, OUT statements_minute bigint,
    OUT statements_hour bigint, OUT statements_day bigint, OUT statements_total bigint,
    OUT refused_statements bigint, OUT counters_since timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'olink_load'
LANGUAGE C STRICT;

CREATE FUNCTION @extschema@._load_rows(
    OUT counterpart_id bigint, OUT rows_minute bigint, OUT rows_hour bigint, OUT rows_day bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'olink_load_rows'
LANGUAGE C STRICT;

CREATE VIEW @extschema@.load_status AS
SELECT c.name AS counterpart, c.status,
       coalesce(l.sessions, 0) AS sessions, c.max_connections,
       coalesce(l.statements_minute, 0) AS statements_minute, c.max_statements_per_minute,
       coalesce(l.statements_hour, 0) AS statements_hour,
       coalesce(l.statements_day, 0) AS statements_day,
       coalesce(l.refused_statements, 0) AS refused_statements,
       coalesce(r.rows_minute, 0) AS rows_minute, coalesce(r.rows_hour, 0) AS rows_hour,
       coalesce(r.rows_day, 0) AS rows_day, c.max_rows_per_statement, c.max_rows_per_day,
       d.database_size,
       round(100.0 * a.queue_used / nullif(a.queue_bytes, 0), 1) AS audit_queue_percent,
       a.worker_pid IS NOT NULL AS audit_worker_running, a.last_write AS audit_last_write,
       a.lost_events AS audit_lost_events
  FROM @extschema@.counterpart c
  LEFT JOIN @extschema@._load() l ON l.counterpart_id = c.counterpart_id
  LEFT JOIN @extschema@._load_rows() r ON r.counterpart_id = c.counterpart_id
  CROSS JOIN @extschema@.audit_status() a
  -- once per query, not once per counterpart: it walks the database's files
  CROSS JOIN (SELECT pg_catalog.pg_database_size(pg_catalog.current_database()) AS database_size) d;

-- alerts: a row here and a NOTIFY on channel olink_alert, raised by the audit worker each second
-- when a use crosses olink.alert_threshold percent of its limit; once per period and kind
CREATE TABLE @extschema@.alert (
    alert_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT pg_catalog.now(),
    counterpart_id  bigint REFERENCES @extschema@.counterpart,
    kind            text NOT NULL CHECK (kind IN ('connections', 'statements_per_minute', 'rows_per_day',
                                                  'rate_limited', 'audit_queue', 'audit_lost_events')),
    period          text NOT NULL,          -- the minute, hour or day it is for: one alert per period
    value           numeric NOT NULL,
    threshold       numeric NOT NULL,
    message         text NOT NULL,
    UNIQUE NULLS NOT DISTINCT (kind, counterpart_id, period)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.alert', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('@extschema@.alert', 'alert_id'), '');

CREATE FUNCTION @extschema@._raise_alerts()
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pct numeric := coalesce(nullif(current_setting('olink.alert_threshold', true), ''), '80')::numeric;
    s record;
    n integer := 0;
    a @extschema@.alert;
BEGIN
    -- the counters only (load_status would also measure the database's size, each second)
    FOR s IN
        SELECT c.counterpart_id, c.name AS counterpart, coalesce(l.sessions, 0) AS sessions, c.max_connections,
               coalesce(l.statements_minute, 0) AS statements_minute, c.max_statements_per_minute,
               coalesce(l.refused_statements, 0) AS refused_statements,
               coalesce(r.rows_day, 0) AS rows_day, c.max_rows_per_day
          FROM @extschema@.counterpart c
          LEFT JOIN @extschema@._load() l ON l.counterpart_id = c.counterpart_id
          LEFT JOIN @extschema@._load_rows() r ON r.counterpart_id = c.counterpart_id
    LOOP
        IF s.max_connections IS NOT NULL AND s.sessions >= s.max_connections * pct / 100 THEN
            INSERT INTO @extschema@.alert (counterpart_id, kind, period, value, threshold, message)
            VALUES (s.counterpart_id, 'connections', to_char(now(), 'YYYY-MM-DD HH24:MI'), s.sessions,
                    s.max_connections, format('counterpart %s has %s of %s sessions', s.counterpart, s.sessions, s.max_connections))
            ON CONFLICT DO NOTHING RETURNING * INTO a;
            IF FOUND THEN n := n + 1; PERFORM pg_notify('olink_alert', json_build_object('alert_id', a.alert_id, 'kind', a.kind)::text); END IF;
        END IF;
        IF s.max_statements_per_minute IS NOT NULL AND s.statements_minute >= s.max_statements_per_minute * pct / 100 THEN
            INSERT INTO @extschema@.alert (counterpart_id, kind, period, value, threshold, message)
            VALUES (s.counterpart_id, 'statements_per_minute', to_char(now(), 'YYYY-MM-DD HH24:MI'), s.statements_minute,
                    s.max_statements_per_minute,
                    format('counterpart %s ran %s statements this minute, limit %s', s.counterpart, s.statements_minute, s.max_statements_per_minute))
            ON CONFLICT DO NOTHING RETURNING * INTO a;
            IF FOUND THEN n := n + 1; PERFORM pg_notify('olink_alert', json_build_object('alert_id', a.alert_id, 'kind', a.kind)::text); END IF;
        END IF;
        IF s.max_rows_per_day IS NOT NULL AND s.rows_day >= s.max_rows_per_day * pct / 100 THEN
            INSERT INTO @extschema@.alert (counterpart_id, kind, period, value, threshold, message)
            VALUES (s.counterpart_id, 'rows_per_day', current_date::text, s.rows_day, s.max_rows_per_day,
                    format('counterpart %s read %s rows today, limit %s', s.counterpart, s.rows_day, s.max_rows_per_day))
            ON CONFLICT DO NOTHING RETURNING * INTO a;
            IF FOUND THEN n := n + 1; PERFORM pg_notify('olink_alert', json_build_object('alert_id', a.alert_id, 'kind', a.kind)::text); END IF;
        END IF;
        -- more refusals than the last alert counted (the count is since the server started)
        IF s.refused_statements > coalesce((SELECT max(x.value) FROM @extschema@.alert x
                                             WHERE x.kind = 'rate_limited' AND x.counterpart_id = s.counterpart_id
                                               AND x.at >= (SELECT min(counters_since) FROM @extschema@._load())), 0) THEN
            INSERT INTO @extschema@.alert (counterpart_id, kind, period, value, threshold, message)
            VALUES (s.counterpart_id, 'rate_limited', to_char(now(), 'YYYY-MM-DD HH24:MI:SS'), s.refused_statements, 0,
                    format('counterpart %s had %s statements refused by its rate limit since the server started',
                           s.counterpart, s.refused_statements))
            ON CONFLICT DO NOTHING RETURNING * INTO a;
            IF FOUND THEN n := n + 1; PERFORM pg_notify('olink_alert', json_build_object('alert_id', a.alert_id, 'kind', a.kind)::text); END IF;
        END IF;
    END LOOP;
    FOR s IN SELECT * FROM @extschema@.audit_status() LOOP
        IF s.queue_bytes > 0 AND 100.0 * s.queue_used / s.queue_bytes >= pct THEN
            INSERT INTO @extschema@.alert (kind, period, value, threshold, message)
            VALUES ('audit_queue', to_char(now(), 'YYYY-MM-DD HH24:MI'), round(100.0 * s.queue_used / s.queue_bytes, 1), pct,
                    format('the audit queue is %s%% full', round(100.0 * s.queue_used / s.queue_bytes, 1)))
            ON CONFLICT DO NOTHING RETURNING * INTO a;
            IF FOUND THEN n := n + 1; PERFORM pg_notify('olink_alert', json_build_object('alert_id', a.alert_id, 'kind', a.kind)::text); END IF;
        END IF;
        IF s.lost_events > 0 THEN
            INSERT INTO @extschema@.alert (kind, period, value, threshold, message)
            VALUES ('audit_lost_events', to_char(now(), 'YYYY-MM-DD HH24'), s.lost_events, 0,
                    format('%s audit events could not be queued and were counted instead', s.lost_events))
            ON CONFLICT DO NOTHING RETURNING * INTO a;
            IF FOUND THEN n := n + 1; PERFORM pg_notify('olink_alert', json_build_object('alert_id', a.alert_id, 'kind', a.kind)::text); END IF;
        END IF;
    END LOOP;
    RETURN n;
END
$$;

CREATE VIEW @extschema@.alerts AS
SELECT a.alert_id, a.at, c.name AS counterpart, a.kind, a.period, a.value, a.threshold, a.message
  FROM @extschema@.alert a LEFT JOIN @extschema@.counterpart c USING (counterpart_id);

/*
 * What auditors read.  Plain SQL over the store; CSV or JSON export is COPY of these views.
 */
CREATE VIEW @extschema@.connection_log AS
SELECT c.event_id, c.at,
       CASE c.kind WHEN 'i' THEN 'login' WHEN 'o' THEN 'logout' WHEN 'r' THEN 'refused' END AS kind,
       c.session_id, c.login,
       (SELECT cp.name FROM @extschema@.credential cr JOIN @extschema@.counterpart cp USING (counterpart_id)
         WHERE cr.login = c.login_oid ORDER BY cr.credential_id DESC LIMIT 1) AS counterpart,
       c.client_addr, c.terminal, c.ssl, c.application_name, c.reason,
       CASE WHEN c.duration_us IS NOT NULL THEN pg_catalog.make_interval(secs => c.duration_us / 1e6) END AS duration,
       c.statements, c.database, c.pid
  FROM @extschema@.connection_event c;

CREATE VIEW @extschema@.access_log AS
SELECT e.event_id, e.at, e.statement_id, coalesce(e.login, l.login) AS login, e.counterpart, l.client_addr, l.terminal,
       e.purpose, e.command, rel.body::text[] AS relations, col.body::text[] AS columns, e.rows,
       CASE e.outcome WHEN 'a' THEN 'allowed' WHEN 'd' THEN 'denied' WHEN 'f' THEN 'failed'
                      WHEN 'i' THEN 'incomplete' END AS outcome, e.sqlstate, e.message, st.body AS statement,
       e.session_id, l.application_name
  FROM @extschema@.access_event e
  LEFT JOIN @extschema@.connection_event l ON l.session_id = e.session_id AND l.kind = 'i'
  LEFT JOIN @extschema@.audit_text st ON st.text_id = e.statement
  LEFT JOIN @extschema@.audit_text rel ON rel.text_id = e.relations
  LEFT JOIN @extschema@.audit_text col ON col.text_id = e.columns
 WHERE e.outcome <> 'i'
    OR NOT EXISTS (SELECT FROM @extschema@.access_event f
                    WHERE f.statement_id = e.statement_id AND f.outcome <> 'i');

CREATE VIEW @extschema@.change_journal AS
SELECT j.journal_id, j.at, j.statement_id, j.xid::text::xid8 AS xid, j.login, j.counterpart, j.purpose,
       j.relation, j.relid,
       CASE j.op WHEN 'i' THEN 'insert' WHEN 'u' THEN 'update' WHEN 'd' THEN 'delete' END AS op,
       j.key, j.before, j.after
  FROM @extschema@.journal j;

/*
 * Privileges: nothing for PUBLIC; the admin functions for olink_admin; the registry views for
 * olink_admin and olink_auditor.
 */
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    @extschema@.add_counterpart(text, text, text, date, name),
    @extschema@.add_agreement(text, text, text[], timestamptz, timestamptz, text, text, text),
    @extschema@.protect(regclass, text),
    @extschema@.unprotect(regclass, text),
    @extschema@.grant_access(text, regclass, text[], text[], text, text[], timestamptz, timestamptz, bigint, bigint),
    @extschema@.revoke_access(bigint, text),
    @extschema@.suspend_counterpart(text, text),
    @extschema@.resume_counterpart(text, text),
    @extschema@.sync_native_privileges()
  TO olink_admin;
GRANT EXECUTE ON FUNCTION
    @extschema@.add_terminal(text, text, text, cidr[], text, boolean, boolean),
    @extschema@.remove_terminal(text, text),
    @extschema@.replace_certificate(text, text, text),
    @extschema@.designate_credential_manager(text, name),
    @extschema@.revoke_credential(name, text),
    @extschema@.invalidate_password(name, text),
    @extschema@.invalidate_certificate(text, text)
  TO olink_admin;
GRANT EXECUTE ON FUNCTION
    @extschema@.request_credential(text, name, text, text),
    @extschema@.approve_credential(bigint),
    @extschema@.reject_credential(bigint, text),
    @extschema@.withdraw_credential(bigint, text),
    @extschema@.issue_credential(bigint, text, text),
    @extschema@.change_password(name, text, text),
    @extschema@.revoke_credential(name, text),
    @extschema@.invalidate_password(name, text),
    @extschema@.invalidate_certificate(text, text),
    @extschema@.unlock_credential(name, text),
    @extschema@.lockouts()
  TO olink_credential_manager;
-- a holder changes its own password (change_password checks that it is its own)
GRANT EXECUTE ON FUNCTION @extschema@.change_password(name, text, text) TO olink_counterpart;
GRANT EXECUTE ON FUNCTION @extschema@.lockouts() TO olink_admin, olink_auditor;
-- check-outs: counterparts and administrators; internal clerks are granted EXECUTE by the DBA
GRANT EXECUTE ON FUNCTION @extschema@.checkout(regclass, jsonb, interval, interval),
    @extschema@.checkin(bigint) TO olink_counterpart, olink_admin;
GRANT EXECUTE ON FUNCTION @extschema@.force_release(bigint, text) TO olink_admin;
GRANT SELECT ON @extschema@.locks TO olink_admin, olink_auditor;
GRANT EXECUTE ON FUNCTION @extschema@.set_counterpart_limits(text, integer, integer, bigint, bigint) TO olink_admin;
GRANT EXECUTE ON FUNCTION @extschema@._count_read(bigint) TO olink_counterpart;
GRANT SELECT ON @extschema@.quota_usage TO olink_admin, olink_auditor;
GRANT EXECUTE ON FUNCTION @extschema@._load(), @extschema@._load_rows() TO olink_admin, olink_auditor;
GRANT SELECT ON @extschema@.load_status, @extschema@.alerts TO olink_admin, olink_auditor;
GRANT EXECUTE ON FUNCTION @extschema@._sessions() TO olink_admin, olink_auditor;
GRANT SELECT ON @extschema@.sessions TO olink_admin, olink_auditor;
GRANT EXECUTE ON FUNCTION @extschema@.session_status() TO olink_admin, olink_auditor, olink_credential_manager;
GRANT EXECUTE ON FUNCTION @extschema@.begin_purpose(text), @extschema@.session_status(), @extschema@._grant_live(bigint)
  TO olink_counterpart;
GRANT SELECT ON @extschema@.counterparts, @extschema@.agreements, @extschema@.protected_relations,
                @extschema@.grants, @extschema@.credentials
  TO olink_admin, olink_auditor;
GRANT SELECT ON @extschema@.counterparts, @extschema@.credentials, @extschema@.credential_requests,
                @extschema@.credential_history, @extschema@.terminals TO olink_credential_manager;
GRANT SELECT ON @extschema@.credential_requests, @extschema@.credential_history, @extschema@.terminals
  TO olink_admin, olink_auditor;
GRANT SELECT ON @extschema@.access_log, @extschema@.connection_log, @extschema@.change_journal TO olink_auditor;
-- the seals, so that an auditor can compare the chain's head with the heads the worker logged
GRANT SELECT ON @extschema@.audit_seal TO olink_auditor;
GRANT EXECUTE ON FUNCTION @extschema@.verify_audit(), @extschema@.flush_audit(interval),
    @extschema@.audit_status() TO olink_auditor;
GRANT EXECUTE ON FUNCTION @extschema@.audit_status() TO olink_admin;
