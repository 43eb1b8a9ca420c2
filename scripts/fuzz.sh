#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz) in the sanitizer build (preset asan: clang,
# AddressSanitizer + UndefinedBehaviorSanitizer), two at a time on two cores.
#   scripts/fuzz.sh                   every target for 30 s
#   scripts/fuzz.sh normalize_meta    one target for 30 s
#   scripts/fuzz.sh all 600           every target for 10 minutes
# Each target's corpus grows in build-asan/fuzz/corpus/<target>, seeded from its seeds and
# regression inputs (tests/fuzz/CMakeLists.txt names them). An input that crashes, leaks or
# breaks the target's checks is written to build-asan/fuzz/artifacts/ and fails the run: fix the
# bug, then keep the input in tests/fuzz/regressions/<target>/ so the unit tests replay it.
# Prints executions, executions per second, corpus size and crashes per target.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-all}"
seconds="${2:-30}"
scripts/install-deps.sh
[ -f build-asan/build.ninja ] || cmake --preset asan >/dev/null
list=build-asan/fuzz_targets.txt
if [ "$target" = all ]; then
  targets=$(cut -d' ' -f1 "$list")
else
  grep -q "^$target " "$list" || { echo "unknown fuzz target $target; known: $(cut -d' ' -f1 "$list" | tr '\n' ' ')" >&2; exit 2; }
  targets="$target"
fi
ninja -C build-asan -j2 $(for t in $targets; do echo "${t}_fuzz"; done) >/dev/null

out=build-asan/fuzz
mkdir -p "$out/artifacts" "$out/logs"
run_one() {
  local t="$1" seconds="$2" out="$3" list="$4"
  local corpus="$out/corpus/$t"
  mkdir -p "$corpus"
  # Seeds and regression inputs join the working corpus (libFuzzer runs a file argument once
  # instead of fuzzing from it).
  for s in $(grep "^$t " "$list" | cut -d' ' -f2-) "tests/fuzz/regressions/$t"; do
    if [ -d "$s" ]; then find "$s" -type f ! -name README.md -exec cp -n {} "$corpus/" \; ; fi
    if [ -f "$s" ]; then cp -n "$s" "$corpus/"; fi
  done
  local rc=0
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "build-asan/tests/fuzz/${t}_fuzz" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2560 \
    -max_len=16384 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" "$corpus" \
    >"$out/logs/$t.log" 2>&1 || rc=$?
  echo "$rc" >"$out/logs/$t.rc"
}
export -f run_one
printf '%s\n' $targets | xargs -P 2 -I{} bash -c 'run_one "$@"' _ {} "$seconds" "$out" "$list"

failed=0
printf '%-20s %12s %10s %8s %s\n' target executions exec/s corpus result
for t in $targets; do
  log="$out/logs/$t.log"
  execs=$(grep -oP 'stat::number_of_executed_units: \K[0-9]+' "$log" || echo 0)
  rate=$(grep -oP 'stat::average_exec_per_sec: +\K[0-9]+' "$log" || echo 0)
  corpus=$(find "$out/corpus/$t" -type f | wc -l)
  if [ "$(cat "$out/logs/$t.rc")" = 0 ]; then
    result=clean
  else
    failed=1
    result="FAILED: $(grep -m1 -oP 'SUMMARY: \K.*' "$log" || echo "exit $(cat "$out/logs/$t.rc")"); input $(grep -m1 -oP 'Test unit written to \K.*' "$log" || echo '?'); log $log"
  fi
  printf '%-20s %12s %10s %8s %s\n' "$t" "$execs" "$rate" "$corpus" "$result"
done
exit $failed
