#pragma once
// The largest record Earshot writes, and the check that the cluster's topics take it.
//
// A webhook body of up to http.body_limit_bytes becomes a raw record (the body, its kept
// headers and metadata), one or more events and a routed event, each at most the body plus a
// small envelope. Three limits must agree, or a webhook the gateway accepted for reading is
// answered 503 at every retry: the body limit, each producer's message.max.bytes (librdkafka
// refuses larger records itself, 1,000,000 bytes by default) and each topic's
// max.message.bytes (the broker refuses larger batches, 1,048,588 bytes by default). All three
// follow from http.body_limit_bytes: producers are set from it, and every service checks at
// start that the topics it writes to take it.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/base/config.h"
#include "services/common/kafka/producer.h"

namespace earshot::kafka {

inline constexpr int64_t kDefaultBodyLimitBytes = 4 << 20;
// Room for what a record holds besides the body: the raw record's kept headers (the HTTP
// server takes 16 KiB of headers at most), an event's or routed event's other fields.
inline constexpr int64_t kRecordEnvelopeBytes = 64 << 10;

// http.body_limit_bytes (default 4 MiB).
int64_t BodyLimitBytes(const Config& config);
// The largest record any Earshot producer writes: the body limit plus the envelope.
int64_t MaxRecordBytes(const Config& config);

// Each topic's max.message.bytes as the cluster applies it (the topic's own or the broker's
// default), read with DescribeConfigs. Unimplemented when the cluster does not answer
// DescribeConfigs (librdkafka's mock cluster, the embedded broker, has no such request).
absl::StatusOr<std::map<std::string, int64_t>> TopicMaxMessageBytes(
    const ProducerOptions& client, const std::vector<std::string>& topics, absl::Duration timeout);

// OK when every topic takes records of `record_bytes`; otherwise FailedPrecondition naming each
// topic that does not, its limit and what to change. A cluster that cannot be asked (no
// DescribeConfigs, or not allowed to describe) is logged and passes: the producer still refuses
// what it cannot send.
absl::Status CheckTopicsTakeRecords(const ProducerOptions& client,
                                    const std::vector<std::string>& topics, int64_t record_bytes);

}  // namespace earshot::kafka
