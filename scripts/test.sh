#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit and integration) with ctest.
#   scripts/test.sh                 all tests, then the sanitizer and fuzzing checks that CI runs
#                                   (scripts/check.sh --ci: ASan+UBSan unit tests, TSan
#                                   concurrency tests, every fuzz target for 30 s)
#   scripts/test.sh -L unit         only the unit tests of the plain build (any ctest arguments
#                                   pass through, and then no sanitizer run follows)
#   scripts/test.sh -LE real_kafka  everything but the integration tests' runs on real Kafka
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step's wall time, so that a CI log shows where its budget (45 minutes on two cores) goes.
step() { echo "== $1: $((SECONDS - ${2:-0})) s (total $SECONDS s)"; }
scripts/install-deps.sh
scripts/build.sh
step build
scripts/kafka.sh fetch  # Apache Kafka from Maven Central, for the tests labelled real_kafka
tests_start=$SECONDS
cd build
# A test that fails is run once more before it counts as failed: on two cores, the real Kafka
# brokers' JVMs beside two test binaries made one timing-bound test fail once in five full runs
# (earshotctl_tail_test.real_kafka), which never failed alone. A second failure fails the run.
ctest --output-on-failure --timeout 600 -j2 --repeat until-pass:2 "$@"
step tests "$tests_start"
cd ..
if [ $# -eq 0 ]; then
  checks_start=$SECONDS
  scripts/check.sh --ci
  step "sanitizers and fuzzing" "$checks_start"
fi
