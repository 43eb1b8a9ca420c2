#pragma once
// EmbeddedBroker: librdkafka's mock cluster served on loopback, a real Kafka-protocol server
// that kcat and any Kafka client can use. Standalone mode and tests run on it; production
// points the same code at a real cluster. Brokers can be set down and up to test outages.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace earshot::kafka {

// The six topics and the router's and the SLA monitor's state changelogs
// (docs/architecture.md).
inline const std::vector<std::string>& StandardTopics() {
  static const std::vector<std::string> topics = {
      "earshot.raw.v1",       "earshot.events.v1",     "earshot.routed.v1",
      "earshot.alerts.v1",    "earshot.deadletter.v1", "earshot-router.state.v1",
      "earshot-sla.state.v1", "earshot.audit.v1"};
  return topics;
}

class EmbeddedBroker {
 public:
  static absl::StatusOr<std::unique_ptr<EmbeddedBroker>> Start(
      int brokers, int partitions, const std::vector<std::string>& topics);
  ~EmbeddedBroker();

  // "127.0.0.1:port,127.0.0.1:port,..."
  const std::string& bootstrap() const { return bootstrap_; }
  int brokers() const { return brokers_; }
  // Every broker refuses connections (down) or accepts them again (up).
  void SetAllDown(bool down);

 private:
  EmbeddedBroker() = default;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_;
  int brokers_ = 0;
};

}  // namespace earshot::kafka
