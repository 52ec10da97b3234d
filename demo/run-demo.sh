#!/usr/bin/env bash
# olink demo: two counterparts of a city's resident registry, and what olink lets each of them do.
#
#   make demo                              (as root on Debian 12: installs what is missing first)
#   DEMO_RESIDENTS=20000 bash demo/run-demo.sh
#
# Builds and installs the extension, starts a throw-away PostgreSQL 15 cluster in a temporary
# directory (127.0.0.1 on a free port from 54329, olink in shared_preload_libraries), loads the
# synthetic registry (demo/data.sql) and the olink registrations (demo/setup.sql), then connects
# over TCP as each counterpart's own login and shows what it may read and update and what it is
# refused, with PostgreSQL's own error text.  The cluster is stopped and the directory removed
# however the script ends.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
residents=${DEMO_RESIDENTS:-100000}
[[ $residents =~ ^[1-9][0-9]*$ ]] || { echo "demo: DEMO_RESIDENTS must be a positive integer" >&2; exit 2; }
pg_config=/usr/lib/postgresql/15/bin/pg_config
[ -x "$pg_config" ] || pg_config=pg_config
bindir=$("$pg_config" --bindir)
runas=()
[ "$(id -u)" -eq 0 ] && runas=(runuser -u postgres --)
db=olink_demo

section() {
  printf '\n==============================================================================\n'
  printf '== %s\n' "$1"
  shift
  for line in "$@"; do printf '   %s\n' "$line"; done
  printf '==============================================================================\n'
}

# --- a temporary directory, removed on any exit -------------------------------------------------
work=$(mktemp -d /tmp/olink-demo.XXXXXX)
# the trap can run while a command's output is redirected: keep the script's own stdout and stderr
exec 3>&1 4>&2
cleanup() {
  local rc=$?
  exec 1>&3 2>&4
  cd /
  if [ -f "$work/data/postmaster.pid" ]; then
    "${runas[@]}" "$bindir/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null 2>&1 ||
      "${runas[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  if [ "$rc" -eq 0 ]; then
    printf '\nDemo finished: the cluster is stopped and %s removed.\n' "$work"
  else
    printf '\ndemo: failed (exit %s); the cluster is stopped and %s removed.\n' "$rc" "$work" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
if [ ${#runas[@]} -gt 0 ]; then chown postgres "$work"; fi

# --- build ---------------------------------------------------------------------------------------
section "1. Build and install olink" "make -C $top && make -C $top install"
if ! { make -C "$top" -s && make -C "$top" -s install; } >"$work/build.log" 2>&1; then
  cat "$work/build.log"; echo "demo: build failed" >&2; exit 1
fi
echo "installed $("$pg_config" --pkglibdir)/olink.so and the olink extension scripts"
cd "$work"

# --- throw-away cluster --------------------------------------------------------------------------
port=54329
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
  port=$((port + 1))
  [ "$port" -lt 54429 ] || { echo "demo: no free port in 54329-54428" >&2; exit 1; }
done

section "2. A throw-away PostgreSQL cluster" \
  "data directory $work/data, 127.0.0.1 port $port, unix socket in $work" \
  "shared_preload_libraries = 'olink' (olink's hooks must be loaded at server start)" \
  "local connections (the DBA) trusted; TCP connections (the counterparts) need their password"
"${runas[@]}" "$bindir/initdb" -D "$work/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
  -E UTF8 --locale=C.UTF-8 --no-sync >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log"; exit 1; }
cat >>"$work/data/postgresql.conf" <<CONF

# olink demo (throw-away cluster)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$work'
shared_preload_libraries = 'olink'
olink.database = '$db'
lc_messages = 'C'
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
"${runas[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null 3>&- 4>&- ||
  { cat "$work/server.log"; exit 1; }
echo "server started: $("$bindir/psql" -X -At -h "$work" -p "$port" -U postgres -d postgres -c 'SELECT version()')"

export PGCLIENTENCODING=UTF8 PGAPPNAME=olink-demo
unset PGOPTIONS PGPASSWORD PGDATABASE PGUSER PGHOST PGPORT PGSERVICE

# dba [psql args]: the municipality's DBA, a superuser on the local socket
dba() { "$bindir/psql" -X -h "$work" -p "$port" -U postgres -d "$db" "$@"; }

# counterpart LOGIN PASSWORD [VAR=value ...]: runs the SQL on stdin as a counterpart's login over TCP,
# echoing each statement and going on after errors, so that every refusal shows with its reason
counterpart() {
  local login=$1 password=$2
  shift 2
  local v prefix=""
  for v in "$@"; do prefix+="${v%%=*}='${v#*=}' "; done
  printf '$ %spsql -h 127.0.0.1 -U %s %s\n' "$prefix" "$login" "$db"
  env "$@" PGPASSWORD="$password" "$bindir/psql" -X -e -v ON_ERROR_STOP=0 -v SHOW_CONTEXT=never \
    -h 127.0.0.1 -p "$port" -U "$login" -d "$db" 2>&1
}

# --- data ----------------------------------------------------------------------------------------
section "3. Load a synthetic resident registry ($residents residents)" \
  "demo/data.sql: schema registry, five tables owned by registry_owner, no real personal data"
"$bindir/createdb" -h "$work" -p "$port" -U postgres "$db"
start=$(date +%s%N)
dba -q -v residents="$residents" -f "$top/demo/data.sql" >"$work/data.log" 2>&1 || { cat "$work/data.log"; exit 1; }
ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf 'loaded in %d.%d s\n' $((ms / 1000)) $((ms % 1000 / 100))
dba <<'SQL'
SELECT 'registry.residents' AS "table", count(*) AS "rows" FROM registry.residents
UNION ALL SELECT 'registry.households', count(*) FROM registry.households
UNION ALL SELECT 'registry.addresses', count(*) FROM registry.addresses
UNION ALL SELECT 'registry.tax_assessments', count(*) FROM registry.tax_assessments
UNION ALL SELECT 'registry.welfare_benefits', count(*) FROM registry.welfare_benefits;
SELECT resident_id, family_name, given_name, family_name_kana, given_name_kana, birth_date, sex, district, phone
  FROM registry.residents ORDER BY resident_id LIMIT 5;
SQL

# --- olink registrations -------------------------------------------------------------------------
section "4. The DBA registers the connections with olink (demo/setup.sql)" \
  "CREATE EXTENSION olink; protect the five tables; two counterparts, each with its necessity" \
  "statement (Clause 5), an agreement (Clause 6(1)), an individual login and its grants."
dba -q -f "$top/demo/setup.sql" >"$work/setup.log" 2>&1 || { cat "$work/setup.log"; exit 1; }
echo "done; the registry, as the superuser reads it:"
dba <<'SQL'
\x on
SELECT name, necessity, approved_by, approved_on, role_name, status FROM olink.counterparts ORDER BY counterpart_id;
\x off
SELECT counterpart, title, purposes, valid_from::date, valid_until::date, valid_now
  FROM olink.agreements ORDER BY agreement_id;
SELECT counterpart, login, status FROM olink.credentials ORDER BY credential_id;
SELECT relation, description FROM olink.protected_relations ORDER BY relation::text;
SELECT grant_id, counterpart, relation, privileges, columns, row_filter, purposes, active
  FROM olink.grants ORDER BY grant_id;
SQL

# --- the tax office ------------------------------------------------------------------------------
section "5. Tax clerk, no purpose declared: refused" \
  "A counterpart session must say what it works for before it touches a protected table."
counterpart tax_clerk1 Demo-Only-Tax-Clerk-1 <<'SQL'
SELECT * FROM olink.session_status();
SELECT count(*) FROM registry.residents;
SQL

section "6. Tax clerk, a purpose that is not in its agreement: refused" \
  "prefecture_tax's memorandum lists only 'tax-assessment'."
counterpart tax_clerk1 Demo-Only-Tax-Clerk-1 <<'SQL'
SET olink.purpose = 'welfare-benefit';
SELECT count(*) FROM registry.residents;
SQL

section "7. Tax clerk under purpose 'tax-assessment' (declared in the startup options)" \
  "Granted: residents (resident_id, family_name, given_name, birth_date, district), all rows;" \
  "tax_assessments, all columns, rows with fiscal_year >= 2024.  Nothing else."
counterpart tax_clerk1 Demo-Only-Tax-Clerk-1 PGOPTIONS='-c olink.purpose=tax-assessment' <<'SQL'
SELECT * FROM olink.session_status();
\echo '-- granted columns: allowed'
SELECT resident_id, family_name, given_name, birth_date, district
  FROM registry.residents ORDER BY resident_id LIMIT 3;
\echo '-- a column the grant does not carry (phone), and SELECT * (which includes it): refused'
SELECT resident_id, phone FROM registry.residents WHERE resident_id = 1;
SELECT * FROM registry.residents WHERE resident_id = 1;
\echo '-- the row filter: fiscal year 2023 is not visible, 2024 and 2025 are'
SELECT fiscal_year, count(*) AS assessments, sum(municipal_tax) AS total_tax
  FROM registry.tax_assessments GROUP BY fiscal_year ORDER BY fiscal_year;
SELECT r.resident_id, r.family_name, r.given_name, t.fiscal_year, t.taxable_income, t.municipal_tax
  FROM registry.residents r JOIN registry.tax_assessments t USING (resident_id)
 WHERE r.resident_id = 1 ORDER BY t.fiscal_year;
\echo '-- a protected table with no grant: refused'
SELECT count(*) FROM registry.welfare_benefits;
\echo '-- a privilege the grant does not carry (UPDATE): refused'
UPDATE registry.tax_assessments SET municipal_tax = 0 WHERE resident_id = 1;
\echo '-- DDL, copies of the data, privilege changes: refused'
CREATE TABLE public.resident_copy AS SELECT resident_id, family_name FROM registry.residents;
ALTER TABLE registry.tax_assessments ADD COLUMN note text;
DROP TABLE registry.tax_assessments;
GRANT SELECT ON registry.residents TO PUBLIC;
SQL

# --- the welfare contractor ----------------------------------------------------------------------
read -r in_id out_id <<<"$(dba -At -F ' ' -c "
  SELECT (SELECT min(benefit_id) FROM registry.welfare_benefits WHERE district = 'Chuo'),
         (SELECT min(benefit_id) FROM registry.welfare_benefits WHERE district = 'Mihama')")"
section "8. Welfare operator under purpose 'welfare-benefit' (declared with SET)" \
  "Granted, for the wards Chuo and Hanamigawa only: residents (resident_id, family_name," \
  "given_name, district, phone); welfare_benefits, all columns, SELECT and UPDATE."
counterpart welfare_op1 Demo-Only-Welfare-Op-1 <<SQL
SET olink.purpose = 'welfare-benefit';
SELECT * FROM olink.session_status();
\\echo '-- the row filter: only two of the six wards are visible'
SELECT district, count(*) AS residents FROM registry.residents GROUP BY district ORDER BY district;
\\echo '-- granted columns, phone included: allowed'
SELECT resident_id, family_name, given_name, district, phone FROM registry.residents ORDER BY resident_id LIMIT 3;
\\echo '-- birth_date is not granted to this counterpart: refused'
SELECT resident_id, birth_date FROM registry.residents ORDER BY resident_id LIMIT 3;
\\echo '-- benefits of the two wards'
SELECT district, benefit_type, count(*), round(avg(monthly_amount)) AS avg_monthly
  FROM registry.welfare_benefits GROUP BY 1, 2 ORDER BY 1, 2;
\\echo '-- UPDATE of a benefit in Chuo (inside the filter): 1 row'
UPDATE registry.welfare_benefits SET monthly_amount = monthly_amount + 1000
 WHERE benefit_id = $in_id RETURNING benefit_id, district, monthly_amount;
\\echo '-- UPDATE of benefit $out_id, in Mihama (outside the filter): the row is invisible, 0 rows'
UPDATE registry.welfare_benefits SET monthly_amount = 0 WHERE benefit_id = $out_id;
\\echo '-- moving a row out of the filter: refused'
UPDATE registry.welfare_benefits SET district = 'Mihama' WHERE benefit_id = $in_id;
\\echo '-- DELETE and INSERT are not granted: refused'
DELETE FROM registry.welfare_benefits WHERE benefit_id = $in_id;
INSERT INTO registry.welfare_benefits (benefit_id, resident_id, benefit_type, monthly_amount, started_on, district)
VALUES (999999, 1, 'housing_allowance', 40000, current_date, 'Chuo');
\\echo '-- tax data: no grant for this counterpart, refused'
SELECT count(*) FROM registry.tax_assessments;
\\echo '-- the purpose of another counterpart cannot be borrowed: refused'
SET olink.purpose = 'tax-assessment';
\\echo '-- SET ROLE to the counterpart group role does not change who is enforced'
SET ROLE welfare_contractor;
SELECT current_user, session_user, (SELECT counterpart FROM olink.session_status());
SELECT resident_id, birth_date FROM registry.residents ORDER BY resident_id LIMIT 1;
SQL

# --- the same tables, three sessions -------------------------------------------------------------
section "9. The same question, three sessions: how many rows does each see?" \
  "postgres is an internal session (not a counterpart): olink never restricts it."
# seen LOGIN PASSWORD PURPOSE TABLE: the row count that login sees; "refused" when olink or
# PostgreSQL denies it (SQLSTATE 42501); "ERROR" for any other failure, noted in $work/errors
seen() {
  local out line
  if [ "$1" = postgres ]; then
    out=$(dba -At -v VERBOSITY=verbose -c "SELECT count(*) FROM $4" 2>&1) && { printf '%s' "$out"; return; }
  else
    out=$(PGPASSWORD=$2 PGOPTIONS="-c olink.purpose=$3" "$bindir/psql" -X -At -v VERBOSITY=verbose \
            -h 127.0.0.1 -p "$port" -U "$1" -d "$db" -c "SELECT count(*) FROM $4" 2>&1) &&
      { printf '%s' "$out"; return; }
  fi
  line=$(printf '%s\n' "$out" | grep -m1 '^ERROR:' || printf '%s' "$out" | head -1)
  case $line in
    "ERROR:  42501:"*) printf 'refused' ;;
    *) printf 'ERROR'; printf '%s, %s: %s\n' "$1" "$4" "$line" >>"$work/errors" ;;
  esac
}
printf '%-28s %14s %14s %14s\n' "SELECT count(*) FROM" "postgres" "tax_clerk1" "welfare_op1"
for t in registry.residents registry.tax_assessments registry.welfare_benefits registry.households; do
  printf '%-28s %14s %14s %14s\n' "$t" "$(seen postgres '' '' "$t")" \
    "$(seen tax_clerk1 Demo-Only-Tax-Clerk-1 tax-assessment "$t")" \
    "$(seen welfare_op1 Demo-Only-Welfare-Op-1 welfare-benefit "$t")"
done
if [ -s "$work/errors" ]; then
  echo "unexpected errors (not refusals):"
  sed 's/^/  /' "$work/errors"
fi

section "10. Back as the DBA: the welfare operator's update, and the row it could not reach" \
  "An internal session is not enforced, so it sees every row and column."
dba <<SQL
SELECT login, counterpart, enforced FROM olink.session_status();
SELECT benefit_id, resident_id, benefit_type, monthly_amount, district
  FROM registry.welfare_benefits WHERE benefit_id IN ($in_id, $out_id) ORDER BY benefit_id;
SQL

section "11. The auditor: every statement, login and change, with plain SQL" \
  "A member of olink_auditor reads olink.access_log, olink.connection_log and olink.change_journal;" \
  "refusals are there although their statements were rolled back.  verify_audit() returns no row" \
  "when no audit row was changed, deleted or inserted since it was written."
# a failed login, for the connection log
PGPASSWORD=wrong-password "$bindir/psql" -X -h 127.0.0.1 -p "$port" -U welfare_op1 -d "$db" -c 'SELECT 1' >/dev/null 2>&1 || true
dba <<SQL
CREATE ROLE auditor1 LOGIN IN ROLE olink_auditor;
SELECT olink.flush_audit();
SET ROLE auditor1;
\\echo '-- what each counterpart did, refusals first'
SELECT login, purpose, outcome, count(*) FROM olink.access_log
 GROUP BY 1, 2, 3 ORDER BY outcome DESC, login, purpose;
\\echo '-- refused statements of the welfare operator, with the reason'
SELECT to_char(at, 'HH24:MI:SS') AS at, command, relations, sqlstate, left(message, 60) AS message
  FROM olink.access_log WHERE login = 'welfare_op1' AND outcome = 'denied' ORDER BY event_id;
\\echo '-- logins and logouts of the welfare operator, and the failed login'
SELECT kind, login, counterpart, client_addr, terminal, coalesce(reason, '') AS reason, statements
  FROM olink.connection_log WHERE login = 'welfare_op1' ORDER BY event_id;
\\echo '-- the change journal: the one benefit the operator changed, before and after'
SELECT op, login, counterpart, purpose, relation, key, before->'monthly_amount' AS before_amount,
       after->'monthly_amount' AS after_amount
  FROM olink.change_journal WHERE login = 'welfare_op1' ORDER BY journal_id;
\\echo '-- tamper evidence: no findings'
SELECT * FROM olink.verify_audit();
SQL

section "12. Revocation: the tax clerk leaves, and the live session ends at once" \
  "The clerk has a session open, idle.  The credential manager revokes the credential: at the commit" \
  "olink refuses new logins and cuts every live session of that login off; the clerk's next" \
  "statement finds the connection gone.  Every step is in olink.credential_history."
coproc CLERK { PGPASSWORD=Demo-Only-Tax-Clerk-1 PGOPTIONS='-c olink.purpose=tax-assessment' \
  "$bindir/psql" -X -At -h 127.0.0.1 -p "$port" -U tax_clerk1 -d "$db" 2>&1; }
# bash forgets a coprocess's descriptors when it ends: keep copies
exec {clerk_out}<&"${CLERK[0]}" {clerk_in}>&"${CLERK[1]}"
clerk_pid=$CLERK_PID
echo "SELECT 'tax clerk session ' || pg_backend_pid() || ' is open';" >&"$clerk_in"
read -r -t 10 line <&"$clerk_out" && echo "$line"
dba <<SQL
SET SESSION AUTHORIZATION city_credentials;
SELECT olink.revoke_credential(login => 'tax_clerk1', reason => 'moved to another office');
RESET SESSION AUTHORIZATION;
SELECT count(*) AS tax_clerk_sessions_left FROM pg_stat_activity WHERE usename = 'tax_clerk1';
SQL
echo "SELECT 'still here';" >&"$clerk_in" 2>/dev/null || true
while read -r -t 5 line <&"$clerk_out"; do echo "tax clerk's session: $line"; done
exec {clerk_out}<&- {clerk_in}>&-
wait "$clerk_pid" 2>/dev/null || true
echo '$ psql -h 127.0.0.1 -U tax_clerk1 (a new login after the revocation)'
PGPASSWORD=Demo-Only-Tax-Clerk-1 "$bindir/psql" -X -h 127.0.0.1 -p "$port" -U tax_clerk1 -d "$db" -c 'SELECT 1' 2>&1 || true
dba <<SQL
SELECT olink.flush_audit();
\\echo '-- the history of the credential, and the refused login with the reason only the log sees'
SELECT action, login, done_by, coalesce(reason, '') AS reason FROM olink.credential_history
 WHERE login IN ('tax_clerk1', 'tax-office-pc-1') ORDER BY event_id;
SELECT kind, login, terminal, coalesce(reason, '') AS reason FROM olink.connection_log
 WHERE login = 'tax_clerk1' ORDER BY event_id DESC LIMIT 2;
SQL

section "13. Check-out and quotas: one clerk edits a record, a bulk read is stopped" \
  "A city clerk checks benefit $in_id out for ten minutes: until it is checked in, nobody else may" \
  "update it, the welfare operator included.  The DBA then gives the contractor a quota of 50 rows" \
  "a statement: a count over its two wards reads thousands of rows and is refused before any" \
  "row leaves; a narrow question is answered."
dba -q <<SQL
CREATE ROLE city_clerk NOLOGIN;
GRANT USAGE ON SCHEMA registry, olink TO city_clerk;
GRANT SELECT, UPDATE ON registry.welfare_benefits TO city_clerk;
GRANT EXECUTE ON FUNCTION olink.checkout(regclass, jsonb, interval, interval), olink.checkin(bigint) TO city_clerk;
SET SESSION AUTHORIZATION city_clerk;
SELECT olink.checkout('registry.welfare_benefits', '{"benefit_id": $in_id}', '10 minutes') AS lock_id \\gset
RESET SESSION AUTHORIZATION;
SELECT olink.set_counterpart_limits('welfare_contractor', max_connections => NULL, max_statements_per_minute => NULL,
                                    max_rows_per_statement => 50, max_rows_per_day => NULL);
SQL
counterpart welfare_op1 Demo-Only-Welfare-Op-1 PGOPTIONS='-c olink.purpose=welfare-benefit' <<SQL
\\echo '-- the checked-out benefit: refused, naming the holder'
UPDATE registry.welfare_benefits SET monthly_amount = monthly_amount + 1 WHERE benefit_id = $in_id;
\\echo '-- a bulk read over both wards: refused by the quota, no row sent'
SELECT count(*) FROM registry.residents;
\\echo '-- a narrow question: answered'
SELECT resident_id, family_name, district FROM registry.residents WHERE district = 'Chuo' ORDER BY resident_id LIMIT 3;
SQL
dba <<SQL
SELECT lock_id, relation, key, holder, state FROM olink.locks;
SELECT counterpart, sessions, statements_day, refused_statements, rows_day, max_rows_per_statement,
       audit_worker_running FROM olink.load_status ORDER BY counterpart;
SQL

if [ -s "$work/errors" ]; then
  echo "demo: some statements failed with errors that are not refusals (see section 9)" >&2
  exit 1
fi
