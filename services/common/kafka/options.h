#pragma once
// Kafka client settings from config, shared by every service:
//   kafka.bootstrap (EARSHOT_KAFKA_BOOTSTRAP), kafka.security_protocol, kafka.sasl_mechanism,
//   kafka.sasl_username, kafka.sasl_password, kafka.ssl_ca_location, kafka.delivery_timeout,
//   kafka.linger, kafka.queue_max_messages, kafka.fetch_wait (consumers' fetch.wait.max.ms),
//   and kafka.properties.<librdkafka name> for the rest. Record sizes (producers'
//   message.max.bytes, consumers' max.partition.fetch.bytes) follow http.body_limit_bytes
//   (topic_limits.h).
#include "services/common/base/config.h"
#include "services/common/kafka/consumer.h"
#include "services/common/kafka/producer.h"

namespace earshot::kafka {

// The librdkafka settings every client of the process shares: security and
// kafka.properties.<name>.
std::map<std::string, std::string> ClientSettings(const Config& config);

ProducerOptions ProducerOptionsFromConfig(const Config& config, const std::string& bootstrap);
ConsumerOptions ConsumerOptionsFromConfig(const Config& config, const std::string& bootstrap,
                                          const std::string& group_id);

}  // namespace earshot::kafka
