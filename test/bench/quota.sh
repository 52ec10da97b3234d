#!/usr/bin/env bash
# olink quota bench: what row-quota counting costs a counterpart's point read, on top of what
# enforcement and audit already cost.  rowsec.c ends each grant's arm of the row-security qual with
# olink._count_read(grant_id), which runs for every row that passed the grant's filter whether or
# not a quota is set (quota.c count_one: per-statement and per-execution counts; flush_exec adds
# them to the day's counts in shared memory when each run of the executor ends); and when the
# counterpart has any quota, quota_ExecutorRun holds every statement's output in a tuplestore until
# the run ends (HoldReceiver).
#
#   make bench-quota                                  5 rounds x 5 s per workload (about 6 minutes)
#   BENCH_ROUNDS=1 BENCH_SECONDS=2 make bench-quota   quick check that everything works
#
# A script, not a test: it prints figures and the goal beside them, and never fails on a ratio; it
# fails only when the set-up fails or a workload measured errors.
#
# Two builds of olink, each installed into its own copy of the PostgreSQL installation in the
# temporary directory (PostgreSQL finds its library and share directories relative to its binaries,
# so another session's `make install` meanwhile cannot change what is measured):
#   pg    this tree's extension/ (copied first, so edits made meanwhile do not reach the build)
#   pg0   BENCH_QUOTA_BASE (21266cd^, the commit before row quotas), from `git archive`
# Four throw-away clusters (unix sockets only), same settings: fsync, full_page_writes and
# autovacuum off, synchronous_commit = off.  The data is loaded once, into A, as run.sh loads it
# (demo/data.sql with BENCH_RESIDENTS residents, extra-tables.sql), and A's data directory copied:
#   A  no extension                                                              the baseline
#   B  pg, olink; run.sh's B registry (setup-olink.sql: 10 grants, 3 other counterparts; counterpart
#      "bench", login bench_cp, one grant: four columns of registry.residents, rows outside Mihama,
#      purpose bench); no quota anywhere: _count_read counts each row, nothing is held
#   C  pg, olink; the same registry, but the counterpart's grant on registry.residents carries
#      max_rows_per_statement 1000 and max_rows_per_day 10^12 (a copy of setup-olink.sql with the two
#      arguments added to that one grant_access call): counted, checked against the quotas (never
#      reached by a point read) and every statement's output held
#   D  pg0, olink before quotas; the same registry (setup-olink.sql as it stands)
#
# Workloads: pgbench -M prepared, one client, one thread, point-read.sql (a random resident by
# primary key, four columns, as run.sh's counterpart reads; a sixth of them are Mihama residents the
# counterpart does not see):
#   A_read      A, bench_owner                           the baseline
#   B_count     B, bench_cp   enforced, audited, counted
#   C_quota     C, bench_cp   enforced, audited, counted against a quota, output held
#   D_prequota  D, bench_cp   enforced and audited by olink before quotas
#   A_control   A_read again: how far its ratio strays from 1 is the run's noise
# Ratios (throughput: tps / tps; instructions: the other's per statement / this one's): B/A, C/A,
# and the figures of interest, each >= 0.95: C/B, what a quota adds (the check and the holding) on
# top of what the counterpart already costs; B/D, what the quota code adds to a counterpart under
# no quota at all (the count per row, the executor hooks) -- B/D also holds whatever else changed
# between BENCH_QUOTA_BASE and this tree (git log 21266cd^..HEAD -- extension).
# Before the rounds, psql checks that bench_cp is an enforced counterpart on B, C and D and sees the
# same rows on each; that C's grant holds the quota and B's none; that C refuses a 1,001-row read
# and B does not; that D has no _count_read.  Each workload is warmed up once, then the rounds
# interleave the workloads (the order rotates each round).  Before each run the table is vacuumed
# and olink's store (every table of schema olink) vacuumed and analyzed on B, C and D, as
# autovacuum would keep them.  Reported as in checkout.sh: median tps, ratio of medians, median of
# the per-round ratios (paired), the backend's and the audit worker's CPU per transaction, other
# load on the machine.
#
# Then, with valgrind (BENCH_INSTRUCTIONS=1, the default when it is installed; about a minute and a
# half): instructions per point read, counted by callgrind in single-user mode (postgres --single on
# each stopped cluster's data directory, PREPARE/EXECUTE, one transaction per statement): 2,500
# statements less 500, divided by 2,000.  No client connection, so olink enforces and counts (and
# holds, on C) but does not audit: the repeatable figure (tps on a small shared machine move by
# 10-20% from run to run; the counts repeat within a few dozen instructions).  The profiles show
# that C ran hold_receive and B did not, and that B and C ran _count_read and D did not; and where
# the instructions go: the functions whose own (exclusive) instructions per statement differ most,
# C - B and B - D.
# Results: stdout and test/bench/out/quota-<timestamp>.txt (raw figures by round there too).
#
# Settings (environment):
#   BENCH_ROUNDS (5)  BENCH_SECONDS (5)  BENCH_WARMUP (2)  BENCH_RESIDENTS (100000)
#   BENCH_QUOTA_BASE (21266cd^)  BENCH_INSTRUCTIONS (1 when valgrind is installed, else 0)
#   BENCH_QUIET_WAIT (3)  BENCH_PIN (1: postmasters on CPU 1, pgbench on CPU 0)
#   BENCH_KEEP (0; 1 leaves the clusters and profiles in the temporary directory)
set -euo pipefail

bench_name=bench-quota
. "$(dirname "$0")/lib.sh"
rounds=${BENCH_ROUNDS:-5}
seconds=${BENCH_SECONDS:-5}
warmup=${BENCH_WARMUP:-2}
residents=${BENCH_RESIDENTS:-100000}
base_rev=${BENCH_QUOTA_BASE:-21266cd^}
quiet_wait=${BENCH_QUIET_WAIT:-3}
quota_stmt=1000
quota_day=1000000000000
require_positive rounds seconds warmup residents
[ "$residents" -ge 3000 ] || { echo "bench-quota: BENCH_RESIDENTS must be at least 3000" >&2; exit 2; }
require_quiet_wait
instr_setting
base_commit=$(git -C "$top" rev-parse --short "$base_rev^{commit}" 2>/dev/null) ||
  { echo "bench-quota: BENCH_QUOTA_BASE '$base_rev' is not a commit of $top" >&2; exit 2; }

make_work /tmp/olink-bench-quota.XXXXXX
port_b=$(( port_a + 1 ))
port_c=$(( port_a + 2 ))
port_d=$(( port_a + 3 ))
keep_note="clusters left in $work (ports $port_a..$port_d); stop the running ones with $work/pg$sys_bindir/pg_ctl -D $work/<A|B|C|D> stop"

# --- two private copies of the PostgreSQL installation, a build of olink in each -----------------
build() {	# SRC PGCOPY: built against the system's headers, installed into the copy
  make -C "$1" -s -j"$(nproc)" PG_CONFIG="$sys_bindir/pg_config" >"$1.build.log" 2>&1 &&
  make -C "$1" -s PG_CONFIG="$2$sys_bindir/pg_config" install >>"$1.build.log" 2>&1 || {
    echo "bench-quota: building olink in $1 failed:" >&2; tail -20 "$1.build.log" >&2; exit 1; }
}
commit=$(tree_commit extension olink.control)
say "build olink $commit (this tree) into $work/pg and $base_commit ($base_rev, before quotas) into $work/pg0"
mkdir -p "$work/src" "$work/src0"
tar -C "$top" --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - Makefile olink.control extension |
  tar -C "$work/src" -xf -
git -C "$top" archive "$base_commit" Makefile olink.control extension | tar -C "$work/src0" -xf -
[ ! -e "$work/src0/extension/quota.c" ] ||
  echo "bench-quota: note: $base_rev already has extension/quota.c; D is not olink before quotas" >&2
copy_pg "$work/pg"
copy_pg "$work/pg0"
build "$work/src" "$work/pg"
build "$work/src0" "$work/pg0"
bindir=$work/pg$sys_bindir      # A, B, C, and every client
bindir0=$work/pg0$sys_bindir    # D
cluster_bin[$work/D]=$bindir0

# --- clusters ---------------------------------------------------------------------------------
cp "$top/demo/data.sql" "$here/extra-tables.sql" "$here/setup-olink.sql" "$here/point-read.sql" "$work/"
# C's registry: setup-olink.sql with a quota on the counterpart's grant on registry.residents
sed "s/row_filter => \\\$\\\$district <> 'Mihama'\\\$\\\$, purposes => '{bench}');/row_filter => \$\$district <> 'Mihama'\$\$, purposes => '{bench}',\n                          max_rows_per_statement => $quota_stmt, max_rows_per_day => $quota_day);/" \
  "$work/setup-olink.sql" >"$work/setup-olink-quota.sql"
[ "$(grep -c "max_rows_per_statement => $quota_stmt, max_rows_per_day => $quota_day);" "$work/setup-olink-quota.sql")" = 1 ] ||
  { echo "bench-quota: could not add the quota to setup-olink.sql's grant on registry.residents" >&2; exit 1; }
[ "$(id -u)" -ne 0 ] || chown -R postgres "$work"

say "cluster A (port $port_a): demo/data.sql ($residents residents) and extra-tables.sql"
init_cluster "$work/A" "olink quota bench" "" 128MB 4GB
conf_plain "$work/A" "$port_a"
start_cluster "$work/A"
sql "$port_a" postgres -c "CREATE ROLE bench_owner LOGIN" -c "CREATE ROLE bench_cp LOGIN" -c "CREATE DATABASE bench"
{ sql "$port_a" bench -v residents="$residents" -f "$work/data.sql" &&
  sql "$port_a" bench -f "$work/extra-tables.sql"; } >"$work/load.log" 2>&1 ||
  { echo "bench-quota: loading the data failed:" >&2; tail -20 "$work/load.log" >&2; exit 1; }
own_data "$port_a"
stop_cluster "$work/A"

say "clusters B (port $port_b), C (port $port_c): olink $commit; D (port $port_d): olink $base_commit; copies of A"
for x in B C D; do
  cp -a "$work/A" "$work/$x"
  port_var=port_${x,,}
  conf_olink "$work/$x" "${!port_var}"
done
for x in A B C D; do start_cluster "$work/$x"; done
for x in B C D; do
  port_var=port_${x,,}
  f=setup-olink.sql
  [ "$x" != C ] || f=setup-olink-quota.sql
  sql "${!port_var}" bench -v grants=10 -v peers=3 -v own_grants=1 -f "$work/$f" >"$work/setup-$x.log" 2>&1 || {
    echo "bench-quota: olink set-up on $x failed:" >&2; tail -20 "$work/setup-$x.log" >&2; exit 1; }
done

# --- is everyone measured doing what it should? -----------------------------------------------
cp_opts="-c olink.purpose=bench"
say "checks"
expected=$(sql "$port_a" bench -At -c \
  "SELECT count(*) FROM registry.residents WHERE resident_id <= 1000 AND district <> 'Mihama'")
visible_id=$(sql "$port_a" bench -At -c "SELECT min(resident_id) FROM registry.residents WHERE district <> 'Mihama'")
big=$(sql "$port_a" bench -At -c \
  "SELECT min(resident_id) FROM (SELECT resident_id, count(*) FILTER (WHERE district <> 'Mihama') OVER (ORDER BY resident_id) AS n
                                   FROM registry.residents) s WHERE n > $quota_stmt")
for x in B C D; do
  port_var=port_${x,,}
  port=${!port_var}
  status=$(as_user "$port" bench bench_cp "$cp_opts" -c \
    "SELECT counterpart || ',' || purpose || ',' || enforced FROM olink.session_status()")
  got=$(as_user "$port" bench bench_cp "$cp_opts" -c "SELECT count(*) FROM registry.residents WHERE resident_id <= 1000")
  one=$(as_user "$port" bench bench_cp "$cp_opts" -c \
    "SELECT count(*) FROM (SELECT resident_id, family_name, given_name, district FROM registry.residents
                            WHERE resident_id = $visible_id) s")
  count_fn=$(sql "$port" bench -At -c "SELECT to_regprocedure('olink._count_read(bigint)') IS NOT NULL")
  if [ "$x" = D ]; then
    quota=n/a
  else
    quota=$(sql "$port" bench -At -c \
      "SELECT coalesce(g.max_rows_per_statement::text, '-') || ',' || coalesce(g.max_rows_per_day::text, '-') || ',' ||
              coalesce(c.max_rows_per_statement::text, '-') || ',' || coalesce(c.max_rows_per_day::text, '-') || ',' ||
              (SELECT count(*) FROM olink.grants WHERE max_rows_per_statement IS NOT NULL OR max_rows_per_day IS NOT NULL) ||
              ',' || (SELECT count(*) FROM olink.counterparts WHERE max_rows_per_statement IS NOT NULL OR max_rows_per_day IS NOT NULL)
         FROM olink.grants g JOIN olink.counterparts c ON c.name = g.counterpart
        WHERE g.counterpart = 'bench' AND g.relation = 'registry.residents'::regclass AND g.active")
  fi
  # a read of $quota_stmt + 1 visible rows: refused on C only
  if as_user "$port" bench bench_cp "$cp_opts" -c "SELECT count(*) FROM registry.residents WHERE resident_id <= $big" \
       >/dev/null 2>"$work/refused.txt"; then
    refused=no
  else
    refused=yes
  fi
  echo "   $x bench_cp: session_status=$status; rows 1..1000 seen $got (expected $expected); resident $visible_id: $one row;" \
       "_count_read $count_fn; quota (grant stmt,day; counterpart stmt,day; grants, counterparts with one) $quota;" \
       "$((quota_stmt + 1)) rows refused: $refused $([ "$refused" = yes ] && echo "($(head -1 "$work/refused.txt" | sed 's/^ERROR: *//'))")"
  case $x in
    B) want_quota="-,-,-,-,0,0"; want_refused=no; want_fn=t ;;
    C) want_quota="$quota_stmt,$quota_day,-,-,1,0"; want_refused=yes; want_fn=t ;;
    D) want_quota=n/a; want_refused=no; want_fn=f ;;
  esac
  if [ "$status" != "bench,bench,true" ] || [ "$got" != "$expected" ] || [ "$one" != 1 ] || [ "$quota" != "$want_quota" ] ||
     [ "$refused" != "$want_refused" ] || [ "$count_fn" != "$want_fn" ] ||
     { [ "$refused" = yes ] && ! grep -q 'row quota exceeded' "$work/refused.txt"; }; then
    echo "bench-quota: $x is not set up as it should be" >&2
    cat "$work/refused.txt" >&2
    exit 1
  fi
done

# --- settle and prewarm -----------------------------------------------------------------------
for port in "$port_a" "$port_b" "$port_c" "$port_d"; do settle "$port" registry.residents registry.residents_pkey; done

# --- workloads --------------------------------------------------------------------------------
names=(A_read B_count C_quota D_prequota A_control)
declare -A wdir wport wuser wopts wolink
for w in "${names[@]}"; do
  case $w in
    A_*) wdir[$w]=$work/A; wport[$w]=$port_a; wolink[$w]=0; wuser[$w]=bench_owner; wopts[$w]="" ;;
    B_*) wdir[$w]=$work/B; wport[$w]=$port_b; wolink[$w]=1; wuser[$w]=bench_cp; wopts[$w]=$cp_opts ;;
    C_*) wdir[$w]=$work/C; wport[$w]=$port_c; wolink[$w]=1; wuser[$w]=bench_cp; wopts[$w]=$cp_opts ;;
    D_*) wdir[$w]=$work/D; wport[$w]=$port_d; wolink[$w]=1; wuser[$w]=bench_cp; wopts[$w]=$cp_opts ;;
  esac
done
init_results

# run_one WORKLOAD SECONDS LOG: sets last_tps, last_other (% of a CPU), last_cpu (the backend's CPU
# per transaction, us) and last_wcpu (the audit worker's, us)
run_one() {
  local w=$1 p
  sql "${wport[$w]}" bench -c "VACUUM registry.residents"
  # every olink cluster's store (every table of schema olink), not only this run's: an idle worker
  # with statistics of a smaller store would take the CPU this run needs
  for p in "$port_b" "$port_c" "$port_d"; do store_upkeep "$p" all; done
  measure "$w" "$3" "${runas[@]}" env PGOPTIONS="${wopts[$w]}" "${client_cpu[@]}" "$bindir/pgbench" -n -M prepared -c 1 -j 1 \
      -T "$2" -D residents="$residents" -f "$work/point-read.sql" -h "$work" -p "${wport[$w]}" -U "${wuser[$w]}" bench
}

warm_up "$warmup" '   %-11s %8.0f tps  %6s us CPU/tx  %5s us worker/tx  (other load %s%%)\n'
measure_rounds
day_rows=$(sql "$port_c" bench -At -c "SELECT coalesce(max(rows), 0) FROM olink.quota_usage WHERE grant_id = 0")

# --- instructions per point read (callgrind, single-user mode) ----------------------------------
declare -A ins
ins_failed=0
inames=(A B C D)
if [ "$instr" = 1 ]; then
  say "instructions per point read: callgrind, postgres --single, 2,500 less 500 statements"
  for x in A B C D; do stop_cluster "$work/$x"; done
  # statements LOGIN COUNT: the input of count; with -j a statement ends at a semicolon and an empty
  # line, so that each EXECUTE is a transaction of its own
  statements() {
    printf 'SET SESSION AUTHORIZATION %s;\n\n' "$1"
    [ "$1" = bench_owner ] || printf "SET olink.purpose = 'bench';\n\n"
    printf 'PREPARE q(bigint) AS SELECT resident_id, family_name, given_name, district FROM registry.residents WHERE resident_id = $1;\n\n'
    for ((i = 1; i <= $2; i++)); do printf 'EXECUTE q(%d);\n\n' $(( (i * 7919) % residents + 1 )); done
    printf "SELECT 'bench-' || 'done' AS marker;\n\n"
  }
  for x in "${inames[@]}"; do
    instructions "$x" "$work/$x" "$([ "$x" = A ] && echo bench_owner || echo bench_cp)" "point read"
  done
fi
# functions CLUSTER MODE: "instructions-per-statement<TAB>function" of every function, (2,500-statement
# profile - 500-statement profile) / 2,000; MODE exclusive or inclusive
functions() {
  local n
  for n in 500 2500; do
    (cd / && callgrind_annotate --inclusive=$([ "$2" = inclusive ] && echo yes || echo no) --auto=no --threshold=100 \
       "$work/cg/$1-$n.out" 2>/dev/null) |
      awk -v n="$n" '$1 ~ /^[0-9][0-9,]*$/ && !/PROGRAM TOTALS/ {
                       v = $1; gsub(/,/, "", v); f = $0
                       if (!sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "", f)) sub(/^ *[0-9,]+ +/, "", f)
                       sub(/ \[[^]]*\]$/, "", f); sub(/.*extension\//, "", f); print n "\t" v "\t" f }'
  done | awk -F'\t' '{ if ($1 == 500) a[$3] += $2; else b[$3] += $2 }
                     END { for (f in b) printf "%.1f\t%s\n", (b[f] - a[f]) / 2000, f
                           for (f in a) if (!(f in b)) printf "%.1f\t%s\n", -a[f] / 2000, f }'
}
# diff_functions X Y TOP [MODE FILTER]: the TOP functions whose instructions per statement differ
# most, X - Y; MODE exclusive (the default; then the sum of all differences, which adds up to the
# difference of the totals) or inclusive; only functions matching the awk regex FILTER
diff_functions() {
  local mode=${4:-exclusive} filter=${5:-.}
  LC_ALL=C join -t$'\t' -a1 -a2 -e 0 -o 0,1.2,2.2 \
      <(functions "$1" "$mode" | awk -F'\t' '{ print $2 "\t" $1 }' | LC_ALL=C sort -t$'\t' -k1,1) \
      <(functions "$2" "$mode" | awk -F'\t' '{ print $2 "\t" $1 }' | LC_ALL=C sort -t$'\t' -k1,1) |
    awk -F'\t' -v filter="$filter" -v mode="$mode" '$1 ~ filter {
      # inclusive: a hook one side lacks wraps the whole executor; its own cost is reported apart
      if (mode == "inclusive" && ($2 == 0 || $3 == 0) && $1 ~ /_Executor(Start|Run|End)$/) next
      d = $2 - $3; if (d >= 1 || d <= -1) printf "%.1f\t%.1f\t%.1f\t%s\n", d, $2, $3, $1 }' |
    sort -t$'\t' -k1,1gr | awk -F'\t' -v top="$3" -v mode="$mode" '{ line[NR] = $0 } END {
      tot = 0; for (i = 1; i <= NR; i++) { split(line[i], p, "\t"); tot += p[1] }
      for (i = 1; i <= NR && i <= top; i++) { split(line[i], p, "\t"); printf "    %+9.1f %9.1f %9.1f  %s\n", p[1], p[2], p[3], p[4] }
      if (NR > top) { for (i = NR; i > top && i > NR - 3; i--) { split(line[i], p, "\t"); if (p[1] < 0) printf "    %+9.1f %9.1f %9.1f  %s\n", p[1], p[2], p[3], p[4] } }
      if (mode == "exclusive") printf "    %+9.1f  (sum over the %d functions that differ by at least one instruction)\n", tot, NR }'
}
have_profiles=0
if [ "$instr" = 1 ] && [ "$ins_failed" = 0 ]; then have_profiles=1; fi
if [ "$have_profiles" = 1 ]; then
  # did C hold, did B and C count, did D not?
  inc() { functions "$1" inclusive | awk -F'\t' -v f="$2" '$2 ~ f && !done { print $1; done = 1 }'; }
  for x in B C D; do
    cr=$(inc "$x" 'olink_count_read$'); hr=$(inc "$x" 'hold_receive$')
    echo "   $x: olink_count_read ${cr:-0} and hold_receive ${hr:-0} instructions per statement (inclusive)"
    case $x in
      B) ok=$([ -n "$cr" ] && [ -z "$hr" ] && echo 1 || echo 0) ;;
      C) ok=$([ -n "$cr" ] && [ -n "$hr" ] && echo 1 || echo 0) ;;
      D) ok=$([ -z "$cr" ] && [ -z "$hr" ] && echo 1 || echo 0) ;;
    esac
    [ "$ok" = 1 ] || { echo "bench-quota: $x's profile does not count and hold as set up" >&2; ins_failed=1; }
  done
fi

# --- report -----------------------------------------------------------------------------------
report_file quota
workload_table A_read >"$work/table.txt"

# the ratios: throughput (tps medians, paired), CPU, and instructions (the reliable figure)
{
  printf '%-28s %8s %7s %7s %8s  %-8s %s\n' ratio instr. tps paired "CPU r." goal verdict
  for pair in "B_count A_read B A B/A" "C_quota A_read C A C/A" "D_prequota A_read D A D/A" \
              "C_quota B_count C B C/B" "B_count D_prequota B D B/D"; do
    set -- $pair
    m=$(median <<<"${tps[$1]}"); mb=$(median <<<"${tps[$2]}")
    pr=$(median <<<"$(paired "${tps[$1]# }" "${tps[$2]# }")")
    cr=$(cpu_ratio "$1" "$2")
    ir=-
    if [ "$instr" = 1 ] && [ "${ins[$3]:-failed}" != failed ] && [ "${ins[$4]:-failed}" != failed ]; then
      ir=$(awk -v x="${ins[$3]}" -v y="${ins[$4]}" 'BEGIN { printf "%.4f", (x > 0 ? y / x : 0) }')
    fi
    r=$(ratio "$m" "$mb")
    g="-"; v="-"
    if [ "$5" = C/B ] || [ "$5" = B/D ]; then
      g=">= 0.95"
      if [ "$ir" != - ]; then v="$(verdict "$ir") (instr.); tps $(verdict "$r")"; else v="$(verdict "$r") (tps)"; fi
    fi
    printf '  %-26s %8s %7s %7.3f %8s  %-8s %s\n' "$5 $1/$2" "$ir" "$r" "$pr" "$cr" "$g" "$v"
  done
  printf '  %-26s %8s %7s %7.3f\n' "noise A_control/A_read" - "$(ratio "$(median <<<"${tps[A_control]}")" "$(median <<<"${tps[A_read]}")")" \
    "$(median <<<"$(paired "${tps[A_control]# }" "${tps[A_read]# }")")"
} >"$work/ratios.txt"

{
  echo "olink quota bench — counterpart point reads, pgbench -M prepared, 1 client, $rounds rounds x $seconds s per workload;" \
       "olink $commit (B, C) and $base_commit = $base_rev (D); $stamp"
  echo "registry.residents: $residents residents (demo/data.sql); setup-olink.sql grants=10 peers=3 own_grants=1;" \
       "C: the counterpart's grant with max_rows_per_statement $quota_stmt, max_rows_per_day $quota_day (rows counted on C" \
       "by the end: $day_rows); synchronous_commit = off, fsync = off;" \
       "servers $([ ${#server_cpu[@]} -gt 0 ] && echo "on CPU 1, pgbench on CPU 0" || echo "not pinned")"
  echo "A: no olink (bench_owner); B: olink, no quota (counted); C: olink, quota on the grant (counted, checked, held);" \
       "D: olink before quotas; B, C, D as bench_cp (counterpart: enforced and audited)"
  echo
  cat "$work/table.txt"
  echo
  cat "$work/ratios.txt"
  if [ "$instr" = 1 ]; then
    echo
    echo "instructions per point read (callgrind, postgres --single: enforced and counted, not audited)"
    printf '  %-3s %12s %8s\n' "" instructions "A/this"
    for x in "${inames[@]}"; do
      if [ "${ins[$x]}" = failed ] || [ "${ins[A]}" = failed ]; then printf '  %-3s %12s\n' "$x" "${ins[$x]}"; continue; fi
      printf '  %-3s %12s %8s\n' "$x" "${ins[$x]}" "$(ratio "${ins[A]}" "${ins[$x]}")"
    done
    if [ "$have_profiles" = 1 ]; then
      echo
      echo "where the instructions go: exclusive instructions per statement by function, the largest differences"
      printf '    %9s %9s %9s  %s\n' "C - B" C B function
      diff_functions C B 15
      echo
      printf '    %9s %9s %9s  %s\n' "B - D" B D function
      diff_functions B D 15
      echo
      echo "olink's functions, inclusive instructions per statement (what each costs with what it calls)"
      printf '    %9s %9s %9s  %s\n' "C - B" C B function
      diff_functions C B 12 inclusive '^[a-z_]+[.]c:'
      echo
      printf '    %9s %9s %9s  %s\n' "B - D" B D function
      diff_functions B D 12 inclusive '^[a-z_]+[.]c:'
      for x in B C; do
        functions "$x" inclusive | awk -F'\t' -v x="$x" '
          { v[$2] = $1 }
          END { printf "    %s: quota_ExecutorRun itself (less olink_ExecutorRun) %.1f, quota_ExecutorStart itself (less olink_ExecutorStart) %.1f\n",
                       x, v["quota.c:quota_ExecutorRun"] - v["enforce.c:olink_ExecutorRun"],
                       v["quota.c:quota_ExecutorStart"] - v["enforce.c:olink_ExecutorStart"] }'
      done
    fi
  fi
  [ "$busy" -lt 10 ] || echo "WARNING: other work used up to $busy% of a CPU during some runs; the tps ratios are not trustworthy"
  cat <<'LEGEND'

med. tps = median over the rounds (pgbench "tps ... without initial connection time")
ratio  = median / A_read's median;  paired = median over the rounds of the same-round ratio
us CPU = the backend's CPU per transaction (reaped by the postmaster; clock ticks);  worker = the
         audit worker's per transaction (the counterpart's audit events, quota counts to olink.quota_usage)
+us/tx = 1e6 / median - 1e6 / A_read's median: the wall time added per point read
instr. = instructions per statement of the second / of the first (callgrind; the reliable figure)
CPU r. = the second's (backend + worker) CPU per transaction / the first's (A has no worker)
C/B    = what a quota adds (the check against it, the output held) on top of enforcement, audit and
         counting (goal >= 0.95);  B/D = what the quota code adds to a counterpart with no quota,
         against olink before quotas (goal >= 0.95); both on top of what enforcement and audit cost
LEGEND
} >"$work/report.txt"

{
  echo "# olink quota bench"
  echo "timestamp=$stamp"
  echo "commit=$commit"
  echo "base=$base_commit ($base_rev)"
  echo "postgres=$(postgres_version)"
  echo "rounds=$rounds"
  echo "seconds=$seconds"
  echo
  cat "$work/report.txt"
  echo
  echo "# raw: workload, tps by round, backend CPU us/tx by round, worker us/tx by round, other load by round"
  raw_rows
  if [ "$have_profiles" = 1 ]; then
    echo
    echo "# olink's functions, inclusive instructions per statement: B, C, D"
    for x in B C D; do
      functions "$x" inclusive | awk -F'\t' -v x="$x" '$2 ~ /^[a-z_]+\.c:/ && ($1 >= 1 || $1 <= -1) { printf "%s\t%s\t%s\n", x, $1, $2 }' |
        sort -t$'\t' -k2,2gr | awk 'NR <= 25'
    done
  fi
} >"$out"

show_report

status=0
if [ "$ins_failed" = 1 ]; then
  echo "bench-quota: a single-user run under callgrind failed or did not count as set up (see above)" >&2
  status=1
fi
check_workloads
exit $status
