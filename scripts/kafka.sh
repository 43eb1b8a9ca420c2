#!/usr/bin/env bash
# A real Apache Kafka (KRaft, combined broker+controller nodes) on loopback, for tests and
# benchmarks. Kafka comes from Maven Central (scripts/kafka/pom.xml) into build/kafka/libs;
# nothing else is downloaded.
#
#   scripts/kafka.sh fetch                           resolve the jars only (once; cached)
#   scripts/kafka.sh start [--nodes=1|3] [--dir=D] [--owner=PID]
#                                                    format and start; prints the bootstrap list;
#                                                    with --owner, stops when that process ends
#   scripts/kafka.sh status [--dir=D]                the bootstrap list if every node is up
#   scripts/kafka.sh stop [--dir=D]                  stop this cluster's own processes (by PID)
#   scripts/kafka.sh kill NODE [--dir=D]             SIGKILL one node (1-based)
#   scripts/kafka.sh restart NODE [--dir=D]          start a stopped or killed node again
#
# D (default build/kafka/cluster) holds each node's config, data, log and PID, and `bootstrap`.
# Nodes listen on free loopback ports, use small heaps (KAFKA_HEAP, default 256m), and keep
# every topic's replication and min.insync.replicas within the cluster's size.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LIBS="${EARSHOT_KAFKA_LIBS:-$ROOT/build/kafka/libs}"
HEAP="${KAFKA_HEAP:-256m}"

cmd="${1:-}"
shift || true
nodes=1
dir="$ROOT/build/kafka/cluster"
node_arg=""
owner=""
for arg in "$@"; do
  case "$arg" in
    --nodes=*) nodes="${arg#--nodes=}" ;;
    --dir=*) dir="${arg#--dir=}" ;;
    --owner=*) owner="${arg#--owner=}" ;;
    [0-9]*) node_arg="$arg" ;;
    *) echo "kafka.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

fetch() {
  if [ -f "$LIBS/.complete" ]; then return 0; fi
  command -v java >/dev/null && command -v mvn >/dev/null || {
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      openjdk-17-jre-headless maven >/dev/null
  }
  mkdir -p "$LIBS"
  mvn -q -B -f "$ROOT/scripts/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$LIBS" -DincludeScope=runtime >&2
  touch "$LIBS/.complete"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

java_args() {  # node-dir: the JVM's options
  echo "-Xms$HEAP -Xmx$HEAP -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true" \
    "-Dlog4j2.configurationFile=$1/log4j2.properties"
}

start_node() {  # node number; its PID is the JVM's own
  local nd="$dir/node$1"
  if [ -f "$nd/pid" ] && kill -0 "$(cat "$nd/pid")" 2>/dev/null; then return 0; fi
  # shellcheck disable=SC2046
  setsid nohup java $(java_args "$nd") -cp "$LIBS/*" kafka.Kafka "$nd/server.properties" \
    >"$nd/stdout" 2>&1 </dev/null &
  echo $! >"$nd/pid"
}

wait_ready() {  # every node answers metadata with all brokers registered
  local deadline=$((SECONDS + 90)) bootstrap
  bootstrap="$(cat "$dir/bootstrap")"
  local want; want="$(cat "$dir/nodes")"
  while [ $SECONDS -lt $deadline ]; do
    local ok=1
    for hp in ${bootstrap//,/ }; do
      local brokers
      brokers="$(kcat -b "$hp" -L -m 3 2>/dev/null | sed -n 's/^ \([0-9]*\) brokers:$/\1/p' || true)"
      [ "${brokers:-0}" = "$want" ] || ok=0
    done
    [ $ok = 1 ] && return 0
    sleep 0.5
  done
  echo "kafka.sh: the cluster in $dir did not come up; see $dir/node*/server.log" >&2
  return 1
}

start() {
  fetch
  if [ -f "$dir/bootstrap" ] && status >/dev/null 2>&1; then cat "$dir/bootstrap"; return 0; fi
  stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  mkdir -p "$dir"
  local voters="" bootstrap="" rf=$((nodes < 3 ? nodes : 3))
  local min_isr=$((rf > 1 ? 2 : 1))
  declare -a bport cport
  for n in $(seq 1 "$nodes"); do
    bport[$n]="$(free_port)"
    cport[$n]="$(free_port)"
    voters+="${voters:+,}$n@127.0.0.1:${cport[$n]}"
    bootstrap+="${bootstrap:+,}127.0.0.1:${bport[$n]}"
  done
  local cluster_id
  # Base64 of a random UUID, as kafka-storage random-uuid makes it, and, like Kafka's own, never
  # starting with "-": the format command would take such an id for an option (1 in 64 starts
  # failed that way).
  cluster_id="$(python3 -c 'import base64,uuid
while True:
    i = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not i.startswith("-"): break
print(i)')"
  for n in $(seq 1 "$nodes"); do
    local nd="$dir/node$n"
    mkdir -p "$nd/data"
    cat >"$nd/server.properties" <<EOF
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:${bport[$n]},CONTROLLER://127.0.0.1:${cport[$n]}
advertised.listeners=PLAINTEXT://127.0.0.1:${bport[$n]}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$nd/data
num.partitions=4
default.replication.factor=$rf
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$min_isr
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.segment.bytes=16777216
log.retention.check.interval.ms=10000
# Fail-over in seconds rather than half a minute: a killed node is fenced after 4 s and leaves
# the in-sync replicas after 5 s (Kafka's defaults: 9 s and 30 s, during which acks=all waits).
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
replica.lag.time.max.ms=5000
# Tests kill consumers and want their partitions moved within seconds (Kafka's floor: 6 s).
group.min.session.timeout.ms=1000
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
EOF
    cat >"$nd/log4j2.properties" <<EOF
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=file
appender.file.type=File
appender.file.name=file
appender.file.fileName=$nd/server.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=WARN
logger.apache.name=org.apache.kafka
logger.apache.level=WARN
EOF
    # shellcheck disable=SC2046
    java $(java_args "$nd") -cp "$LIBS/*" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$nd/server.properties" \
      >"$nd/format.log" 2>&1 || { cat "$nd/format.log" >&2; return 1; }
  done
  echo "$bootstrap" >"$dir/bootstrap"
  echo "$nodes" >"$dir/nodes"
  for n in $(seq 1 "$nodes"); do start_node "$n"; done
  if [ -n "$owner" ]; then
    # A test binary that crashes leaves no JVM behind: the cluster stops when its owner ends.
    setsid nohup bash -c "while kill -0 $owner 2>/dev/null && [ -d '$dir' ]; do sleep 1; done; \
      '$0' stop --dir='$dir'" >/dev/null 2>&1 </dev/null &
  fi
  wait_ready
  cat "$dir/bootstrap"
}

status() {
  [ -f "$dir/bootstrap" ] || { echo "kafka.sh: no cluster in $dir" >&2; return 1; }
  for pidfile in "$dir"/node*/pid; do
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "kafka.sh: $pidfile not running" >&2; return 1; }
  done
  cat "$dir/bootstrap"
}

stop() {
  local pids=()
  for pidfile in "$dir"/node*/pid; do
    [ -f "$pidfile" ] || continue
    local pid; pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$pidfile"
  done
  local deadline=$((SECONDS + 30))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

case "$cmd" in
  fetch) fetch ;;
  start) start ;;
  status) status ;;
  stop) stop ;;
  kill)
    pidfile="$dir/node$node_arg/pid"
    kill -9 "$(cat "$pidfile")" && rm -f "$pidfile" ;;
  restart) start_node "$node_arg" ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
