#!/usr/bin/env bash
# olink connection benchmark: what olink's door costs per connection.  Every login passes olink's
# ClientAuthentication hook (audit.c audit_client_auth); a counterpart login is also checked against
# the registry copy in shared memory (credential.c: credential, terminal by CIDR, TLS, certificate,
# lockout, expiry) and its login and logout are queued for the audit worker.
#
#   make bench-connect                                   4 rounds x 4 s per workload (~4 minutes)
#   BENCH_UNIX=1 make bench-connect                      also over the unix socket (~5 minutes)
#   BENCH_ROUNDS=1 BENCH_SECONDS=2 make bench-connect    quick check that everything works
#
# A script, not a test: it prints figures and never fails on a ratio; it fails only when the set-up
# fails or a workload measured errors.
#
# Three throw-away clusters in a temporary directory, same settings (fsync off, autovacuum off,
# ssl off, listen_addresses = 127.0.0.1 and a unix socket):
#   A     no extension                                                     the baseline
#   O10   shared_preload_libraries = 'olink', olink in database bench; 10 counterparts, each with a
#         credential and a terminal (10.x.y.0/24, dedicated line) -- counterpart "visitor" with two
#         credentials and terminal bench-local (127.0.0.1/32, dedicated line, local connections); not
#         "bench": the password policy refuses a password that contains the counterpart's name
#   O1k   the same with BENCH_PEERS (1000) counterparts, credentials and terminals
# The registry copy is scanned in registry order; counterpart visitor is registered last, so its
# credentials and terminal are the last entries of the copy (the worst case of the scan).
# Logins, the same on every cluster: bench_owner (scram-sha-256 over TCP), bench_ownt (trust): an
# internal login; bench_cp (scram-sha-256; password set with olink.change_password()) and bench_cpt
# (trust): credentials of counterpart visitor on O10 and O1k, plain logins on A.  pg_hba.conf:
#   local all all trust;  host all bench_ownt,bench_cpt 127.0.0.1/32 trust;  host all all 127.0.0.1/32 scram-sha-256
#
# Workloads: pgbench -C (a new connection for every transaction), script "SELECT 1;", one client,
# database bench; the figure is connections per second ("tps ... including reconnection times"):
#   tcp scram   A_scram (bench_owner), B_scram (O10, bench_owner), C10_scram (O10, bench_cp),
#               C1k_scram (O1k, bench_cp)                                       ratio to A_scram
#   tcp trust   A_trust, B_trust, C10_trust, C1k_trust: the same without SCRAM's ~4096 PBKDF2
#               iterations on each side, which expose olink's own cost more sharply; B0_trust:
#               bench_ownt on O10 into database postgres, where olink is loaded but not installed
#               (its hooks run, there is no registry to read); and A_control, A_trust again: how
#               far its ratio strays from 1 is the run's noise
#                                                                               ratio to A_trust
#   unix trust  (BENCH_UNIX=1) A_unix, B_unix, C10_unix, C1k_unix over the unix socket (terminal
#               bench-local admits local connections)                           ratio to A_unix
# B: olink loaded and installed, an internal login (not recorded: olink.audit_connections =
# counterparts; its first statement still loads olink's session cache from the registry).  C: a
# counterpart login admitted from its terminal; its login, its SELECT 1 and its logout are audit
# events, queued for the worker (on the server's CPU, so its work is in the figure).
# Before the rounds, psql checks that every login of every workload gets in; and, on O10 and O1k,
# that the counterpart logins are admitted as counterpart visitor (olink.session_status()) and
# recorded with terminal bench-local (olink.connection_log), and that a peer's credential is refused
# over the socket (none of its terminals allows local connections): the door is being checked.
# Each workload is warmed up once (1 s), then the rounds interleave the workloads, the order rotating
# each round.  Reported: per-round connections/s; the median; the median of the per-round ratios to
# the baseline of the same transport and method; the time olink adds per connection (1e6/cps -
# 1e6/cps of the baseline, microseconds, from the medians); the server's CPU per connection
# (postmaster and backends), and the audit worker's (after olink.flush_audit(), so the events of a
# run are counted with it); and how much CPU other work on the machine took during the runs (each
# run first waits up to BENCH_QUIET_WAIT seconds for a quiet machine).  olink's store is vacuumed
# and analyzed before each round, as autovacuum would keep it.
# Results: stdout and test/bench/out/connect-<timestamp>.txt.
#
# Settings (environment):
#   BENCH_ROUNDS (4)  BENCH_SECONDS (4)  BENCH_PEERS (1000)  BENCH_UNIX (0)  BENCH_QUIET_WAIT (3)
#   BENCH_PIN (1: postmasters on CPU 1, pgbench on CPU 0)  BENCH_KEEP (0; 1 leaves the clusters running)
set -euo pipefail

bench_name=bench-connect
. "$(dirname "$0")/lib.sh"
rounds=${BENCH_ROUNDS:-4}
seconds=${BENCH_SECONDS:-4}
unix=${BENCH_UNIX:-0}
peers_big=${BENCH_PEERS:-1000}
peers_small=10
quiet_wait=${BENCH_QUIET_WAIT:-3}
require_positive rounds seconds peers_big
require_quiet_wait
case $unix in 0 | 1) ;; *) echo "bench-connect: BENCH_UNIX must be 0 or 1" >&2; exit 2 ;; esac
[ "$peers_big" -ge 2 ] || { echo "bench-connect: BENCH_PEERS must be at least 2" >&2; exit 2; }
password='Bench-Pass-2026!'

# no TLS or GSS negotiation: the same handshake on every cluster (terminals are on dedicated lines)
export PGSSLMODE=disable PGGSSENCMODE=disable

say "build and install olink"
install_olink

# --- clusters ---------------------------------------------------------------------------------
make_work /tmp/olink-bench-connect.XXXXXX
port_o10=$(( port_a + 1 ))
port_o1k=$(( port_a + 2 ))
keep_note="clusters left running in $work (ports $port_a..$port_o1k); stop them with pg_ctl -D $work/<A|O10|O1k> stop"
[ "$(id -u)" -ne 0 ] || chown postgres "$work"
printf 'SELECT 1;\n' >"$work/select1.sql"

# login HOST PORT USER [psql args...]: psql as USER into bench (PGPASSWORD for the scram logins)
login() {
  local host=$1 port=$2 user=$3
  shift 3
  "${runas[@]}" env PGPASSWORD="$password" "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$host" \
    -p "$port" -U "$user" -d bench "$@"
}

say "clusters A (port $port_a, no olink), O10 (port $port_o10), O1k (port $port_o1k)"
init_cluster "$work/A" "olink connection bench" 127.0.0.1 128MB "" "password_encryption = 'scram-sha-256'"
cat > "$work/A/pg_hba.conf" <<'HBA'
# olink connection bench
local   all   all                      trust
host    all   bench_ownt,bench_cpt     127.0.0.1/32   trust
host    all   all                      127.0.0.1/32   scram-sha-256
HBA
cp -a "$work/A" "$work/O10"
cp -a "$work/A" "$work/O1k"
conf_plain "$work/A" "$port_a"
for x in O10 O1k; do
  port_var=port_${x,,}
  conf_olink "$work/$x" "${!port_var}"
  # room for the large registry, the same on both
  printf 'olink.max_credentials = %s\nolink.max_terminals = %s\n' \
    "$(( peers_big + 100 > 1000 ? peers_big + 100 : 1000 ))" "$(( peers_big + 100 > 500 ? peers_big + 100 : 500 ))" \
    >> "$work/$x/postgresql.conf"
done
for x in A O10 O1k; do start_cluster "$work/$x"; done

for port in "$port_a" "$port_o10" "$port_o1k"; do
  sql "$port" postgres -c "CREATE DATABASE bench" \
      -c "CREATE ROLE bench_owner LOGIN" -c "CREATE ROLE bench_ownt LOGIN" \
      -c "CREATE ROLE bench_cp LOGIN" -c "CREATE ROLE bench_cpt LOGIN" \
      -c "ALTER ROLE bench_owner PASSWORD '$password'"
done
sql "$port_a" postgres -c "ALTER ROLE bench_cp PASSWORD '$password'"

# the registry: PEERS counterparts, one credential and one terminal each but for bench (two
# credentials, its terminal last); run as the superuser (_adopt_credential), in autocommit, so the
# copy in shared memory is rebuilt once per statement, not once per call
registry() {	# PORT PEERS
  sql "$1" bench -v peers="$2" -v password="$password" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION olink;
SELECT format('peer_%s', lpad(i::text, 4, '0')) AS name, i INTO TEMP peer FROM generate_series(1, :peers - 1) i;
SELECT count(olink.add_counterpart(name => name, necessity => 'another counterpart of the registry',
                                   approved_by => 'bench committee', approved_on => current_date))
  FROM peer;
SELECT format('CREATE ROLE %I LOGIN', name || '_cp') FROM peer ORDER BY i
\gexec
SELECT count(olink._adopt_credential(counterpart => name, login => (name || '_cp')::name)) FROM (SELECT * FROM peer ORDER BY i) p;
SELECT count(olink.add_terminal(counterpart => name, name => name || '-term', manager => 'bench operator',
                                addresses => ARRAY[format('10.%s.%s.0/24', i / 256, i % 256)::cidr],
                                dedicated_line => true))
  FROM (SELECT * FROM peer ORDER BY i) p;
-- the counterpart the bench connects as, last
SELECT olink.add_counterpart(name => 'visitor', necessity => 'benchmark of counterpart logins',
                             approved_by => 'bench committee', approved_on => current_date);
SELECT olink._adopt_credential(counterpart => 'visitor', login => 'bench_cp');
SELECT olink._adopt_credential(counterpart => 'visitor', login => 'bench_cpt');
SELECT olink.add_terminal(counterpart => 'visitor', name => 'bench-local', manager => 'bench operator',
                          addresses => '{127.0.0.1/32}', dedicated_line => true, local_connections => true);
SELECT olink.change_password('bench_cp', :'password');
SQL
}
say "olink registry on O10: $peers_small counterparts"
registry "$port_o10" "$peers_small" >"$work/setupO10.log" 2>&1 || {
  echo "bench-connect: olink set-up failed:" >&2; tail -20 "$work/setupO10.log" >&2; exit 1; }
t0=$SECONDS
say "olink registry on O1k: $peers_big counterparts"
registry "$port_o1k" "$peers_big" >"$work/setupO1k.log" 2>&1 || {
  echo "bench-connect: olink set-up failed:" >&2; tail -20 "$work/setupO1k.log" >&2; exit 1; }
say "  ... done in $((SECONDS - t0)) s"
declare -A regsize
for x in O10 O1k; do
  port_var=port_${x,,}
  regsize[$x]=$(sql "${!port_var}" bench -At -c "SELECT (SELECT count(*) FROM olink.credential) || ' credentials, ' ||
    (SELECT count(*) FROM olink.terminal WHERE status = 'active') || ' terminals'")
  say "  $x: ${regsize[$x]}"
done

# --- checks -----------------------------------------------------------------------------------
say "checks"
# the registry copy is loaded at commit of the set-up (and by the audit worker after a start):
# counterpart logins are refused until it is there
for port in "$port_o10" "$port_o1k"; do
  for ((i = 0; ; i++)); do
    login 127.0.0.1 "$port" bench_cpt -c "SELECT 1" >/dev/null 2>"$work/wait.err" && break
    if [ "$i" -ge 60 ]; then
      echo "bench-connect: counterpart login on port $port refused for 30 s:" >&2; cat "$work/wait.err" >&2; exit 1
    fi
    sleep 0.5
  done
done
for port in "$port_a" "$port_o10" "$port_o1k"; do
  for target in "127.0.0.1 bench_owner" "127.0.0.1 bench_ownt" "127.0.0.1 bench_cp" "127.0.0.1 bench_cpt" \
                "$work bench_ownt" "$work bench_cpt"; do
    set -- $target
    got=$(login "$1" "$port" "$2" -c "SELECT 1" 2>&1) || true
    if [ "$got" != 1 ]; then
      echo "bench-connect: $2 cannot log in on port $port via $1: $got" >&2; exit 1
    fi
  done
done
for x in O10 O1k; do
  port_var=port_${x,,}
  port=${!port_var}
  sql "$port" bench -c "SELECT olink.flush_audit('60 s')" >/dev/null
  e0=$(sql "$port" bench -At -c "SELECT coalesce(max(event_id), 0) FROM olink.connection_event")
  st_tcp=$(login 127.0.0.1 "$port" bench_cp -c "SELECT counterpart FROM olink.session_status()" 2>&1) || true
  st_unix=$(login "$work" "$port" bench_cpt -c "SELECT counterpart FROM olink.session_status()" 2>&1) || true
  # a peer's credential from a place none of its terminals covers is refused: the check runs
  if login "$work" "$port" peer_0001_cp -c "SELECT 1" >/dev/null 2>"$work/refused.txt"; then
    refused=no
  else
    refused=yes
  fi
  sleep 0.2
  sql "$port" bench -c "SELECT olink.flush_audit('60 s')" >/dev/null
  seen=$(sql "$port" bench -At -c "SELECT string_agg(kind || ':' || login || '@' || coalesce(terminal, '-'), ' '
                                             ORDER BY event_id) FROM olink.connection_log WHERE event_id > $e0")
  echo "   $x: session_status: bench_cp over TCP $st_tcp, bench_cpt over the socket $st_unix;" \
       "peer_0001_cp over the socket refused: $refused; connection log: $seen"
  if [ "$st_tcp" != visitor ] || [ "$st_unix" != visitor ] || [ "$refused" != yes ] ||
     [ "$seen" != "login:bench_cp@bench-local logout:bench_cp@bench-local login:bench_cpt@bench-local logout:bench_cpt@bench-local refused:peer_0001_cp@-" ]; then
    echo "bench-connect: the counterpart logins are not admitted, refused and recorded as set up" >&2
    cat "$work/refused.txt" >&2
    exit 1
  fi
done

# --- workloads --------------------------------------------------------------------------------
names=(A_scram B_scram C10_scram C1k_scram A_trust B0_trust B_trust C10_trust C1k_trust A_control)
[ "$unix" != 1 ] || names+=(A_unix B_unix C10_unix C1k_unix)
declare -A wdir wport whost wuser wbase wolink wdb
for w in "${names[@]}"; do
  wdb[$w]=bench
  case $w in
    A_*) wdir[$w]=$work/A; wport[$w]=$port_a; wolink[$w]=0 ;;
    B_* | B0_* | C10_*) wdir[$w]=$work/O10; wport[$w]=$port_o10; wolink[$w]=1 ;;
    C1k_*) wdir[$w]=$work/O1k; wport[$w]=$port_o1k; wolink[$w]=1 ;;
  esac
  case $w in
    *_scram) whost[$w]=127.0.0.1; wbase[$w]=A_scram ;;
    *_trust | A_control) whost[$w]=127.0.0.1; wbase[$w]=A_trust ;;
    *_unix) whost[$w]=$work; wbase[$w]=A_unix ;;
  esac
  case $w in
    [AB]_scram) wuser[$w]=bench_owner ;;
    [AB]_* | B0_*) wuser[$w]=bench_ownt ;;
    C*_scram) wuser[$w]=bench_cp ;;
    C*) wuser[$w]=bench_cpt ;;
  esac
done
wdb[B0_trust]=postgres
init_results   # tps: connections per second

# run_one WORKLOAD SECONDS LOG: sets last_tps (connections per second), last_other, last_cpu (server
# CPU per connection: the postmaster's and its backends', us), last_wcpu (the audit worker's per
# connection, us)
measure_cpu=server
measure_format=%.0f
measure_tps='including reconnection times'
run_one() {
  local w=$1
  measure "$w" "$3" "${runas[@]}" env PGPASSWORD="$password" "${client_cpu[@]}" "$bindir/pgbench" -n -C -c 1 -j 1 -T "$2" \
      -f "$work/select1.sql" -h "${whost[$w]}" -p "${wport[$w]}" -U "${wuser[$w]}" "${wdb[$w]}"
}
# olink's store, before each round
before_round() {
  local port
  for port in "$port_o10" "$port_o1k"; do
    store_upkeep "$port" "olink.access_event, olink.connection_event, olink.audit_text, olink.audit_seal"
  done
}

warm_up 1 '   %-10s %7.0f connections/s  %5s us server CPU/conn  %4s us worker/conn  (other load %s%%)\n'
measure_rounds

# --- report -----------------------------------------------------------------------------------
report_file connect
commit=$(tree_commit extension)

busy=0
{
  printf '%-12s %9s %7s %7s %9s %8s %8s %9s %6s %6s  %s\n' "workload" "median" "ratio" "paired" "+us/conn" \
         "srv CPU" "worker" "+us CPU" "other" "failed" "connections/s by round"
  for w in "${names[@]}"; do
    b=${wbase[$w]}
    case $w in
      A_scram) echo "TCP 127.0.0.1, scram-sha-256 (ratio to A_scram)" ;;
      A_trust) echo "TCP 127.0.0.1, trust (ratio to A_trust)" ;;
      A_unix) echo "unix socket, trust (ratio to A_unix)" ;;
    esac
    m=$(median <<<"${tps[$w]}")
    mb=$(median <<<"${tps[$b]}")
    pr=$(median <<<"$(paired "${tps[$w]# }" "${tps[$b]# }" %.3f)")
    mc=$(median <<<"${cpu[$w]}")
    mcb=$(median <<<"${cpu[$b]}")
    mw=$(median <<<"${wcpu[$w]}")
    omax=$(tr ' ' '\n' <<<"${other[$w]}" | awk 'NF && $1 + 0 > m { m = $1 + 0 } END { print m + 0 }')
    [ "$omax" -le "$busy" ] || busy=$omax
    awk -v w="$w" -v m="$m" -v mb="$mb" -v pr="$pr" -v mc="$mc" -v mcb="$mcb" -v mw="$mw" -v o="$omax" -v f="${failed[$w]}" \
        -v isbase="$([ "$w" = "$b" ] && echo 1 || echo 0)" -v list="$(awk '{ for (i = 1; i <= NF; i++) printf "%s%.0f", (i > 1 ? " " : ""), $i }' <<<"${tps[$w]}")" \
      'BEGIN { olink = (w !~ /^A_/)
               printf "  %-10s %9.0f %7.3f %7.3f %9s %8s %8s %9s %5s%% %6d  %s\n", w, m, (mb > 0 ? m / mb : 0), pr,
               (isbase ? "-" : sprintf("%+.0f", (m > 0 && mb > 0 ? 1e6 / m - 1e6 / mb : 0))), sprintf("%.0f", mc),
               (olink ? sprintf("%.0f", mw) : "-"), (isbase ? "-" : sprintf("%+.0f", mc + (olink ? mw : 0) - mcb)), o, f, list }'
  done
} >"$work/table.txt"

{
  echo "olink connection bench — pgbench -C, \"SELECT 1;\", 1 client, $rounds rounds x $seconds s per workload;" \
       "commit $commit; $stamp"
  echo "registries: O10 ${regsize[O10]}; O1k ${regsize[O1k]}; counterpart visitor's entries last;" \
       "servers $([ ${#server_cpu[@]} -gt 0 ] && echo "on CPU 1, pgbench on CPU 0" || echo "not pinned")"
  echo "A: no olink; B: olink, internal login; C10 / C1k: olink, counterpart login from its registered terminal," \
       "10 / $peers_big counterparts in the registry"
  echo
  cat "$work/table.txt"
  echo
  echo "from 10 to $peers_big registered counterparts (flat: rate ratio ~ 1, CPU difference ~ 0):"
  for t in scram trust $([ "$unix" != 1 ] || echo unix); do
    awk -v t="$t" -v a="$(median <<<"${tps[C1k_$t]}")" -v b="$(median <<<"${tps[C10_$t]}")" \
        -v ca="$(median <<<"${cpu[C1k_$t]}")" -v wa="$(median <<<"${wcpu[C1k_$t]}")" \
        -v cb="$(median <<<"${cpu[C10_$t]}")" -v wb="$(median <<<"${wcpu[C10_$t]}")" \
      'BEGIN { printf "  C1k_%s / C10_%s = %.3f connections/s, %+.0f us CPU per connection\n", t, t,
               (b > 0 ? a / b : 0), (ca + wa) - (cb + wb) }'
  done
  [ "$busy" -lt 10 ] || echo "WARNING: other work used up to $busy% of a CPU during some runs; the ratios are not trustworthy"
  cat <<'LEGEND'

median   = median connections per second over the rounds (pgbench "tps ... including reconnection times")
ratio    = median / median of the baseline;  paired = median over the rounds of the same-round ratio
+us/conn = 1e6 / median - 1e6 / the baseline's median: the wall time olink adds per connection
srv CPU  = median CPU of the postmaster and its backends per connection, microseconds (fork, start-up,
           authentication, SELECT 1, exit); worker = the olink audit worker's per connection (it
           writes the counterpart's login, statement and logout events; on the server's CPU)
+us CPU  = srv CPU + worker - the baseline's srv CPU: the server CPU olink adds per connection (less
           sensitive than the rates to other work on the machine)
other    = the most CPU (% of one) other work on the machine took during one of the runs
B0_trust = olink loaded, an internal login into database postgres, where olink is not installed
A_control = A_trust run again: how far its ratio strays from 1.000 is how much of any ratio is noise
LEGEND
} >"$work/report.txt"

{
  echo "# olink connection bench"
  echo "timestamp=$stamp"
  echo "commit=$commit"
  echo "postgres=$(postgres_version)"
  echo "rounds=$rounds"
  echo "seconds=$seconds"
  echo "peers=$peers_big"
  echo
  cat "$work/report.txt"
  echo
  echo "# raw: workload, connections/s by round, server CPU us/conn by round, worker us/conn by round, other load by round"
  raw_rows
} >"$out"

show_report

status=0
check_workloads
exit $status
