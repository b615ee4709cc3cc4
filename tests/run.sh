#!/bin/bash
# Runs the whole suite: every build/tests/test_* binary and every tests/t_*.sh script, each with a
# time limit, logs in BUILD/test-logs/. Exit code 77 from a test means "skipped" (it prints why).
# Ends with the line "N passed, N failed, N skipped" and exits non-zero when anything failed.
# Usage: tests/run.sh [BUILD] [NAME-FILTER]
BUILD=${1:-build}
FILTER=${2:-}
cd "$(dirname "$0")/.." || exit 1
export ZF_BUILD=$BUILD
export ZF_BIN=$PWD/$BUILD/zfviz
export ZF_SHARED=${ZF_SHARED:-$PWD/../shared}
logs=$BUILD/test-logs
mkdir -p "$logs"
pass=0; fail=0; skip=0; failed=()
run_one() {
  local name=$1; shift
  local t0=$(date +%s.%N)
  timeout ${ZF_TEST_TIMEOUT:-600} "$@" >"$logs/$name.log" 2>&1
  local rc=$?
  # Under make asan a sanitizer report fails the test even where a script tolerated the exit code.
  if [ "${ZF_ASAN:-0}" = 1 ] && [ $rc -ne 77 ] &&
     grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$logs/$name.log"; then
    echo "      sanitizer report in $logs/$name.log" >>"$logs/$name.log"
    rc=99
  fi
  local dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  case $rc in
    0)  pass=$((pass+1)); echo "PASS  $name (${dt}s)";;
    77) skip=$((skip+1)); echo "SKIP  $name: $(grep -m1 -i skip "$logs/$name.log")";;
    *)  fail=$((fail+1)); failed+=("$name"); echo "FAIL  $name (exit $rc, ${dt}s) log: $logs/$name.log"
        tail -n 15 "$logs/$name.log" | sed 's/^/      /';;
  esac
}
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  [ -n "$FILTER" ] && [[ $name != *$FILTER* ]] && continue
  run_one "$name" "$t"
done
for t in tests/t_*.sh; do
  [ -f "$t" ] || continue
  name=$(basename "$t" .sh)
  [ -n "$FILTER" ] && [[ $name != *$FILTER* ]] && continue
  run_one "$name" bash "$t"
done
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
