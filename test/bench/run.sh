#!/usr/bin/env bash
# olink benchmark: what enforcement costs a point read, against a cluster without olink.
#
#   make bench                                     5 rounds x 10 s per workload (~6 minutes)
#   BENCH_ROUNDS=1 BENCH_SECONDS=3 make bench      quick check that everything works
#
# A script, not a test: it prints figures and the budgets of /work/shared/DESIGN.md beside them, and
# never fails on a ratio.  It fails only when the set-up fails or a workload measured errors.
#
# Two throw-away clusters, same settings, in a temporary directory (unix sockets only):
#   A  no olink at all                           database bench
#   B  shared_preload_libraries = 'olink'        databases bench10 and bench10k, copies of one load,
#                                                each with CREATE EXTENSION olink and a registry of
#                                                10 and of 10,000 active grants (setup-olink.sql)
# Data: demo/data.sql, the demo's synthetic registry (its largest table, registry.residents),
# plus twenty small protected tables (extra-tables.sql) that the other grants are spread over.
# Tables are owned by bench_owner, a non-superuser login role, on both clusters.
#
# Workloads: point-read.sql (a random resident by primary key, four columns), pgbench -M prepared,
# one client, one thread:
#   A_owner     A, bench_owner                   the baseline
#   B_internal  B bench10k, bench_owner          an internal session: olink preloaded and installed,
#                                                the table protected (row security on), 10k grants
#   B_cp10      B bench10, bench_cp              a counterpart: grant with column list and row
#                                                filter, purpose bench, 10 grants in the registry
#   B_cp10k     B bench10k, bench_cp             the same with 10,000 grants (20 of them its own)
#   A_control   A, bench_owner                   A_owner again: its ratio, 1 but for noise, shows how
#                                                much of any ratio a run can resolve
# Before the rounds, psql checks that the counterpart reads rows, sees no Mihama row and is refused
# a column outside its grant: a bench that measured errors or an unenforced session would be void.
# Each workload is warmed up once, then the rounds interleave the workloads (the order rotates each
# round, so none always runs first); the figure is the median of the rounds' "tps (without initial
# connection time)".  Beside it: the median of per-round ratios, the backend's CPU time per
# transaction (the server's cost without the client and the round trip), and how much CPU other
# work on the machine took during the runs (each run first waits up to BENCH_QUIET_WAIT seconds for
# a quiet machine).  Results also go to test/bench/out/results-<timestamp>.txt.
#
# Settings (environment):
#   BENCH_ROUNDS (5)  BENCH_SECONDS (10)  BENCH_WARMUP (5, or BENCH_SECONDS if shorter)
#   BENCH_RESIDENTS (100000)  BENCH_GRANTS (10000)  BENCH_PEERS (1000)
#   BENCH_PIN (1: postmasters on CPU 1, pgbench on CPU 0)  BENCH_PROTOCOL (prepared; or simple, extended)
#   BENCH_QUIET_WAIT (10)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
here="$top/test/bench"
rounds=${BENCH_ROUNDS:-5}
seconds=${BENCH_SECONDS:-10}
warmup=${BENCH_WARMUP:-$(( seconds < 5 ? seconds : 5 ))}
residents=${BENCH_RESIDENTS:-100000}
grants_big=${BENCH_GRANTS:-10000}
peers_big=${BENCH_PEERS:-1000}
pin=${BENCH_PIN:-1}
protocol=${BENCH_PROTOCOL:-prepared}
case $protocol in simple | extended | prepared) ;; *)
  echo "bench: BENCH_PROTOCOL must be simple, extended or prepared" >&2; exit 2 ;;
esac
for v in rounds seconds warmup residents grants_big peers_big; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench: $v must be a positive integer, not '${!v}'" >&2; exit 2; }
done
[ "$grants_big" -gt 20 ] || { echo "bench: BENCH_GRANTS must be more than 20" >&2; exit 2; }

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

# --- build and install ------------------------------------------------------------------------
say "build and install olink"
make -C "$top" -s >/dev/null
make -C "$top" -s install >/dev/null

# --- clusters ---------------------------------------------------------------------------------
work=$(mktemp -d /tmp/olink-bench.XXXXXX)
started=()
cleanup() {
  local d
  for d in "${started[@]}"; do
    "${runas[@]}" "$bindir/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# the sources, readable by the postgres user
cp "$top/demo/data.sql" "$work/data.sql"
data_source="demo/data.sql"
cp "$here/extra-tables.sql" "$here/setup-olink.sql" "$here/point-read.sql" "$work/"
[ "$(id -u)" -ne 0 ] || chown -R postgres "$work"

port_a=$(( 40000 + RANDOM % 10000 ))
port_b=$(( port_a + 1 ))

# init_cluster DIR PORT EXTRA-CONF
init_cluster() {
  local dir=$1 port=$2 extra=$3
  "${runas[@]}" "$bindir/initdb" -D "$dir" -A trust -U postgres -E UTF8 --locale=C --no-sync >/dev/null
  cat >> "$dir/postgresql.conf" <<CONF

# olink bench
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
max_connections = 20
shared_buffers = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
autovacuum = off
$extra
CONF
  started+=("$dir")
  "${runas[@]}" "${server_cpu[@]}" "$bindir/pg_ctl" -D "$dir" -l "$dir.log" -w start >/dev/null
}

# sql PORT DB [psql args...]: runs psql as the superuser, quietly, stopping at the first error
sql() {
  local port=$1 db=$2
  shift 2
  "${runas[@]}" "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d "$db" "$@"
}

say "clusters in $work: A (port $port_a, no olink), B (port $port_b, olink preloaded)"
init_cluster "$work/A" "$port_a" ""
init_cluster "$work/B" "$port_b" "shared_preload_libraries = 'olink'"

# load PORT DB: the data, owned by bench_owner
load() {
  local port=$1 db=$2
  sql "$port" postgres -c "CREATE DATABASE $db"
  sql "$port" "$db" -v residents="$residents" -f "$work/data.sql" >"$work/load-$db.log" 2>&1 || {
    echo "bench: loading $data_source into $db failed:" >&2; tail -20 "$work/load-$db.log" >&2; exit 1; }
  sql "$port" "$db" -f "$work/extra-tables.sql" >>"$work/load-$db.log" 2>&1
  sql "$port" "$db" -At <<'SQL' >/dev/null
SELECT format('ALTER SCHEMA %I OWNER TO bench_owner', n) FROM unnest(ARRAY['registry', 'benchx']) n
\gexec
SELECT format('ALTER TABLE %s OWNER TO bench_owner', c.oid::regclass)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('registry', 'benchx') AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
\gexec
VACUUM (ANALYZE);
SQL
}

say "load data ($data_source, residents=$residents)"
for port in "$port_a" "$port_b"; do
  sql "$port" postgres -c "CREATE ROLE bench_owner LOGIN"
done
sql "$port_b" postgres -c "CREATE ROLE bench_cp LOGIN"
load "$port_a" bench
load "$port_b" bench10
sql "$port_b" postgres -c "CREATE DATABASE bench10k TEMPLATE bench10"

n=$(sql "$port_a" bench -At -c "SELECT count(*) FROM registry.residents WHERE resident_id BETWEEN 1 AND $residents")
if [ "$n" -ne "$residents" ]; then
  echo "bench: registry.residents holds $n of the ids 1..$residents; point reads would miss" >&2
  exit 1
fi

# --- olink registries -------------------------------------------------------------------------
say "olink registry: 10 grants in bench10"
sql "$port_b" bench10 -v grants=10 -v peers=3 -v own_grants=1 -f "$work/setup-olink.sql" >"$work/setup10.log" 2>&1 || {
  echo "bench: olink set-up failed:" >&2; tail -20 "$work/setup10.log" >&2; exit 1; }
t0=$SECONDS
say "olink registry: $grants_big grants in bench10k ($peers_big other counterparts; takes a while)"
sql "$port_b" bench10k -v grants="$grants_big" -v peers="$peers_big" -v own_grants=20 \
    -f "$work/setup-olink.sql" >"$work/setup10k.log" 2>&1 || {
  echo "bench: olink set-up failed:" >&2; tail -20 "$work/setup10k.log" >&2; exit 1; }
say "  ... done in $((SECONDS - t0)) s"
g10=$(sql "$port_b" bench10 -At -c "SELECT count(*) FROM olink.access_grant WHERE revoked_at IS NULL")
g10k=$(sql "$port_b" bench10k -At -c "SELECT count(*) FROM olink.access_grant WHERE revoked_at IS NULL")
own10k=$(sql "$port_b" bench10k -At -c "SELECT count(*) FROM olink.grants WHERE counterpart = 'bench' AND active")
say "  active grants: bench10 $g10, bench10k $g10k (counterpart bench: $own10k)"
# what the registry adds to the ACLs PostgreSQL itself checks on every counterpart statement
acl_sql="SELECT format('residents_column_acl=%s,grant_live_proacl=%s,registry_nspacl=%s',
    (SELECT max(cardinality(attacl)) FROM pg_attribute WHERE attrelid = 'registry.residents'::regclass),
    (SELECT cardinality(proacl) FROM pg_proc WHERE oid = 'olink._grant_live(bigint)'::regprocedure),
    (SELECT cardinality(nspacl) FROM pg_namespace WHERE nspname = 'registry'))"
acl10=$(sql "$port_b" bench10 -At -c "$acl_sql")
acl10k=$(sql "$port_b" bench10k -At -c "$acl_sql")
say "  native ACL entries: bench10 $acl10; bench10k $acl10k"
for db in bench10 bench10k; do
  sql "$port_b" "$db" -c "VACUUM (ANALYZE)" -c "CHECKPOINT"
done
sql "$port_a" bench -c "CHECKPOINT"

# --- is the counterpart really reading, and really limited? -----------------------------------
# as_user PORT DB USER PGOPTIONS [psql args...]
as_user() {
  local port=$1 db=$2 user=$3 opts=$4
  shift 4
  "${runas[@]}" env PGOPTIONS="$opts" "$bindir/psql" -X -q -At -h "$work" -p "$port" -U "$user" -d "$db" "$@"
}
cp_opts="-c olink.purpose=bench"
expected=$(sql "$port_a" bench -At -c \
  "SELECT count(*) FROM registry.residents WHERE resident_id <= 1000 AND district <> 'Mihama'")
mihama_id=$(sql "$port_a" bench -At -c \
  "SELECT min(resident_id) FROM registry.residents WHERE district = 'Mihama'")
visible_id=$(sql "$port_a" bench -At -c \
  "SELECT min(resident_id) FROM registry.residents WHERE district <> 'Mihama'")
say "counterpart checks (bench_cp, purpose bench)"
for db in bench10 bench10k; do
  status=$(as_user "$port_b" "$db" bench_cp "$cp_opts" -c \
    "SELECT counterpart || ',' || purpose || ',' || enforced FROM olink.session_status()")
  got=$(as_user "$port_b" "$db" bench_cp "$cp_opts" -c \
    "SELECT count(*) FROM registry.residents WHERE resident_id <= 1000")
  one=$(as_user "$port_b" "$db" bench_cp "$cp_opts" -c \
    "SELECT count(*) FROM (SELECT resident_id, family_name, given_name, district FROM registry.residents WHERE resident_id = $visible_id) s")
  hidden=$(as_user "$port_b" "$db" bench_cp "$cp_opts" -c \
    "SELECT count(*) FROM (SELECT resident_id, family_name, given_name, district FROM registry.residents WHERE resident_id = $mihama_id) s")
  if as_user "$port_b" "$db" bench_cp "$cp_opts" -c \
       "SELECT phone FROM registry.residents WHERE resident_id = $visible_id" >/dev/null 2>"$work/denied.txt"; then
    denied="no"
  else
    denied="yes"
  fi
  echo "   $db: session_status=$status; rows 1..1000 seen $got (expected $expected, Mihama hidden);" \
       "resident $visible_id -> $one row, Mihama resident $mihama_id -> $hidden rows; phone denied: $denied" \
       "($(head -1 "$work/denied.txt"))"
  if [ "$status" != "bench,bench,true" ] || [ "$got" != "$expected" ] || [ "$one" != 1 ] ||
     [ "$hidden" != 0 ] || [ "$denied" != yes ]; then
    echo "bench: the counterpart is not enforced as set up; measuring it would mean nothing" >&2
    cat "$work/denied.txt" >&2
    exit 1
  fi
done

# --- prewarm ----------------------------------------------------------------------------------
for target in "$port_a bench" "$port_b bench10" "$port_b bench10k"; do
  set -- $target
  sql "$1" "$2" -At -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" \
      -c "SELECT pg_prewarm('registry.residents'), pg_prewarm('registry.residents_pkey')" >/dev/null 2>&1 ||
    sql "$1" "$2" -At -c "SELECT count(*) FROM registry.residents" >/dev/null
done

# --- workloads --------------------------------------------------------------------------------
names=(A_owner B_internal B_cp10 B_cp10k A_control)
declare -A wport wdb wuser wopts wdir goal
# A_control is A_owner once more: its ratio to A_owner, 1 but for noise, shows what a ratio can resolve
wport=([A_owner]=$port_a [B_internal]=$port_b [B_cp10]=$port_b [B_cp10k]=$port_b [A_control]=$port_a)
wdb=([A_owner]=bench [B_internal]=bench10k [B_cp10]=bench10 [B_cp10k]=bench10k [A_control]=bench)
wuser=([A_owner]=bench_owner [B_internal]=bench_owner [B_cp10]=bench_cp [B_cp10k]=bench_cp
       [A_control]=bench_owner)
wopts=([A_owner]="" [B_internal]="" [B_cp10]="$cp_opts" [B_cp10k]="$cp_opts" [A_control]="")
wdir=([A_owner]=$work/A [B_internal]=$work/B [B_cp10]=$work/B [B_cp10k]=$work/B [A_control]=$work/A)
goal=([A_owner]="" [B_internal]=0.98 [B_cp10]=0.97 [B_cp10k]=0.97 [A_control]="")
declare -A tps failed other cpu
for w in "${names[@]}"; do tps[$w]=""; failed[$w]=0; other[$w]=""; cpu[$w]=""; done

# Other work on the machine (a test suite, a build) takes CPU from the workloads and makes a ratio
# mean nothing.  Each run waits (a little) for a quiet machine first, and is followed by a measure
# of the CPU time that processes other than this bench's took meanwhile: every process's own and
# reaped children's time from /proc, less this script and our two clusters.
hz=$(getconf CLK_TCK)
quiet_wait=${BENCH_QUIET_WAIT:-10}
[[ $quiet_wait =~ ^[0-9]+$ ]] || { echo "bench: BENCH_QUIET_WAIT must be a number of seconds" >&2; exit 2; }
# cpu_sample FILE: "pid ticks" of every process that is not the bench's
cpu_sample() {
  local pms=" " d
  for d in "${started[@]}"; do pms="$pms$(head -1 "$d/postmaster.pid") "; done
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v self="$$" -v pms="$pms" '
    { pid = $1; sub(/^.*\) /, ""); ppid = $2
      if (pid == self || index(pms, " " pid " ") || index(pms, " " ppid " ")) next
      print pid, $12 + $13 + $14 + $15 }' >"$1"
}
# other_load BEFORE AFTER SECONDS: the CPU others took, in % of one CPU
other_load() {
  awk -v hz="$hz" -v wall="$3" 'NR == FNR { b[$1] = $2; next }
    { d = ($1 in b) ? $2 - b[$1] : $2; if (d > 0) s += d }
    END { printf "%.0f\n", 100 * s / hz / wall }' "$1" "$2"
}
now() { date +%s.%N; }
wait_for_quiet() {
  local deadline=$((SECONDS + quiet_wait))
  while :; do
    cpu_sample "$work/quiet0"; sleep 0.5; cpu_sample "$work/quiet1"
    [ "$(other_load "$work/quiet0" "$work/quiet1" 0.5)" -lt 10 ] && return 0
    [ "$SECONDS" -lt "$deadline" ] || return 0
  done
}

# CPU time (ticks) of the backends a cluster's postmaster has reaped
reaped_cpu() { awk '{ print $16 + $17 }' "/proc/$(head -1 "$1/postmaster.pid")/stat"; }

# run_one WORKLOAD SECONDS LOG: sets last_tps, last_other (the other load, % of one CPU) and
# last_cpu (the backend's CPU time per transaction, microseconds: what the server spends, without
# the client and the round trip); counts failed transactions and aborted clients
last_tps=0
last_other=0
last_cpu=0
run_one() {
  local w=$1 secs=$2 log=$3 rc=0 t f n t0 c0
  wait_for_quiet
  cpu_sample "$work/cpu0"; t0=$(now); c0=$(reaped_cpu "${wdir[$w]}")
  "${runas[@]}" env PGOPTIONS="${wopts[$w]}" "${client_cpu[@]}" "$bindir/pgbench" -n -M "$protocol" \
      -c 1 -j 1 -T "$secs" -D residents="$residents" -f "$work/point-read.sql" \
      -h "$work" -p "${wport[$w]}" -U "${wuser[$w]}" "${wdb[$w]}" >"$log" 2>&1 || rc=$?
  sleep 0.2   # the postmaster reaps the backend
  cpu_sample "$work/cpu1"
  n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")
  last_cpu=$(awk -v c="$(( $(reaped_cpu "${wdir[$w]}") - c0 ))" -v n="${n:-0}" -v hz="$hz" \
    'BEGIN { printf "%.2f\n", (n > 0 ? 1e6 * c / hz / n : 0) }')
  last_other=$(other_load "$work/cpu0" "$work/cpu1" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')")
  t=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$log")
  f=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$log")
  if [ "$rc" -ne 0 ] || [ -z "$t" ] || [ "${f:-0}" -ne 0 ] || grep -q 'aborted' "$log"; then
    failed[$w]=$(( ${failed[$w]} + ${f:-0} + 1 ))
    echo "   $w: pgbench reported errors (exit $rc):" >&2
    grep -iE 'error|abort|fail' "$log" | head -5 >&2
  fi
  last_tps=${t:-0}
}

say "warm-up: each workload once, $warmup s"
for w in "${names[@]}"; do
  run_one "$w" "$warmup" "$work/warmup-$w.log"
  printf '   %-11s %10.0f tps  %6s us CPU/tx  (other load %s%% of a CPU)\n' "$w" "$last_tps" "$last_cpu" "$last_other"
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
    line="$line $w $(printf '%.0f' "$last_tps") ($last_other%)"
  done
  echo "$line"
done

# --- report -----------------------------------------------------------------------------------
stamp=$(date -u +%Y%m%dT%H%M%SZ)
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$top" diff --quiet HEAD -- extension 2>/dev/null || commit="$commit+dirty"
mkdir -p "$here/out"
out="$here/out/results-$stamp.txt"

# summary NAME TPS-LIST BASE-LIST GOAL FAILED OTHER-LIST CPU-LIST BASE-CPU-LIST: one row of results
summary() {
  awk -v name="$1" -v tps="$2" -v base="$3" -v goal="$4" -v failed="$5" -v other="$6" \
      -v cpu="$7" -v bcpu="$8" '
    function median(a, n,    i, j, t) {
      for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    BEGIN {
      n = split(tps, t, " "); split(base, b, " "); split(other, o, " ")
      split(cpu, c, " "); split(bcpu, bc, " ")
      min = max = t[1]
      for (i = 1; i <= n; i++) {
        s[i] = t[i]; bs[i] = b[i]; r[i] = (b[i] > 0) ? t[i] / b[i] : 0
        if (t[i] < min) min = t[i]; if (t[i] > max) max = t[i]
        if (o[i] + 0 > omax) omax = o[i] + 0
        cs[i] = c[i]; bcs[i] = bc[i]
        list = list (i > 1 ? "," : "") t[i]; olist = olist (i > 1 ? "," : "") o[i]
        clist = clist (i > 1 ? "," : "") c[i] }
      m = median(s, n); mb = median(bs, n); pr = median(r, n)
      mc = median(cs, n); mbc = median(bcs, n)
      ratio = (mb > 0) ? m / mb : 0
      if (failed > 0) verdict = "invalid"
      else if (name == "A_owner") verdict = "baseline"
      else if (goal == "") verdict = "noise"
      else verdict = (sprintf("%.3f", ratio) + 0 >= goal + 0) ? "met" : "below"
      printf "%s\t%.1f\t%.3f\t%.3f\t%s\t%s\t%.1f%%\t%.2f\t%.3f\t%d%%\t%d\t%s\t%s\t%s\n", name, m, ratio,
             pr, (goal == "" ? "-" : goal), verdict, (m > 0 ? 100 * (max - min) / m : 0), mc,
             (mc > 0 ? mbc / mc : 0), omax, failed, list, clist, olist }'
}

{
  echo "# olink bench: point reads of registry.residents by primary key, pgbench -M $protocol, 1 client"
  echo "timestamp=$stamp"
  echo "commit=$commit"
  echo "postgres=$("$bindir/postgres" --version | sed -n 's/^postgres (PostgreSQL) \([^ ]*\).*/\1/p')"
  echo "protocol=$protocol"
  echo "data=$data_source"
  echo "residents=$residents"
  echo "rounds=$rounds"
  echo "seconds=$seconds"
  echo "warmup_seconds=$warmup"
  echo "grants_bench10=$g10"
  echo "grants_bench10k=$g10k"
  echo "native_acl_bench10=$acl10"
  echo "native_acl_bench10k=$acl10k"
  echo "pinned=$([ ${#client_cpu[@]} -gt 0 ] && echo yes || echo no)"
  printf 'workload\tmedian_tps\tratio\tpaired_ratio\tgoal\tverdict\tspread\tcpu_us_per_tx\tcpu_ratio\tother_load_max\tfailed\ttps_by_round\tcpu_us_by_round\tother_load_by_round\n'
  for w in "${names[@]}"; do
    summary "$w" "${tps[$w]}" "${tps[A_owner]}" "${goal[$w]}" "${failed[$w]}" "${other[$w]}" \
            "${cpu[$w]}" "${cpu[A_owner]}"
  done
} >"$out"

echo
echo "olink bench — $rounds rounds x $seconds s, pgbench -M $protocol, 1 client; commit $commit"
echo "data: $data_source, $residents residents; registry: $g10 grants (B_cp10), $g10k grants (B_cp10k)"
echo
awk -F'\t' '
  BEGIN { printf "%-11s %10s %6s %6s %8s %-8s %6s  %8s %6s %6s %s\n", "workload", "median tps", "ratio",
                 "paired", "goal", "verdict", "spread", "us CPU", "ratio", "other", "failed" }
  /^workload\t/ { on = 1; next }
  on { printf "%-11s %10s %6s %6s %8s %-8s %6s  %8s %6s %6s %s\n", $1, $2, $3, $4, ($5 == "-" ? "" : ">= " $5),
              $6, $7, $8, $9, $10, $11
       med[$1] = $2; if ($10 + 0 > busy) busy = $10 + 0 }
  END { if (med["B_cp10"] > 0) printf "\nB_cp10k / B_cp10 = %.3f  (goal: flat from 10 to 10,000 grants)\n", med["B_cp10k"] / med["B_cp10"]
        if (busy >= 10) printf "WARNING: other work used up to %d%% of a CPU during some runs; the ratios are not trustworthy\n", busy }' "$out"
cat <<'LEGEND'
ratio  = median tps / median tps of A_owner (the budgets of DESIGN.md apply to it)
paired = median over the rounds of (tps / tps of A_owner in the same round)
spread = (max - min) / median of the rounds
us CPU = median CPU time of the backend per transaction, microseconds (the server's cost alone,
         without the client and the round trip); its ratio = A_owner's / this one's
other  = the most CPU (% of one) that other work on the machine took during one of the workload's runs
A_control = A_owner run again: how far its ratios stray from 1.000 is how much of any ratio is noise
LEGEND
echo "results: ${out#"$top"/}"

status=0
for w in "${names[@]}"; do
  if [ "${failed[$w]}" -ne 0 ]; then
    echo "bench: $w measured errors; its figure is not a measurement" >&2
    status=1
  fi
done
exit $status
