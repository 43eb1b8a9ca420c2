#include "services/common/kafka/admin.h"

#include "librdkafka/rdkafka.h"
#include "services/common/kafka/errors.h"

namespace earshot::kafka {
namespace {

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct OptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;

int Millis(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

// Runs one admin request: `send(queue, options)` issues it, and its result event comes back.
template <typename Send>
absl::StatusOr<EventPtr> Request(rd_kafka_t* rk, rd_kafka_admin_op_t op, absl::Duration timeout,
                                 std::string_view what, Send send) {
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk));
  std::unique_ptr<rd_kafka_AdminOptions_t, OptionsDeleter> options(
      rd_kafka_AdminOptions_new(rk, op));
  char err[512];
  rd_kafka_AdminOptions_set_request_timeout(options.get(), Millis(timeout), err, sizeof(err));
  if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS) {
    rd_kafka_AdminOptions_set_operation_timeout(options.get(), Millis(timeout), err, sizeof(err));
  }
  send(queue.get(), options.get());
  EventPtr event(rd_kafka_queue_poll(queue.get(), Millis(timeout) + 1000));
  if (event == nullptr) {
    return absl::DeadlineExceededError(std::string(what) + ": no answer in time");
  }
  if (rd_kafka_resp_err_t e = rd_kafka_event_error(event.get())) {
    const std::string msg = std::string(what) + ": " + rd_kafka_event_error_string(event.get());
    if (e == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) return absl::UnimplementedError(msg);
    return FromKafkaError(e, what);
  }
  return event;
}

// The per-topic results of CreateTopics and DeleteTopics; `ignored` is not an error.
absl::Status TopicResults(const rd_kafka_topic_result_t** results, size_t count,
                          rd_kafka_resp_err_t ignored, std::string_view what) {
  for (size_t i = 0; i < count; ++i) {
    const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == ignored) continue;
    const char* msg = rd_kafka_topic_result_error_string(results[i]);
    return FromKafkaError(e, std::string(what) + " " + rd_kafka_topic_result_name(results[i]) +
                                 (msg != nullptr ? std::string(" (") + msg + ")" : ""));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Admin>> Admin::Create(
    const std::string& bootstrap, const std::map<std::string, std::string>& client_settings) {
  std::unique_ptr<Admin> a(new Admin());
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::map<std::string, std::string> settings = client_settings;
  settings["bootstrap.servers"] = bootstrap;
  settings.emplace("client.id", "earshot-admin");
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError("kafka admin setting " + k + ": " + err);
    }
  }
  a->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (a->rk_ == nullptr) return absl::InvalidArgumentError(std::string("kafka admin: ") + err);
  return a;
}

Admin::~Admin() {
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

absl::StatusOr<std::map<std::string, TopicInfo>> Admin::ListTopics(absl::Duration timeout) {
  const struct rd_kafka_metadata* md = nullptr;
  if (rd_kafka_resp_err_t e = rd_kafka_metadata(rk_, 1, nullptr, &md, Millis(timeout))) {
    return FromKafkaError(e, "kafka metadata");
  }
  std::map<std::string, TopicInfo> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR || std::string_view(t.topic).starts_with("__")) {
      continue;
    }
    TopicInfo& info = out[t.topic];
    info.partitions = t.partition_cnt;
    info.replication_factor = t.partition_cnt > 0 ? t.partitions[0].replica_cnt : 0;
    info.led = t.partition_cnt > 0;
    for (int p = 0; p < t.partition_cnt; ++p) {
      info.led = info.led && t.partitions[p].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                 t.partitions[p].leader >= 0;
    }
  }
  rd_kafka_metadata_destroy(md);
  return out;
}

absl::Status Admin::CreateTopics(const std::vector<NewTopic>& topics, absl::Duration timeout) {
  if (topics.empty()) return absl::OkStatus();
  std::vector<rd_kafka_NewTopic_t*> news;
  char err[512];
  for (const auto& t : topics) {
    rd_kafka_NewTopic_t* n =
        rd_kafka_NewTopic_new(t.name.c_str(), t.partitions, t.replication_factor, err, sizeof(err));
    if (n == nullptr) {
      for (auto* made : news) rd_kafka_NewTopic_destroy(made);
      return absl::InvalidArgumentError("topic " + t.name + ": " + err);
    }
    for (const auto& [k, v] : t.configs) rd_kafka_NewTopic_set_config(n, k.c_str(), v.c_str());
    news.push_back(n);
  }
  auto event = Request(rk_, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout, "CreateTopics",
                       [&](rd_kafka_queue_t* q, rd_kafka_AdminOptions_t* o) {
                         rd_kafka_CreateTopics(rk_, news.data(), news.size(), o, q);
                       });
  for (auto* n : news) rd_kafka_NewTopic_destroy(n);
  if (!event.ok()) return event.status();
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event->get()), &count);
  return TopicResults(results, count, RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, "create topic");
}

absl::Status Admin::DeleteTopics(const std::vector<std::string>& topics, absl::Duration timeout) {
  if (topics.empty()) return absl::OkStatus();
  std::vector<rd_kafka_DeleteTopic_t*> dels;
  for (const auto& t : topics) dels.push_back(rd_kafka_DeleteTopic_new(t.c_str()));
  auto event = Request(rk_, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout, "DeleteTopics",
                       [&](rd_kafka_queue_t* q, rd_kafka_AdminOptions_t* o) {
                         rd_kafka_DeleteTopics(rk_, dels.data(), dels.size(), o, q);
                       });
  for (auto* d : dels) rd_kafka_DeleteTopic_destroy(d);
  if (!event.ok()) return event.status();
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(event->get()), &count);
  return TopicResults(results, count, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "delete topic");
}

absl::StatusOr<std::map<std::string, std::map<std::string, std::string>>> Admin::DescribeTopics(
    const std::vector<std::string>& topics, absl::Duration timeout) {
  std::vector<rd_kafka_ConfigResource_t*> resources;
  for (const auto& t : topics) {
    resources.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, t.c_str()));
  }
  auto event = Request(rk_, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout, "DescribeConfigs",
                       [&](rd_kafka_queue_t* q, rd_kafka_AdminOptions_t* o) {
                         rd_kafka_DescribeConfigs(rk_, resources.data(), resources.size(), o, q);
                       });
  for (auto* r : resources) rd_kafka_ConfigResource_destroy(r);
  if (!event.ok()) return event.status();
  size_t count = 0;
  const rd_kafka_ConfigResource_t** described = rd_kafka_DescribeConfigs_result_resources(
      rd_kafka_event_DescribeConfigs_result(event->get()), &count);
  std::map<std::string, std::map<std::string, std::string>> out;
  for (size_t i = 0; i < count; ++i) {
    const std::string name = rd_kafka_ConfigResource_name(described[i]);
    if (rd_kafka_resp_err_t e = rd_kafka_ConfigResource_error(described[i])) {
      return FromKafkaError(e, "DescribeConfigs " + name);
    }
    size_t entries = 0;
    const rd_kafka_ConfigEntry_t** configs =
        rd_kafka_ConfigResource_configs(described[i], &entries);
    auto& settings = out[name];
    for (size_t j = 0; j < entries; ++j) {
      const char* value = rd_kafka_ConfigEntry_value(configs[j]);
      settings[rd_kafka_ConfigEntry_name(configs[j])] = value != nullptr ? value : "";
    }
  }
  return out;
}

}  // namespace earshot::kafka
