#!/usr/bin/env bash
# The router benchmark (bench/README.md, "Router"): builds router_bench and runs it once with the
# recorded settings. Everything is in-process and on loopback (embedded Kafka-protocol broker,
# RocksDB under a temporary folder that is removed afterwards). Takes about 3 minutes on 2 cores.
#
#   bench/run_router_bench.sh [router_bench flags...]     e.g. --parts=cost, --events=100000
# Settings (environment): BUILD=0 (run the binary as it is), WAIT_IDLE=0 (do not wait for the
# load average to fall below 0.7, at most 10 minutes, before starting), KAFKA=real ((a) on a
# one-node Apache Kafka from scripts/kafka.sh, started for the run and stopped after it).
# Prints PASS/FAIL per target; exits 1 when a target is missed, 2 when it could not run.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH=build/bench/router_bench
if [[ ${BUILD:-1} == 0 ]]; then
  [[ -x $BENCH ]] || { echo "BUILD=0 but $BENCH is missing" >&2; exit 2; }
elif [[ ! -f build/build.ninja ]]; then
  scripts/build.sh
else
  # Only this target, two jobs at most: other builds may be running.
  cmake --build build --target router_bench -j2 >/dev/null
fi

source bench/wait_idle.sh

echo "command: $BENCH $*"
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
source bench/real_kafka.sh
"$BENCH" "${KAFKA_FLAGS[@]}" "$@"
