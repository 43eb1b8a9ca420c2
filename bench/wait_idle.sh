# Sourced by bench/run_{router,stream}_bench.sh and run_soak.sh. Other work on a two-core machine
# moves the figures: waits, at most 10 minutes, for the load average to fall below 0.7.
# WAIT_IDLE=0: does not wait.
if [[ ${WAIT_IDLE:-1} == 1 ]]; then
  for _ in $(seq 120); do
    awk '{ exit !($1 < 0.7) }' /proc/loadavg && break
    sleep 5
  done
fi
