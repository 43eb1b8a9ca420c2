#!/usr/bin/env bash
# The sanitizer and fuzzing checks, beside scripts/test.sh's plain build (docs/testing.md):
#   scripts/check.sh            ASan+UBSan: unit and integration tests (embedded broker and real
#                               Kafka); TSan: the concurrency tests; every fuzz target for 30 s
#   scripts/check.sh --ci       what CI runs on every change: ASan+UBSan unit tests (with every
#                               fuzz target's seeds and regression inputs), TSan concurrency tests
#                               on the embedded broker, every fuzz target for 30 s
#   scripts/check.sh asan|tsan|fuzz [ctest arguments]   one part
# Builds in build-asan and build-tsan (presets asan and tsan: clang, -O1, line tables).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-all}"
[ $# -gt 0 ] && shift
scripts/install-deps.sh

# A sanitizer report fails the test that caused it. LeakSanitizer runs with ASan; gRPC and
# librdkafka keep some process-lifetime allocations that tests/sanitizers/lsan.supp names.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# ignore_noninstrumented_modules: accesses made inside uninstrumented libraries (gRPC reading a
# socket into a buffer that Earshot then parses) are not counted; they are synchronised by means
# TSan cannot see.
export TSAN_OPTIONS="second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$PWD/tests/sanitizers/tsan.supp"

asan() {  # ctest arguments
  [ -f build-asan/build.ninja ] || cmake --preset asan >/dev/null
  cmake --build --preset asan
  (cd build-asan && ctest --output-on-failure --timeout 1200 -j2 --repeat until-pass:2 \
    -LE deploy "$@")
}
tsan() {
  [ -f build-tsan/build.ninja ] || cmake --preset tsan >/dev/null
  cmake --build --preset tsan
  (cd build-tsan && ctest --output-on-failure --timeout 1200 -j2 --repeat until-pass:2 \
    -L concurrency "$@")
}
tsan_ci() {  # only what the concurrency tests need, on the embedded broker
  [ -f build-tsan/build.ninja ] || cmake --preset tsan >/dev/null
  local tests
  tests=$(cd build-tsan && ctest -N -L concurrency -LE real_kafka | grep -oP 'Test +#[0-9]+: \K\S+')
  ninja -C build-tsan -j2 $tests
  (cd build-tsan && ctest --output-on-failure --timeout 1200 -j2 --repeat until-pass:2 \
    -L concurrency -LE real_kafka "$@")
}
asan_ci() {
  [ -f build-asan/build.ninja ] || cmake --preset asan >/dev/null
  # Only the unit tests' executables (a unit test is named as its executable; fuzz_<t> replays
  # with <t>_replay). ctest names no command before its executable exists, and an empty list
  # would make ninja build everything.
  local tests
  tests=$(cd build-asan && ctest -N -L unit -LE deploy | grep -oP 'Test +#[0-9]+: \K\S+' |
    grep -vx -e docs_config_reference -e format_check | sed -E 's/^fuzz_(.*)/\1_replay/')
  [ -n "$tests" ] || { echo "check.sh: no ASan unit test found in build-asan" >&2; exit 1; }
  ninja -C build-asan -j2 $tests
  (cd build-asan && ctest --output-on-failure --timeout 600 -j2 -L unit -LE deploy \
    -E 'docs_config_reference|format_check' "$@")
}

case "$mode" in
  all) asan "$@"; tsan "$@"; scripts/fuzz.sh all 30 ;;
  --ci)
    asan_ci "$@"; echo "== ASan+UBSan unit tests: $SECONDS s"
    tsan_ci "$@"; echo "== TSan concurrency tests: $SECONDS s"
    scripts/fuzz.sh all 30; echo "== fuzzing: $SECONDS s" ;;
  asan) asan "$@" ;;
  tsan) tsan "$@" ;;
  fuzz) scripts/fuzz.sh "${1:-all}" "${2:-30}" ;;
  *) echo "usage: scripts/check.sh [--ci | asan | tsan | fuzz] [ctest arguments]" >&2; exit 2 ;;
esac
