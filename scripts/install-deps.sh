#!/usr/bin/env bash
# Installs the Debian (bookworm) packages Earshot builds, runs and tests with, then the pinned
# tools of the deployment tests (scripts/tools.sh). Idempotent: does nothing when everything is
# already there.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  librdkafka-dev librocksdb-dev prometheus-cpp-dev libsimdjson-dev
  libboost-dev libboost-system-dev libabsl-dev libre2-dev libyaml-cpp-dev
  libspdlog-dev libfmt-dev libssl-dev libcld2-dev libgoogle-perftools-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  kcat nginx-light prometheus-alertmanager tzdata
  # scripts/check.sh and scripts/fuzz.sh: clang with its sanitizer and libFuzzer runtimes
  clang libclang-rt-14-dev
  # the format check (tests/format_check.sh)
  clang-format
  # tests/deploy: promtool and the Prometheus server (the Go tools and Helm: scripts/tools.sh)
  prometheus
  # examples/python and its test: gRPC for the system Python (stubs come from protoc and
  # grpc_python_plugin above)
  python3-grpcio python3-protobuf
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
install_missing() {
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # nginx-light starts a service on port 80 when installed; the benchmark runs its own instance.
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; fi
  # prometheus starts a server on port 9090 when installed; tests/deploy runs its own instance.
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
  if command -v service >/dev/null 2>&1; then $SUDO service prometheus stop >/dev/null 2>&1 || true; fi
}
[ ${#missing[@]} -eq 0 ] || install_missing
# Helm, Strimzi's types and a Java for them, into build/tools.
"$(dirname "$0")/tools.sh"
