#!/usr/bin/env bash
# The SLA monitor benchmark (bench/README.md): builds and runs build/bench/sla_bench, which does,
# in one process tree and on loopback only:
#   (a) open clocks: insert rate and resident memory after each size (the 1 GiB target is
#       measured at 10M: FULL=1);
#   (b) a restart of the monitor on the 1M-clock state folder, ready against < 10 s;
#   (c) the alert delay at 10k routed events/s, p99 against < 1 s.
# Prints PASS/FAIL per target; exits 1 when a target is missed, 2 when it could not run.
# Takes about 1.5 minutes; FULL=1 adds the 10M fill and a restart on it (about 10 minutes more
# on 2 cores).
#
#   bench/run_sla_bench.sh [extra sla_bench flags]
# Settings (environment): FULL=1 (10M clocks as well), BUILD=0 (do not build), KEEP=1 (keep the
# temporary folder), KAFKA=real (on a one-node Apache Kafka from scripts/kafka.sh instead of the
# embedded broker: the SLA monitor's restart and alert delay, the stream's deliveries). Flags are passed on: --rate, --load_seconds, --sizes, --parts, ...
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH=build/bench/sla_bench
if [[ ${BUILD:-1} == 0 ]]; then
  [[ -x $BENCH ]] || { echo "BUILD=0 but $BENCH is missing" >&2; exit 2; }
elif [[ ! -f build/build.ninja ]]; then
  scripts/build.sh
else
  # Only this binary (another build may be running; two jobs at most).
  cmake --build build --target sla_bench -j2 >/dev/null
fi

SIZES=1000000
RESTART_SIZES=1000000
if [[ ${FULL:-0} == 1 ]]; then
  SIZES=1000000,10000000
  RESTART_SIZES=1000000,10000000
fi
ARGS=(--sizes="$SIZES" --restart_sizes="$RESTART_SIZES")
[[ ${KEEP:-0} == 1 ]] && ARGS+=(--keep)
echo "+ $BENCH ${ARGS[*]} $*"
# librdkafka's own warnings (an offset reset on the empty topics of the restart's new broker)
# go to stderr; the figures go to stdout.
source bench/real_kafka.sh
"$BENCH" "${KAFKA_FLAGS[@]}" "${ARGS[@]}" "$@"
