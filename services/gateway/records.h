#pragma once
// Kafka records the gateway writes: canonical events (key = thread_key, CloudEvents binary-mode
// headers), raw requests and dead letters. Shared by the webhook and the gRPC Ingest paths.
#include <string>

#include "earshot/v1/event.pb.h"
#include "services/common/kafka/producer.h"

namespace earshot::gateway {

struct Topics {
  std::string events = "earshot.events.v1";
  std::string raw = "earshot.raw.v1";
  std::string deadletter = "earshot.deadletter.v1";
};

kafka::Record EventRecord(const earshot::v1::Event& event, const std::string& topic);
kafka::Record RawRecord(const earshot::v1::RawWebhook& raw, const std::string& topic);
kafka::Record DeadLetterRecord(const earshot::v1::RawWebhook& raw, const std::string& reason,
                               const std::string& topic);

}  // namespace earshot::gateway
