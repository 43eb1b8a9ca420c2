#include "services/gateway/records.h"

#include <chrono>

#include "absl/time/time.h"
#include "services/gateway/normalize.h"

namespace earshot::gateway {

std::string FormatTimestamp(const google::protobuf::Timestamp& ts) {
  // Every record carries one. absl::FormatTime's general formatter cost more than the rest of
  // the record's headers together (so did fmt's runtime format string): the civil date comes
  // from <chrono>'s calendar and the digits are put in place.
  using namespace std::chrono;
  const sys_seconds secs{seconds(ts.seconds())};
  const sys_days day = floor<days>(secs);
  const year_month_day ymd{day};
  const hh_mm_ss hms{secs - day};
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ",
                            absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos()),
                            absl::UTCTimeZone());
  }
  std::string out = "0000-00-00T00:00:00.000Z";
  auto put = [&out](size_t at, int width, int value) {
    for (int i = width - 1; i >= 0; --i, value /= 10)
      out[at + i] = static_cast<char>('0' + value % 10);
  };
  put(0, 4, year);
  put(5, 2, static_cast<int>(static_cast<unsigned>(ymd.month())));
  put(8, 2, static_cast<int>(static_cast<unsigned>(ymd.day())));
  put(11, 2, static_cast<int>(hms.hours().count()));
  put(14, 2, static_cast<int>(hms.minutes().count()));
  put(17, 2, static_cast<int>(hms.seconds().count()));
  put(20, 3, ts.nanos() / 1000000);
  return out;
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
