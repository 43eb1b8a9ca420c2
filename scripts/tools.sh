#!/usr/bin/env bash
# The tools the deployment tests use, fetched by name and pinned, into build/tools (a cache:
# nothing is done when they are there). scripts/install-deps.sh runs it.
#   - Helm, built from the Go module proxy (helm.sh/helm/v4) with the machine's Go;
#   - the class path of Strimzi's own types (io.strimzi:api, Maven Central) for the KafkaTopic
#     check, and a Java of 21 or newer to run it (Strimzi's classes are Java 21 bytecode).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="${EARSHOT_TOOLS:-$ROOT/build/tools}"
HELM_VERSION=v4.3.2

# Go from the machine (its own Go is newer than Debian's golang-go).
GO=go
[ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go

mkdir -p "$TOOLS/bin"
if [ "$("$TOOLS/bin/helm" version --template '{{.Version}}' 2>/dev/null || true)" != "$HELM_VERSION" ]; then
  echo "building helm $HELM_VERSION from the Go module proxy (a few minutes, once)" >&2
  GOBIN="$TOOLS/bin" GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0 \
    "$GO" install -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
fi

command -v java >/dev/null && command -v mvn >/dev/null || {
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    openjdk-17-jre-headless maven >/dev/null
}
pom="$ROOT/tests/deploy/strimzi/pom.xml"
if [ ! -s "$TOOLS/strimzi.classpath" ] || [ "$pom" -nt "$TOOLS/strimzi.classpath" ]; then
  mvn -q -B -Dstyle.color=never -f "$pom" dependency:build-classpath -Dmdep.outputFile="$TOOLS/strimzi.classpath" >&2
fi

# A java of 21 or newer: JAVA_HOME's, the one on PATH, or one under /usr/lib/jvm.
java_major() { "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }
if [ ! -x "$TOOLS/bin/java21" ] || [ "$(java_major "$TOOLS/bin/java21")" -lt 21 ]; then
  found=""
  for j in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
    if [ -x "$j" ] && [ "$(java_major "$j")" -ge 21 ] 2>/dev/null; then found="$j"; break; fi
  done
  if [ -z "$found" ]; then
    echo "tools.sh: no Java 21 or newer (JAVA_HOME, PATH, /usr/lib/jvm): the Strimzi KafkaTopic check needs one" >&2
    exit 1
  fi
  ln -sf "$found" "$TOOLS/bin/java21"
fi
