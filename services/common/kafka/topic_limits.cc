#include "services/common/kafka/topic_limits.h"

#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "fmt/format.h"
#include "librdkafka/rdkafka.h"
#include "services/common/base/log.h"
#include "services/common/kafka/errors.h"

namespace earshot::kafka {
namespace {

constexpr char kLogger[] = "kafka.topics";

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct OptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};

}  // namespace

int64_t BodyLimitBytes(const Config& config) {
  return config.GetInt("http.body_limit_bytes", kDefaultBodyLimitBytes);
}

int64_t MaxRecordBytes(const Config& config) {
  return BodyLimitBytes(config) + kRecordEnvelopeBytes;
}

absl::StatusOr<std::map<std::string, int64_t>> TopicMaxMessageBytes(
    const ProducerOptions& client, const std::vector<std::string>& topics, absl::Duration timeout) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::map<std::string, std::string> settings = {{"bootstrap.servers", client.bootstrap},
                                                 {"client.id", client.client_id + "-admin"}};
  for (const auto& [k, v] : client.extra) settings[k] = v;
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError("kafka admin setting " + k + ": " + err);
    }
  }
  std::unique_ptr<rd_kafka_t, HandleDeleter> rk(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)));
  if (rk == nullptr) return absl::InvalidArgumentError(std::string("kafka admin: ") + err);

  std::vector<rd_kafka_ConfigResource_t*> resources;
  for (const auto& t : topics) {
    resources.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, t.c_str()));
  }
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk.get()));
  std::unique_ptr<rd_kafka_AdminOptions_t, OptionsDeleter> options(
      rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS));
  const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
  rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout_ms, err, sizeof(err));
  rd_kafka_DescribeConfigs(rk.get(), resources.data(), resources.size(), options.get(),
                           queue.get());
  for (auto* r : resources) rd_kafka_ConfigResource_destroy(r);

  std::unique_ptr<rd_kafka_event_t, EventDeleter> event(
      rd_kafka_queue_poll(queue.get(), timeout_ms + 1000));
  if (event == nullptr) return absl::DeadlineExceededError("DescribeConfigs: no answer in time");
  if (rd_kafka_resp_err_t e = rd_kafka_event_error(event.get())) {
    if (e == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) {
      return absl::UnimplementedError(std::string("DescribeConfigs: ") +
                                      rd_kafka_event_error_string(event.get()));
    }
    return FromKafkaError(e, "DescribeConfigs");
  }
  const rd_kafka_DescribeConfigs_result_t* result =
      rd_kafka_event_DescribeConfigs_result(event.get());
  size_t count = 0;
  const rd_kafka_ConfigResource_t** described =
      rd_kafka_DescribeConfigs_result_resources(result, &count);
  std::map<std::string, int64_t> out;
  for (size_t i = 0; i < count; ++i) {
    const std::string name = rd_kafka_ConfigResource_name(described[i]);
    if (rd_kafka_resp_err_t e = rd_kafka_ConfigResource_error(described[i])) {
      return FromKafkaError(e, "DescribeConfigs " + name);
    }
    size_t entries = 0;
    const rd_kafka_ConfigEntry_t** configs =
        rd_kafka_ConfigResource_configs(described[i], &entries);
    for (size_t j = 0; j < entries; ++j) {
      const char* value = rd_kafka_ConfigEntry_value(configs[j]);
      int64_t bytes = 0;
      if (std::string_view(rd_kafka_ConfigEntry_name(configs[j])) == "max.message.bytes" &&
          value != nullptr && absl::SimpleAtoi(value, &bytes)) {
        out[name] = bytes;
      }
    }
  }
  return out;
}

absl::Status CheckTopicsTakeRecords(const ProducerOptions& client,
                                    const std::vector<std::string>& topics, int64_t record_bytes) {
  auto limits = TopicMaxMessageBytes(client, topics, absl::Seconds(10));
  if (!limits.ok()) {
    // The embedded broker cannot be asked, and a cluster may not let this client describe
    // topics; the producer still refuses records it cannot send, with an error per request.
    log::Info(kLogger, "topic size limits not checked",
              {{"topics", absl::StrJoin(topics, ",")}, {"reason", limits.status().ToString()}});
    return absl::OkStatus();
  }
  std::vector<std::string> small;
  for (const auto& [topic, bytes] : *limits) {
    if (bytes < record_bytes) small.push_back(fmt::format("{} takes {} bytes", topic, bytes));
  }
  if (small.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(fmt::format(
      "Kafka topics too small for the largest record ({} bytes = http.body_limit_bytes + {} "
      "bytes of envelope): {}. Raise each topic's max.message.bytes to at least {} "
      "(kafka-configs.sh --alter --entity-type topics --entity-name TOPIC --add-config "
      "max.message.bytes={}) or lower http.body_limit_bytes",
      record_bytes, kRecordEnvelopeBytes, absl::StrJoin(small, "; "), record_bytes, record_bytes));
}

}  // namespace earshot::kafka
