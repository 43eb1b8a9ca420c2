#!/usr/bin/env bash
# Configures and builds everything (build/, RelWithDebInfo, Ninja, 2 jobs).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || cmake --preset default >/dev/null
cmake --build --preset default
