#!/usr/bin/env bash
# Instructions per statement, counted by callgrind: a repeatable complement to run.sh, whose tps
# on a small shared machine vary by 15-20% from run to run.
#
# One throw-away cluster; each figure is the difference between a run of 2,500 statements and one
# of 500, divided by 2,000, so that start-up cost cancels out.
#
# Point reads by primary key, single-user mode (postgres --single, PREPARE/EXECUTE): there is no
# client connection, so olink enforces but does not audit (it audits client sessions only):
#   no_olink     the table owner, olink not loaded at all          (the baseline)
#   internal     the table owner, olink preloaded and installed    (budget >= 0.98)
#   counterpart  a counterpart login, column list and row filter   (budget >= 0.97, enforced)
# Connected sessions: pgbench -M prepared over a unix socket (the same statement text every time, as
# an application's), the whole server under callgrind, each backend's count from the profile it
# writes as it exits.  Point reads, as above, and single-row
# UPDATEs (a random row's given_name, by primary key) of a 12-column table shaped like the demo's
# registry.residents:
#   no_olink     the table owner, olink not loaded (UPDATEs: of an unprotected copy)  (baseline)
#   internal     the table owner, olink loaded; UPDATEs journaled                      (reads >= 0.98)
#   counterpart  enforced and audited (its backend builds each statement's access event and
#                queues it); UPDATEs also journaled       (reads >= 0.90, UPDATEs >= 0.85)
#   audit worker what the worker spends per statement: write_batch() (the events) and
#                seal_journal() (hashing and sealing the journal rows), inclusive.  The worker is
#                stopped (SIGSTOP) while the counterpart's statements run, then writes the run's
#                events in one batch and seals in one pass, and is terminated so that it writes its
#                profile: 2,500-statement run less 500-statement run, so per-batch costs cancel out
#   counterpart + worker: the whole cost on one CPU, against the same budgets
# Beside them, the olink functions that cost the counterpart backend and the worker most, inclusive
# instructions per statement.
# Usage: make bench-instructions, or bash test/bench/instructions.sh (as root; needs valgrind).
# Takes about ten minutes.  BENCH_PROFILES=<directory> keeps the callgrind profiles there.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
bindir=$(/usr/lib/postgresql/15/bin/pg_config --bindir)
command -v valgrind >/dev/null || { apt-get install -y -qq valgrind >/dev/null; }
runas=()
[ "$(id -u)" -eq 0 ] && runas=(runuser -u postgres --)
port=$(( 30000 + RANDOM % 10000 ))

work=$(mktemp -d /tmp/olink-instr.XXXXXX)
chown postgres "$work" 2>/dev/null || true
vg_pid=""
cleanup() {
  if [ -n "${BENCH_PROFILES:-}" ]; then mkdir -p "$BENCH_PROFILES" && cp "$work"/*.cg "$BENCH_PROFILES"/ 2>/dev/null || true; fi
  [ -f "$work/data/postmaster.pid" ] && (cd / && "${runas[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1)
  [ -z "$vg_pid" ] || kill "$vg_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

make -C "$top" -s >/dev/null && make -C "$top" -s install >/dev/null
(cd / && "${runas[@]}" "$bindir/initdb" -D "$work/data" -A trust -U postgres >/dev/null)
printf "shared_preload_libraries = 'olink'\nlisten_addresses = ''\nunix_socket_directories = '%s'\nport = %s\nautovacuum = off\n" \
  "$work" "$port" >> "$work/data/postgresql.conf"
(cd / && "${runas[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null)
psql_() { "${runas[@]}" "$bindir/psql" -h "$work" -p "$port" -U postgres -X -q -At -v ON_ERROR_STOP=1 postgres "$@"; }
psql_ <<'SQL' >/dev/null
CREATE EXTENSION olink;
CREATE ROLE bench_owner LOGIN;
CREATE TABLE t (id int PRIMARY KEY, v text, d text);
INSERT INTO t SELECT g, 'v' || g, CASE WHEN g % 2 = 0 THEN 'e' ELSE 'w' END FROM generate_series(1, 100000) g;
ALTER TABLE t OWNER TO bench_owner;
SELECT olink.protect(relation => 't', description => 'bench');
CREATE ROLE bench_cp LOGIN;
SELECT olink.add_counterpart(name => 'bench', necessity => 'bench', approved_by => 'bench', approved_on => '2026-01-01');
SELECT olink.add_agreement(counterpart => 'bench', title => 'bench', purposes => ARRAY['bench'], valid_from => '2026-01-01',
                           staff_duties => 'bench', disposal_terms => 'bench');
SELECT olink._adopt_credential(counterpart => 'bench', login => 'bench_cp');
SELECT olink.add_terminal(counterpart => 'bench', name => 'bench-local', manager => 'bench', addresses => '{}', local_connections => true);
SELECT olink.grant_access(counterpart => 'bench', relation => 't', privileges => ARRAY['select'],
                          columns => ARRAY['id', 'v', 'd'], row_filter => $$d <> 'x'$$, purposes => ARRAY['bench']);
-- for the UPDATEs: a table shaped like the demo's registry.residents, protected (p), and the same
-- without olink (p0)
CREATE TABLE p (id bigint PRIMARY KEY, household_id bigint, family_name text, given_name text,
                family_name_kana text, given_name_kana text, birth_date date, sex text,
                district text NOT NULL, phone text, registered_on date, status text);
INSERT INTO p SELECT g, g / 3, '佐藤' || g % 997, '花子' || g % 991, 'サトウ' || g % 97, 'ハナコ' || g % 89,
                     date '1940-01-01' + g % 30000, CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END,
                     (ARRAY['Chuo', 'Hanamigawa', 'Inage', 'Wakaba', 'Midori', 'Mihama'])[1 + g % 6],
                     '043-' || lpad((g * 7919 % 10000000)::text, 7, '0'), date '2000-01-01' + g % 9000, 'active'
                FROM generate_series(1, 100000) g;
CREATE TABLE p0 (LIKE p INCLUDING ALL);
INSERT INTO p0 SELECT * FROM p;
ALTER TABLE p OWNER TO bench_owner;
ALTER TABLE p0 OWNER TO bench_owner;
SELECT olink.protect(relation => 'p', description => 'bench');
SELECT olink.grant_access(counterpart => 'bench', relation => 'p', privileges => ARRAY['select', 'update'],
                          columns => ARRAY['id', 'given_name'], row_filter => $$district <> ''$$,
                          purposes => ARRAY['bench']);
VACUUM ANALYZE;
SQL
(cd / && "${runas[@]}" "$bindir/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null)

# --- single-user mode -------------------------------------------------------------------------
statements() {	# login count
  echo "SET SESSION AUTHORIZATION $1;"
  echo "SET olink.purpose = 'bench';"
  echo 'PREPARE q(int) AS SELECT id, v, d FROM t WHERE id = $1;'
  for i in $(seq 1 "$2"); do echo "EXECUTE q($(( (i * 7919) % 100000 + 1 )));"; done
}

count() {	# login count extra-options -> instructions
  statements "$1" "$2" > "$work/in.sql"
  chmod 644 "$work/in.sql"
  (cd / && "${runas[@]}" valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
      "$bindir/postgres" --single -D "$work/data" $3 -j postgres < "$work/in.sql" > "$work/single.log" 2>&1)
  if grep -q "ERROR" "$work/single.log"; then
    echo "error in the $1 run:" >&2; grep -m3 ERROR "$work/single.log" >&2; exit 1
  fi
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/single.log" | tail -1
}

per_statement() {	# login extra-options
  local a b
  a=$(count "$1" 500 "$2")
  b=$(count "$1" 2500 "$2")
  echo $(( (b - a) / 2000 ))
}

base=$(per_statement bench_owner "-c shared_preload_libraries=")
internal=$(per_statement bench_owner "")
cp=$(per_statement bench_cp "")

# --- connected sessions -----------------------------------------------------------------------
cg="$work/cg"
mkdir -p "$cg"
chown postgres "$cg" 2>/dev/null || true
# the connected sessions' statements, as pgbench scripts: the same text every time, as an
# application's prepared statements have (the worker keeps each distinct text once)
printf '\\set id random(1, 100000)\nSELECT id, v, d FROM t WHERE id = :id;\n' > "$work/read.sql"
for tbl in p p0; do
  printf '\\set id random(1, 100000)\n\\set v random(100000, 999999)\nUPDATE %s SET given_name = %s || :v WHERE id = :id;\n' \
    "$tbl" "'n'" > "$work/update-$tbl.sql"
done
chmod 644 "$work"/*.sql

start_vg() {	# extra postgres options: the postmaster and every backend under callgrind
  rm -f "$cg"/*
  (cd / && exec "${runas[@]}" valgrind --tool=callgrind --callgrind-out-file="$cg/cg.%p" \
      "$bindir/postgres" -D "$work/data" "$@" > "$work/vg.log" 2>&1) &
  vg_pid=$!
  for _ in $(seq 1 120); do
    "${runas[@]}" "$bindir/pg_isready" -h "$work" -p "$port" -q && return 0
    sleep 1
  done
  echo "bench: the server under callgrind did not start:" >&2; tail -5 "$work/vg.log" >&2; exit 1
}
stop_vg() {
  (cd / && "${runas[@]}" "$bindir/pg_ctl" -D "$work/data" -m fast -w -t 300 stop >/dev/null)
  wait "$vg_pid" 2>/dev/null || true
  vg_pid=""
}
# total FILE: the instructions of a profile, once it is completely written
total() {
  local f=$1
  for _ in $(seq 1 600); do
    if [ -s "$f" ] && grep -q '^totals:' "$f"; then
      sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$f"
      return 0
    fi
    sleep 0.1
  done
  echo "bench: no complete profile in $f" >&2; exit 1
}
# inclusive FILE: "function instructions" of every olink function, inclusive of what it calls
inclusive() {
  # from /: run elsewhere, callgrind_annotate may list a function twice (by absolute and relative path)
  (cd / && callgrind_annotate --inclusive=yes --auto=no --threshold=100 "$1" 2>/dev/null) |
    awk '/extension\/[a-z_]+\.c:/ { n = $1; gsub(/,/, "", n); f = $0; sub(/.*extension\//, "", f); sub(/ .*/, "", f)
                                    print f, n }'
}
# settle: wait until every backend that has exited has written its profile (psql's included)
settle() {
  local n1 n2 f
  for _ in $(seq 1 120); do
    n1=$(ls "$cg" | wc -l); sleep 1; n2=$(ls "$cg" | wc -l)
    if [ "$n1" = "$n2" ]; then
      # (the postmaster's own profile stays empty until it stops)
      for f in "$cg"/*; do [ ! -s "$f" ] || grep -q '^totals:' "$f" || continue 2; done
      return 0
    fi
  done
}
# backend LOGIN SCRIPT COUNT OPTIONS: pgbench -M prepared, COUNT transactions; copies the profile
# its backend wrote as it exited to $work/<LOGIN>-<SCRIPT>-<COUNT>.cg.  pgbench opens a connection
# of its own besides its client's: of the new profiles, the client's is the largest.
backend() {
  local before new f n best="" bestn=0 complete
  settle
  before=$(ls "$cg")
  "${runas[@]}" env PGOPTIONS="$4" "$bindir/pgbench" -n -M prepared --random-seed=1 -c 1 -j 1 -t "$3" \
      -f "$work/$2.sql" -h "$work" -p "$port" -U "$1" postgres > "$work/pgbench.log" 2>&1 || {
    echo "bench: pgbench $2 as $1 failed:" >&2; tail -5 "$work/pgbench.log" >&2; exit 1; }
  for _ in $(seq 1 600); do
    new=$(ls "$cg" | grep -vxF -f <(echo "$before") || true)
    complete=0
    for f in $new; do grep -q '^totals:' "$cg/$f" 2>/dev/null && complete=$((complete + 1)); done
    [ "$complete" -lt 2 ] || break
    sleep 0.2
  done
  settle
  for f in $(ls "$cg" | grep -vxF -f <(echo "$before") || true); do
    n=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$cg/$f")
    if [ "${n:-0}" -gt "$bestn" ]; then best=$f; bestn=$n; fi
  done
  [ -n "$best" ] || { echo "bench: the pgbench backend wrote no profile" >&2; exit 1; }
  cp "$cg/$best" "$work/$1-$2-$3.cg"
}
worker_pid() { psql_ -c "SELECT worker_pid FROM olink.audit_status()"; }
events_written() { psql_ -c "SELECT events_written FROM olink.audit_status()"; }
# held LOGIN SCRIPT COUNT OPTIONS: backend(), with a fresh audit worker stopped meanwhile; then the
# worker writes the run's events in one batch and seals its journal rows in one pass, and is
# terminated so that its profile is written to $work/worker-<SCRIPT>-<COUNT>.cg; sets held_events.
# Each profile covers the same: the worker's start, one flush, the run, one flush, its exit.
new_worker() {	# the worker after old (or any worker, when old is empty)
  local w
  for _ in $(seq 1 300); do
    w=$(worker_pid)
    if [ -n "$w" ] && [ "$w" != "$1" ]; then echo "$w"; return 0; fi
    sleep 1
  done
  echo "bench: the audit worker did not start" >&2; exit 1
}
held() {
  local w e0
  w=$(new_worker "")
  psql_ -c "SELECT pg_terminate_backend($w)" >/dev/null
  w=$(new_worker "$w")
  psql_ -c "SELECT olink.flush_audit('10 min')" >/dev/null
  e0=$(events_written)
  kill -STOP "$w"
  backend "$@"
  kill -CONT "$w"
  psql_ -c "SELECT olink.flush_audit('10 min')" >/dev/null
  held_events=$(( $(events_written) - e0 ))
  psql_ -c "SELECT pg_terminate_backend($w)" >/dev/null
  total "$cg/cg.$w" >/dev/null
  cp "$cg/cg.$w" "$work/worker-$2-$3.cg"
}
# per LOGIN SCRIPT: instructions per statement, 2,500-run less 500-run
per() { echo $(( ($(total "$work/$1-$2-2500.cg") - $(total "$work/$1-$2-500.cg")) / 2000 )); }
# fn_of FILE FUNCTION: a function's inclusive instructions in a profile
fn_of() { inclusive "$1" | awk -v f="$2" '$1 == f { n += $2 } END { print n + 0 }'; }

start_vg -c shared_preload_libraries=
for n in 500 2500; do
  backend bench_owner read "$n" ""
  mv "$work/bench_owner-read-$n.cg" "$work/base-read-$n.cg"
  backend bench_owner update-p0 "$n" ""
done
stop_vg
start_vg
for n in 500 2500; do
  backend bench_owner read "$n" ""
  backend bench_owner update-p "$n" ""
done
declare -A ev
for n in 500 2500; do
  held bench_cp read "$n" "-c olink.purpose=bench"; ev[read-$n]=$held_events
  held bench_cp update-p "$n" "-c olink.purpose=bench"; ev[update-p-$n]=$held_events
done
stop_vg

c_base=$(per base read)
c_internal=$(per bench_owner read)
c_cp=$(per bench_cp read)
u_base=$(per bench_owner update-p0)
u_internal=$(per bench_owner update-p)
u_cp=$(per bench_cp update-p)
# the worker, per statement: write_batch() (events) and seal_journal() (journal rows), 2,500 less 500
wfn() {	# SCRIPT FUNCTION
  echo $(( ($(fn_of "$work/worker-$1-2500.cg" "$2") - $(fn_of "$work/worker-$1-500.cg" "$2")) / 2000 ))
}
r_wb=$(wfn read audit_worker.c:write_batch)
r_sj=$(wfn read audit_worker.c:seal_journal)
u_wb=$(wfn update-p audit_worker.c:write_batch)
u_sj=$(wfn update-p audit_worker.c:seal_journal)

ratio() { echo "$1 / $2" | bc -l; }
line() { printf "  %-26s %14s %7s %9s   %s\n" "$@"; }
printf "\nolink bench — instructions per statement (callgrind)\n\n"
printf "point reads, single-user mode, PREPARE/EXECUTE (olink enforces, does not audit: no client connection)\n"
line workload instructions ratio goal ""
line no_olink "$base" "1.000" "-" ""
line internal "$internal" "$(printf %.3f "$(ratio "$base" "$internal")")" ">= 0.98" ""
line counterpart "$cp" "$(printf %.3f "$(ratio "$base" "$cp")")" ">= 0.97" "enforced"
printf "\npoint reads, connected (pgbench -M prepared; olink audits every counterpart statement)\n"
line workload instructions ratio goal ""
line no_olink "$c_base" "1.000" "-" ""
line internal "$c_internal" "$(printf %.3f "$(ratio "$c_base" "$c_internal")")" ">= 0.98" ""
line counterpart "$c_cp" "$(printf %.3f "$(ratio "$c_base" "$c_cp")")" ">= 0.90" "enforced + audited: event built and queued"
line "audit worker" "$(( r_wb + r_sj ))" "" "" "per statement: write_batch $r_wb, seal_journal $r_sj (events per run: ${ev[read-500]}, ${ev[read-2500]})"
line "counterpart + worker" "$(( c_cp + r_wb + r_sj ))" "$(printf %.3f "$(ratio "$c_base" "$(( c_cp + r_wb + r_sj ))")")" ">= 0.90" \
  "the whole cost of an audited read"
printf "\nsingle-row UPDATEs of a 12-column table shaped like registry.residents, connected\n"
line workload instructions ratio goal ""
line no_olink "$u_base" "1.000" "-" "an unprotected copy, olink not loaded"
line internal "$u_internal" "$(printf %.3f "$(ratio "$u_base" "$u_internal")")" "" "journaled"
line counterpart "$u_cp" "$(printf %.3f "$(ratio "$u_base" "$u_cp")")" ">= 0.85" "enforced, journaled and audited"
line "audit worker" "$(( u_wb + u_sj ))" "" "" "per statement: write_batch $u_wb, seal_journal $u_sj (events per run: ${ev[update-p-500]}, ${ev[update-p-2500]})"
line "counterpart + worker" "$(( u_cp + u_wb + u_sj ))" "$(printf %.3f "$(ratio "$u_base" "$(( u_cp + u_wb + u_sj ))")")" ">= 0.85" \
  "the whole cost of an audited, journaled update"

# where it goes: olink functions, inclusive instructions per statement (2,500-run less 500-run); the
# hooks, which run the whole statement inside them, and the worker's main loop are left out
per_fn() {	# small-profile big-profile lines
  LC_ALL=C join <(inclusive "$1" | awk '{ n[$1] += $2 } END { for (f in n) print f, n[f] }' | LC_ALL=C sort -k1,1) \
                <(inclusive "$2" | awk '{ n[$1] += $2 } END { for (f in n) print f, n[f] }' | LC_ALL=C sort -k1,1) |
    awk '{ printf "%s %d\n", $1, ($3 - $2) / 2000 }' | sort -k2,2nr |
    awk '$2 > 0 && $1 !~ /:(audit|olink)_(planner|ProcessUtility|Executor(Start|Run|Finish|End)|audit_worker_main)$/' |
    head -"$3" |
    awk '{ printf "    %-44s %10d\n", $1, $2 }'
}
printf "\nwhere it goes: olink functions (not the hooks), inclusive instructions per statement\n"
printf "  counterpart backend, point read:\n"; per_fn "$work/bench_cp-read-500.cg" "$work/bench_cp-read-2500.cg" 12
printf "  counterpart backend, UPDATE:\n"; per_fn "$work/bench_cp-update-p-500.cg" "$work/bench_cp-update-p-2500.cg" 12
printf "  audit worker, per point read:\n"; per_fn "$work/worker-read-500.cg" "$work/worker-read-2500.cg" 10
printf "  audit worker, per UPDATE:\n"; per_fn "$work/worker-update-p-500.cg" "$work/worker-update-p-2500.cg" 12
