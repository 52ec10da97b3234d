#!/usr/bin/env bash
# olink benchmark: what olink costs -- enforcement, auditing, the change journal -- against the same
# cluster without olink, with pgaudit and a PL/pgSQL audit trigger measured beside it in the same run.
#
#   make bench                                     5 rounds x 10 s per workload (~20 minutes)
#   BENCH_ROUNDS=1 BENCH_SECONDS=3 make bench      quick check that everything works (~6 minutes)
#
# A script, not a test: it prints figures and the budgets of /work/shared/DESIGN.md beside them, and
# never fails on a ratio.  It fails only when the set-up fails or a workload measured errors.
#
# Four throw-away clusters in a temporary directory (unix sockets only), same settings: fsync,
# full_page_writes and autovacuum off, synchronous_commit = off (CPU-bound: no commit flush hides a
# per-row cost).  The data is loaded once, into A, whose data directory is then copied to the others:
#   A  no extension                              databases bench, and bench_trig: a copy with the
#                                                PL/pgSQL full-image trigger (plpgsql-trigger.sql)
#   B  shared_preload_libraries = 'olink',       olink created in bench, a registry of 10 grants
#      olink.database = 'bench'                  (setup-olink.sql) and the writer (setup-writer.sql)
#   C  the same as B                             olink in bench with 10,000 grants (BENCH_GRANTS)
#   P  shared_preload_libraries = 'pgaudit'      bench (pgaudit.log = 'read'), benchw ('write')
# olink can be created only in the database olink.database names, one per cluster: hence B and C.
# Data: demo/data.sql, the demo's synthetic registry (its largest table, registry.residents), twenty
# small tables (extra-tables.sql) that the other grants are spread over, and registry.residents_w, a
# copy of registry.residents that only the UPDATE workloads change (so no read meets their dead
# rows; it is vacuumed before each UPDATE run).  Every table of schemas registry and benchx is
# protected on B and C.  Tables are owned by bench_owner, a non-superuser login role.  On B and C
# olink's store is vacuumed and analyzed before each run, as autovacuum would keep it: without
# statistics the worker's sealing query is planned for an empty store and its time grows with the
# journal (an olink finding, not a cost of the workload at hand).
#
# pgbench workloads, -M prepared, one client, one thread (ratio: tps / tps of the baseline):
#  point reads, point-read.sql: a random resident by primary key, four columns; baseline A_owner
#   A_owner       A, bench_owner                 the baseline
#   C_internal    C, bench_owner                 an internal session: olink loaded and installed, the
#                                                table protected, 10,000 grants          (>= 0.98)
#   B_cp10        B, bench_cp                    a counterpart: grant with column list and row
#                                                filter, purpose bench, 10 grants; every statement
#                                                audited (async): enforced + audited     (>= 0.90)
#   C_cp10k       C, bench_cp                    the same with 10,000 grants (20 of them its own)
#   P_read        P bench, bench_owner           pgaudit, pgaudit.log = 'read'      (issue: 0.55)
#   A_control     A, bench_owner                 A_owner again: its ratio, 1 but for noise, shows
#                                                how much of any ratio a run can resolve
#  single-row UPDATEs, update-one.sql: a random resident's given_name by primary key; baseline A_upd
#   A_upd         A, bench_owner                 the baseline
#   B_upd_cp      B, bench_cpw                   a counterpart with a select+update grant: enforced,
#                                                journaled and audited                   (>= 0.85)
#   B_upd_owner   B, bench_owner                 an internal session: journaled only
#   P_upd         P benchw, bench_owner          pgaudit, pgaudit.log = 'write'     (issue: 0.71)
#   A_upd_plpgsql A bench_trig, bench_owner      the PL/pgSQL full-image trigger    (issue: 0.44)
# Before the rounds, psql checks that the counterpart reads rows, sees no Mihama row and is refused
# a column outside its grant, that the writer updates and is journaled, that pgaudit logs and the
# trigger writes: a bench that measured errors or an unenforced session would be void.  Each
# workload is warmed up once, then the rounds interleave the workloads (the order rotates each
# round, so none always runs first); the figure is the median of the rounds' "tps (without initial
# connection time)".  Beside it: the median of per-round ratios; the backend's CPU time per
# transaction (the server's cost without the client and the round trip); on B and C the audit
# worker's CPU time per transaction (after each run olink.flush_audit() has it write and seal what
# the run queued, so its work is counted with the run that caused it; the worker runs on the same
# CPU as the backend, so the tps figures include its cost); and how much CPU other work on the
# machine took during the runs (each run first waits up to BENCH_QUIET_WAIT seconds for a quiet
# machine).
#
# Then, outside pgbench:
#  INSERT ... SELECT of BENCH_COPY_ROWS (1,000,000) rows into a fresh table shaped like
#   registry.residents (primary key only), by bench_owner, timed by psql's \timing: on A (the
#   baseline), on B into a protected table (the change journal: one row image per row) and on A
#   bench_trig with the PL/pgSQL trigger; BENCH_COPY_REPS (3) repetitions, interleaved, median,
#   ratio = time / the baseline's time (budget <= 1.5).  On B each is followed by a timed
#   flush_audit(): the worker sealing the new journal rows, reported beside.
#  verify_audit() on B over the whole store, BENCH_COPY_REPS times, median: rows per second, rows =
#   olink.journal + access_event + connection_event + audit_text (budget >= 2M rows/s).
#  WAL per audit event on B, idle by then: pg_current_wal_lsn() around BENCH_WAL_STATEMENTS (20,000)
#   counterpart point reads (pgbench -t) and a flush_audit(), less the same around the same reads by
#   bench_owner, whom olink does not audit (which takes out the reads' own WAL, the worker's idle
#   passes and background records); divided by the events the worker wrote meanwhile
#   (audit_status()).  The difference is everything auditing writes -- events, texts, seals, the
#   worker's commits -- at the batch sizes of a busy counterpart; pg_walinspect's breakdown of the
#   audited window by record type goes to the results file (budget <= 200 bytes).
# Results: stdout and test/bench/out/results-<timestamp>.txt (raw figures by round there too).
#
# Settings (environment):
#   BENCH_ROUNDS (5)  BENCH_SECONDS (10)  BENCH_WARMUP (5, or BENCH_SECONDS if shorter)
#   BENCH_RESIDENTS (100000)  BENCH_GRANTS (10000)  BENCH_PEERS (1000)
#   BENCH_COPY_ROWS (1000000)  BENCH_COPY_REPS (3, or BENCH_ROUNDS if fewer)  BENCH_WAL_STATEMENTS (20000)
#   BENCH_PIN (1: postmasters on CPU 1, pgbench on CPU 0)  BENCH_PROTOCOL (prepared; or simple, extended)
#   BENCH_QUIET_WAIT (10)  BENCH_KEEP (0; 1 leaves the clusters running, for a closer look)
set -euo pipefail

bench_name=bench
. "$(dirname "$0")/lib.sh"
rounds=${BENCH_ROUNDS:-5}
seconds=${BENCH_SECONDS:-10}
warmup=${BENCH_WARMUP:-$(( seconds < 5 ? seconds : 5 ))}
residents=${BENCH_RESIDENTS:-100000}
grants_big=${BENCH_GRANTS:-10000}
peers_big=${BENCH_PEERS:-1000}
copy_rows=${BENCH_COPY_ROWS:-1000000}
copy_reps=${BENCH_COPY_REPS:-$(( rounds < 3 ? rounds : 3 ))}
wal_n=${BENCH_WAL_STATEMENTS:-20000}
protocol=${BENCH_PROTOCOL:-prepared}
case $protocol in simple | extended | prepared) ;; *)
  echo "bench: BENCH_PROTOCOL must be simple, extended or prepared" >&2; exit 2 ;;
esac
require_positive rounds seconds warmup residents grants_big peers_big copy_rows copy_reps wal_n
[ "$grants_big" -gt 20 ] || { echo "bench: BENCH_GRANTS must be more than 20" >&2; exit 2; }

# --- build and install ------------------------------------------------------------------------
say "build and install olink"
install_olink

# --- clusters ---------------------------------------------------------------------------------
make_work /tmp/olink-bench.XXXXXX
port_b=$(( port_a + 1 ))
port_c=$(( port_a + 2 ))
port_p=$(( port_a + 3 ))
keep_note="clusters left running in $work (ports $port_a..$port_p); stop them with pg_ctl -D $work/<A|B|C|P> stop"

# the sources, readable by the postgres user
cp "$top/demo/data.sql" "$work/data.sql"
data_source="demo/data.sql"
cp "$here/extra-tables.sql" "$here/setup-olink.sql" "$here/setup-writer.sql" "$here/plpgsql-trigger.sql" \
   "$here/point-read.sql" "$here/update-one.sql" "$work/"
[ "$(id -u)" -ne 0 ] || chown -R postgres "$work"

say "cluster A (port $port_a): load data ($data_source, residents=$residents)"
init_cluster "$work/A" "olink bench" "" 256MB 4GB "wal_keep_size = 1GB"
conf_plain "$work/A" "$port_a"
start_cluster "$work/A"
sql "$port_a" postgres -c "CREATE ROLE bench_owner LOGIN" -c "CREATE ROLE bench_cp LOGIN" \
    -c "CREATE DATABASE bench"
sql "$port_a" bench -v residents="$residents" -f "$work/data.sql" >"$work/load.log" 2>&1 || {
  echo "bench: loading $data_source failed:" >&2; tail -20 "$work/load.log" >&2; exit 1; }
sql "$port_a" bench -f "$work/extra-tables.sql" >>"$work/load.log" 2>&1
sql "$port_a" bench -At <<'SQL' >/dev/null
CREATE TABLE registry.residents_w (LIKE registry.residents INCLUDING ALL);
INSERT INTO registry.residents_w SELECT * FROM registry.residents;
COMMENT ON TABLE registry.residents_w IS 'bench: the copy of registry.residents that the UPDATE workloads change';
CREATE SCHEMA bulk AUTHORIZATION bench_owner;
SQL
own_data "$port_a"
stop_cluster "$work/A"

say "clusters B (port $port_b, olink), C (port $port_c, olink), P (port $port_p, pgaudit): copies of A"
for x in B C P; do
  cp -a "$work/A" "$work/$x"
done
printf "\n# cluster B: olink, 10 grants\nport = %s\nshared_preload_libraries = 'olink'\nolink.database = 'bench'\n" \
  "$port_b" >> "$work/B/postgresql.conf"
printf "\n# cluster C: olink, %s grants\nport = %s\nshared_preload_libraries = 'olink'\nolink.database = 'bench'\n" \
  "$grants_big" "$port_c" >> "$work/C/postgresql.conf"
printf "\n# cluster P: pgaudit\nport = %s\nshared_preload_libraries = 'pgaudit'\n" "$port_p" >> "$work/P/postgresql.conf"
for x in A B C P; do
  start_cluster "$work/$x"
done

# --- A: the PL/pgSQL trigger ------------------------------------------------------------------
sql "$port_a" postgres -c "CREATE DATABASE bench_trig TEMPLATE bench"
sql "$port_a" bench_trig -v tables=registry.residents_w -f "$work/plpgsql-trigger.sql" >/dev/null

# --- P: pgaudit -------------------------------------------------------------------------------
sql "$port_p" bench -c "CREATE EXTENSION pgaudit"
sql "$port_p" postgres -c "CREATE DATABASE benchw TEMPLATE bench" \
    -c "ALTER DATABASE bench SET pgaudit.log = 'read'" -c "ALTER DATABASE benchw SET pgaudit.log = 'write'"

# --- olink registries -------------------------------------------------------------------------
say "olink registry on B: 10 grants, and the writer"
sql "$port_b" bench -v grants=10 -v peers=3 -v own_grants=1 -f "$work/setup-olink.sql" >"$work/setupB.log" 2>&1 &&
sql "$port_b" bench -f "$work/setup-writer.sql" >>"$work/setupB.log" 2>&1 || {
  echo "bench: olink set-up failed:" >&2; tail -20 "$work/setupB.log" >&2; exit 1; }
t0=$SECONDS
say "olink registry on C: $grants_big grants ($peers_big other counterparts; takes a while)"
sql "$port_c" bench -v grants="$grants_big" -v peers="$peers_big" -v own_grants=20 \
    -f "$work/setup-olink.sql" >"$work/setupC.log" 2>&1 || {
  echo "bench: olink set-up failed:" >&2; tail -20 "$work/setupC.log" >&2; exit 1; }
say "  ... done in $((SECONDS - t0)) s"
gB=$(sql "$port_b" bench -At -c "SELECT count(*) FROM olink.access_grant WHERE revoked_at IS NULL")
gC=$(sql "$port_c" bench -At -c "SELECT count(*) FROM olink.access_grant WHERE revoked_at IS NULL")
ownC=$(sql "$port_c" bench -At -c "SELECT count(*) FROM olink.grants WHERE counterpart = 'bench' AND active")
say "  active grants: B $gB (the writer's included), C $gC (counterpart bench: $ownC)"
# what the registry adds to the ACLs PostgreSQL itself checks on every counterpart statement
acl_sql="SELECT format('residents_column_acl=%s,grant_live_proacl=%s,registry_nspacl=%s',
    (SELECT max(cardinality(attacl)) FROM pg_attribute WHERE attrelid = 'registry.residents'::regclass),
    (SELECT cardinality(proacl) FROM pg_proc WHERE oid = 'olink._grant_live(bigint)'::regprocedure),
    (SELECT cardinality(nspacl) FROM pg_namespace WHERE nspname = 'registry'))"
aclB=$(sql "$port_b" bench -At -c "$acl_sql")
aclC=$(sql "$port_c" bench -At -c "$acl_sql")
say "  native ACL entries: B $aclB; C $aclC"

# --- is everyone measured doing what it should? -----------------------------------------------
cp_opts="-c olink.purpose=bench"
expected=$(sql "$port_a" bench -At -c \
  "SELECT count(*) FROM registry.residents WHERE resident_id <= 1000 AND district <> 'Mihama'")
mihama_id=$(sql "$port_a" bench -At -c \
  "SELECT min(resident_id) FROM registry.residents WHERE district = 'Mihama'")
visible_id=$(sql "$port_a" bench -At -c \
  "SELECT min(resident_id) FROM registry.residents WHERE district <> 'Mihama'")
say "checks"
for port in "$port_b" "$port_c"; do
  x=$([ "$port" = "$port_b" ] && echo B || echo C)
  status=$(as_user "$port" bench bench_cp "$cp_opts" -c \
    "SELECT counterpart || ',' || purpose || ',' || enforced FROM olink.session_status()")
  got=$(as_user "$port" bench bench_cp "$cp_opts" -c \
    "SELECT count(*) FROM registry.residents WHERE resident_id <= 1000")
  one=$(as_user "$port" bench bench_cp "$cp_opts" -c \
    "SELECT count(*) FROM (SELECT resident_id, family_name, given_name, district FROM registry.residents WHERE resident_id = $visible_id) s")
  hidden=$(as_user "$port" bench bench_cp "$cp_opts" -c \
    "SELECT count(*) FROM (SELECT resident_id, family_name, given_name, district FROM registry.residents WHERE resident_id = $mihama_id) s")
  if as_user "$port" bench bench_cp "$cp_opts" -c \
       "SELECT phone FROM registry.residents WHERE resident_id = $visible_id" >/dev/null 2>"$work/denied.txt"; then
    denied="no"
  else
    denied="yes"
  fi
  echo "   $x bench_cp: session_status=$status; rows 1..1000 seen $got (expected $expected, Mihama hidden);" \
       "resident $visible_id -> $one row, Mihama resident $mihama_id -> $hidden rows; phone denied: $denied" \
       "($(head -1 "$work/denied.txt"))"
  if [ "$status" != "bench,bench,true" ] || [ "$got" != "$expected" ] || [ "$one" != 1 ] ||
     [ "$hidden" != 0 ] || [ "$denied" != yes ]; then
    echo "bench: the counterpart is not enforced as set up; measuring it would mean nothing" >&2
    cat "$work/denied.txt" >&2
    exit 1
  fi
done
# the writer: updates a row, is journaled and audited, is refused a column outside its grant
j0=$(sql "$port_b" bench -At -c "SELECT count(*) FROM olink.journal")
upd=$(as_user "$port_b" bench bench_cpw "$cp_opts" -c \
  "UPDATE registry.residents_w SET given_name = given_name WHERE resident_id = $mihama_id RETURNING 1" | wc -l)
if as_user "$port_b" bench bench_cpw "$cp_opts" -c \
     "UPDATE registry.residents_w SET phone = phone WHERE resident_id = $visible_id" >/dev/null 2>"$work/denied.txt"; then
  denied="no"
else
  denied="yes"
fi
sql "$port_b" bench -c "SELECT olink.flush_audit('60 s')" >/dev/null
j1=$(sql "$port_b" bench -At -c "SELECT count(*) FROM olink.journal")
ev=$(sql "$port_b" bench -At -c \
  "SELECT count(*) FROM olink.access_log WHERE login = 'bench_cpw' AND command = 'UPDATE' AND outcome = 'allowed'")
echo "   B bench_cpw: resident $mihama_id updated: $upd row, journal rows +$((j1 - j0)), allowed UPDATE events $ev;" \
     "phone update denied: $denied ($(head -1 "$work/denied.txt"))"
if [ "$upd" != 1 ] || [ $((j1 - j0)) != 1 ] || [ "$ev" -lt 1 ] || [ "$denied" != yes ]; then
  echo "bench: the writer is not journaled, audited and enforced as set up" >&2
  exit 1
fi
# pgaudit logs a read and a write; the PL/pgSQL trigger writes its row
l0=$(grep -c 'AUDIT: SESSION' "$work/P.log" || true)
as_user "$port_p" bench bench_owner "" -c \
  "SELECT resident_id, family_name, given_name, district FROM registry.residents WHERE resident_id = $visible_id" >/dev/null
as_user "$port_p" benchw bench_owner "" -c \
  "UPDATE registry.residents_w SET given_name = given_name WHERE resident_id = $visible_id" >/dev/null
sleep 0.2
l1=$(grep -c 'AUDIT: SESSION' "$work/P.log" || true)
reads=$(grep 'AUDIT: SESSION' "$work/P.log" | grep -c ',READ,SELECT,' || true)
writes=$(grep 'AUDIT: SESSION' "$work/P.log" | grep -c ',WRITE,UPDATE,' || true)
as_user "$port_a" bench_trig bench_owner "" -c \
  "UPDATE registry.residents_w SET given_name = given_name WHERE resident_id = $visible_id" >/dev/null
trig=$(sql "$port_a" bench_trig -At -c \
  "SELECT count(*) FROM bench_audit.change_log WHERE op = 'UPDATE' AND old_row IS NOT NULL AND new_row IS NOT NULL")
echo "   P: pgaudit lines +$((l1 - l0)) (READ $reads, WRITE $writes); A bench_trig: trigger rows $trig"
if [ $((l1 - l0)) != 2 ] || [ "$reads" != 1 ] || [ "$writes" != 1 ] || [ "$trig" != 1 ]; then
  echo "bench: pgaudit or the PL/pgSQL trigger does not log as set up" >&2
  exit 1
fi

# --- settle and prewarm -----------------------------------------------------------------------
for target in "$port_a bench" "$port_a bench_trig" "$port_b bench" "$port_c bench" "$port_p bench" "$port_p benchw"; do
  set -- $target
  sql "$1" "$2" -c "VACUUM (ANALYZE)"
  sql "$1" "$2" -At -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" \
      -c "SELECT pg_prewarm(c) FROM unnest(ARRAY['registry.residents', 'registry.residents_pkey',
                                                 'registry.residents_w', 'registry.residents_w_pkey']) c" \
      >/dev/null 2>&1 ||
    sql "$1" "$2" -At -c "SELECT count(*) FROM registry.residents" -c "SELECT count(*) FROM registry.residents_w" >/dev/null
done
for port in "$port_a" "$port_b" "$port_c" "$port_p"; do
  sql "$port" postgres -c "CHECKPOINT"
done

# --- workloads --------------------------------------------------------------------------------
reads=(A_owner C_internal B_cp10 C_cp10k P_read A_control)
updates=(A_upd B_upd_cp B_upd_owner P_upd A_upd_plpgsql)
names=("${reads[@]}" "${updates[@]}")
declare -A wport wdb wuser wopts wdir wscript wbase goal ref wvac wolink
for w in "${reads[@]}"; do wscript[$w]=point-read.sql; wbase[$w]=A_owner; wvac[$w]=""; done
for w in "${updates[@]}"; do wscript[$w]=update-one.sql; wbase[$w]=A_upd; wvac[$w]=registry.residents_w; done
wport=([A_owner]=$port_a [C_internal]=$port_c [B_cp10]=$port_b [C_cp10k]=$port_c [P_read]=$port_p
       [A_control]=$port_a [A_upd]=$port_a [B_upd_cp]=$port_b [B_upd_owner]=$port_b [P_upd]=$port_p
       [A_upd_plpgsql]=$port_a)
wdb=([A_owner]=bench [C_internal]=bench [B_cp10]=bench [C_cp10k]=bench [P_read]=bench [A_control]=bench
     [A_upd]=bench [B_upd_cp]=bench [B_upd_owner]=bench [P_upd]=benchw [A_upd_plpgsql]=bench_trig)
wuser=([A_owner]=bench_owner [C_internal]=bench_owner [B_cp10]=bench_cp [C_cp10k]=bench_cp
       [P_read]=bench_owner [A_control]=bench_owner [A_upd]=bench_owner [B_upd_cp]=bench_cpw
       [B_upd_owner]=bench_owner [P_upd]=bench_owner [A_upd_plpgsql]=bench_owner)
wopts=([A_owner]="" [C_internal]="" [B_cp10]="$cp_opts" [C_cp10k]="$cp_opts" [P_read]="" [A_control]=""
       [A_upd]="" [B_upd_cp]="$cp_opts" [B_upd_owner]="" [P_upd]="" [A_upd_plpgsql]="")
wdir=([A_owner]=$work/A [C_internal]=$work/C [B_cp10]=$work/B [C_cp10k]=$work/C [P_read]=$work/P
      [A_control]=$work/A [A_upd]=$work/A [B_upd_cp]=$work/B [B_upd_owner]=$work/B [P_upd]=$work/P
      [A_upd_plpgsql]=$work/A)
# budgets (DESIGN.md) and the figures the issue quotes for the others
goal=([A_owner]="" [C_internal]=0.98 [B_cp10]=0.90 [C_cp10k]=0.90 [P_read]="" [A_control]=""
      [A_upd]="" [B_upd_cp]=0.85 [B_upd_owner]="" [P_upd]="" [A_upd_plpgsql]="")
ref=([A_owner]="" [C_internal]="" [B_cp10]="" [C_cp10k]="" [P_read]=0.55 [A_control]=""
     [A_upd]="" [B_upd_cp]="" [B_upd_owner]="" [P_upd]=0.71 [A_upd_plpgsql]=0.44)
for w in "${names[@]}"; do
  case ${wdir[$w]} in */B | */C) wolink[$w]=1 ;; *) wolink[$w]=0 ;; esac
done
init_results

# Other work on the machine (a test suite, a build) takes CPU from the workloads and makes a ratio
# mean nothing.  Each run waits (a little) for a quiet machine first, and is followed by a measure
# of the CPU time that processes other than this bench's took meanwhile: every process's own and
# reaped children's time from /proc, less this script and our clusters (run.sh's own way, not
# lib.sh's wait_for_quiet and measure, which take the machine's busy time less the bench's).
quiet_wait=${BENCH_QUIET_WAIT:-10}
require_quiet_wait
# cpu_sample FILE: "pid ticks" of every process that is not the bench's
cpu_sample() {
  local pms=" " d
  for d in "${started[@]}"; do pms="$pms$(head -1 "$d/postmaster.pid") "; done
  { awk '{ printf "now %d\n", $1 * '"$hz"' }' /proc/uptime; cat /proc/[0-9]*/stat 2>/dev/null || true; } |
    awk -v self="$$" -v pms="$pms" '
    $1 == "now" { print; next }
    { pid = $1; sub(/^.*\) /, ""); ppid = $2
      if (pid == self || index(pms, " " pid " ") || index(pms, " " ppid " ")) next
      print pid, $12 + $13 + $14 + $15, $20 }' >"$1"
}
# other_load BEFORE AFTER SECONDS: the CPU others took, in % of one CPU
other_load() {
  awk -v hz="$hz" -v wall="$3" 'NR == FNR { if ($1 == "now") t0 = $2; else b[$1] = $2; next }
    $1 == "now" { next }
    { if ($1 in b) d = $2 - b[$1]; else if ($3 >= t0) d = $2; else d = 0   # missed by the first sample
      if (d > 0) s += d }
    END { printf "%.0f\n", 100 * s / hz / wall }' "$1" "$2"
}
wait_for_quiet_procs() {
  local deadline=$((SECONDS + quiet_wait))
  while :; do
    cpu_sample "$work/quiet0"; sleep 0.5; cpu_sample "$work/quiet1"
    [ "$(other_load "$work/quiet0" "$work/quiet1" 0.5)" -lt 10 ] && return 0
    [ "$SECONDS" -lt "$deadline" ] || return 0
  done
}

# CPU time (ticks) of the backends a cluster's postmaster has reaped
reaped_cpu() { awk '{ print $16 + $17 }' "/proc/$(head -1 "$1/postmaster.pid")/stat"; }
# a process's own CPU time (ticks)
proc_cpu() {
  if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
  else
    echo 0
  fi
}

# run_one WORKLOAD SECONDS LOG: sets last_tps, last_other (the other load, % of one CPU), last_cpu
# (the backend's CPU time per transaction, microseconds: what the server spends, without the client
# and the round trip) and last_wcpu (the audit worker's, once it has written and sealed what the
# run queued); counts failed transactions and aborted clients
run_one() {
  local w=$1 secs=$2 log=$3 rc=0 n t0 c0 c1 wp="" wc0=0 wc1=0
  if [ -n "${wvac[$w]}" ]; then
    sql "${wport[$w]}" "${wdb[$w]}" -c "VACUUM ${wvac[$w]}"
  fi
  [ "${wolink[$w]}" = 0 ] || store_upkeep "${wport[$w]}"
  wait_for_quiet_procs
  if [ "${wolink[$w]}" = 1 ]; then wp=$(worker_pid "${wdir[$w]}"); wc0=$(proc_cpu "$wp"); fi
  cpu_sample "$work/cpu0"; t0=$(now); c0=$(reaped_cpu "${wdir[$w]}")
  "${runas[@]}" env PGOPTIONS="${wopts[$w]}" "${client_cpu[@]}" "$bindir/pgbench" -n -M "$protocol" \
      -c 1 -j 1 -T "$secs" -D residents="$residents" -f "$work/${wscript[$w]}" \
      -h "$work" -p "${wport[$w]}" -U "${wuser[$w]}" "${wdb[$w]}" >"$log" 2>&1 || rc=$?
  sleep 0.2   # the postmaster reaps the backend
  c1=$(reaped_cpu "${wdir[$w]}")
  cpu_sample "$work/cpu1"
  last_other=$(other_load "$work/cpu0" "$work/cpu1" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')")
  if [ "${wolink[$w]}" = 1 ]; then
    sql "${wport[$w]}" bench -c "SELECT olink.flush_audit('120 s')" >/dev/null
    wc1=$(proc_cpu "$wp")
  fi
  n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")
  last_cpu=$(awk -v c="$(( c1 - c0 ))" -v n="${n:-0}" -v hz="$hz" \
    'BEGIN { printf "%.2f\n", (n > 0 ? 1e6 * c / hz / n : 0) }')
  last_wcpu=$(awk -v c="$(( wc1 - wc0 ))" -v n="${n:-0}" -v hz="$hz" \
    'BEGIN { printf "%.2f\n", (n > 0 && c > 0 ? 1e6 * c / hz / n : 0) }')
  pgbench_outcome "$w" "$log" "$rc" 'error|abort|fail'
}

warm_up "$warmup" '   %-13s %10.0f tps  %7s us CPU/tx  %6s us worker/tx  (other load %s%% of a CPU)\n'
round_other=1
measure_rounds

# --- WAL per audit event ----------------------------------------------------------------------
say "WAL per audit event: $wal_n point reads on B by bench_owner (not audited), bench_cp (audited), bench_owner"
sql "$port_b" bench -c "CREATE EXTENSION IF NOT EXISTS pg_walinspect"
store_upkeep "$port_b"
# wal_window USER OPTS: sets win_bytes, win_events, win_lsn0, win_lsn1
wal_window() {
  local user=$1 opts=$2 e0 e1 rc=0
  sql "$port_b" bench -c "SELECT olink.flush_audit('120 s')" >/dev/null
  read -r win_lsn0 e0 < <(sql "$port_b" bench -At -F ' ' -c \
    "SELECT pg_current_wal_insert_lsn(), (SELECT events_written FROM olink.audit_status())")
  "${runas[@]}" env PGOPTIONS="$opts" "${client_cpu[@]}" "$bindir/pgbench" -n -M "$protocol" -c 1 -j 1 \
      -t "$wal_n" -D residents="$residents" -f "$work/point-read.sql" \
      -h "$work" -p "$port_b" -U "$user" bench >"$work/wal-$user.log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] || ! grep -q "^number of transactions actually processed: $wal_n/$wal_n" "$work/wal-$user.log"; then
    echo "bench: the WAL measure's pgbench run failed:" >&2; tail -5 "$work/wal-$user.log" >&2; exit 1
  fi
  sql "$port_b" bench -c "SELECT olink.flush_audit('120 s')" >/dev/null
  read -r win_lsn1 e1 < <(sql "$port_b" bench -At -F ' ' -c \
    "SELECT pg_current_wal_insert_lsn(), (SELECT events_written FROM olink.audit_status())")
  win_bytes=$(sql "$port_b" bench -At -c "SELECT pg_wal_lsn_diff('$win_lsn1', '$win_lsn0')")
  win_events=$(( e1 - e0 ))
}
wal_window bench_owner ""
wal_base1=$win_bytes; wal_base1_events=$win_events
wal_window bench_cp "$cp_opts"
wal_cp=$win_bytes; wal_cp_events=$win_events; wal_cp_lsn0=$win_lsn0; wal_cp_lsn1=$win_lsn1
wal_window bench_owner ""
wal_base2=$win_bytes; wal_base2_events=$win_events
wal_base=$(( (wal_base1 + wal_base2) / 2 ))
wal_per_event=$(awk -v a="$wal_cp" -v b="$wal_base" -v n="$wal_cp_events" 'BEGIN { printf "%.1f", (n > 0 ? (a - b) / n : 0) }')
wal_per_stmt=$(awk -v a="$wal_cp" -v b="$wal_base" -v n="$wal_n" 'BEGIN { printf "%.1f", (a - b) / n }')
say "  audited window $wal_cp bytes for $wal_cp_events events; unaudited windows $wal_base1, $wal_base2 bytes" \
    "($wal_base1_events, $wal_base2_events events): $wal_per_event bytes per event"
# pg_walinspect reads flushed WAL only: one synchronous commit flushes the window's
sql "$port_b" bench -c "BEGIN" -c "SET LOCAL synchronous_commit = on" -c "SELECT pg_current_xact_id()" \
    -c "COMMIT" >/dev/null
wal_breakdown=$(sql "$port_b" bench -At -F $'\t' -c "
  SELECT coalesce(c.relname, '-') AS relation, r.resource_manager || '/' || r.record_type AS record,
         count(*), sum(r.record_length), round(sum(r.record_length)::numeric / $wal_cp_events, 1)
    FROM pg_get_wal_records_info('$wal_cp_lsn0', '$wal_cp_lsn1') r
    LEFT JOIN pg_class c ON c.relfilenode = (regexp_match(r.block_ref, 'rel [0-9]+/[0-9]+/([0-9]+)'))[1]::oid
   GROUP BY 1, 2 ORDER BY 4 DESC" 2>"$work/walinspect.err" || true)
[ -n "$wal_breakdown" ] || wal_breakdown="(pg_walinspect: $(head -1 "$work/walinspect.err"))"

# --- INSERT ... SELECT of a million rows ------------------------------------------------------
copies=(A_copy B_copy A_copy_plpgsql)
declare -A cport cdb ctimes cseal
cport=([A_copy]=$port_a [B_copy]=$port_b [A_copy_plpgsql]=$port_a)
cdb=([A_copy]=bench [B_copy]=bench [A_copy_plpgsql]=bench_trig)
for c in "${copies[@]}"; do ctimes[$c]=""; cseal[$c]=""; done
kmax=$(( (copy_rows + residents - 1) / residents - 1 ))
say "INSERT ... SELECT of $copy_rows rows into a fresh table: $copy_reps repetitions, interleaved"
for ((r = 1; r <= copy_reps; r++)); do
  line="   repetition $r:"
  for ((i = 0; i < ${#copies[@]}; i++)); do
    c=${copies[$(( (i + r - 1) % ${#copies[@]} ))]}
    tbl=bulk.copy_$r
    sql "${cport[$c]}" "${cdb[$c]}" -c "CREATE TABLE $tbl (LIKE registry.residents INCLUDING DEFAULTS INCLUDING CONSTRAINTS)" \
        -c "ALTER TABLE $tbl ADD PRIMARY KEY (resident_id)" -c "ALTER TABLE $tbl OWNER TO bench_owner"
    case $c in
      B_copy) sql "$port_b" bench -At -c "SELECT olink.protect('$tbl', 'bench: a bulk copy of residents')" \
                  -c "SELECT olink.flush_audit('30 min')" >/dev/null
              store_upkeep "$port_b" ;;
      A_copy_plpgsql) sql "$port_a" bench_trig -c "CREATE TRIGGER log_change AFTER INSERT OR UPDATE OR DELETE ON $tbl
                                                   FOR EACH ROW EXECUTE FUNCTION bench_audit.log_change()" ;;
    esac
    sql "${cport[$c]}" "${cdb[$c]}" -c "CHECKPOINT"
    wait_for_quiet_procs
    t=$(as_user "${cport[$c]}" "${cdb[$c]}" bench_owner "" -c '\timing on' -c \
      "INSERT INTO $tbl SELECT r.resident_id + k * $residents, r.household_id, r.family_name, r.given_name,
              r.family_name_kana, r.given_name_kana, r.birth_date, r.sex, r.district, r.phone,
              r.registered_on, r.status
         FROM generate_series(0, $kmax) k, registry.residents r LIMIT $copy_rows" |
      sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
    got=$(sql "${cport[$c]}" "${cdb[$c]}" -At -c "SELECT count(*) FROM $tbl")
    if [ -z "$t" ] || [ "$got" != "$copy_rows" ]; then
      echo "bench: $c: the INSERT ... SELECT did not insert $copy_rows rows ($got)" >&2; exit 1
    fi
    ctimes[$c]="${ctimes[$c]} $t"
    line="$line $c $(printf '%.0f' "$t") ms"
    if [ "$c" = B_copy ]; then
      s=$(sql "$port_b" bench -At -c '\timing on' -c "SELECT olink.flush_audit('30 min')" |
          sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
      cseal[$c]="${cseal[$c]} $s"
      line="$line (+ seal $(printf '%.0f' "$s") ms)"
    fi
  done
  echo "$line"
done
jrows=$(sql "$port_b" bench -At -c "SELECT count(*) FROM olink.journal WHERE relation LIKE 'bulk.%'")
trows=$(sql "$port_a" bench_trig -At -c "SELECT count(*) FROM bench_audit.change_log WHERE relation LIKE 'bulk.%'")
say "  journal rows of the copies: $jrows; PL/pgSQL trigger rows: $trows"

# --- verify_audit() ---------------------------------------------------------------------------
sql "$port_b" bench -c "SELECT olink.flush_audit('30 min')" >/dev/null
store_upkeep "$port_b"
store=$(sql "$port_b" bench -At -F ' ' -c "SELECT (SELECT count(*) FROM olink.journal),
  (SELECT count(*) FROM olink.access_event), (SELECT count(*) FROM olink.connection_event),
  (SELECT count(*) FROM olink.audit_text), (SELECT count(*) FROM olink.audit_seal),
  pg_size_pretty(pg_total_relation_size('olink.journal'))")
read -r st_j st_a st_c st_t st_s st_jsize <<<"$store"
st_rows=$(( st_j + st_a + st_c + st_t ))
say "verify_audit() over $st_rows rows (journal $st_j ($st_jsize), access_event $st_a, connection_event $st_c," \
    "audit_text $st_t; seals $st_s): $copy_reps times"
vtimes=""
vfind=0
for ((r = 1; r <= copy_reps; r++)); do
  wait_for_quiet_procs
  out=$(sql "$port_b" bench -At -c '\timing on' -c "SELECT count(*) FROM olink.verify_audit()")
  vt=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' <<<"$out")
  vf=$(head -1 <<<"$out")
  vtimes="$vtimes $vt"
  [ "$vf" = 0 ] || vfind=$vf
  echo "   $(printf '%.0f' "$vt") ms, $vf findings"
done
if [ "$vfind" != 0 ]; then
  echo "WARNING: verify_audit() reported findings on an untouched store:" >&2
  sql "$port_b" bench -c "SELECT * FROM olink.verify_audit() LIMIT 5" >&2
fi

# --- report -----------------------------------------------------------------------------------
report_file results
commit=$(tree_commit extension)

# summary NAME TPS BASE GOAL REF FAILED OTHER CPU BASE-CPU WCPU: one TSV row of the pgbench results
summary() {
  awk -v name="$1" -v tps="$2" -v base="$3" -v goal="$4" -v ref="$5" -v failed="$6" -v other="$7" \
      -v cpu="$8" -v bcpu="$9" -v wcpu="${10}" -v isbase="${11}" '
    function median(a, n,    i, j, t) {
      for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    BEGIN {
      n = split(tps, t, " "); split(base, b, " "); split(other, o, " ")
      split(cpu, c, " "); split(bcpu, bc, " "); split(wcpu, wc, " ")
      min = max = t[1]
      for (i = 1; i <= n; i++) {
        s[i] = t[i]; bs[i] = b[i]; r[i] = (b[i] > 0) ? t[i] / b[i] : 0
        if (t[i] < min) min = t[i]; if (t[i] > max) max = t[i]
        if (o[i] + 0 > omax) omax = o[i] + 0
        cs[i] = c[i]; bcs[i] = bc[i]; ws[i] = wc[i]
        list = list (i > 1 ? "," : "") t[i]; olist = olist (i > 1 ? "," : "") o[i]
        clist = clist (i > 1 ? "," : "") c[i]; wlist = wlist (i > 1 ? "," : "") wc[i] }
      m = median(s, n); mb = median(bs, n); pr = median(r, n)
      mc = median(cs, n); mbc = median(bcs, n); mw = median(ws, n)
      ratio = (mb > 0) ? m / mb : 0
      if (failed > 0) verdict = "invalid"
      else if (isbase) verdict = "baseline"
      else if (goal != "") verdict = (sprintf("%.3f", ratio) + 0 >= goal + 0) ? "met" : "NOT met"
      else if (ref != "") verdict = "issue: " ref
      else if (name ~ /control/) verdict = "noise"
      else verdict = "-"
      printf "%s\t%.1f\t%.3f\t%.3f\t%s\t%s\t%.1f%%\t%.2f\t%.2f\t%.3f\t%d%%\t%d\t%s\t%s\t%s\t%s\n", name, m, ratio,
             pr, (goal == "" ? "-" : goal), verdict, (m > 0 ? 100 * (max - min) / m : 0), mc, mw,
             (mc + mw > 0 ? mbc / (mc + mw) : 0), omax, failed, list, clist, wlist, olist }'
}
{
  for w in "${names[@]}"; do
    b=${wbase[$w]}
    summary "$w" "${tps[$w]}" "${tps[$b]}" "${goal[$w]}" "${ref[$w]}" "${failed[$w]}" "${other[$w]}" \
            "${cpu[$w]}" "${cpu[$b]}" "${wcpu[$w]}" "$([ "$w" = "$b" ] && echo 1 || echo 0)"
  done
} >"$work/summary.tsv"

col() { awk -F'\t' -v w="$1" -v k="$2" '$1 == w { print $k }' "$work/summary.tsv"; }
verdict_ge() { awk -v x="$1" -v g="$2" 'BEGIN { print (x + 0 >= g + 0) ? "met" : "NOT met" }'; }
verdict_le() { awk -v x="$1" -v g="$2" 'BEGIN { print (x + 0 <= g + 0) ? "met" : "NOT met" }'; }

c_base=$(median <<<"${ctimes[A_copy]}")
c_olink=$(median <<<"${ctimes[B_copy]}")
c_trig=$(median <<<"${ctimes[A_copy_plpgsql]}")
c_seal=$(median <<<"${cseal[B_copy]}")
c_ratio=$(awk -v a="$c_olink" -v b="$c_base" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
c_ratio_trig=$(awk -v a="$c_trig" -v b="$c_base" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
c_ratio_seal=$(awk -v a="$c_olink" -v s="$c_seal" -v b="$c_base" 'BEGIN { printf "%.2f", (b > 0 ? (a + s) / b : 0) }')
v_ms=$(median <<<"$vtimes")
v_rate=$(awk -v n="$st_rows" -v ms="$v_ms" 'BEGIN { printf "%.0f", (ms > 0 ? n / (ms / 1000) : 0) }')
flat=$(awk -v a="$(col C_cp10k 2)" -v b="$(col B_cp10 2)" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
busy=$(awk -F'\t' '{ v = $11 + 0; if (v > m) m = v } END { print m + 0 }' "$work/summary.tsv")

{
  echo "olink bench — $rounds rounds x $seconds s per pgbench workload, -M $protocol, 1 client; commit $commit; $stamp"
  echo "data: $data_source, $residents residents; registries: B $gB grants, C $gC grants; synchronous_commit = off," \
       "fsync = off, full_page_writes = off; servers $([ ${#server_cpu[@]} -gt 0 ] && echo "on CPU 1, pgbench on CPU 0" || echo "not pinned")"
  echo
  awk -F'\t' -v reads="${reads[*]}" '
    BEGIN { printf "%-14s %10s %6s %6s %8s %-12s %6s  %7s %7s %6s %6s %s\n", "pgbench", "median tps", "ratio",
                   "paired", "budget", "verdict", "spread", "us CPU", "worker", "CPU r.", "other", "failed"
            print "point reads (ratio to A_owner)"; split(reads, r, " "); for (i in r) isread[r[i]] = 1 }
    !isread[$1] && !upd { print "single-row UPDATE (ratio to A_upd)"; upd = 1 }
    { printf "  %-12s %10s %6s %6s %8s %-12s %6s  %7s %7s %6s %6s %s\n", $1, $2, $3, $4,
             ($5 == "-" ? "" : ">= " $5), $6, $7, $8, ($9 + 0 > 0 ? $9 : "-"), $10, $11, $12 }' "$work/summary.tsv"
  echo "C_cp10k / B_cp10 = $flat  (flat from 10 to 10,000 grants)"
  echo
  printf '%-28s %10s %6s %8s %-12s %s\n' "INSERT ... SELECT $copy_rows" "median ms" "ratio" "budget" "verdict" "ms by repetition"
  printf '  %-26s %10.0f %6s %8s %-12s %s\n' "A_copy (baseline)" "$c_base" "1.00" "" "baseline" "${ctimes[A_copy]# }"
  printf '  %-26s %10.0f %6s %8s %-12s %s\n' "B_copy (olink journal)" "$c_olink" "$c_ratio" "<= 1.5" \
    "$(verdict_le "$c_ratio" 1.5)" "${ctimes[B_copy]# }"
  printf '  %-26s %10.0f %6s %8s %-12s %s\n' "  then the worker's seal" "$c_seal" "$c_ratio_seal" "" "(with seal)" "${cseal[B_copy]# }"
  printf '  %-26s %10.0f %6s %8s %-12s %s\n' "A_copy_plpgsql (trigger)" "$c_trig" "$c_ratio_trig" "" "issue: 4.6" "${ctimes[A_copy_plpgsql]# }"
  echo
  printf 'verify_audit(): %s rows (journal %s, access_event %s, connection_event %s, audit_text %s) in %.0f ms (median of %s)\n' \
    "$st_rows" "$st_j" "$st_a" "$st_c" "$st_t" "$v_ms" "$copy_reps"
  printf '  = %s rows/s   budget >= 2000000   %s   (findings: %s)\n' "$v_rate" "$(verdict_ge "$v_rate" 2000000)" "$vfind"
  echo
  printf 'WAL per audit event: %s bytes   budget <= 200   %s\n' "$wal_per_event" "$(verdict_le "$wal_per_event" 200)"
  printf '  %s counterpart point reads: %s bytes, %s events written; the same reads unaudited: %s and %s bytes;\n' \
    "$wal_n" "$wal_cp" "$wal_cp_events" "$wal_base1" "$wal_base2"
  printf '  (%s - %s) / %s events = %s bytes per event, %s per statement\n' "$wal_cp" "$wal_base" "$wal_cp_events" \
    "$wal_per_event" "$wal_per_stmt"
  echo "  WAL of the audited window by relation and record (count, bytes, bytes per event):"
  awk -F'\t' 'NR <= 8 { printf "    %-24s %-22s %8s %10s %7s\n", $1, $2, $3, $4, $5 }' <<<"$wal_breakdown"
  echo
  echo "Against the budgets of DESIGN.md"
  printf '  %-66s %8s %11s  %s\n' "budget" "figure" "budget" "verdict"
  row() { printf '  %-66s %8s %11s  %s\n' "$@"; }
  row "internal point reads (C_internal)" "$(col C_internal 3)" ">= 0.98" "$(col C_internal 6)"
  row "counterpart point reads, enforced + audited, 10 grants (B_cp10)" "$(col B_cp10 3)" ">= 0.90" "$(col B_cp10 6)"
  row "  the same, 10,000 grants (C_cp10k)" "$(col C_cp10k 3)" ">= 0.90" "$(col C_cp10k 6)"
  row "  flat from 10 to 10,000 grants (C_cp10k / B_cp10)" "$flat" "~ 1" "-"
  row "UPDATE, counterpart, journaled + audited (B_upd_cp)" "$(col B_upd_cp 3)" ">= 0.85" "$(col B_upd_cp 6)"
  row "INSERT ... SELECT of $copy_rows rows (B_copy / A_copy time)" "$c_ratio" "<= 1.5" "$(verdict_le "$c_ratio" 1.5)"
  row "verify_audit(), rows/s" "$v_rate" ">= 2000000" "$(verdict_ge "$v_rate" 2000000)"
  row "WAL bytes per audit event" "$wal_per_event" "<= 200" "$(verdict_le "$wal_per_event" 200)"
  echo "  (counterpart point reads enforced without audit, >= 0.97, cannot be run over a connection: olink audits"
  echo "   every counterpart statement; make bench-instructions measures enforcement alone, in single-user mode)"
  echo "Beside them, measured in this run (the issue's figures in parentheses): pgaudit read $(col P_read 3) (0.55)," \
       "pgaudit write $(col P_upd 3) (0.71), PL/pgSQL trigger UPDATE $(col A_upd_plpgsql 3) (0.44)," \
       "INSERT ... SELECT ${c_ratio_trig}x (4.6x); olink internal UPDATE, journal only $(col B_upd_owner 3)"
  [ "$busy" -lt 10 ] ||
    echo "WARNING: other work used up to $busy% of a CPU during some runs; the ratios are not trustworthy"
  cat <<'LEGEND'

ratio  = median tps / median tps of the baseline (A_owner for reads, A_upd for updates)
paired = median over the rounds of (tps / tps of the baseline in the same round)
spread = (max - min) / median of the rounds
us CPU = median CPU time of the backend per transaction, microseconds (the server's cost without the
         client and the round trip); worker = the audit worker's per transaction (B and C: writing
         the events, sealing the journal); CPU r. = the baseline's us CPU / (us CPU + worker)
other  = the most CPU (% of one) that other work on the machine took during one of the runs
A_control = A_owner run again: how far its ratio strays from 1.000 is how much of any ratio is noise
INSERT ... SELECT ratio = time / the baseline's time (lower is better); "then the worker's seal" is the
         flush_audit() that follows, the worker hashing the new journal rows: not in the budget
LEGEND
} >"$work/report.txt"

{
  echo "# olink bench"
  echo "timestamp=$stamp"
  echo "commit=$commit"
  echo "postgres=$(postgres_version)"
  echo "pgaudit=$(sql "$port_p" bench -At -c "SELECT extversion FROM pg_extension WHERE extname = 'pgaudit'")"
  echo "protocol=$protocol"
  echo "data=$data_source"
  echo "residents=$residents"
  echo "rounds=$rounds"
  echo "seconds=$seconds"
  echo "warmup_seconds=$warmup"
  echo "grants_B=$gB"
  echo "grants_C=$gC"
  echo "native_acl_B=$aclB"
  echo "native_acl_C=$aclC"
  echo "copy_rows=$copy_rows"
  echo "copy_reps=$copy_reps"
  echo "wal_statements=$wal_n"
  echo "pinned=$([ ${#client_cpu[@]} -gt 0 ] && echo yes || echo no)"
  echo
  cat "$work/report.txt"
  echo
  echo "# raw: pgbench workloads"
  printf 'workload\tmedian_tps\tratio\tpaired_ratio\tgoal\tverdict\tspread\tcpu_us_per_tx\tworker_cpu_us_per_tx\tcpu_ratio\tother_load_max\tfailed\ttps_by_round\tcpu_us_by_round\tworker_us_by_round\tother_load_by_round\n'
  cat "$work/summary.tsv"
  echo
  echo "# raw: INSERT ... SELECT, ms by repetition"
  for c in "${copies[@]}"; do printf '%s\t%s\n' "$c" "${ctimes[$c]# }"; done
  printf 'B_copy_seal\t%s\n' "${cseal[B_copy]# }"
  echo "# raw: verify_audit() ms by repetition: ${vtimes# }; rows $st_rows; seals $st_s; journal size $st_jsize"
  echo "# raw: WAL windows (bytes, events): owner $wal_base1 $wal_base1_events; counterpart $wal_cp $wal_cp_events;" \
       "owner $wal_base2 $wal_base2_events"
  echo "# raw: WAL of the audited window by relation and record"
  printf 'relation\trecord\tcount\tbytes\tbytes_per_event\n'
  echo "$wal_breakdown"
} >"$out"

show_report

status=0
check_workloads
exit $status
