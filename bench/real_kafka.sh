# Sourced by bench/run_{router,sla,stream}_bench.sh. KAFKA=real: starts a one-node Apache Kafka
# (scripts/kafka.sh; KAFKA_HEAP sets its heap) for the run, stops it when the script exits, and
# sets KAFKA_FLAGS to the benchmark's --bootstrap flag. Otherwise KAFKA_FLAGS is empty and the
# benchmark starts its embedded broker.
KAFKA_FLAGS=()
case ${KAFKA:-embedded} in
  embedded) ;;
  real)
    kafka_work=$(mktemp -d -t earshot-bench-kafka.XXXXXX)
    trap 'scripts/kafka.sh stop --dir="$kafka_work" >/dev/null 2>&1; rm -rf "$kafka_work"' EXIT
    kafka_bootstrap=$(scripts/kafka.sh start --nodes=1 --dir="$kafka_work" --owner=$$)
    echo "kafka: Apache Kafka $(sed -n 's/.*<version>\(4[^<]*\)<.*/\1/p' scripts/kafka/pom.xml |
      head -1) at $kafka_bootstrap (heap ${KAFKA_HEAP:-256m})"
    KAFKA_FLAGS=(--bootstrap="$kafka_bootstrap")
    ;;
  *) echo "KAFKA must be embedded or real" >&2; exit 2 ;;
esac
