#!/bin/sh
# The container image's HEALTHCHECK: GET /healthz on the admin listener (EARSHOT_ADMIN_ADDR,
# default 0.0.0.0:9100) over loopback. The image has no curl; bash's /dev/tcp does the request.
# Exit 0 when the answer is 200, 1 otherwise. Tested by tests/deploy (deploy_prometheus_scrape).
addr="${EARSHOT_ADMIN_ADDR:-0.0.0.0:9100}"
port="${addr##*:}"
exec timeout 3 bash -c '
  exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
  printf "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" >&3
  IFS= read -r status <&3 || exit 1
  case "$status" in
    "HTTP/1."?" 200"*) exit 0 ;;
    *) echo "healthz: $status" >&2; exit 1 ;;
  esac
' healthcheck "$port"
