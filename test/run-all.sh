#!/usr/bin/env bash
# Runs every olink test suite and ends with one line: "N passed, N failed".
#
#   pg_regress   sql/*.sql against expected/*.out        (one count per test file)
#   isolation    test/specs/*.spec                        (one count per spec)
#   pgTAP        test/pgtap/*.sql through pg_prove         (one count per assertion)
#   TAP          test/t/*.pl through prove (PostgreSQL::Test::Cluster; one count per assertion)
#
# PostgreSQL refuses to run as root, so the suites run as the postgres OS user in a copy of the
# test files under a temporary directory; every server they start is a throw-away instance that
# is stopped before this script returns.  Exits non-zero when anything failed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bindir=$(/usr/lib/postgresql/15/bin/pg_config --bindir)
pgxs=$(dirname "$(/usr/lib/postgresql/15/bin/pg_config --pgxs)")
runas=()
[ "$(id -u)" -eq 0 ] && runas=(runuser -u postgres --)

passed=0
failed=0
# what failed, named, printed again just before the closing line (CI shows only the tail)
summary=()
note_failures() {   # note_failures LABEL LOG PATTERN
  local line
  while IFS= read -r line; do summary+=("$1: $line"); done < <(grep -E "$3" "$2" 2>/dev/null | head -n 20)
}
work=$(mktemp -d /tmp/olink-test.XXXXXX)
pgtap_data=""
cleanup() {
  if [ -n "$pgtap_data" ] && [ -f "$pgtap_data/postmaster.pid" ]; then
    "${runas[@]}" "$bindir/pg_ctl" -D "$pgtap_data" -m immediate stop >/dev/null 2>&1
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== build and install"
make -C "$top" -s >/dev/null || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
make -C "$top" -s install >/dev/null || { echo "install failed"; echo "0 passed, 1 failed"; exit 1; }

cp -r "$top/sql" "$top/expected" "$top/test" "$work/"
chown -R postgres "$work" 2>/dev/null || true

# --- pg_regress -------------------------------------------------------------------------------
tests=$(sed -n 's/^REGRESS[[:space:]]*=[[:space:]]*//p' "$top/Makefile")
echo "== pg_regress: $tests"
(cd "$work" && "${runas[@]}" "$pgxs/../test/regress/pg_regress" \
    --bindir="$bindir" --inputdir=. --outputdir=regress \
    --temp-instance=tmp_regress --temp-config=test/regress.conf \
    --dbname=contrib_regression $tests) > "$work/regress.log" 2>&1
cat "$work/regress.log"
p=$(grep -cE '^(test| )?[[:space:]]*[a-z_0-9]+[[:space:]]+\.\.\. ok' "$work/regress.log")
f=$(grep -cE '\.\.\. FAILED' "$work/regress.log")
passed=$((passed + p)); failed=$((failed + f))
note_failures "pg_regress" "$work/regress.log" '\.\.\. FAILED'
if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); summary+=("pg_regress: did not run"); fi
if [ -s "$work/regress/regression.diffs" ]; then
  echo "-- regression.diffs:"; cat "$work/regress/regression.diffs"
  # keep the actual output beside the sources (git-ignored) for inspection
  rm -rf "$top/results"; cp -r "$work/regress/results" "$top/results" 2>/dev/null
fi

# --- pg_regress again, beside pgaudit and pg_stat_statements, in both load orders -------------
# olink must chain every hook it replaces: the same suites must give the same output whatever
# is loaded before or after it.
for order in "pgaudit,pg_stat_statements,olink" "olink,pg_stat_statements,pgaudit"; do
  if [ -f "$(/usr/lib/postgresql/15/bin/pg_config --pkglibdir)/pgaudit.so" ]; then
    tag=$(echo "$order" | tr ',' '-')
    printf "shared_preload_libraries = '%s'\npgaudit.log = 'all'\npg_stat_statements.track_utility = on\nolink.database = 'contrib_regression'\n" "$order" > "$work/test/beside-$tag.conf"
    echo "== pg_regress beside other extensions: $order"
    (cd "$work" && "${runas[@]}" "$pgxs/../test/regress/pg_regress" \
        --bindir="$bindir" --inputdir=. --outputdir="regress-$tag" \
        --temp-instance="tmp_$tag" --temp-config="test/beside-$tag.conf" \
        --dbname=contrib_regression $tests) > "$work/regress-$tag.log" 2>&1
    (cd "$work/test/beside" && "${runas[@]}" "$pgxs/../test/regress/pg_regress" \
        --bindir="$bindir" --inputdir=. --outputdir="out-$tag" \
        --temp-instance="tmp_$tag" --temp-config="../beside-$tag.conf" \
        --dbname=contrib_regression beside) >> "$work/regress-$tag.log" 2>&1
    cat "$work/regress-$tag.log"
    p=$(grep -cE '\.\.\. ok' "$work/regress-$tag.log")
    f=$(grep -cE '\.\.\. FAILED' "$work/regress-$tag.log")
    passed=$((passed + p)); failed=$((failed + f))
    note_failures "pg_regress beside $order" "$work/regress-$tag.log" '\.\.\. FAILED'
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); summary+=("pg_regress beside $order: did not run"); fi
    [ -s "$work/regress-$tag/regression.diffs" ] && cat "$work/regress-$tag/regression.diffs"
    if [ -s "$work/test/beside/out-$tag/regression.diffs" ]; then
      cat "$work/test/beside/out-$tag/regression.diffs"
      mkdir -p "$top/results"; cp "$work/test/beside/out-$tag/results/beside.out" "$top/results/beside-$tag.out" 2>/dev/null
    fi
  fi
done

# --- isolation --------------------------------------------------------------------------------
specs=$(cd "$top/test/specs" 2>/dev/null && ls *.spec 2>/dev/null | sed 's/\.spec$//' | tr '\n' ' ')
if [ -n "$specs" ]; then
  echo "== isolation: $specs"
  (cd "$work/test" && "${runas[@]}" "$pgxs/../test/isolation/pg_isolation_regress" \
      --bindir="$bindir" --inputdir=. --outputdir=isolation \
      --temp-instance=tmp_isolation --temp-config=isolation.conf \
      --dbname=isolation_regression $specs) > "$work/isolation.log" 2>&1
  cat "$work/isolation.log"
  p=$(grep -cE '\.\.\. ok' "$work/isolation.log")
  f=$(grep -cE '\.\.\. FAILED' "$work/isolation.log")
  passed=$((passed + p)); failed=$((failed + f))
  note_failures "isolation" "$work/isolation.log" '\.\.\. FAILED'
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); summary+=("isolation: did not run"); fi
  if [ -s "$work/test/isolation/regression.diffs" ]; then
    echo "-- isolation diffs:"; cat "$work/test/isolation/regression.diffs"
    mkdir -p "$top/results"; rm -rf "$top/results/isolation"
    cp -r "$work/test/isolation/results" "$top/results/isolation" 2>/dev/null
  fi
fi

# --- pgTAP ------------------------------------------------------------------------------------
if ls "$top"/test/pgtap/*.sql >/dev/null 2>&1; then
  echo "== pgTAP"
  pgtap_data="$work/pgtap-data"
  port=$(( 56000 + RANDOM % 2000 ))
  "${runas[@]}" "$bindir/initdb" -D "$pgtap_data" -A trust -U postgres >/dev/null
  grep -v '^olink.database' "$top/test/regress.conf" >> "$pgtap_data/postgresql.conf"
  echo "olink.database = 'olink_tap'" >> "$pgtap_data/postgresql.conf"
  printf "port = %s\nlisten_addresses = ''\nunix_socket_directories = '%s'\n" "$port" "$work" >> "$pgtap_data/postgresql.conf"
  "${runas[@]}" "$bindir/pg_ctl" -D "$pgtap_data" -l "$work/pgtap-server.log" -w start >/dev/null
  "${runas[@]}" "$bindir/createdb" -h "$work" -p "$port" -U postgres olink_tap
  "${runas[@]}" "$bindir/psql" -h "$work" -p "$port" -U postgres -X -q -d olink_tap \
      -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION olink'
  (cd "$work" && "${runas[@]}" pg_prove -h "$work" -p "$port" -U postgres -d olink_tap \
      --verbose test/pgtap/*.sql) > "$work/pgtap.log" 2>&1
  cat "$work/pgtap.log"
  p=$(grep -cE '^ok [0-9]+' "$work/pgtap.log")
  f=$(grep -cE '^not ok [0-9]+' "$work/pgtap.log")
  passed=$((passed + p)); failed=$((failed + f))
  note_failures "pgTAP" "$work/pgtap.log" '^not ok [0-9]+'
  # a file that died before its plan finished counts as a failure too
  if grep -qE 'Result: FAIL' "$work/pgtap.log" && [ "$f" -eq 0 ]; then failed=$((failed + 1)); summary+=("pgTAP: a file died or broke its plan"); fi
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); summary+=("pgTAP: did not run"); fi
  (cd / && "${runas[@]}" "$bindir/pg_ctl" -D "$pgtap_data" -m fast stop >/dev/null)
fi

# --- TAP: PostgreSQL::Test::Cluster ---------------------------------------------------------
# Crash, restart and shutdown tests that need servers of their own (test/t/*.pl).  Each file starts
# and stops its own throw-away clusters under $work/tap/tmp_check (PostgreSQL::Test::Utils puts
# tmp_check under $TESTDIR).  An assertion marked TODO (a known olink bug, named in its reason) is
# counted neither way, and listed; a file that dies or breaks its plan counts as one failure.
if ls "$top"/test/t/*.pl >/dev/null 2>&1; then
  echo "== TAP: $(cd "$top/test/t" && ls *.pl | tr '\n' ' ')"
  mkdir -p "$work/tap"
  chown postgres "$work/tap" 2>/dev/null || true
  (cd "$work/tap" && "${runas[@]}" env PATH="$bindir:$PATH" \
      PERL5LIB="$pgxs/../test/perl" PG_REGRESS="$pgxs/../test/regress/pg_regress" \
      TESTDIR="$work/tap" prove --verbose "$work"/test/t/*.pl) > "$work/tap.log" 2>&1
  cat "$work/tap.log"
  p=$(grep -E '^ok [0-9]+' "$work/tap.log" | grep -cviE '^ok [0-9]+.* # skip')
  f=$(grep -E '^not ok [0-9]+' "$work/tap.log" | grep -cvE '^not ok [0-9]+.* # TODO')
  todo=$(grep -cE '^not ok [0-9]+.* # TODO' "$work/tap.log")
  died=$(grep -cE '\.pl \(Wstat: [0-9]+.*Failed: 0\)' "$work/tap.log")
  [ "$todo" -gt 0 ] && echo "-- TAP: $todo known failure(s) marked TODO (not counted)"
  [ "$died" -gt 0 ] && echo "-- TAP: $died file(s) died or broke their plan"
  passed=$((passed + p)); failed=$((failed + f + died))
  # name the file of each failed assertion: prove prints the file's name before its output
  while IFS= read -r line; do summary+=("TAP: $line"); done < <(awk '
      /^\/.*\.pl \.+/ { file = $1; sub(/.*\//, "", file) }
      /^not ok [0-9]+/ && !/# TODO/ { print file ": " $0 }
      /\.pl \(Wstat: [0-9]+.*Failed: 0\)/ { print $1 ": died or broke its plan" }' "$work/tap.log" | head -n 20)
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); summary+=("TAP: did not run"); fi
  if [ "$f" -gt 0 ] || [ "$died" -gt 0 ]; then
    # keep the servers' logs and each test's own log beside the sources (git-ignored) for inspection
    mkdir -p "$top/results"; rm -rf "$top/results/tap"
    cp -r "$work/tap/tmp_check/log" "$top/results/tap" 2>/dev/null
  fi
fi

if [ ${#summary[@]} -gt 0 ]; then
  echo "== what failed"
  printf '  %s\n' "${summary[@]}"
  # the start of each diff again, so that a log cut to its tail still shows what differed
  for d in "$work"/regress*/regression.diffs "$work"/test/beside/out-*/regression.diffs \
           "$work"/test/isolation/regression.diffs; do
    [ -s "$d" ] || continue
    echo "-- ${d#"$work"/} (first 60 lines)"
    head -n 60 "$d"
  done
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
