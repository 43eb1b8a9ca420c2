#include "services/gateway/records.h"

#include "absl/time/time.h"
#include "services/gateway/normalize.h"

namespace earshot::gateway {

std::string FormatTimestamp(const google::protobuf::Timestamp& ts) {
  absl::Time t = absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

kafka::Record EventRecord(const earshot::v1::Event& event, const std::string& topic) {
  kafka::Record r;
  r.topic = topic;
  r.key = event.thread_key();
  event.SerializeToString(&r.value);
  const auto& time = event.has_created_at() ? event.created_at() : event.received_at();
  r.headers = {
      {"ce_specversion", "1.0"},
      {"ce_id", event.event_id()},
      {"ce_source", "/earshot/gateway/" + std::string(PlatformName(event.platform()))},
      {"ce_type", "earshot.v1.Event"},
      {"ce_time", FormatTimestamp(time)},
      {"content-type", "application/protobuf"},
  };
  return r;
}

kafka::Record RawRecord(const earshot::v1::RawWebhook& raw, const std::string& topic) {
  kafka::Record r;
  r.topic = topic;
  r.key = raw.request_id();
  raw.SerializeToString(&r.value);
  r.headers = {
      {"ce_specversion", "1.0"},
      {"ce_id", raw.request_id()},
      {"ce_source", "/earshot/gateway/" + std::string(PlatformName(raw.platform()))},
      {"ce_type", "earshot.v1.RawWebhook"},
      {"ce_time", FormatTimestamp(raw.received_at())},
      {"content-type", "application/protobuf"},
  };
  return r;
}

kafka::Record DeadLetterRecord(const earshot::v1::RawWebhook& raw, const std::string& reason,
                               const std::string& topic) {
  earshot::v1::DeadLetter dl;
  dl.set_reason(reason);
  *dl.mutable_raw() = raw;
  kafka::Record r;
  r.topic = topic;
  r.key = raw.request_id();
  dl.SerializeToString(&r.value);
  r.headers = {
      {"ce_specversion", "1.0"},
      {"ce_id", raw.request_id()},
      {"ce_source", "/earshot/gateway/" + std::string(PlatformName(raw.platform()))},
      {"ce_type", "earshot.v1.DeadLetter"},
      {"ce_time", FormatTimestamp(raw.received_at())},
      {"content-type", "application/protobuf"},
      {"earshot_reason", reason},
  };
  return r;
}

}  // namespace earshot::gateway
