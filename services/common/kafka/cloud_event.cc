#include "services/common/kafka/cloud_event.h"
#include "services/common/base/proto_time.h"

#include <chrono>

#include "absl/time/time.h"

namespace earshot::kafka {

Record ProtoRecord(std::string topic, std::string key, const google::protobuf::MessageLite& value,
                   const CloudEvent& event) {
  Record r;
  r.topic = std::move(topic);
  r.key = std::move(key);
  value.SerializeToString(&r.value);
  // Built in place: a braced list of pairs would copy every string once more.
  r.headers.reserve(7);
  r.headers.emplace_back("ce_specversion", "1.0");
  r.headers.emplace_back("ce_id", event.id);
  r.headers.emplace_back("ce_source", event.source);
  r.headers.emplace_back("ce_type", event.type);
  r.headers.emplace_back("ce_time", CloudEventTime(event.time));
  r.headers.emplace_back("content-type", "application/protobuf");
  return r;
}

std::string CloudEventTime(const google::protobuf::Timestamp& ts) {
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
    return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", FromProtoTime(ts), absl::UTCTimeZone());
  }
  std::string out = "0000-00-00T00:00:00.000Z";
  auto put = [&out](size_t at, int width, int value) {
    for (int i = width - 1; i >= 0; --i, value /= 10) {
      out[at + i] = static_cast<char>('0' + value % 10);
    }
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

}  // namespace earshot::kafka
