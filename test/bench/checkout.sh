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

bench_name=bench-checkout
. "$(dirname "$0")/lib.sh"
rounds=${BENCH_ROUNDS:-5}
seconds=${BENCH_SECONDS:-5}
warmup=${BENCH_WARMUP:-2}
residents=${BENCH_RESIDENTS:-100000}
checkouts=${BENCH_CHECKOUTS:-10000}
quiet_wait=${BENCH_QUIET_WAIT:-3}
require_positive rounds seconds warmup residents checkouts
require_quiet_wait
instr_setting
half=$(( residents / 2 ))
[ "$half" -ge 1000 ] || { echo "bench-checkout: BENCH_RESIDENTS must be at least 2000" >&2; exit 2; }
[ "$checkouts" -le "$(( residents - half ))" ] ||
  { echo "bench-checkout: BENCH_CHECKOUTS must be at most BENCH_RESIDENTS/2 (the records nobody updates)" >&2; exit 2; }
co_lo=$(( half + 1 ))
co_hi=$(( half + checkouts ))
max_checkouts=16384
[ "$checkouts" -le $(( max_checkouts - 64 )) ] || max_checkouts=$(( checkouts + 1024 ))

# --- a private copy of the PostgreSQL installation, olink installed into it ---------------------
# Other sessions may install another build of olink into the system's directories while the bench
# runs; the clusters and the single-user runs load olink from this copy instead (PostgreSQL finds
# its library and share directories relative to its binaries).
make_work /tmp/olink-bench-checkout.XXXXXX
port_o0=$(( port_a + 1 ))
port_o10k=$(( port_a + 2 ))
keep_note="clusters left in $work (ports $port_a..$port_o10k); stop the running ones with pg_ctl -D $work/<A|O0|O10k> stop"
say "build olink; install it into a copy of the PostgreSQL installation ($work/pg)"
copy_pg "$work/pg"
bindir=$work/pg$sys_bindir
install_olink "$bindir/pg_config"

# --- clusters ---------------------------------------------------------------------------------
cp "$here/setup-writer.sql" "$work/"
# the UPDATE: a random resident of the first half (none of them checked out) gets a new given name
cat >"$work/update.sql" <<'SQL'
\set id random(1, :upd_max)
\set v random(100000, 999999)
UPDATE registry.residents_w SET given_name = 'n' || :v WHERE resident_id = :id;
SQL
[ "$(id -u)" -ne 0 ] || chown -R postgres "$work"

say "cluster A (port $port_a): $residents rows of registry.residents_w"
init_cluster "$work/A" "olink check-out bench" "" 128MB 4GB
conf_plain "$work/A" "$port_a"
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
  conf_olink "$work/$x" "${!port_var}"
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
status=$(as_user "$port_o10k" bench bench_cpw "$cp_opts" -c \
  "SELECT counterpart || ',' || purpose || ',' || enforced FROM olink.session_status()")
[ "$status" = "bench_w,bench,true" ] ||
  { echo "bench-checkout: bench_cpw is not an enforced counterpart on O10k ($status)" >&2; exit 1; }
for port in "$port_o0" "$port_o10k"; do
  x=$([ "$port" = "$port_o0" ] && echo O0 || echo O10k)
  for user in bench_owner bench_cpw; do
    opts=$([ "$user" = bench_cpw ] && echo "$cp_opts" || true)
    j0=$(sql "$port" bench -At -c "SELECT count(*) FROM olink.journal")
    ok=$(as_user "$port" bench "$user" "$opts" -c \
      "UPDATE registry.residents_w SET given_name = given_name WHERE resident_id = $half RETURNING 1" | wc -l)
    if as_user "$port" bench "$user" "$opts" -c \
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
for port in "$port_a" "$port_o0" "$port_o10k"; do settle "$port" registry.residents_w registry.residents_w_pkey; done

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
init_results

# run_one WORKLOAD SECONDS LOG: sets last_tps, last_other (% of a CPU), last_cpu (the backend's CPU
# per transaction, us) and last_wcpu (the audit worker's, us)
run_one() {
  local w=$1
  sql "${wport[$w]}" bench -c "VACUUM registry.residents_w"
  # olink's store on both olink clusters, not only this run's: with statistics of a smaller journal
  # an idle audit worker rescans the journal at every wake (~15% of a CPU with 200,000 rows), on
  # the servers' CPU -- the other cluster's worker would take that from this run
  store_upkeep "$port_o0"
  store_upkeep "$port_o10k"
  measure "$w" "$3" "${runas[@]}" env PGOPTIONS="${wopts[$w]}" "${client_cpu[@]}" "$bindir/pgbench" -n -M prepared -c 1 -j 1 \
      -T "$2" -D upd_max="$half" -f "$work/update.sql" -h "$work" -p "${wport[$w]}" -U "${wuser[$w]}" bench
}

warm_up "$warmup" '   %-11s %8.0f tps  %6s us CPU/tx  %5s us worker/tx  (other load %s%%)\n'
measure_rounds
h10k_after=$(sql "$port_o10k" bench -At -c "$held_sql")
[ "$h10k_after" = "$h10k" ] || { echo "bench-checkout: the check-outs changed during the runs ($h10k_after)" >&2; exit 1; }

# --- instructions per UPDATE (callgrind, single-user mode) --------------------------------------
declare -A ins
ins_failed=0
inames=(A_owner B0_owner B0_cp C10k_owner C10k_cp)
if [ "$instr" = 1 ]; then
  say "instructions per UPDATE: callgrind, postgres --single, 2,500 less 500 statements"
  for x in A O0 O10k; do stop_cluster "$work/$x"; done
  # statements LOGIN COUNT: the input of count; with -j a statement ends at a semicolon and an empty
  # line, so that each EXECUTE is a transaction of its own
  statements() {
    printf 'SET SESSION AUTHORIZATION %s;\n\n' "$1"
    [ "$1" = bench_owner ] || printf "SET olink.purpose = 'bench';\n\n"
    printf 'PREPARE q(bigint, int) AS UPDATE registry.residents_w SET given_name = %s || $2 WHERE resident_id = $1;\n\n' "'n'"
    for ((i = 1; i <= $2; i++)); do printf 'EXECUTE q(%d, %d);\n\n' $(( (i * 7919) % half + 1 )) $(( 100000 + i )); done
    printf "SELECT 'bench-' || 'done' AS marker;\n\n"
  }
  for w in "${inames[@]}"; do
    case $w in A_*) d=$work/A ;; B0_*) d=$work/O0 ;; C10k_*) d=$work/O10k ;; esac
    case $w in *_cp) u=bench_cpw ;; *) u=bench_owner ;; esac
    instructions "$w" "$d" "$u" UPDATE
  done
fi

# --- report -----------------------------------------------------------------------------------
report_file checkout
commit=$(tree_commit extension)
workload_table A_upd >"$work/table.txt"

# the ratios of interest: b/a, c/a, c/b for each role (rates: median / median, and paired)
{
  printf '%-26s %7s %7s %8s  %-8s %s\n' ratio tps paired "CPU r." goal verdict
  for role in owner cp; do
    for pair in "B0_$role A_upd b/a" "C10k_$role A_upd c/a" "C10k_$role B0_$role c/b"; do
      set -- $pair
      m=$(median <<<"${tps[$1]}"); mb=$(median <<<"${tps[$2]}")
      pr=$(median <<<"$(paired "${tps[$1]# }" "${tps[$2]# }")")
      # CPU ratio: the baseline's backend (+ worker) CPU per transaction / this one's
      cr=$(cpu_ratio "$1" "$2")
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
  echo "postgres=$(postgres_version)"
  echo "rounds=$rounds"
  echo "seconds=$seconds"
  echo "checkouts=$checkouts"
  echo
  cat "$work/report.txt"
  echo
  echo "# raw: workload, tps by round, backend CPU us/tx by round, worker us/tx by round, other load by round"
  raw_rows
} >"$out"

show_report

status=0
if [ "$ins_failed" = 1 ]; then
  echo "bench-checkout: a single-user run under callgrind failed (see above); its count is not a measurement" >&2
  status=1
fi
check_workloads
exit $status
