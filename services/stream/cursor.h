#pragma once
// Cursors: the opaque resume points a subscriber receives with every delivery. A cursor holds
// the next offset to read in every partition of every subscribed topic (earshot.v1.StreamCursor,
// serialised, web-safe base64 without padding), so any stream replica can resume it. Pure
// functions; any thread.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "earshot/v1/stream.pb.h"

namespace earshot::stream {

struct TopicPartition {
  earshot::v1::StreamTopic topic = earshot::v1::STREAM_TOPIC_UNSPECIFIED;
  int32_t partition = 0;
  friend auto operator<=>(const TopicPartition&, const TopicPartition&) = default;
};

// Next offset to read, per partition.
using Positions = std::map<TopicPartition, int64_t>;

std::string EncodeCursor(const Positions& positions);
// InvalidArgument for anything that is not a cursor this service wrote.
absl::StatusOr<Positions> DecodeCursor(std::string_view cursor);

// The Kafka topic a stream topic reads, and back.
const std::string& KafkaTopic(earshot::v1::StreamTopic topic);
std::string_view TopicLabel(earshot::v1::StreamTopic topic);  // "routed" | "alerts"

}  // namespace earshot::stream
