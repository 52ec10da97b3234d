#!/usr/bin/env bash
# Instructions per statement, counted by callgrind: a repeatable complement to run.sh, whose tps
# on a small shared machine vary by 15-20% from run to run.
#
# One throw-away cluster; point reads by primary key through a prepared statement (PREPARE/EXECUTE)
# in single-user mode, 500 and 2,500 of them per run, so that start-up cost cancels out:
#   no_olink     the table owner, olink not loaded at all          (the baseline)
#   internal     the table owner, olink preloaded and installed    (budget >= 0.98)
#   counterpart  a counterpart login, column list and row filter   (budget >= 0.97)
# Usage: make bench-instructions, or bash test/bench/instructions.sh (as root; needs valgrind).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
bindir=$(/usr/lib/postgresql/15/bin/pg_config --bindir)
command -v valgrind >/dev/null || { apt-get install -y -qq valgrind >/dev/null; }
runas=()
[ "$(id -u)" -eq 0 ] && runas=(runuser -u postgres --)

work=$(mktemp -d /tmp/olink-instr.XXXXXX)
chown postgres "$work" 2>/dev/null || true
cleanup() {
  [ -f "$work/data/postmaster.pid" ] && (cd / && "${runas[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1)
  rm -rf "$work"
}
trap cleanup EXIT

make -C "$top" -s >/dev/null && make -C "$top" -s install >/dev/null
(cd / && "${runas[@]}" "$bindir/initdb" -D "$work/data" -A trust -U postgres >/dev/null)
printf "shared_preload_libraries = 'olink'\nlisten_addresses = ''\nunix_socket_directories = '%s'\nport = 5431\n" "$work" \
  >> "$work/data/postgresql.conf"
(cd / && "${runas[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null)
"${runas[@]}" "$bindir/psql" -h "$work" -p 5431 -U postgres -X -q -v ON_ERROR_STOP=1 postgres <<'SQL' >/dev/null
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
SELECT olink.add_credential(counterpart => 'bench', login => 'bench_cp');
SELECT olink.grant_access(counterpart => 'bench', relation => 't', privileges => ARRAY['select'],
                          columns => ARRAY['id', 'v', 'd'], row_filter => $$d <> 'x'$$, purposes => ARRAY['bench']);
VACUUM ANALYZE t;
SQL
(cd / && "${runas[@]}" "$bindir/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null)

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

printf "\nolink bench — instructions per point read (callgrind, single-user PREPARE/EXECUTE)\n\n"
printf "%-12s %14s %7s %9s\n" workload instructions ratio goal
printf "%-12s %14d %7s %9s\n" no_olink "$base" "1.000" "-"
printf "%-12s %14d %7.3f %9s\n" internal "$internal" "$(echo "$base / $internal" | bc -l)" ">= 0.98"
printf "%-12s %14d %7.3f %9s\n" counterpart "$cp" "$(echo "$base / $cp" | bc -l)" ">= 0.97"
