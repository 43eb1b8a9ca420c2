#include "services/common/kafka/options.h"

#include "services/common/kafka/topics.h"

namespace earshot::kafka {

std::map<std::string, std::string> ClientSettings(const Config& config) {
  std::map<std::string, std::string> extra;
  const std::pair<const char*, const char*> named[] = {
      {"kafka.security_protocol", "security.protocol"},
      {"kafka.sasl_mechanism", "sasl.mechanism"},
      {"kafka.sasl_username", "sasl.username"},
      {"kafka.sasl_password", "sasl.password"},
      {"kafka.ssl_ca_location", "ssl.ca.location"},
      {"kafka.ssl_certificate_location", "ssl.certificate.location"},
      {"kafka.ssl_key_location", "ssl.key.location"},
  };
  for (const auto& [key, name] : named) {
    if (config.Has(key)) extra[name] = config.GetString(key);
  }
  YAML::Node props = config.Node("kafka.properties");
  if (props.IsDefined() && props.IsMap()) {
    for (const auto& kv : props) extra[kv.first.as<std::string>()] = kv.second.as<std::string>();
  }
  return extra;
}

ProducerOptions ProducerOptionsFromConfig(const Config& config, const std::string& bootstrap) {
  ProducerOptions o;
  o.bootstrap = bootstrap;
  o.delivery_timeout = config.GetDuration("kafka.delivery_timeout", o.delivery_timeout);
  o.linger = config.GetDuration("kafka.linger", o.linger);
  o.queue_max_messages =
      static_cast<int>(config.GetInt("kafka.queue_max_messages", o.queue_max_messages));
  o.flush_timeout = config.GetDuration("kafka.flush_timeout", o.flush_timeout);
  o.max_message_bytes = MaxRecordBytes(config);
  o.extra = ClientSettings(config);
  return o;
}

ConsumerOptions ConsumerOptionsFromConfig(const Config& config, const std::string& bootstrap,
                                          const std::string& group_id) {
  ConsumerOptions o;
  o.bootstrap = bootstrap;
  o.group_id = group_id;
  o.extra = ClientSettings(config);
  // A partition's fetch returns at least the largest record (what the broker sends past this
  // limit depends on its version; librdkafka's mock cluster sends nothing).
  if (!o.extra.contains("max.partition.fetch.bytes")) {
    o.extra["max.partition.fetch.bytes"] = std::to_string(MaxRecordBytes(config));
  }
  // How long the broker may hold a fetch that finds nothing new (kafka.properties wins).
  if (config.Has("kafka.fetch_wait") && !o.extra.contains("fetch.wait.max.ms")) {
    o.extra["fetch.wait.max.ms"] = std::to_string(
        absl::ToInt64Milliseconds(config.GetDuration("kafka.fetch_wait", absl::Milliseconds(50))));
  }
  return o;
}

}  // namespace earshot::kafka
