#include <string>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "services/gateway/normalize.h"
#include "tests/services/gateway/normalize_test_util.h"

namespace earshot::gateway {
namespace {

using testing::Context;
using testing::EventIs;
using testing::Fixture;

constexpr char kSource[] = "reviews";

Normalized NormalizeFixture(const std::string& name) {
  absl::StatusOr<Normalized> result =
      NormalizeGeneric(Fixture("generic/" + name), Context(kSource));
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : Normalized{};
}

Normalized NormalizeText(const std::string& body) {
  absl::StatusOr<Normalized> result = NormalizeGeneric(body, Context(kSource));
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : Normalized{};
}

TEST(NormalizeGenericTest, SingleReviewWithRfc3339TimeAndAttributes) {
  Normalized out = NormalizeFixture("single.json");
  EXPECT_TRUE(out.unknown.empty());
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "gen:reviews:rev-20250305-0042"
    platform: PLATFORM_GENERIC
    account_id: "reviews"
    thread_key: "gen:reviews:rev-20250305-0042"
    message_id: "rev-20250305-0042"
    direction: DIRECTION_INBOUND
    kind: KIND_REVIEW
    author { id: "u-8812" handle: "m.ortiz" display_name: "M. Ortiz" follower_count: 12 }
    text: "Took three weeks to get my money back."
    lang: "en"
    created_at { seconds: 1741162200 }
    permalink: "https://reviews.example.com/acme/rev-20250305-0042"
    attributes { key: "rating" value: "2" }
    attributes { key: "title" value: "Slow refund" }
    attributes { key: "order_ref" value: "ORD-88123" }
    attributes { key: "verified" value: "true" }
    attributes { key: "helpful_votes" value: "3" }
  )pb"));
}

TEST(NormalizeGenericTest, BatchWithDefaultsNumericIdsAndEpochTimes) {
  Normalized out = NormalizeFixture("batch.json");
  EXPECT_TRUE(out.unknown.empty());
  ASSERT_EQ(out.events.size(), 2u);
  // Defaults: kind comment, direction inbound, account = source. Epoch seconds.
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "gen:reviews:88120431"
    platform: PLATFORM_GENERIC
    account_id: "reviews"
    thread_key: "gen:reviews:post-spring-sale"
    message_id: "88120431"
    direction: DIRECTION_INBOUND
    kind: KIND_COMMENT
    author { id: "c-5501" display_name: "Greta" }
    text: "Does the sale include the glass kettles?"
    created_at { seconds: 1741180000 }
    permalink: "https://blog.example.com/spring-sale#comment-88120431"
  )pb"));
  // Explicit outbound reply with account override and epoch milliseconds.
  EXPECT_TRUE(EventIs(out.events[1], R"pb(
    event_id: "gen:reviews:88120477"
    platform: PLATFORM_GENERIC
    account_id: "acme-blog"
    thread_key: "gen:reviews:post-spring-sale"
    message_id: "88120477"
    parent_id: "88120431"
    direction: DIRECTION_OUTBOUND
    kind: KIND_REPLY
    author { id: "staff-7" handle: "acme_team" display_name: "Acme Team" }
    text: "Yes Greta, all kettles are included."
    created_at { seconds: 1741180600 nanos: 250000000 }
    attributes { key: "moderation" value: "approved" }
  )pb"));
}

TEST(NormalizeGenericTest, MissingThreadIdRefusesOnlyThatEvent) {
  Normalized out = NormalizeFixture("missing_thread_id.json");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "gen:reviews:q-1001"
    platform: PLATFORM_GENERIC
    account_id: "reviews"
    thread_key: "gen:reviews:q-1001"
    message_id: "q-1001"
    direction: DIRECTION_INBOUND
    kind: KIND_MENTION
    text: "Anyone tried the Acme K2 kettle?"
    created_at { seconds: 1741165200 }
  )pb"));
  ASSERT_EQ(out.unknown.size(), 1u);
  EXPECT_EQ(out.unknown[0], "events[1].thread_id: missing (string or integer required)");
}

TEST(NormalizeGenericTest, UnknownKindIsUnknown) {
  Normalized out = NormalizeFixture("unknown_kind.json");
  EXPECT_TRUE(out.events.empty());
  ASSERT_EQ(out.unknown.size(), 1u);
  EXPECT_EQ(out.unknown[0], "event.kind: unknown \"complaint\"");
}

TEST(NormalizeGenericTest, BadFieldsAreNamedWithIndex) {
  Normalized out = NormalizeText(R"({"events": [
      {"thread_id": "t"},
      {"id": "a", "thread_id": "t", "direction": "sideways"},
      {"id": "b", "thread_id": "t", "created_at": "yesterday"},
      {"id": "c", "thread_id": "t", "kind": "control"},
      "not an object"]})");
  EXPECT_TRUE(out.events.empty());
  ASSERT_EQ(out.unknown.size(), 5u);
  EXPECT_EQ(out.unknown[0], "events[0].id: missing (string or integer required)");
  EXPECT_EQ(out.unknown[1], "events[1].direction: unknown \"sideways\"");
  EXPECT_EQ(out.unknown[2],
            "events[2].created_at: neither RFC 3339 nor epoch seconds/milliseconds");
  EXPECT_EQ(out.unknown[3], "events[3].kind: unknown \"control\"");
  EXPECT_EQ(out.unknown[4], "events[4]: not an object");
}

TEST(NormalizeGenericTest, MissingTimeFallsBackToReceipt) {
  Normalized out = NormalizeText(R"({"id": 1, "thread_id": 2})");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "gen:reviews:1"
    platform: PLATFORM_GENERIC
    account_id: "reviews"
    thread_key: "gen:reviews:2"
    message_id: "1"
    direction: DIRECTION_INBOUND
    kind: KIND_COMMENT
    created_at { seconds: 1750000000 }
  )pb"));
}

TEST(NormalizeGenericTest, EmptyBatchIsIgnored) {
  Normalized out = NormalizeFixture("empty_batch.json");
  EXPECT_TRUE(out.events.empty());
  EXPECT_TRUE(out.unknown.empty());
  EXPECT_EQ(out.ignored, 1);
}

TEST(NormalizeGenericTest, MalformedJsonIsInvalidArgument) {
  EXPECT_EQ(NormalizeGeneric(Fixture("generic/malformed.json"), Context(kSource)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NormalizeGeneric(R"([{"id": 1, "thread_id": 1}])", Context(kSource)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace earshot::gateway
