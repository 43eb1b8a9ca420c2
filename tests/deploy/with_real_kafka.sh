#!/usr/bin/env bash
# Runs a command with a one-node Apache Kafka (scripts/kafka.sh) started for it: its bootstrap
# list in EARSHOT_TEST_KAFKA_BOOTSTRAP, stopped when the command ends.
#   tests/deploy/with_real_kafka.sh COMMAND [ARGS...]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work=$(mktemp -d -t earshot-deploy-kafka.XXXXXX)
trap '"$root/scripts/kafka.sh" stop --dir="$work" >/dev/null 2>&1; rm -rf "$work"' EXIT
EARSHOT_TEST_KAFKA_BOOTSTRAP=$("$root/scripts/kafka.sh" start --nodes=1 --dir="$work" --owner=$$)
export EARSHOT_TEST_KAFKA_BOOTSTRAP
echo "real Kafka at $EARSHOT_TEST_KAFKA_BOOTSTRAP"
"$@"
