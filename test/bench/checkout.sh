#!/usr/bin/env bash
# olink check-out benchmark: what the check-out lock check costs a single-row UPDATE of a protected
# table, with no check-out in force and with BENCH_CHECKOUTS (10,000) in force on other records of
# the same table.  The change journal's AFTER ROW trigger (journal.c olink_journal) calls
# olink_checkout_check (checkout.c) for the old row of every UPDATE and DELETE: with no check-out
# anywhere that is one atomic read; with some, the row's primary key is hashed (through its type's
# output function) and looked up in the shared table of check-outs under its LWLock, shared mode.
#
#   make bench-checkout                                  5 rounds x 5 s per workload (6-7 minutes)
#   BENCH_ROUNDS=1 BENCH_SECONDS=2 make bench-checkout   quick check that everything works
#
# A script, not a test: it prints figures and the goal beside them, and never fails on a ratio; it
# fails only when the set-up fails or a workload measured errors.
#
# olink is built from this tree and installed into a copy of the PostgreSQL installation in the
# temporary directory, which every cluster and single-user run below uses: another session that
# installs its own build of olink meanwhile cannot change what is measured.
# Three throw-away clusters in a temporary directory (unix sockets only), same settings: fsync,
# full_page_writes and autovacuum off, synchronous_commit = off (CPU-bound: no commit flush hides a
# per-row cost).  The data is loaded once, into A, whose data directory is then copied:
#   A     no extension                                                             the baseline
#   O0    shared_preload_libraries = 'olink', olink in database bench; registry.residents_w
#         protected; the writer of test/bench/setup-writer.sql (counterpart bench_w, login bench_cpw,
#         a select+update grant with column list and row filter); no check-out
#   O10k  the same, and BENCH_CHECKOUTS check-outs in force on registry.residents_w, resident ids
#         RESIDENTS/2+1 .. RESIDENTS/2+CHECKOUTS, made by one call,
#           SELECT olink.checkout('registry.residents_w', jsonb_build_object('resident_id', g), '1 hour')
#             FROM generate_series(...) g
#         by the superuser under SET SESSION AUTHORIZATION bench_clerk: an internal role granted
#         SELECT and UPDATE on the table and EXECUTE on olink.checkout, neither of the updaters
# Data: registry.residents_w, a 12-column table shaped like the demo's registry.residents (and the
# copy run.sh's UPDATE workloads change), RESIDENTS (100,000) rows, owned by bench_owner.
#
# Workloads: pgbench -M prepared, one client, one thread, a random resident's given_name by primary
# key among ids 1..RESIDENTS/2 -- never a checked-out record (the check runs, finds nothing and lets
# the update through, as for almost every row of a busy table):
#   A_upd        A, bench_owner                         the baseline
#   B0_owner     O0, bench_owner: internal, journaled   (b: enforcement + audit, no check-out)
#   B0_cp        O0, bench_cpw: the counterpart, enforced, journaled and audited
#   C10k_owner   O10k, bench_owner                      (c: the same with the check-outs in force)
#   C10k_cp      O10k, bench_cpw
#   A_control    A_upd again: how far its ratio strays from 1 is the run's noise
# Ratios b/a and c/a (to A_upd) and, the figure of interest, c/b: C10k_x / B0_x, the lock check's
# own cost on top of what enforcement and audit already cost (goal >= 0.95).
# Before the rounds, psql checks that O10k holds the check-outs (olink.locks: held by bench_clerk)
# and O0 none; that on O10k both updaters are refused a checked-out record and update another one,
# journaled; and that bench_cpw is an enforced counterpart: a bench that never ran the check, or ran
# it on nothing, would be void.  Each workload is warmed up once, then the rounds interleave the
# workloads (the order rotates each round).  The table is vacuumed before each run and olink's
# store vacuumed and analyzed on both olink clusters, as autovacuum would keep them (an audit worker
# with statistics of a smaller journal rescans it at every wake while idle, on the servers' CPU).  Reported: the median tps ("without
# initial connection time") over the rounds; its ratio to the baseline's median; the median of the
# per-round ratios (paired); the backend's CPU per transaction and the audit worker's (after
# olink.flush_audit(), so that what a run queued is counted with it); the CPU other work on the
# machine took during a run (each run first waits up to BENCH_QUIET_WAIT seconds for quiet).
#
# Then, with valgrind (BENCH_INSTRUCTIONS=1, the default when it is installed; about a minute):
# instructions per UPDATE, counted by callgrind in single-user mode (postgres --single on each
# stopped cluster's data directory, PREPARE/EXECUTE, one transaction per statement): 2,500
# statements less 500, divided by 2,000.  No client connection, so olink enforces and journals but
# does not audit: the difference O10k - O0 is the check itself, without the noise of the rates
# (on a small shared machine the rates of O0 and O10k differ by 10-20% either way from run to run,
# as A_control's ratio shows; the counts repeat within a few dozen instructions).
# Results: stdout and test/bench/out/checkout-<timestamp>.txt (raw figures by round there too).
#
# Settings (environment):
#   BENCH_ROUNDS (5)  BENCH_SECONDS (5)  BENCH_WARMUP (2)  BENCH_RESIDENTS (100000)
#   BENCH_CHECKOUTS (10000; olink.max_checkouts is raised when it is more than the default 16384)
#   BENCH_INSTRUCTIONS (1 when valgrind is installed, else 0)  BENCH_QUIET_WAIT (3)
#   BENCH_PIN (1: postmasters on CPU 1, pgbench on CPU 0)  BENCH_KEEP (0; 1 leaves the clusters running)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
here="$top/test/bench"
rounds=${BENCH_ROUNDS:-5}
seconds=${BENCH_SECONDS:-5}
warmup=${BENCH_WARMUP:-2}
residents=${BENCH_RESIDENTS:-100000}
checkouts=${BENCH_CHECKOUTS:-10000}
pin=${BENCH_PIN:-1}
quiet_wait=${BENCH_QUIET_WAIT:-3}
if command -v valgrind >/dev/null; then instr=${BENCH_INSTRUCTIONS:-1}; else instr=${BENCH_INSTRUCTIONS:-0}; fi
for v in rounds seconds warmup residents checkouts; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench-checkout: $v must be a positive integer, not '${!v}'" >&2; exit 2; }
done
[[ $quiet_wait =~ ^[0-9]+$ ]] || { echo "bench-checkout: BENCH_QUIET_WAIT must be a number of seconds" >&2; exit 2; }
case $instr in 0 | 1) ;; *) echo "bench-checkout: BENCH_INSTRUCTIONS must be 0 or 1" >&2; exit 2 ;; esac
if [ "$instr" = 1 ] && ! command -v valgrind >/dev/null; then
  echo "bench-checkout: BENCH_INSTRUCTIONS=1 needs valgrind" >&2; exit 2
fi
half=$(( residents / 2 ))
[ "$half" -ge 1000 ] || { echo "bench-checkout: BENCH_RESIDENTS must be at least 2000" >&2; exit 2; }
[ "$checkouts" -le "$(( residents - half ))" ] ||
  { echo "bench-checkout: BENCH_CHECKOUTS must be at most BENCH_RESIDENTS/2 (the records nobody updates)" >&2; exit 2; }
co_lo=$(( half + 1 ))
co_hi=$(( half + checkouts ))
max_checkouts=16384
[ "$checkouts" -le $(( max_checkouts - 64 )) ] || max_checkouts=$(( checkouts + 1024 ))

bindir=$(/usr/lib/postgresql/15/bin/pg_config --bindir)
runas=()
[ "$(id -u)" -eq 0 ] && runas=(runuser -u postgres --)
server_cpu=()
client_cpu=()
if [ "$pin" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  server_cpu=(taskset -c 1)
  client_cpu=(taskset -c 0)
fi

say() { printf '== %s\n' "$*"; }

# --- a private copy of the PostgreSQL installation, olink installed into it ---------------------
# Other sessions may install another build of olink into the system's directories while the bench
# runs; the clusters and the single-user runs load olink from this copy instead (PostgreSQL finds
# its library and share directories relative to its binaries).
work=$(mktemp -d /tmp/olink-bench-checkout.XXXXXX)
started=()
port_a=$(( 40000 + RANDOM % 10000 ))
port_o0=$(( port_a + 1 ))
port_o10k=$(( port_a + 2 ))
cleanup() {
  local d
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    echo "bench-checkout: BENCH_KEEP=1: clusters left in $work (ports $port_a..$port_o10k); stop the running" \
         "ones with pg_ctl -D $work/<A|O0|O10k> stop" >&2
    return
  fi
  for d in "${started[@]}"; do
    "${runas[@]}" "$bindir/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say "build olink; install it into a copy of the PostgreSQL installation ($work/pg)"
sys_pg_config=$bindir/pg_config
pkglibdir=$("$sys_pg_config" --pkglibdir)
sharedir=$("$sys_pg_config" --sharedir)
for d in "$(dirname "$pkglibdir")" "$sharedir"; do
  mkdir -p "$work/pg$(dirname "$d")"
  cp -a "$d" "$work/pg$d"
done
bindir=$work/pg$bindir
[ "$("$bindir/pg_config" --pkglibdir)" = "$work/pg$pkglibdir" ] ||
  { echo "bench-checkout: the copy of PostgreSQL does not find its own library directory" >&2; exit 1; }
make -C "$top" -s >/dev/null
make -C "$top" -s PG_CONFIG="$bindir/pg_config" install >/dev/null

# --- clusters ---------------------------------------------------------------------------------
cp "$here/setup-writer.sql" "$work/"
# the UPDATE: a random resident of the first half (none of them checked out) gets a new given name
cat >"$work/update.sql" <<'SQL'
\set id random(1, :upd_max)
\set v random(100000, 999999)
UPDATE registry.residents_w SET given_name = 'n' || :v WHERE resident_id = :id;
SQL
[ "$(id -u)" -ne 0 ] || chown -R postgres "$work"

start_cluster() {	# DIR
  started+=("$1")
  (cd / && "${runas[@]}" "${server_cpu[@]}" "$bindir/pg_ctl" -D "$1" -l "$1.log" -w start >/dev/null)
}
stop_cluster() {	# DIR
  (cd / && "${runas[@]}" "$bindir/pg_ctl" -D "$1" -m fast -w stop >/dev/null)
}
# sql PORT DB [psql args...]: psql as the superuser, quietly, stopping at the first error
sql() {
  local port=$1 db=$2
  shift 2
  "${runas[@]}" "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d "$db" "$@"
}
# as_user PORT USER PGOPTIONS [psql args...]: psql as USER into bench
as_user() {
  local port=$1 user=$2 opts=$3
  shift 3
  "${runas[@]}" env PGOPTIONS="$opts" "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$work" -p "$port" \
    -U "$user" -d bench "$@"
}

say "cluster A (port $port_a): $residents rows of registry.residents_w"
(cd / && "${runas[@]}" "$bindir/initdb" -D "$work/A" -A trust -U postgres -E UTF8 --locale=C --no-sync >/dev/null)
cat >> "$work/A/postgresql.conf" <<CONF

# olink check-out bench: every cluster
listen_addresses = ''
unix_socket_directories = '$work'
max_connections = 20
shared_buffers = 128MB
max_wal_size = 4GB
fsync = off
synchronous_commit = off
full_page_writes = off
autovacuum = off
CONF
printf '\n# cluster A: no extension\nport = %s\n' "$port_a" >> "$work/A/postgresql.conf"
start_cluster "$work/A"
sql "$port_a" postgres -c "CREATE ROLE bench_owner LOGIN" -c "CREATE ROLE bench_clerk LOGIN" -c "CREATE DATABASE bench"
sql "$port_a" bench -v residents="$residents" <<'SQL' >/dev/null
CREATE SCHEMA registry AUTHORIZATION bench_owner;
CREATE TABLE registry.residents_w (
    resident_id bigint PRIMARY KEY, household_id bigint, family_name text, given_name text,
    family_name_kana text, given_name_kana text, birth_date date, sex text, district text NOT NULL,
    phone text, registered_on date, status text);
INSERT INTO registry.residents_w
SELECT g, g / 3, '佐藤' || g % 997, '花子' || g % 991, 'サトウ' || g % 97, 'ハナコ' || g % 89,
       date '1940-01-01' + g % 30000, CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END,
       (ARRAY['Chuo', 'Hanamigawa', 'Inage', 'Wakaba', 'Midori', 'Mihama'])[1 + g % 6],
       '043-' || lpad((g * 7919 % 10000000)::text, 7, '0'), date '2000-01-01' + g % 9000, 'active'
  FROM generate_series(1, :residents) g;
ALTER TABLE registry.residents_w OWNER TO bench_owner;
GRANT USAGE ON SCHEMA registry TO bench_clerk;
GRANT SELECT, UPDATE ON registry.residents_w TO bench_clerk;
VACUUM (ANALYZE);
SQL
stop_cluster "$work/A"

say "clusters O0 (port $port_o0) and O10k (port $port_o10k): olink; copies of A"
for x in O0 O10k; do
  cp -a "$work/A" "$work/$x"
  port_var=port_${x,,}
  printf "\n# cluster %s: olink\nport = %s\nshared_preload_libraries = 'olink'\nolink.database = 'bench'\n" \
    "$x" "${!port_var}" >> "$work/$x/postgresql.conf"
  [ "$max_checkouts" = 16384 ] || printf 'olink.max_checkouts = %s\n' "$max_checkouts" >> "$work/$x/postgresql.conf"
done
for x in A O0 O10k; do start_cluster "$work/$x"; done
for port in "$port_o0" "$port_o10k"; do
  sql "$port" bench -At <<'SQL' >"$work/setup-$port.log" 2>&1 &&
SET client_min_messages = warning;
CREATE EXTENSION olink;
SELECT olink.protect('registry.residents_w', 'bench: personal information');
GRANT USAGE ON SCHEMA olink TO bench_clerk;
GRANT EXECUTE ON FUNCTION olink.checkout(regclass, jsonb, interval, interval) TO bench_clerk;
SQL
  sql "$port" bench -f "$work/setup-writer.sql" >>"$work/setup-$port.log" 2>&1 || {
    echo "bench-checkout: olink set-up failed:" >&2; tail -20 "$work/setup-$port.log" >&2; exit 1; }
done
say "O10k: $checkouts check-outs by bench_clerk, resident ids $co_lo..$co_hi, in one call"
t0=$(date +%s.%N)
made=$(sql "$port_o10k" bench -At -c "SET SESSION AUTHORIZATION bench_clerk" -c \
  "SELECT count(olink.checkout('registry.residents_w', jsonb_build_object('resident_id', g), '1 hour'))
     FROM generate_series($co_lo, $co_hi) g")
say "  ... $made made in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

# --- is everyone measured doing what it should? -----------------------------------------------
cp_opts="-c olink.purpose=bench"
say "checks"
held_sql="SELECT count(*) || ',' || coalesce(min((key->>'resident_id')::bigint), 0) || ',' ||
                 coalesce(max((key->>'resident_id')::bigint), 0) || ',' || count(*) FILTER (WHERE holder = 'bench_clerk')
            FROM olink.locks WHERE state = 'held'"
h0=$(sql "$port_o0" bench -At -c "$held_sql")
h10k=$(sql "$port_o10k" bench -At -c "$held_sql")
echo "   check-outs held (count,min id,max id,by bench_clerk): O0 $h0; O10k $h10k"
if [ "$h0" != "0,0,0,0" ] || [ "$h10k" != "$checkouts,$co_lo,$co_hi,$checkouts" ]; then
  echo "bench-checkout: the check-outs are not as set up" >&2; exit 1
fi
status=$(as_user "$port_o10k" bench_cpw "$cp_opts" -c \
  "SELECT counterpart || ',' || purpose || ',' || enforced FROM olink.session_status()")
[ "$status" = "bench_w,bench,true" ] ||
  { echo "bench-checkout: bench_cpw is not an enforced counterpart on O10k ($status)" >&2; exit 1; }
for port in "$port_o0" "$port_o10k"; do
  x=$([ "$port" = "$port_o0" ] && echo O0 || echo O10k)
  for user in bench_owner bench_cpw; do
    opts=$([ "$user" = bench_cpw ] && echo "$cp_opts" || true)
    j0=$(sql "$port" bench -At -c "SELECT count(*) FROM olink.journal")
    ok=$(as_user "$port" "$user" "$opts" -c \
      "UPDATE registry.residents_w SET given_name = given_name WHERE resident_id = $half RETURNING 1" | wc -l)
    if as_user "$port" "$user" "$opts" -c \
         "UPDATE registry.residents_w SET given_name = given_name WHERE resident_id = $co_hi" >/dev/null 2>"$work/refused.txt"; then
      refused=no
    else
      refused=yes
    fi
    j1=$(sql "$port" bench -At -c "SELECT count(*) FROM olink.journal")
    want=$([ "$x" = O10k ] && echo yes || echo no)
    echo "   $x $user: resident $half updated: $ok row; resident $co_hi refused: $refused" \
         "$([ "$refused" = yes ] && echo "($(head -1 "$work/refused.txt" | sed 's/^ERROR: *//'))"); journal rows +$((j1 - j0))"
    if [ "$ok" != 1 ] || [ "$refused" != "$want" ] || [ $((j1 - j0)) != $([ "$want" = yes ] && echo 1 || echo 2) ] ||
       { [ "$want" = yes ] && ! grep -q 'checked out by "bench_clerk"' "$work/refused.txt"; }; then
      echo "bench-checkout: $x: $user is not journaled and refused as set up" >&2
      cat "$work/refused.txt" >&2
      exit 1
    fi
  done
done

# --- settle and prewarm -----------------------------------------------------------------------
for port in "$port_a" "$port_o0" "$port_o10k"; do
  sql "$port" bench -c "VACUUM (ANALYZE)"
  sql "$port" bench -At -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" \
      -c "SELECT pg_prewarm(c) FROM unnest(ARRAY['registry.residents_w', 'registry.residents_w_pkey']) c" >/dev/null
  sql "$port" postgres -c "CHECKPOINT"
done

# --- measurement helpers (as connect.sh's) ------------------------------------------------------
hz=$(getconf CLK_TCK)
# Other work on the machine: its busy CPU time (/proc/stat: user, nice, system, steal) during a run,
# less what the run took: the server (the postmaster and its reaped backends), the audit worker and
# the client (pgbench, reaped by this shell).
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $9 }' /proc/stat; }
children_ticks() { awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$$/stat"; }
now() { date +%s.%N; }
wait_for_quiet() {	# up to quiet_wait seconds, until others take less than 10% of a CPU
  local deadline=$((SECONDS + quiet_wait)) b0 b1
  while :; do
    b0=$(busy_ticks); sleep 0.5; b1=$(busy_ticks)
    [ $(( (b1 - b0) * 100 / hz * 2 )) -lt 10 ] && return 0
    [ "$SECONDS" -lt "$deadline" ] || return 0
  done
}
# the postmaster's own CPU time and its reaped backends' (ticks); and its reaped backends' alone
server_cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$(head -1 "$1/postmaster.pid")/stat"; }
reaped_ticks() { awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$(head -1 "$1/postmaster.pid")/stat"; }
worker_pid() { pgrep -P "$(head -1 "$1/postmaster.pid")" -f 'olink audit worker' | head -1; }
# a process's CPU time in microseconds: schedstat (nanoseconds) where the kernel has it, else ticks
proc_cpu_us() {
  if [ -n "$1" ] && [ -r "/proc/$1/schedstat" ]; then
    awk '{ printf "%.0f\n", $1 / 1000 }' "/proc/$1/schedstat"
  elif [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then
    awk -v hz="$hz" '{ sub(/^.*\) /, ""); printf "%.0f\n", ($12 + $13) * 1e6 / hz }' "/proc/$1/stat"
  else
    echo 0
  fi
}

# --- workloads --------------------------------------------------------------------------------
names=(A_upd B0_owner B0_cp C10k_owner C10k_cp A_control)
declare -A wdir wport wuser wopts wolink
for w in "${names[@]}"; do
  case $w in
    A_*) wdir[$w]=$work/A; wport[$w]=$port_a; wolink[$w]=0 ;;
    B0_*) wdir[$w]=$work/O0; wport[$w]=$port_o0; wolink[$w]=1 ;;
    C10k_*) wdir[$w]=$work/O10k; wport[$w]=$port_o10k; wolink[$w]=1 ;;
  esac
  case $w in
    *_cp) wuser[$w]=bench_cpw; wopts[$w]=$cp_opts ;;
    *) wuser[$w]=bench_owner; wopts[$w]="" ;;
  esac
done
declare -A tps failed other cpu wcpu
for w in "${names[@]}"; do tps[$w]=""; failed[$w]=0; other[$w]=""; cpu[$w]=""; wcpu[$w]=""; done

store_upkeep() {	# PORT: olink's store as autovacuum would keep it (vacuumed and analyzed)
  sql "$1" bench -c "VACUUM (ANALYZE) olink.journal, olink.audit_seal, olink.access_event,
                                      olink.connection_event, olink.audit_text" >/dev/null
}
# run_one WORKLOAD SECONDS LOG: sets last_tps, last_other (% of a CPU), last_cpu (the backend's CPU
# per transaction, us) and last_wcpu (the audit worker's, us)
last_tps=0; last_other=0; last_cpu=0; last_wcpu=0
run_one() {
  local w=$1 secs=$2 log=$3 rc=0 t f n t0 s0 s1 c0 c1 b0 b1 k0 k1 wm wp="" wc0=0 wc1=0
  sql "${wport[$w]}" bench -c "VACUUM registry.residents_w"
  # olink's store on both olink clusters, not only this run's: with statistics of a smaller journal
  # an idle audit worker rescans the journal at every wake (~15% of a CPU with 200,000 rows), on
  # the servers' CPU -- the other cluster's worker would take that from this run
  store_upkeep "$port_o0"
  store_upkeep "$port_o10k"
  wait_for_quiet
  if [ "${wolink[$w]}" = 1 ]; then wp=$(worker_pid "${wdir[$w]}"); wc0=$(proc_cpu_us "$wp"); fi
  k0=$(children_ticks); b0=$(busy_ticks); t0=$(now)
  s0=$(server_cpu_ticks "${wdir[$w]}"); c0=$(reaped_ticks "${wdir[$w]}")
  "${runas[@]}" env PGOPTIONS="${wopts[$w]}" "${client_cpu[@]}" "$bindir/pgbench" -n -M prepared -c 1 -j 1 \
      -T "$secs" -D upd_max="$half" -f "$work/update.sql" -h "$work" -p "${wport[$w]}" -U "${wuser[$w]}" bench \
      >"$log" 2>&1 || rc=$?
  sleep 0.2   # the postmaster reaps the backend
  s1=$(server_cpu_ticks "${wdir[$w]}"); c1=$(reaped_ticks "${wdir[$w]}"); b1=$(busy_ticks); k1=$(children_ticks)
  wm=$wc0
  [ -z "$wp" ] || wm=$(proc_cpu_us "$wp")
  last_other=$(awk -v b="$(( b1 - b0 ))" -v c="$(( s1 - s0 ))" -v k="$(( k1 - k0 ))" -v wk="$(( wm - wc0 ))" \
      -v hz="$hz" -v wall="$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')" \
    'BEGIN { o = (b - c - k) / hz - wk / 1e6; printf "%.0f\n", (o > 0 ? 100 * o / wall : 0) }')
  if [ "${wolink[$w]}" = 1 ]; then
    sql "${wport[$w]}" bench -c "SELECT olink.flush_audit('120 s')" >/dev/null
    wc1=$(proc_cpu_us "$wp")
  fi
  n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")
  last_cpu=$(awk -v c="$(( c1 - c0 ))" -v n="${n:-0}" -v hz="$hz" 'BEGIN { printf "%.2f\n", (n > 0 ? 1e6 * c / hz / n : 0) }')
  last_wcpu=$(awk -v c="$(( wc1 - wc0 ))" -v n="${n:-0}" 'BEGIN { printf "%.2f\n", (n > 0 && c > 0 ? c / n : 0) }')
  t=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$log")
  f=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$log")
  if [ "$rc" -ne 0 ] || [ -z "$t" ] || [ "${f:-0}" -ne 0 ] || grep -q 'aborted' "$log"; then
    failed[$w]=$(( ${failed[$w]} + ${f:-0} + 1 ))
    echo "   $w: pgbench reported errors (exit $rc):" >&2
    grep -iE 'error|abort|fail|fatal' "$log" | head -5 >&2
  fi
  last_tps=${t:-0}
}

say "warm-up: each workload once, $warmup s"
for w in "${names[@]}"; do
  run_one "$w" "$warmup" "$work/warmup-$w.log"
  printf '   %-11s %8.0f tps  %6s us CPU/tx  %5s us worker/tx  (other load %s%%)\n' \
    "$w" "$last_tps" "$last_cpu" "$last_wcpu" "$last_other"
done

say "measure: $rounds rounds x $seconds s per workload, interleaved"
for ((r = 0; r < rounds; r++)); do
  line="   round $((r + 1)):"
  for ((i = 0; i < ${#names[@]}; i++)); do
    w=${names[$(( (i + r) % ${#names[@]} ))]}
    run_one "$w" "$seconds" "$work/round$r-$w.log"
    tps[$w]="${tps[$w]} $last_tps"
    other[$w]="${other[$w]} $last_other"
    cpu[$w]="${cpu[$w]} $last_cpu"
    wcpu[$w]="${wcpu[$w]} $last_wcpu"
    line="$line $w $(printf '%.0f' "$last_tps")"
  done
  echo "$line"
done
h10k_after=$(sql "$port_o10k" bench -At -c "$held_sql")
[ "$h10k_after" = "$h10k" ] || { echo "bench-checkout: the check-outs changed during the runs ($h10k_after)" >&2; exit 1; }

# --- instructions per UPDATE (callgrind, single-user mode) --------------------------------------
declare -A ins
ins_failed=0
inames=(A_owner B0_owner B0_cp C10k_owner C10k_cp)
if [ "$instr" = 1 ]; then
  say "instructions per UPDATE: callgrind, postgres --single, 2,500 less 500 statements"
  for x in A O0 O10k; do stop_cluster "$work/$x"; done
  # statements LOGIN COUNT: the input; with -j a statement ends at a semicolon and an empty line, so
  # that each EXECUTE is a transaction of its own
  statements() {
    printf 'SET SESSION AUTHORIZATION %s;\n\n' "$1"
    [ "$1" = bench_owner ] || printf "SET olink.purpose = 'bench';\n\n"
    printf 'PREPARE q(bigint, int) AS UPDATE registry.residents_w SET given_name = %s || $2 WHERE resident_id = $1;\n\n' "'n'"
    for ((i = 1; i <= $2; i++)); do printf 'EXECUTE q(%d, %d);\n\n' $(( (i * 7919) % half + 1 )) $(( 100000 + i )); done
    printf "SELECT 'bench-' || 'done' AS marker;\n\n"
  }
  count() {	# DIR LOGIN COUNT -> instructions
    statements "$2" "$3" >"$work/in.sql"
    chmod 644 "$work/in.sql"
    (cd / && "${runas[@]}" valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
        "$bindir/postgres" --single -D "$1" -j -c synchronous_commit=off bench <"$work/in.sql" >"$work/single.log" 2>&1)
    # every statement ran (the marker is printed), none failed, the backend did not crash
    if grep -qE "ERROR|FATAL|PANIC" "$work/single.log" || ! grep -q 'marker = "bench-done"' "$work/single.log"; then
      echo "bench-checkout: the single-user run on $1 as $2 failed:" >&2
      grep -E "ERROR|FATAL|PANIC|Segmentation|signal" "$work/single.log" | head -3 >&2
      tail -3 "$work/single.log" >&2
      return 1
    fi
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/single.log" | tail -1
  }
  for w in "${inames[@]}"; do
    case $w in A_*) d=$work/A ;; B0_*) d=$work/O0 ;; C10k_*) d=$work/O10k ;; esac
    case $w in *_cp) u=bench_cpw ;; *) u=bench_owner ;; esac
    if a=$(count "$d" "$u" 500) && b=$(count "$d" "$u" 2500); then
      ins[$w]=$(( (b - a) / 2000 ))
      echo "   $w: ${ins[$w]} instructions per UPDATE"
    else
      ins[$w]=failed
      ins_failed=1
    fi
  done
fi

# --- report -----------------------------------------------------------------------------------
stamp=$(date -u +%Y%m%dT%H%M%SZ)
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$top" diff --quiet HEAD -- extension 2>/dev/null || commit="$commit+dirty"
mkdir -p "$here/out"
out="$here/out/checkout-$stamp.txt"

median() { tr ' ' '\n' | awk 'NF { a[++n] = $1 } END {
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  if (n == 0) print 0; else if (n % 2) print a[(n + 1) / 2]; else print (a[n / 2] + a[n / 2 + 1]) / 2 }'; }
# paired LIST BASELIST: the per-round ratios
paired() { awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x, " "); split(b, y, " ")
  for (i = 1; i <= n; i++) printf "%s%.4f", (i > 1 ? " " : ""), (y[i] > 0 ? x[i] / y[i] : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
verdict() { awk -v x="$1" 'BEGIN { print (x + 0 >= 0.95) ? "met" : "NOT met" }'; }

busy=0
{
  printf '%-13s %8s %7s %7s %8s %7s %8s %6s %6s  %s\n' workload "med. tps" ratio paired "us CPU" worker \
         "+us/tx" other failed "tps by round"
  for w in "${names[@]}"; do
    m=$(median <<<"${tps[$w]}")
    mb=$(median <<<"${tps[A_upd]}")
    pr=$(median <<<"$(paired "${tps[$w]# }" "${tps[A_upd]# }")")
    mc=$(median <<<"${cpu[$w]}")
    mw=$(median <<<"${wcpu[$w]}")
    omax=$(tr ' ' '\n' <<<"${other[$w]}" | awk 'NF && $1 + 0 > m { m = $1 + 0 } END { print m + 0 }')
    [ "$omax" -le "$busy" ] || busy=$omax
    awk -v w="$w" -v m="$m" -v mb="$mb" -v pr="$pr" -v mc="$mc" -v mw="$mw" -v o="$omax" -v f="${failed[$w]}" \
        -v olink="${wolink[$w]}" -v list="$(awk '{ for (i = 1; i <= NF; i++) printf "%s%.0f", (i > 1 ? " " : ""), $i }' <<<"${tps[$w]}")" \
      'BEGIN { printf "  %-11s %8.0f %7.3f %7.3f %8.1f %7s %8s %5s%% %6d  %s\n", w, m, (mb > 0 ? m / mb : 0), pr, mc,
               (olink ? sprintf("%.1f", mw) : "-"), (w == "A_upd" ? "-" : sprintf("%+.1f", (m > 0 && mb > 0 ? 1e6 / m - 1e6 / mb : 0))),
               o, f, list }'
  done
} >"$work/table.txt"

# the ratios of interest: b/a, c/a, c/b for each role (rates: median / median, and paired)
{
  printf '%-26s %7s %7s %8s  %-8s %s\n' ratio tps paired "CPU r." goal verdict
  for role in owner cp; do
    for pair in "B0_$role A_upd b/a" "C10k_$role A_upd c/a" "C10k_$role B0_$role c/b"; do
      set -- $pair
      m=$(median <<<"${tps[$1]}"); mb=$(median <<<"${tps[$2]}")
      pr=$(median <<<"$(paired "${tps[$1]# }" "${tps[$2]# }")")
      # CPU ratio: the baseline's backend (+ worker) CPU per transaction / this one's
      cr=$(awk -v c="$(median <<<"${cpu[$1]}")" -v w="$(median <<<"${wcpu[$1]}")" -v cb="$(median <<<"${cpu[$2]}")" \
               -v wb="$(median <<<"${wcpu[$2]}")" -v base="$2" \
             'BEGIN { if (base == "A_upd") wb = 0; printf "%.3f", (c + w > 0 ? (cb + wb) / (c + w) : 0) }')
      r=$(ratio "$m" "$mb")
      if [ "$3" = c/b ]; then g=">= 0.95"; v=$(verdict "$r"); else g="-"; v="-"; fi
      printf '  %-24s %7s %7.3f %8s  %-8s %s\n' "$3 $1/$2" "$r" "$pr" "$cr" "$g" "$v"
    done
  done
  printf '  %-24s %7s %7.3f\n' "noise A_control/A_upd" "$(ratio "$(median <<<"${tps[A_control]}")" "$(median <<<"${tps[A_upd]}")")" \
    "$(median <<<"$(paired "${tps[A_control]# }" "${tps[A_upd]# }")")"
} >"$work/ratios.txt"

{
  echo "olink check-out bench — single-row UPDATE, pgbench -M prepared, 1 client, $rounds rounds x $seconds s per workload;" \
       "commit $commit; $stamp"
  echo "registry.residents_w: $residents rows, updated ids 1..$half; O10k: $checkouts check-outs held by bench_clerk," \
       "ids $co_lo..$co_hi (olink.max_checkouts $max_checkouts); synchronous_commit = off, fsync = off;" \
       "servers $([ ${#server_cpu[@]} -gt 0 ] && echo "on CPU 1, pgbench on CPU 0" || echo "not pinned")"
  echo "A: no olink; B0: olink, no check-out; C10k: olink, $checkouts check-outs on other records of the table;" \
       "owner = bench_owner (internal, journaled), cp = bench_cpw (counterpart: enforced, journaled, audited)"
  echo
  cat "$work/table.txt"
  echo
  cat "$work/ratios.txt"
  if [ "$instr" = 1 ]; then
    echo
    echo "instructions per UPDATE (callgrind, postgres --single: enforced and journaled, not audited)"
    printf '  %-11s %12s %8s %8s\n' workload instructions "to A" "c - b"
    for w in "${inames[@]}"; do
      b=${w/C10k_/B0_}
      if [ "${ins[$w]}" = failed ] || [ "${ins[A_owner]}" = failed ]; then
        printf '  %-11s %12s\n' "$w" "${ins[$w]}"
        continue
      fi
      d=""
      [ "$b" = "$w" ] || [ "${ins[$b]}" = failed ] ||
        d=$(awk -v c="${ins[$w]}" -v b="${ins[$b]}" 'BEGIN { printf "%+d (c/b %.4f)", c - b, (c > 0 ? b / c : 0) }')
      printf '  %-11s %12s %8s %s\n' "$w" "${ins[$w]}" "$(ratio "${ins[A_owner]}" "${ins[$w]}")" "$d"
    done
  fi
  [ "$busy" -lt 10 ] || echo "WARNING: other work used up to $busy% of a CPU during some runs; the ratios are not trustworthy"
  cat <<'LEGEND'

med. tps = median over the rounds (pgbench "tps ... without initial connection time")
ratio  = median / A_upd's median;  paired = median over the rounds of the same-round ratio
us CPU = the backend's CPU per transaction (reaped by the postmaster; clock ticks);  worker = the
         audit worker's per transaction (journal sealing, the counterpart's audit events)
+us/tx = 1e6 / median - 1e6 / A_upd's median: the wall time added per UPDATE
CPU r. = the baseline's (backend + worker) CPU per transaction / this one's (A has no worker)
c/b    = C10k / B0 for the same role: the lock check's own cost with the check-outs in force, on
         top of enforcement and audit (goal >= 0.95)
LEGEND
} >"$work/report.txt"

{
  echo "# olink check-out bench"
  echo "timestamp=$stamp"
  echo "commit=$commit"
  echo "postgres=$("$bindir/postgres" --version | sed -n 's/^postgres (PostgreSQL) \([^ ]*\).*/\1/p')"
  echo "rounds=$rounds"
  echo "seconds=$seconds"
  echo "checkouts=$checkouts"
  echo
  cat "$work/report.txt"
  echo
  echo "# raw: workload, tps by round, backend CPU us/tx by round, worker us/tx by round, other load by round"
  for w in "${names[@]}"; do
    printf '%s\t%s\t%s\t%s\t%s\n' "$w" "${tps[$w]# }" "${cpu[$w]# }" "${wcpu[$w]# }" "${other[$w]# }"
  done
} >"$out"

echo
cat "$work/report.txt"
echo "results: ${out#"$top"/}"

status=0
if [ "$ins_failed" = 1 ]; then
  echo "bench-checkout: a single-user run under callgrind failed (see above); its count is not a measurement" >&2
  status=1
fi
for w in "${names[@]}"; do
  if [ "${failed[$w]}" -ne 0 ]; then
    echo "bench-checkout: $w measured errors; its figure is not a measurement" >&2
    status=1
  fi
done
exit $status
