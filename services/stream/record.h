#pragma once
// Record: one routed event or alert read from Kafka, parsed once and shared (read-only) by every
// subscriber it is offered to. Holds the exact payload bytes from Kafka, so a delivery is built
// without re-serialising the event, and the few attributes that filters look at.
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "earshot/v1/event.pb.h"
#include "earshot/v1/routing.pb.h"
#include "services/stream/cursor.h"

namespace earshot::stream {

struct Record {
  TopicPartition tp;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;  // Kafka record time
  std::string payload;       // serialised RoutedEvent or Alert
  bool valid = true;         // false: the payload did not parse; never delivered
  // Filter attributes.
  std::string queue;
  std::string account;
  earshot::v1::Platform platform = earshot::v1::PLATFORM_UNSPECIFIED;
  earshot::v1::Kind kind = earshot::v1::KIND_UNSPECIFIED;  // routed events only
  earshot::v1::Priority priority = earshot::v1::PRIORITY_UNSPECIFIED;
};

using RecordPtr = std::shared_ptr<const Record>;

// Parses the payload and fills the attributes. A payload that is not the topic's type gives a
// record with valid = false: never delivered, but cursors move past it.
RecordPtr MakeRecord(TopicPartition tp, int64_t offset, int64_t timestamp_ms, std::string payload);

}  // namespace earshot::stream
