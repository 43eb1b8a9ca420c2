#include "services/common/kafka/embedded_broker.h"

#include "librdkafka/rdkafka.h"
#include "librdkafka/rdkafka_mock.h"
#include "services/common/base/log.h"
#include "services/common/kafka/errors.h"

namespace earshot::kafka {

absl::StatusOr<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(
    int brokers, int partitions, const std::vector<std::string>& topics) {
  std::unique_ptr<EmbeddedBroker> b(new EmbeddedBroker());
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The mock cluster needs a handle to live in; this one never connects anywhere.
  rd_kafka_conf_set(conf, "bootstrap.servers", "", err, sizeof(err));
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  b->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (b->rk_ == nullptr) return absl::InternalError(std::string("embedded broker: ") + err);
  b->cluster_ = rd_kafka_mock_cluster_new(b->rk_, brokers);
  if (b->cluster_ == nullptr) return absl::InternalError("embedded broker: cannot start cluster");
  b->brokers_ = brokers;
  b->bootstrap_ = rd_kafka_mock_cluster_bootstraps(b->cluster_);
  const int replication = std::min(brokers, 3);
  for (const auto& t : topics) {
    rd_kafka_resp_err_t e =
        rd_kafka_mock_topic_create(b->cluster_, t.c_str(), partitions, replication);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return FromKafkaError(e, "create topic " + t);
  }
  log::Info("kafka.embedded", "embedded Kafka-protocol broker started",
            {{"bootstrap", b->bootstrap_}, {"brokers", brokers}, {"partitions", partitions}});
  return b;
}

EmbeddedBroker::~EmbeddedBroker() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

void EmbeddedBroker::SetAllDown(bool down) {
  for (int id = 1; id <= brokers_; ++id) {
    if (down) {
      rd_kafka_mock_broker_set_down(cluster_, id);
    } else {
      rd_kafka_mock_broker_set_up(cluster_, id);
    }
  }
}

}  // namespace earshot::kafka
