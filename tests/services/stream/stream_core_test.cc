// Cursors and filters of the stream service: what a subscriber is allowed to see, and
// that a cursor it was handed resumes exactly where it was.
#include <cstdio>
#include <fstream>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "services/stream/cursor.h"
#include "services/stream/filter.h"

namespace earshot::stream {
namespace {

using earshot::v1::STREAM_TOPIC_ALERTS;
using earshot::v1::STREAM_TOPIC_ROUTED;
using earshot::v1::SubscribeRequest;

TEST(CursorTest, RoundTripsEveryPartition) {
  Positions p = {{{STREAM_TOPIC_ROUTED, 0}, 17},
                 {{STREAM_TOPIC_ROUTED, 3}, 0},
                 {{STREAM_TOPIC_ALERTS, 1}, 123456789012}};
  const std::string cursor = EncodeCursor(p);
  EXPECT_EQ(cursor.find_first_of("+/="), std::string::npos) << "not URL-safe: " << cursor;
  auto back = DecodeCursor(cursor);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, p);
}

TEST(CursorTest, RejectsWhatItDidNotIssue) {
  for (const std::string bad : {"", "not a cursor!", "AAAA", "%%%"}) {
    auto d = DecodeCursor(bad);
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  earshot::v1::StreamCursor c;
  auto* pos = c.add_positions();
  pos->set_topic(STREAM_TOPIC_ROUTED);
  pos->set_partition(0);
  pos->set_next_offset(-5);
  std::string b64;
  absl::WebSafeBase64Escape(c.SerializeAsString(), &b64);
  EXPECT_EQ(DecodeCursor(b64).status().code(), absl::StatusCode::kInvalidArgument);
}

Record Routed(std::string queue, earshot::v1::Platform platform, earshot::v1::Kind kind,
              earshot::v1::Priority priority, std::string account) {
  Record r;
  r.tp = {STREAM_TOPIC_ROUTED, 0};
  r.queue = std::move(queue);
  r.platform = platform;
  r.kind = kind;
  r.priority = priority;
  r.account = std::move(account);
  return r;
}

TEST(FilterTest, EmptyRequestMatchesBothTopicsAndEverything) {
  auto f = Filter::Create(SubscribeRequest(), Access{});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->Wants(STREAM_TOPIC_ROUTED));
  EXPECT_TRUE(f->Wants(STREAM_TOPIC_ALERTS));
  EXPECT_TRUE(f->Matches(Routed("care-de", earshot::v1::PLATFORM_X, earshot::v1::KIND_MENTION,
                                earshot::v1::PRIORITY_LOW, "acme")));
}

TEST(FilterTest, EveryConditionMustHold) {
  SubscribeRequest req;
  req.add_topics(STREAM_TOPIC_ROUTED);
  req.mutable_filter()->add_queues("escalation");
  req.mutable_filter()->add_platforms(earshot::v1::PLATFORM_FACEBOOK);
  req.mutable_filter()->add_kinds(earshot::v1::KIND_COMMENT);
  req.mutable_filter()->set_min_priority(earshot::v1::PRIORITY_HIGH);
  req.mutable_filter()->add_accounts("page-1");
  auto f = Filter::Create(req, Access{});
  ASSERT_TRUE(f.ok());
  const Record match = Routed("escalation", earshot::v1::PLATFORM_FACEBOOK,
                              earshot::v1::KIND_COMMENT, earshot::v1::PRIORITY_URGENT, "page-1");
  EXPECT_TRUE(f->Matches(match));
  Record r = match;
  r.queue = "care-de";
  EXPECT_FALSE(f->Matches(r)) << "queue";
  r = match;
  r.platform = earshot::v1::PLATFORM_X;
  EXPECT_FALSE(f->Matches(r)) << "platform";
  r = match;
  r.kind = earshot::v1::KIND_DIRECT_MESSAGE;
  EXPECT_FALSE(f->Matches(r)) << "kind";
  r = match;
  r.priority = earshot::v1::PRIORITY_NORMAL;
  EXPECT_FALSE(f->Matches(r)) << "priority below the minimum";
  r = match;
  r.account = "page-2";
  EXPECT_FALSE(f->Matches(r)) << "account";
  r = match;
  r.tp.topic = STREAM_TOPIC_ALERTS;
  EXPECT_FALSE(f->Matches(r)) << "alerts not subscribed";
  r = match;
  r.valid = false;
  EXPECT_FALSE(f->Matches(r)) << "unparseable record";
}

TEST(FilterTest, KindFilterDoesNotDropAlerts) {
  SubscribeRequest req;
  req.mutable_filter()->add_kinds(earshot::v1::KIND_COMMENT);
  auto f = Filter::Create(req, Access{});
  ASSERT_TRUE(f.ok());
  Record alert;
  alert.tp = {STREAM_TOPIC_ALERTS, 2};
  alert.queue = "care-de";
  EXPECT_TRUE(f->Matches(alert));
}

TEST(FilterTest, TeamSeesOnlyItsQueues) {
  Access care{"care", false, {"care-de", "care-en"}};
  // No queue filter: narrowed to what the team may read.
  auto all = Filter::Create(SubscribeRequest(), care);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->Matches(Routed("care-en", earshot::v1::PLATFORM_X, earshot::v1::KIND_MENTION,
                                  earshot::v1::PRIORITY_LOW, "")));
  EXPECT_FALSE(all->Matches(Routed("escalation", earshot::v1::PLATFORM_X, earshot::v1::KIND_MENTION,
                                   earshot::v1::PRIORITY_LOW, "")));
  // Asking for a queue outside the team's: refused, not silently empty.
  SubscribeRequest req;
  req.mutable_filter()->add_queues("escalation");
  auto denied = Filter::Create(req, care);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(denied.status().message().find("escalation"), std::string::npos);
}

TEST(FilterTest, StartAtATimeSkipsOlderRecords) {
  SubscribeRequest req;
  req.mutable_time()->set_seconds(1000);
  auto f = Filter::Create(req, Access{});
  ASSERT_TRUE(f.ok());
  Record r = Routed("q", earshot::v1::PLATFORM_X, earshot::v1::KIND_MENTION,
                    earshot::v1::PRIORITY_LOW, "");
  r.timestamp_ms = 999'999;
  EXPECT_FALSE(f->Matches(r));
  r.timestamp_ms = 1'000'000;
  EXPECT_TRUE(f->Matches(r));
}

TEST(FilterTest, UnknownTopicIsInvalid) {
  SubscribeRequest req;
  req.add_topics(static_cast<earshot::v1::StreamTopic>(9));
  EXPECT_EQ(Filter::Create(req, Access{}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace earshot::stream
