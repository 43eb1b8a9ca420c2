#pragma once
// The records every service writes: a protobuf value with the CloudEvents headers of binary
// content mode (ce_specversion, ce_id, ce_source, ce_type, ce_time, content-type), the same on
// every Earshot topic (services/gateway/README.md, "Kafka records").
#include <string>
#include <string_view>

#include "google/protobuf/message_lite.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/common/kafka/producer.h"

namespace earshot::kafka {

struct CloudEvent {
  std::string id;
  std::string_view source;  // "/earshot/gateway/facebook", "/earshot/router", ...
  std::string_view type;    // the value's message type: "earshot.v1.Event", ...
  google::protobuf::Timestamp time;
};

// A record of `value` on `topic` with key `key` and the CloudEvents headers of `event`.
Record ProtoRecord(std::string topic, std::string key, const google::protobuf::MessageLite& value,
                   const CloudEvent& event);

// RFC 3339 with milliseconds, UTC ("2025-03-04T09:15:27.311Z"): ce_time.
std::string CloudEventTime(const google::protobuf::Timestamp& ts);

}  // namespace earshot::kafka
