# shellcheck shell=bash
# What the bench scripts (run.sh, connect.sh, checkout.sh, quota.sh) share: sourced by each, after
# it has set bench_name (the prefix of its messages: bench, bench-connect, bench-checkout, ...):
#
#   bench_name=bench-quota
#   . "$(dirname "$0")/lib.sh"
#
# Sets top (the tree), here (test/bench), sys_bindir and bindir (the system's PostgreSQL binaries; a
# script that installs olink into a private copy of PostgreSQL points bindir there), runas (runuser
# to postgres when run as root), server_cpu and client_cpu (taskset prefixes: with BENCH_PIN=1, the
# default, and two CPUs or more, postmasters on CPU 1 and pgbench on CPU 0), hz (clock ticks per
# second) and started (the clusters started, which cleanup stops).

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$top/test/bench"
sys_bindir=$(/usr/lib/postgresql/15/bin/pg_config --bindir)
bindir=$sys_bindir
runas=()
if [ "$(id -u)" -eq 0 ]; then runas=(runuser -u postgres --); fi
server_cpu=()
client_cpu=()
if [ "${BENCH_PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  server_cpu=(taskset -c 1)
  client_cpu=(taskset -c 0)
fi
hz=$(getconf CLK_TCK)
started=()
# cluster_bin[DIR]: the binaries of a cluster that does not run $bindir's (quota.sh's older olink)
declare -A cluster_bin=()

say() { printf '== %s\n' "$*"; }

# --- settings ---------------------------------------------------------------------------------
# require_positive VAR...: each a positive integer, or exit 2
require_positive() {
  local v
  for v; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "$bench_name: $v must be a positive integer, not '${!v}'" >&2; exit 2; }
  done
}
# require_quiet_wait: quiet_wait (BENCH_QUIET_WAIT) a number of seconds, or exit 2
require_quiet_wait() {
  [[ $quiet_wait =~ ^[0-9]+$ ]] || { echo "$bench_name: BENCH_QUIET_WAIT must be a number of seconds" >&2; exit 2; }
}
# instr_setting: instr, from BENCH_INSTRUCTIONS (1 by default when valgrind is installed, else 0);
# exit 2 when it is neither 0 nor 1, or 1 without valgrind
instr_setting() {
  if command -v valgrind >/dev/null; then instr=${BENCH_INSTRUCTIONS:-1}; else instr=${BENCH_INSTRUCTIONS:-0}; fi
  case $instr in 0 | 1) ;; *) echo "$bench_name: BENCH_INSTRUCTIONS must be 0 or 1" >&2; exit 2 ;; esac
  if [ "$instr" = 1 ] && ! command -v valgrind >/dev/null; then
    echo "$bench_name: BENCH_INSTRUCTIONS=1 needs valgrind" >&2; exit 2
  fi
}

# --- the temporary directory ------------------------------------------------------------------
# make_work TEMPLATE: work, a new temporary directory (mktemp -d TEMPLATE), removed on exit with the
# clusters in it stopped (but with BENCH_KEEP=1: then keep_note, which the script sets, is printed);
# port_a, a random port from 40000 on (the script numbers its other clusters' ports from it)
make_work() {
  work=$(mktemp -d "$1")
  port_a=$(( 40000 + RANDOM % 10000 ))
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}
cleanup() {
  local d
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    echo "$bench_name: BENCH_KEEP=1: ${keep_note:-clusters left in $work}" >&2
    return
  fi
  for d in "${started[@]}"; do
    "${runas[@]}" "$bindir/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}

# --- olink's build ----------------------------------------------------------------------------
# install_olink [PG_CONFIG]: olink built in the tree and installed where PG_CONFIG (by default the
# system's) installs
install_olink() {
  make -C "$top" -s >/dev/null
  make -C "$top" -s ${1:+"PG_CONFIG=$1"} install >/dev/null
}
# copy_pg DEST: a copy of the PostgreSQL installation under DEST.  PostgreSQL finds its library and
# share directories relative to its binaries: a cluster run by DEST$sys_bindir loads the olink
# installed into the copy, whatever another session installs into the system's directories meanwhile
copy_pg() {
  local d pkglibdir sharedir
  pkglibdir=$("$sys_bindir/pg_config" --pkglibdir)
  sharedir=$("$sys_bindir/pg_config" --sharedir)
  for d in "$(dirname "$pkglibdir")" "$sharedir"; do
    mkdir -p "$1$(dirname "$d")"
    cp -a "$d" "$1$d"
  done
  [ "$("$1$sys_bindir/pg_config" --pkglibdir)" = "$1$pkglibdir" ] ||
    { echo "$bench_name: the copy of PostgreSQL in $1 does not find its own library directory" >&2; exit 1; }
}

# --- clusters ---------------------------------------------------------------------------------
# cluster_bindir DIR: the binaries that run the cluster in DIR
cluster_bindir() { echo "${cluster_bin[$1]:-$bindir}"; }
# init_cluster DIR TITLE LISTEN SHARED_BUFFERS MAX_WAL_SIZE [SETTING]: initdb DIR (trust, UTF8, C
# locale), and the settings every cluster of a bench shares appended to its postgresql.conf, under
# "# TITLE: every cluster": listen_addresses = LISTEN, the unix socket in $work, 20 connections,
# shared_buffers, max_wal_size (unless empty), fsync, synchronous_commit, full_page_writes and
# autovacuum off, and SETTING (a line)
init_cluster() {
  (cd / && "${runas[@]}" "$bindir/initdb" -D "$1" -A trust -U postgres -E UTF8 --locale=C --no-sync >/dev/null)
  {
    printf "\n# %s: every cluster\nlisten_addresses = '%s'\nunix_socket_directories = '%s'\nmax_connections = 20\nshared_buffers = %s\n" \
      "$2" "$3" "$work" "$4"
    if [ -n "$5" ]; then printf 'max_wal_size = %s\n' "$5"; fi
    printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nautovacuum = off\n'
    if [ -n "${6:-}" ]; then printf '%s\n' "$6"; fi
  } >>"$1/postgresql.conf"
}
# conf_plain DIR PORT, conf_olink DIR PORT: a cluster's own settings, its port, and olink preloaded
# for database bench (the cluster named after DIR's last component)
conf_plain() { printf '\n# cluster %s: no extension\nport = %s\n' "${1##*/}" "$2" >> "$1/postgresql.conf"; }
conf_olink() {
  printf "\n# cluster %s: olink\nport = %s\nshared_preload_libraries = 'olink'\nolink.database = 'bench'\n" \
    "${1##*/}" "$2" >> "$1/postgresql.conf"
}
start_cluster() {	# DIR
  started+=("$1")
  (cd / && "${runas[@]}" "${server_cpu[@]}" "$(cluster_bindir "$1")/pg_ctl" -D "$1" -l "$1.log" -w start >/dev/null)
}
stop_cluster() {	# DIR
  (cd / && "${runas[@]}" "$(cluster_bindir "$1")/pg_ctl" -D "$1" -m fast -w stop >/dev/null)
}
# sql PORT DB [psql args...]: psql as the superuser over the unix socket, quietly, stopping at the
# first error
sql() {
  local port=$1 db=$2
  shift 2
  "${runas[@]}" "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d "$db" "$@"
}
# as_user PORT DB USER PGOPTIONS [psql args...]: psql as USER, unaligned and without headers
as_user() {
  local port=$1 db=$2 user=$3 opts=$4
  shift 4
  "${runas[@]}" env PGOPTIONS="$opts" "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$work" -p "$port" \
    -U "$user" -d "$db" "$@"
}
# own_data PORT: the demo's data (demo/data.sql, extra-tables.sql) in database bench handed over to
# bench_owner (schemas registry and benchx and their tables), the database vacuumed and analyzed, and
# registry.residents checked to hold the ids 1..$residents that the point reads draw from
own_data() {
  local n
  sql "$1" bench -At <<'SQL' >/dev/null
SELECT format('ALTER SCHEMA %I OWNER TO bench_owner', n) FROM unnest(ARRAY['registry', 'benchx']) n
\gexec
SELECT format('ALTER TABLE %s OWNER TO bench_owner', c.oid::regclass)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('registry', 'benchx') AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
\gexec
VACUUM (ANALYZE);
SQL
  n=$(sql "$1" bench -At -c "SELECT count(*) FROM registry.residents WHERE resident_id BETWEEN 1 AND $residents")
  [ "$n" -eq "$residents" ] ||
    { echo "$bench_name: registry.residents holds $n of the ids 1..$residents; point reads would miss" >&2; exit 1; }
}
# settle PORT RELATION...: database bench vacuumed and analyzed, the relations prewarmed, a checkpoint
settle() {
  local port=$1 rels
  shift
  rels=$(printf "'%s', " "$@")
  sql "$port" bench -c "VACUUM (ANALYZE)"
  sql "$port" bench -At -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" \
      -c "SELECT pg_prewarm(c) FROM unnest(ARRAY[${rels%, }]) c" >/dev/null
  sql "$port" postgres -c "CHECKPOINT"
}
# store_upkeep PORT [TABLES]: olink's store as autovacuum would keep it (autovacuum is off on every
# cluster, for steadier figures): vacuumed (which also summarizes its BRIN ranges) and analyzed.
# Without it the worker's sealing query is planned on the statistics of an empty store and seals in
# time that grows with the journal, and an idle audit worker with statistics of a smaller journal
# rescans it at every wake.  TABLES: a list (by default the journal, the seals, the events and the
# texts), or "all": every table of schema olink
store_upkeep() {
  if [ "${2:-}" = all ]; then
    sql "$1" bench -At <<'SQL' >/dev/null
SELECT 'VACUUM (ANALYZE) ' || string_agg(c.oid::regclass::text, ', ')
  FROM pg_class c WHERE c.relnamespace = 'olink'::regnamespace AND c.relkind = 'r'
\gexec
SQL
  else
    sql "$1" bench -c "VACUUM (ANALYZE) ${2:-olink.journal, olink.audit_seal, olink.access_event,
                                      olink.connection_event, olink.audit_text}" >/dev/null
  fi
}

# --- measurement ------------------------------------------------------------------------------
# Other work on the machine (a test suite, a build) takes CPU from the runs.  It is measured as the
# machine's busy CPU time (/proc/stat: user, nice, system, steal) during a run, less what the run
# itself took: the server (the postmaster and its reaped backends), the audit worker and the client
# (pgbench, reaped by this shell).  Summing every other process's time instead counts a child twice
# when its parent reaps it (its lifetime lands in the parent's cutime); irq and softirq time is left
# out (loopback TCP is partly processed there, for no process).
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $9 }' /proc/stat; }
# this shell's reaped children's CPU time (ticks)
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
# the audit worker of the cluster in DIR (a child of its postmaster)
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

# measure WORKLOAD LOG COMMAND...: one pgbench run (COMMAND, its output in LOG) of WORKLOAD on the
# cluster in wdir[WORKLOAD], after up to quiet_wait seconds' wait for a quiet machine.  Sets
# last_tps (pgbench's "tps = ... ($measure_tps)"), last_other (the CPU other work took, % of one),
# last_cpu (the server's CPU per transaction, us: its reaped backends', or with measure_cpu=server
# the postmaster's own with them) and last_wcpu (the audit worker's per transaction, after
# olink.flush_audit() on wport[WORKLOAD], so that what the run queued is counted with it, where
# wolink[WORKLOAD] is 1), both as measure_format; adds pgbench's failures to failed[WORKLOAD]
measure_cpu=reaped
measure_format=%.2f
measure_tps='without initial connection time'
last_tps=0; last_other=0; last_cpu=0; last_wcpu=0
measure() {
  local w=$1 log=$2 rc=0 n t0 s0 s1 c0 c1 b0 b1 k0 k1 wm wp="" wc0=0 wc1=0
  shift 2
  wait_for_quiet
  if [ "${wolink[$w]}" = 1 ]; then wp=$(worker_pid "${wdir[$w]}"); wc0=$(proc_cpu_us "$wp"); fi
  k0=$(children_ticks); b0=$(busy_ticks); t0=$(now)
  s0=$(server_cpu_ticks "${wdir[$w]}")
  if [ "$measure_cpu" = server ]; then c0=$s0; else c0=$(reaped_ticks "${wdir[$w]}"); fi
  "$@" >"$log" 2>&1 || rc=$?
  sleep 0.2   # the postmaster reaps the (last) backend
  s1=$(server_cpu_ticks "${wdir[$w]}")
  if [ "$measure_cpu" = server ]; then c1=$s1; else c1=$(reaped_ticks "${wdir[$w]}"); fi
  b1=$(busy_ticks); k1=$(children_ticks)
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
  last_cpu=$(awk -v c="$(( c1 - c0 ))" -v n="${n:-0}" -v hz="$hz" -v fmt="$measure_format" \
    'BEGIN { printf fmt "\n", (n > 0 ? 1e6 * c / hz / n : 0) }')
  last_wcpu=$(awk -v c="$(( wc1 - wc0 ))" -v n="${n:-0}" -v fmt="$measure_format" \
    'BEGIN { printf fmt "\n", (n > 0 && c > 0 ? c / n : 0) }')
  pgbench_outcome "$w" "$log" "$rc"
}
# pgbench_outcome WORKLOAD LOG RC [PATTERN]: last_tps, the rate in pgbench's LOG ("tps = ...
# ($measure_tps)"); a run that failed (exit status RC, no rate, failed transactions, aborted
# clients) is counted in failed[WORKLOAD], with the first lines of LOG that match PATTERN (by
# default error|abort|fail|fatal, without case)
pgbench_outcome() {
  local w=$1 log=$2 rc=$3 t f
  t=$(sed -n "s/^tps = \([0-9.]*\) ($measure_tps)\$/\1/p" "$log")
  f=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$log")
  if [ "$rc" -ne 0 ] || [ -z "$t" ] || [ "${f:-0}" -ne 0 ] || grep -q 'aborted' "$log"; then
    failed[$w]=$(( ${failed[$w]} + ${f:-0} + 1 ))
    echo "   $w: pgbench reported errors (exit $rc):" >&2
    grep -iE "${4:-error|abort|fail|fatal}" "$log" | head -5 >&2
  fi
  last_tps=${t:-0}
}

# --- the workloads' rounds --------------------------------------------------------------------
# init_results: for each workload of names, no figures yet in tps, other, cpu and wcpu (lists, one
# figure a round) and no failure
init_results() {
  local w
  declare -gA tps failed other cpu wcpu
  for w in "${names[@]}"; do tps[$w]=""; failed[$w]=0; other[$w]=""; cpu[$w]=""; wcpu[$w]=""; done
}
# warm_up SECONDS FORMAT: each workload of names run once (the script's run_one WORKLOAD SECONDS
# LOG), and its figures printed: FORMAT of the workload, last_tps, last_cpu, last_wcpu, last_other
warm_up() {
  local w
  say "warm-up: each workload once, $1 s"
  for w in "${names[@]}"; do
    run_one "$w" "$1" "$work/warmup-$w.log"
    printf "$2" "$w" "$last_tps" "$last_cpu" "$last_wcpu" "$last_other"
  done
}
# measure_rounds: $rounds rounds of $seconds s per workload, the workloads interleaved, the order
# rotating each round (none always runs first); each round runs before_round first (a script may
# define it) and prints its line: each workload's tps, and its other load too with round_other=1
round_other=0
before_round() { :; }
measure_rounds() {
  local r i w line
  say "measure: $rounds rounds x $seconds s per workload, interleaved"
  for ((r = 0; r < rounds; r++)); do
    before_round
    line="   round $((r + 1)):"
    for ((i = 0; i < ${#names[@]}; i++)); do
      w=${names[$(( (i + r) % ${#names[@]} ))]}
      run_one "$w" "$seconds" "$work/round$r-$w.log"
      tps[$w]="${tps[$w]} $last_tps"
      other[$w]="${other[$w]} $last_other"
      cpu[$w]="${cpu[$w]} $last_cpu"
      wcpu[$w]="${wcpu[$w]} $last_wcpu"
      line="$line $w $(printf '%.0f' "$last_tps")"
      if [ "$round_other" = 1 ]; then line="$line ($last_other%)"; fi
    done
    echo "$line"
  done
}

# --- callgrind --------------------------------------------------------------------------------
# count DIR LOGIN COUNT PROFILE: the instructions callgrind counts (its profile in PROFILE) in a
# single-user run (postgres --single, on the stopped cluster in DIR, database bench) of the
# script's statements LOGIN COUNT, each a transaction of its own; fails when a statement failed,
# the backend crashed or the run did not reach the marker statements ends with
count() {
  statements "$2" "$3" >"$work/in.sql"
  chmod 644 "$work/in.sql"
  (cd / && "${runas[@]}" valgrind --tool=callgrind --callgrind-out-file="$4" \
      "$(cluster_bindir "$1")/postgres" --single -D "$1" -j -c synchronous_commit=off bench \
      <"$work/in.sql" >"$work/single.log" 2>&1)
  if grep -qE "ERROR|FATAL|PANIC" "$work/single.log" || ! grep -q 'marker = "bench-done"' "$work/single.log"; then
    echo "$bench_name: the single-user run on ${1##*/} as $2 failed:" >&2
    grep -E "ERROR|FATAL|PANIC|Segmentation|signal" "$work/single.log" | head -3 >&2
    tail -3 "$work/single.log" >&2
    return 1
  fi
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/single.log" | tail -1
}
# instructions KEY DIR LOGIN WHAT: ins[KEY], the instructions per statement: the run of 2,500
# statements less the run of 500, divided by 2,000 (start-up cancels out), printed as per WHAT;
# the profiles in $work/cg/KEY-500.out and KEY-2500.out.  A failed run: ins[KEY]=failed, ins_failed=1
instructions() {
  local a b
  mkdir -p "$work/cg"
  [ "$(id -u)" -ne 0 ] || chown postgres "$work/cg"
  if a=$(count "$2" "$3" 500 "$work/cg/$1-500.out") && b=$(count "$2" "$3" 2500 "$work/cg/$1-2500.out"); then
    ins[$1]=$(( (b - a) / 2000 ))
    echo "   $1: ${ins[$1]} instructions per $4"
  else
    ins[$1]=failed
    ins_failed=1
  fi
}

# --- report -----------------------------------------------------------------------------------
# tree_commit PATH...: HEAD's short hash, +dirty when PATH (in the tree) differs from it
tree_commit() {
  local c
  c=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
  git -C "$top" diff --quiet HEAD -- "$@" 2>/dev/null || c="$c+dirty"
  echo "$c"
}
# report_file NAME: stamp (now, UTC) and out, the results file test/bench/out/NAME-STAMP.txt
report_file() {
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  mkdir -p "$here/out"
  out="$here/out/$1-$stamp.txt"
}
postgres_version() { "$bindir/postgres" --version | sed -n 's/^postgres (PostgreSQL) \([^ ]*\).*/\1/p'; }
# median: the median of the numbers on stdin (separated by spaces or lines), 0 for none
median() { tr ' ' '\n' | awk 'NF { a[++n] = $1 } END {
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  if (n == 0) print 0; else if (n % 2) print a[(n + 1) / 2]; else print (a[n / 2] + a[n / 2 + 1]) / 2 }'; }
# paired LIST BASELIST [FORMAT]: the per-round ratios, each as FORMAT (%.4f)
paired() { awk -v a="$1" -v b="$2" -v fmt="${3:-%.4f}" 'BEGIN { n = split(a, x, " "); split(b, y, " ")
  for (i = 1; i <= n; i++) printf "%s" fmt, (i > 1 ? " " : ""), (y[i] > 0 ? x[i] / y[i] : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
verdict() { awk -v x="$1" 'BEGIN { print (x + 0 >= 0.95) ? "met" : "NOT met" }'; }
# cpu_ratio WORKLOAD BASE: BASE's (backend + worker) CPU per transaction / WORKLOAD's, the medians; a
# baseline without olink has no worker
cpu_ratio() {
  awk -v c="$(median <<<"${cpu[$1]}")" -v w="$(median <<<"${wcpu[$1]}")" -v cb="$(median <<<"${cpu[$2]}")" \
      -v wb="$(median <<<"${wcpu[$2]}")" -v olink="${wolink[$2]}" \
    'BEGIN { if (!olink) wb = 0; printf "%.3f", (c + w > 0 ? (cb + wb) / (c + w) : 0) }'
}
# workload_table BASE: a line for each workload of names: the median tps, its ratio to BASE's, the
# median of the per-round ratios, the backend's and the worker's CPU per transaction, the wall time
# added per transaction, the most other load, failures and the tps by round; busy, the most other load
workload_table() {
  local w m mb pr mc mw omax
  busy=0
  printf '%-13s %8s %7s %7s %8s %7s %8s %6s %6s  %s\n' workload "med. tps" ratio paired "us CPU" worker \
         "+us/tx" other failed "tps by round"
  for w in "${names[@]}"; do
    m=$(median <<<"${tps[$w]}")
    mb=$(median <<<"${tps[$1]}")
    pr=$(median <<<"$(paired "${tps[$w]# }" "${tps[$1]# }")")
    mc=$(median <<<"${cpu[$w]}")
    mw=$(median <<<"${wcpu[$w]}")
    omax=$(tr ' ' '\n' <<<"${other[$w]}" | awk 'NF && $1 + 0 > m { m = $1 + 0 } END { print m + 0 }')
    [ "$omax" -le "$busy" ] || busy=$omax
    awk -v w="$w" -v m="$m" -v mb="$mb" -v pr="$pr" -v mc="$mc" -v mw="$mw" -v o="$omax" -v f="${failed[$w]}" \
        -v olink="${wolink[$w]}" -v base="$1" \
        -v list="$(awk '{ for (i = 1; i <= NF; i++) printf "%s%.0f", (i > 1 ? " " : ""), $i }' <<<"${tps[$w]}")" \
      'BEGIN { printf "  %-11s %8.0f %7.3f %7.3f %8.1f %7s %8s %5s%% %6d  %s\n", w, m, (mb > 0 ? m / mb : 0), pr, mc,
               (olink ? sprintf("%.1f", mw) : "-"), (w == base ? "-" : sprintf("%+.1f", (m > 0 && mb > 0 ? 1e6 / m - 1e6 / mb : 0))),
               o, f, list }'
  done
}
# raw_rows: a line for each workload: its tps, backend CPU, worker CPU and other load by round
raw_rows() {
  local w
  for w in "${names[@]}"; do
    printf '%s\t%s\t%s\t%s\t%s\n' "$w" "${tps[$w]# }" "${cpu[$w]# }" "${wcpu[$w]# }" "${other[$w]# }"
  done
}
# show_report: the report on stdout, and where the results file is
show_report() {
  echo
  cat "$work/report.txt"
  echo "results: ${out#"$top"/}"
}
# check_workloads: status=1, and a message, for each workload that measured errors
check_workloads() {
  local w
  for w in "${names[@]}"; do
    if [ "${failed[$w]}" -ne 0 ]; then
      echo "$bench_name: $w measured errors; its figure is not a measurement" >&2
      status=1
    fi
  done
}
