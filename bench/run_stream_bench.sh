#!/usr/bin/env bash
# The stream benchmark (bench/README.md, "Stream"): builds and runs build/bench/stream_bench,
# which does, in child processes of its own and on loopback only:
#   (a)  deliveries/s to 1, 10 and 100 filtered subscribers of `earshot --target=stream` reading
#        the shared ring, and (a') in the same run, with the same clients, the ceiling of a bare
#        gRPC server stream replaying the same bytes; earshot/bare >= 0.70 with 10 subscribers;
#   (b)  end-to-end latency of `earshot --target=all`, signed Telegram webhook accepted -> delivery
#        on a subscriber, at half of the maximum throughput; p99 < 50 ms.
# Prints PASS/FAIL per target; exits 1 when a target is missed, 2 when it could not run.
# Takes about 80 seconds on 2 cores (after waiting for the machine to be idle, see WAIT_IDLE).
#
#   bench/run_stream_bench.sh [stream_bench flags...]   e.g. --parts=latency, --subscribers=10
# Settings (environment): BUILD=0 (run the binary as it is), WAIT_IDLE=0 (do not wait for the
# load average to fall below 0.7, at most 10 minutes, before starting), KEEP=1 (keep the
# temporary folder), KAFKA=real (on a one-node Apache Kafka from scripts/kafka.sh instead of the
# embedded broker: the SLA monitor's restart and alert delay, the stream's deliveries).
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH=build/bench/stream_bench
if [[ ${BUILD:-1} == 0 ]]; then
  [[ -x $BENCH ]] || { echo "BUILD=0 but $BENCH is missing" >&2; exit 2; }
elif [[ ! -f build/build.ninja ]]; then
  scripts/build.sh
else
  # Only this target, two jobs at most: other builds may be running.
  cmake --build build --target stream_bench -j2 >/dev/null
fi

source bench/wait_idle.sh

ARGS=()
[[ ${KEEP:-0} == 1 ]] && ARGS+=(--keep)
echo "command: $BENCH ${ARGS[*]} $*"
DIRTY=$(git diff --quiet HEAD -- services bench/stream_bench.cc 2>/dev/null ||
  echo ' (uncommitted changes)')
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$DIRTY"
# The services' own log lines (JSON, warnings and up) and librdkafka's go to stdout/stderr with
# the figures; the figures are the lines that do not start with '{'.
source bench/real_kafka.sh
"$BENCH" "${KAFKA_FLAGS[@]}" "${ARGS[@]}" "$@"
