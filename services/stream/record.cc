#include "services/stream/record.h"

#include "earshot/v1/alert.pb.h"

namespace earshot::stream {

RecordPtr MakeRecord(TopicPartition tp, int64_t offset, int64_t timestamp_ms, std::string payload) {
  auto r = std::make_shared<Record>();
  r->tp = tp;
  r->offset = offset;
  r->timestamp_ms = timestamp_ms;
  if (tp.topic == earshot::v1::STREAM_TOPIC_ALERTS) {
    earshot::v1::Alert alert;
    if (!alert.ParseFromString(payload)) {
      r->valid = false;
      return r;
    }
    r->queue = alert.queue();
    r->account = alert.account_id();
    r->platform = alert.platform();
    r->priority = alert.priority();
  } else {
    earshot::v1::RoutedEvent routed;
    if (!routed.ParseFromString(payload)) {
      r->valid = false;
      return r;
    }
    r->queue = routed.decision().queue();
    r->account = routed.event().account_id();
    r->platform = routed.event().platform();
    r->kind = routed.event().kind();
    r->priority = routed.decision().priority();
  }
  r->payload = std::move(payload);
  return r;
}

}  // namespace earshot::stream
