#!/usr/bin/env bash
# The soak benchmark (bench/README.md, "Soak"): builds build/bench/soak and runs it on a one-node
# Apache Kafka (scripts/kafka.sh, started for the run on loopback and stopped after it). The soak
# starts `earshot --target=gateway`, `router`, `sla` and `stream` as processes of their own with
# stream subscribers, measures the pipeline's maximum end-to-end rate (a 35 s closed loop), then
# drives it at 70% of that for --minutes (default 10), printing RSS, errors, end-to-end p50/p99
# and consumer lags every 30 s, and a verdict at the end: RSS growth < 5% from the 2-minute mark
# to the end, zero errors, p99 stable (last interval <= 1.5x the interval ending at the mark).
# Exits 1 when a criterion is missed, 2 when the soak could not run. Takes --minutes plus about
# 2 minutes (Kafka's start, the maximum, the drains), after waiting for the machine to be idle.
#
#   bench/run_soak.sh [soak flags...]        e.g. --minutes=2, --max_rate=2400
# Settings (environment): BUILD=0 (run the binaries as they are), WAIT_IDLE=0 (do not wait for
# the load average to fall below 0.7, at most 10 minutes, before starting), KEEP=1 (keep the
# temporary folder with the services' logs), KAFKA_HEAP (the broker's JVM heap, default 1g
# here). KAFKA must be `real` (the default here): the embedded broker keeps only 5 MiB a
# partition and has no transactions.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH=build/bench/soak
EARSHOT=build/services/earshot/earshot
if [[ ${BUILD:-1} == 0 ]]; then
  [[ -x $BENCH && -x $EARSHOT ]] || { echo "BUILD=0 but $BENCH or $EARSHOT is missing" >&2; exit 2; }
elif [[ ! -f build/build.ninja ]]; then
  scripts/build.sh
else
  # Only these targets, two jobs at most: other builds may be running.
  cmake --build build --target soak earshot -j2 >/dev/null
fi
export KAFKA=${KAFKA:-real}
[[ $KAFKA == real ]] || { echo "the soak runs on a real Kafka only (KAFKA=real)" >&2; exit 2; }
export KAFKA_HEAP=${KAFKA_HEAP:-1g}

source bench/wait_idle.sh

ARGS=()
[[ ${KEEP:-0} == 1 ]] && ARGS+=(--keep)
echo "command: $BENCH ${ARGS[*]} $*"
DIRTY=$(git diff --quiet HEAD -- services bench 2>/dev/null || echo ' (uncommitted changes)')
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$DIRTY"
source bench/real_kafka.sh
# The broker's JVM, so that its memory and CPU are printed beside the services' (information).
"$BENCH" "${KAFKA_FLAGS[@]}" --kafka_pid="$(cat "$kafka_work/node1/pid")" "${ARGS[@]}" "$@"
