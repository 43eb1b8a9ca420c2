#pragma once
// Admin: the few Kafka admin requests Earshot makes (list, create, delete and describe topics)
// over a librdkafka handle of its own with the services' client settings (bootstrap, TLS,
// SASL). Used at start and by tests, never on a data path. Each call blocks up to its time-out;
// any thread.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace earshot::kafka {

struct TopicInfo {
  int partitions = 0;
  int replication_factor = 0;
  bool led = false;  // every partition has a leader (a new topic has none for a moment)
};

struct NewTopic {
  std::string name;
  int partitions = -1;          // -1: the broker's num.partitions
  int replication_factor = -1;  // -1: the broker's default.replication.factor
  std::map<std::string, std::string> configs;
};

class Admin {
 public:
  static absl::StatusOr<std::unique_ptr<Admin>> Create(
      const std::string& bootstrap, const std::map<std::string, std::string>& client_settings);
  ~Admin();

  // The cluster's topics, without Kafka's internal ones (names starting with "__").
  absl::StatusOr<std::map<std::string, TopicInfo>> ListTopics(absl::Duration timeout);
  // Creates the topics; one that exists already is not an error.
  absl::Status CreateTopics(const std::vector<NewTopic>& topics, absl::Duration timeout);
  // Deletes the topics; one that does not exist is not an error.
  absl::Status DeleteTopics(const std::vector<std::string>& topics, absl::Duration timeout);
  // Each topic's settings as the cluster applies them (its own or the broker's defaults).
  // Unimplemented when the cluster answers no DescribeConfigs (librdkafka's mock cluster).
  absl::StatusOr<std::map<std::string, std::map<std::string, std::string>>> DescribeTopics(
      const std::vector<std::string>& topics, absl::Duration timeout);

 private:
  Admin() = default;
  rd_kafka_t* rk_ = nullptr;
};

}  // namespace earshot::kafka
