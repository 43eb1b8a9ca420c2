#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit and integration) with ctest.
#   scripts/test.sh                 all tests
#   scripts/test.sh -L unit         only the unit tests (any ctest arguments pass through)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd build
ctest --output-on-failure --timeout 600 -j2 "$@"
