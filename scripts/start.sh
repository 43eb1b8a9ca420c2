#!/usr/bin/env bash
# Installs what is missing, builds, and starts Earshot: every service in one process with the
# embedded Kafka-protocol broker (bootstrap in data/kafka.bootstrap) and state under data/.
#   scripts/start.sh [extra earshot flags]
# Uses config/earshot.dev.yaml (development secrets; see README) unless --config is given.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
args=("$@")
if ! printf '%s\n' "${args[@]}" | grep -q -- '--config'; then
  args=(--config=config/earshot.dev.yaml "${args[@]}")
fi
exec build/services/earshot/earshot --target=all --data-dir=data "${args[@]}"
