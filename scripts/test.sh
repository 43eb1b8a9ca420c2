#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit and integration) with ctest.
#   scripts/test.sh                 all tests
#   scripts/test.sh -L unit         only the unit tests (any ctest arguments pass through)
#   scripts/test.sh -LE real_kafka  everything but the integration tests' runs on real Kafka
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
scripts/kafka.sh fetch  # Apache Kafka from Maven Central, for the tests labelled real_kafka
cd build
ctest --output-on-failure --timeout 600 -j2 "$@"
