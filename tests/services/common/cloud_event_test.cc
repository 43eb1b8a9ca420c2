#include "services/common/kafka/cloud_event.h"

#include <map>
#include <string>

#include "absl/random/random.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "gtest/gtest.h"

namespace earshot::kafka {
namespace {

// ce_time is formatted by hand; absl::FormatTime is the reference, over four centuries (leap
// days, before 1970) and every millisecond digit.
TEST(CloudEventTimeTest, MatchesAbslFormatTime) {
  absl::BitGen gen;
  for (int i = 0; i < 20000; ++i) {
    google::protobuf::Timestamp ts;
    ts.set_seconds(absl::Uniform<int64_t>(gen, -5364662400, 7258118400));  // 1800..2200
    ts.set_nanos(absl::Uniform<int32_t>(gen, 0, 1000000000));
    if (i % 7 == 0) ts.set_seconds(ts.seconds() - ts.seconds() % 86400);  // midnight
    const absl::Time t = absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
    ASSERT_EQ(CloudEventTime(ts), absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone()))
        << ts.seconds() << "." << ts.nanos();
  }
  google::protobuf::Timestamp leap;
  leap.set_seconds(951782400);  // 2000-02-29T00:00:00Z
  EXPECT_EQ(CloudEventTime(leap), "2000-02-29T00:00:00.000Z");
}

TEST(ProtoRecordTest, ValueKeyAndCloudEventsHeaders) {
  google::protobuf::Timestamp value;  // any message will do
  value.set_seconds(1741169990);
  value.set_nanos(311000000);
  Record r = ProtoRecord("earshot.events.v1", "fb:1:c:2", value,
                         {"fb:2", "/earshot/gateway/facebook", "earshot.v1.Event", value});
  EXPECT_EQ(r.topic, "earshot.events.v1");
  EXPECT_EQ(r.key, "fb:1:c:2");
  google::protobuf::Timestamp parsed;
  ASSERT_TRUE(parsed.ParseFromString(r.value));
  EXPECT_EQ(parsed.seconds(), value.seconds());
  std::map<std::string, std::string> headers(r.headers.begin(), r.headers.end());
  EXPECT_EQ(headers, (std::map<std::string, std::string>{
                         {"ce_specversion", "1.0"},
                         {"ce_id", "fb:2"},
                         {"ce_source", "/earshot/gateway/facebook"},
                         {"ce_type", "earshot.v1.Event"},
                         {"ce_time", "2025-03-05T10:19:50.311Z"},
                         {"content-type", "application/protobuf"},
                     }));
}

}  // namespace
}  // namespace earshot::kafka
