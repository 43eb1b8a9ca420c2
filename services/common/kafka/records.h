#pragma once
// Kafka records of canonical events (key = thread_key, CloudEvents binary-mode headers), raw
// webhook requests and dead letters. The gateway writes all three (webhook and gRPC Ingest
// paths); the router writes events too (its internal notes), so they live here, not in the
// gateway.
#include <string>

#include "earshot/v1/event.pb.h"
#include "services/common/kafka/producer.h"

namespace earshot::kafka {

// The canonical topics and their defaults (config keys kafka.topics.events, .raw, .deadletter).
struct RecordTopics {
  std::string events = "earshot.events.v1";
  std::string raw = "earshot.raw.v1";
  std::string deadletter = "earshot.deadletter.v1";
};

Record EventRecord(const earshot::v1::Event& event, const std::string& topic);
Record RawRecord(const earshot::v1::RawWebhook& raw, const std::string& topic);
Record DeadLetterRecord(const earshot::v1::RawWebhook& raw, const std::string& reason,
                        const std::string& topic);

}  // namespace earshot::kafka
