#!/usr/bin/env bash
# The gateway benchmark (bench/README.md): starts `earshot --target=all` with its embedded
# Kafka-protocol broker and a private nginx on free 127.0.0.1 ports, then runs, in one go:
#   (a) max requests/s on single-event requests, nginx (the HTTP ceiling) and the gateway in
#       alternating rounds, gateway/nginx (median of the rounds) against the target >= 0.5;
#   (b) the gateway at half of its max rate, p99 against < 10 ms;
#   (c) one 1000-entry Meta batch, 20 times in a row, every one against < 50 ms;
#   (d) the mixed corpus (every platform, single events and batches) at max, for information.
# Prints PASS/FAIL per target; exits 1 when a target is missed. Takes about two minutes.
#
#   bench/run_gateway_bench.sh
# Settings (environment): DURATION (6s per run), WARMUP (1s), ROUNDS (3), AFFINITY (1: nginx's
# worker and the gateway's HTTP thread pinned to CPU 0; 0: neither), CONNECTIONS ("128
# 256": (a) runs each; (b)-(d) use the first), CLIENT_THREADS (1), NGINX_WORKERS (1),
# GATEWAY_HTTP_THREADS (bench/gateway.bench.yaml's), TARGET (all; `gateway` runs the gateway
# alone against the same embedded broker started in a process of its own, bench/embedded_kafka,
# so that the other services of `all` do not share the cores), KAFKA (embedded; `real`: a
# one-node Apache Kafka from scripts/kafka.sh, started for the run, instead of the embedded
# broker, with either TARGET), BUILD=0 (do not build), KEEP=1 (keep the temporary folder with
# the logs).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-6s}
WARMUP=${WARMUP:-1s}
# 128 and 256 connections for both servers: the gateway answers only after Kafka acknowledged
# (about 1.5 ms at low load, 3 ms at its max), so by Little's law a closed loop of 128
# connections caps it near 128 / 3 ms whatever its speed; nginx is limited by the client's one
# thread either way (bench/README.md).
CONNECTIONS=${CONNECTIONS:-128 256}
ROUNDS=${ROUNDS:-3}
CLIENT_THREADS=${CLIENT_THREADS:-1}
TARGET=${TARGET:-all}
NGINX_WORKERS=${NGINX_WORKERS:-1}
# nginx's workers on CPU 0, 1, ... in turn, as the gateway's HTTP threads (http.cpu_affinity in
# bench/gateway.bench.yaml); AFFINITY=0 leaves both servers to the scheduler.
AFFINITY=${AFFINITY:-1}
cpu_mask() {  # nginx's notation: one digit per CPU, CPU 0 rightmost
  local n=$1 c=$2 i out=""
  for ((i = n - 1; i >= 0; i--)); do out+=$([[ $i == "$c" ]] && echo 1 || echo 0); done
  echo "$out"
}
NGINX_AFFINITY=""
if [[ $AFFINITY == 1 ]]; then
  NGINX_AFFINITY="worker_cpu_affinity $(for ((w = 0; w < NGINX_WORKERS; w++)); do
    cpu_mask "$(nproc)" $((w % $(nproc)))
  done | tr '\n' ' ');"
fi
BROKER=${KAFKA:-embedded}  # the setting; KAFKA below is the embedded broker's binary
[[ $BROKER == embedded || $BROKER == real ]] || { echo "KAFKA must be embedded or real" >&2; exit 2; }
CONFIG=bench/gateway.bench.yaml
EARSHOT=build/services/earshot/earshot
LOAD=build/bench/gateway_load
KAFKA=build/bench/embedded_kafka
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# Build what is missing or out of date: the whole tree on a first run, else only the two
# binaries (another build may be running; two jobs at most).
# BUILD=0 runs the binaries as they are (to measure a build while the tree moves on).
if [[ ${BUILD:-1} == 0 ]]; then
  [[ -x $EARSHOT && -x $LOAD && -x $KAFKA ]] || { echo "BUILD=0 but a binary is missing" >&2; exit 2; }
elif [[ ! -f build/build.ninja ]]; then
  scripts/build.sh
else
  cmake --build build --target earshot gateway_load embedded_kafka -j2 >/dev/null
fi
[[ $TARGET == all || $TARGET == gateway ]] || { echo "TARGET must be all or gateway" >&2; exit 2; }
[[ -x $NGINX ]] || { echo "nginx is not installed (Debian: apt-get install nginx-light)" >&2; exit 2; }

WORK=$(mktemp -d -t earshot-bench.XXXXXX)
EARSHOT_PID=""
NGINX_PID=""
KAFKA_PID=""
cleanup() {
  # Only the servers this script started, by their ids; the broker last, after earshot flushed.
  [[ -n $NGINX_PID ]] && kill -TERM "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
  [[ -n $EARSHOT_PID ]] && kill -TERM "$EARSHOT_PID" 2>/dev/null && wait "$EARSHOT_PID" 2>/dev/null
  [[ -n $KAFKA_PID ]] && kill -TERM "$KAFKA_PID" 2>/dev/null && wait "$KAFKA_PID" 2>/dev/null
  [[ $BROKER == real ]] && scripts/kafka.sh stop --dir="$WORK/kafka" >/dev/null 2>&1
  if [[ ${KEEP:-0} == 1 ]]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

# A port no socket uses (nginx needs one up front; earshot binds port 0 and logs its port). Below
# the kernel's ephemeral range, and checked against sockets in every state: a port that a
# client connection of an earlier run still holds cannot be bound either.
free_port() {
  local p low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
  ((low > 11000)) || low=60000
  for _ in $(seq 100); do
    p=$((10000 + RANDOM % (low - 10000)))
    if [[ -z $(ss -Htan "sport = :$p") ]]; then echo "$p"; return; fi
  done
  echo "no free port found" >&2
  return 1
}

# CPU seconds (user + system) used so far by the given processes, all their threads included.
cpu_seconds() {
  local ticks=0 pid
  for pid in "$@"; do
    [[ -r /proc/$pid/stat ]] || continue
    ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}

# A number from gateway_load's JSON line.
field() { sed -n "s/.*\"$2\":\([-0-9.]*\).*/\1/p" <<<"$1"; }

# CPU seconds the whole machine spent in processes so far (user, nice, system; every core).
# Interrupts are left out: loopback traffic is processed there for client and server alike and
# is charged to neither.
machine_busy_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f", ($2 + $3 + $4) / hz }' /proc/stat
}

# Runs gateway_load and prints its report; the JSON line goes to the variable named by $1.
# Also prints the server's CPU use over the run (pids in SERVER_PIDS) and what the rest of the
# machine used besides client and server: well above zero means other work disturbed the
# figures, and they should be taken again.
run_load() {
  local out_var=$1
  shift
  local before after busy_before busy_after out json start
  before=$(cpu_seconds ${SERVER_PIDS})
  busy_before=$(machine_busy_seconds)
  start=$EPOCHREALTIME
  out=$("$LOAD" --secrets="$CONFIG" --connections="${CONNS:-${CONNECTIONS%% *}}" --threads="$CLIENT_THREADS" \
    --duration="$DURATION" --warmup="$WARMUP" --json "$@")
  after=$(cpu_seconds ${SERVER_PIDS})
  busy_after=$(machine_busy_seconds)
  json=$(grep '^{' <<<"$out" | tail -1)
  grep -v '^{' <<<"$out"
  awk -v a="$after" -v b="$before" -v s="$start" -v e="$EPOCHREALTIME" -v ba="$busy_after" \
    -v bb="$busy_before" -v c="$(field "$json" client_cpu_s)" 'BEGIN {
      w = e - s
      printf "  server      %.2f CPU seconds over %.1fs (%.2f cores)\n", a - b, w, (a - b) / w
      o = (ba - bb) - (a - b) - c
      if (o < 0) o = 0
      printf "  others      %.2f cores busy besides client and server%s\n", o / w,
             (o / w > 0.15 ? "  << DISTURBED: take the figures again" : "")
    }' | tee -a "$WORK/others.txt"
  printf -v "$out_var" '%s' "$json"
}

echo "== machine"
echo "  $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), \
$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory, \
load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)'), $(date -u '+%Y-%m-%d %H:%M UTC')"
busy_before=$(machine_busy_seconds)
sleep 2
busy_idle=$(awk -v a="$(machine_busy_seconds)" -v b="$busy_before" 'BEGIN { printf "%.2f", (a - b) / 2 }')
echo "  busy before the start: $busy_idle cores"
if awk -v b="$busy_idle" 'BEGIN { exit !(b > 0.1) }'; then
  echo "  warning: other work is using the machine: figures will be low"
fi

# --- nginx: a private instance, nothing shared with the system's (prefix, pid, logs, temp).
NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<EOF
# One worker: the load generator needs the other core of a two-core machine; two workers were
# slower here (see bench/README.md). NGINX_WORKERS overrides it.
worker_processes $NGINX_WORKERS;
$NGINX_AFFINITY
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/client_body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  client_max_body_size 8m;
  client_body_buffer_size 1m;  # bodies stay in memory, as the gateway's do
  keepalive_requests 1000000000;
  keepalive_timeout 75s;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { return 204; }
  }
}
EOF
"$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/logs/error.log" -c "$WORK/nginx/nginx.conf" \
  -g 'daemon off;' &
NGINX_PID=$!

# --- earshot: every service in one process on the embedded broker (TARGET=all), or the gateway
# alone on the same broker in its own process (TARGET=gateway); ports picked by the kernel.
env_extra=()
[[ -n ${GATEWAY_HTTP_THREADS:-} ]] && env_extra+=(EARSHOT_HTTP_THREADS="$GATEWAY_HTTP_THREADS")
[[ $AFFINITY == 1 ]] || env_extra+=(EARSHOT_HTTP_CPU_AFFINITY=)
if [[ $BROKER == real ]]; then
  env_extra+=(EARSHOT_KAFKA_BOOTSTRAP="$(scripts/kafka.sh start --nodes=1 --dir="$WORK/kafka" --owner=$$)")
  env_extra+=(EARSHOT_KAFKA_FETCH_WAIT=5ms)
elif [[ $TARGET == gateway ]]; then
  "$KAFKA" --bootstrap_file="$WORK/kafka.bootstrap" >"$WORK/kafka.log" 2>&1 &
  KAFKA_PID=$!
  for _ in $(seq 100); do
    [[ -s $WORK/kafka.bootstrap ]] && break
    sleep 0.1
  done
  [[ -s $WORK/kafka.bootstrap ]] || { cat "$WORK/kafka.log" >&2; echo "no embedded broker" >&2; exit 1; }
  env_extra+=(EARSHOT_KAFKA_BOOTSTRAP="$(cat "$WORK/kafka.bootstrap")")
fi
env "${env_extra[@]}" EARSHOT_HTTP_ADDR=127.0.0.1:0 EARSHOT_ADMIN_ADDR=127.0.0.1:0 \
  EARSHOT_GRPC_ADDR=127.0.0.1:0 \
  "$EARSHOT" --target="$TARGET" --config="$CONFIG" --data-dir="$WORK/data" \
  >"$WORK/earshot.log" 2>&1 &
EARSHOT_PID=$!
GATEWAY_PIDS="$EARSHOT_PID $KAFKA_PID"

# The listeners' ports come from the log lines; the gateway's own line says its HTTP server is
# up (/readyz alone is not enough: it can say ready before the gateway listens).
listen_port() {
  sed -n "s/.*\"logger\":\"$1\",\"msg\":\"listening\",\"addr\":\"[^\"]*:\([0-9]*\)\".*/\1/p" \
    "$WORK/earshot.log" | head -1
}
HTTP_PORT="" ADMIN_PORT=""
for _ in $(seq 150); do
  kill -0 "$EARSHOT_PID" 2>/dev/null || { cat "$WORK/earshot.log" >&2; echo "earshot exited" >&2; exit 1; }
  HTTP_PORT=$(listen_port gateway.http)
  ADMIN_PORT=$(listen_port admin)
  if [[ -n $HTTP_PORT && -n $ADMIN_PORT ]] &&
    curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null; then
    break
  fi
  sleep 0.2
done
if [[ -z $HTTP_PORT ]] || ! curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null; then
  cat "$WORK/earshot.log" >&2
  echo "earshot did not become ready in 30 s" >&2
  exit 1
fi
for _ in $(seq 50); do
  curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" && break
  sleep 0.1
done
NGINX_PIDS="$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"
http_threads=${GATEWAY_HTTP_THREADS:-$(sed -n 's/^  threads: *\([0-9]*\).*/\1/p' "$CONFIG")}
broker="embedded broker in-process"
[[ $TARGET == gateway ]] && broker="embedded broker in its own process"
[[ $BROKER == real ]] && broker="Apache Kafka $(sed -n 's/.*<version>\(4[^<]*\)<.*/\1/p' scripts/kafka/pom.xml | head -1), one node on loopback"
echo "  earshot --target=$TARGET: gateway 127.0.0.1:$HTTP_PORT (http.threads=$http_threads, $broker, raw topic on)," \
  "nginx $($NGINX -v 2>&1 | cut -d/ -f2) 127.0.0.1:$NGINX_PORT (worker_processes $NGINX_WORKERS);" \
  "client: $CONNECTIONS connections on $CLIENT_THREADS thread(s); all on the same cores"

failed=0
verdict() {  # name, pass (1/0), text
  local word=PASS
  [[ $2 == 1 ]] || { word=FAIL; failed=1; }
  echo "  => $word  $1: $3"
  summary+=("$word  $1: $3")
}
summary=()

echo
echo "== (a) max requests/s, single-event requests: nginx (ceiling) and gateway, alternating"
# This machine's speed drifts by tens of percent within minutes, so one nginx run followed by
# one gateway run could compare a fast minute with a slow one. Each round measures both, one
# right after the other, at every connection count in CONNECTIONS; a server's figure for the
# round is its best count (a closed loop with too few connections measures latency, not
# capacity). The verdict is on the median of the rounds' ratios.
ratios=()
gw_best_all=()
for round in $(seq "$ROUNDS"); do
  nginx_best=0 gw_best=0 gw_errors_round=0
  for conns in $CONNECTIONS; do
    echo
    echo "-- round $round, $conns connections"
    SERVER_PIDS=$NGINX_PIDS CONNS=$conns run_load nginx_json --label=nginx --port="$NGINX_PORT" \
      --corpus=single
    SERVER_PIDS=$GATEWAY_PIDS CONNS=$conns run_load gw_json --label=gateway --port="$HTTP_PORT" \
      --corpus=single
    nginx_best=$(awk -v a="$nginx_best" -v b="$(field "$nginx_json" requests_per_s)" 'BEGIN { print (b > a ? b : a) }')
    gw_best=$(awk -v a="$gw_best" -v b="$(field "$gw_json" requests_per_s)" 'BEGIN { print (b > a ? b : a) }')
    gw_errors_round=$((gw_errors_round + $(field "$gw_json" errors)))
  done
  gw_errors=$((${gw_errors:-0} + gw_errors_round))
  r=$(awk -v g="$gw_best" -v n="$nginx_best" 'BEGIN { printf "%.3f", (n > 0 ? g / n : 0) }')
  ratios+=("$r")
  gw_best_all+=("$gw_best")
  echo "  round $round: gateway $gw_best req/s, nginx $nginx_best req/s: $r"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
ratio=$(median "${ratios[@]}")
gw_rps=$(median "${gw_best_all[@]}")
pass=$(awk -v r="$ratio" -v e="$gw_errors" 'BEGIN { print (r >= 0.5 && e == 0) ? 1 : 0 }')
verdict "gateway/nginx >= 0.5" "$pass" \
  "median $ratio of rounds ${ratios[*]} (gateway median $gw_rps req/s, gateway errors $gw_errors)"

echo
half=$(awk -v g="$gw_rps" 'BEGIN { printf "%d", g / 2 }')
echo "== (b) gateway at half of its max rate ($half requests/s scheduled), single-event requests"
SERVER_PIDS=$GATEWAY_PIDS run_load half_json --label=gateway --port="$HTTP_PORT" --corpus=single \
  --rate="$half"
p99=$(field "$half_json" p99_ms)
half_errors=$(field "$half_json" errors)
pass=$(awk -v p="$p99" -v e="$half_errors" -v h="$half" 'BEGIN { print (p < 10 && e == 0 && h > 0) ? 1 : 0 }')
verdict "p99 < 10 ms at half rate" "$pass" \
  "p99 $p99 ms at $half req/s (p50 $(field "$half_json" p50_ms) ms, p999 $(field "$half_json" p999_ms) ms, errors $half_errors)"

echo
echo "== (c) one 1000-entry Meta batch, 20 requests in a row on one connection"
# Its own warm-up (a few batches in 0.5 s) and no time limit short of 60 s: 20 requests decide.
SERVER_PIDS=$GATEWAY_PIDS run_load batch_json --label=gateway --port="$HTTP_PORT" \
  --corpus=meta-batch-1000 --connections=1 --requests=20 --warmup=500ms --duration=60s
batch_max=$(field "$batch_json" max_ms)
batch_ok=$(field "$batch_json" ok)
batch_errors=$(field "$batch_json" errors)
pass=$(awk -v m="$batch_max" -v ok="$batch_ok" -v e="$batch_errors" \
  'BEGIN { print (m < 50 && ok == 20 && e == 0) ? 1 : 0 }')
verdict "1000-entry Meta batch < 50 ms" "$pass" \
  "p50 $(field "$batch_json" p50_ms) ms, max $batch_max ms over $batch_ok accepted (errors $batch_errors)"

echo
echo "== (d) mixed corpus (every platform, single events and batches) at max, for information"
SERVER_PIDS=$GATEWAY_PIDS run_load mixed_json --label=gateway --port="$HTTP_PORT" --corpus=mixed
summary+=("info  mixed: $(field "$mixed_json" requests_per_s) req/s, $(field "$mixed_json" events_per_s) events/s, p99 $(field "$mixed_json" p99_ms) ms, errors $(field "$mixed_json" errors)")

if [[ -s $WORK/nginx/logs/error.log ]]; then
  echo
  echo "nginx error log:"
  cat "$WORK/nginx/logs/error.log"
fi
if grep -q '"level":"\(warn\|error\)"' "$WORK/earshot.log"; then
  echo
  echo "earshot warnings (first 5):"
  grep '"level":"\(warn\|error\)"' "$WORK/earshot.log" | head -5
fi

echo
echo "== summary"
printf '  %s\n' "${summary[@]}"
if grep -q DISTURBED "$WORK/others.txt"; then
  echo "  warning: other work used the machine during a run (see \"others\"): figures are low"
fi
exit "$failed"
