#include "services/stream/cursor.h"

#include "absl/strings/escaping.h"
#include "services/common/base/strings.h"

namespace earshot::stream {

std::string EncodeCursor(const Positions& positions) {
  earshot::v1::StreamCursor cursor;
  for (const auto& [tp, offset] : positions) {
    auto* p = cursor.add_positions();
    p->set_topic(tp.topic);
    p->set_partition(tp.partition);
    p->set_next_offset(offset);
  }
  std::string out;
  absl::WebSafeBase64Escape(cursor.SerializeAsString(), &out);
  return out;
}

absl::StatusOr<Positions> DecodeCursor(std::string_view text) {
  std::string bytes;
  earshot::v1::StreamCursor cursor;
  if (text.empty() || !absl::WebSafeBase64Unescape(ToAbsl(text), &bytes) ||
      !cursor.ParseFromString(bytes) || cursor.positions().empty()) {
    return absl::InvalidArgumentError("cursor is not one this service issued");
  }
  Positions out;
  for (const auto& p : cursor.positions()) {
    if (p.topic() != earshot::v1::STREAM_TOPIC_ROUTED &&
        p.topic() != earshot::v1::STREAM_TOPIC_ALERTS) {
      return absl::InvalidArgumentError("cursor names an unknown topic");
    }
    if (p.partition() < 0 || p.next_offset() < 0) {
      return absl::InvalidArgumentError("cursor holds a negative partition or offset");
    }
    out[{p.topic(), p.partition()}] = p.next_offset();
  }
  return out;
}

const std::string& KafkaTopic(earshot::v1::StreamTopic topic) {
  static const std::string routed = "earshot.routed.v1";
  static const std::string alerts = "earshot.alerts.v1";
  return topic == earshot::v1::STREAM_TOPIC_ALERTS ? alerts : routed;
}

std::string_view TopicLabel(earshot::v1::StreamTopic topic) {
  return topic == earshot::v1::STREAM_TOPIC_ALERTS ? "alerts" : "routed";
}

}  // namespace earshot::stream
