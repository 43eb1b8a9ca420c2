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

Normalized NormalizeFixture(const std::string& name) {
  absl::StatusOr<Normalized> result = NormalizeX(Fixture("x/" + name), Context());
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : Normalized{};
}

TEST(NormalizeXTest, MentionReplyingToBrandPostIsInboundReply) {
  Normalized out = NormalizeFixture("mention_reply.json");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.ignored, 0);
  EXPECT_TRUE(out.unknown.empty());
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "x:4000000001:1896871234567890123"
    platform: PLATFORM_X
    account_id: "4000000001"
    thread_key: "x:4000000001:u:7777001"
    message_id: "1896871234567890123"
    parent_id: "1896860000000000456"
    direction: DIRECTION_INBOUND
    kind: KIND_REPLY
    author { id: "7777001" handle: "danak_88" display_name: "Dana K" }
    text: "@AcmeSupport my order #A-5521 still hasn't shipped, any update?"
    lang: "en"
    created_at { seconds: 1741079727 nanos: 311000000 }
    permalink: "https://x.com/danak_88/status/1896871234567890123"
    attributes { key: "for_user_id" value: "4000000001" }
    attributes { key: "user_has_blocked" value: "false" }
    attributes { key: "in_reply_to_user_id" value: "4000000001" }
  )pb"));
}

TEST(NormalizeXTest, BrandReplyIsOutboundInCustomerThread) {
  Normalized out = NormalizeFixture("brand_reply.json");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "x:4000000001:1896872640000000777"
    platform: PLATFORM_X
    account_id: "4000000001"
    thread_key: "x:4000000001:u:7777001"
    message_id: "1896872640000000777"
    parent_id: "1896871234567890123"
    direction: DIRECTION_OUTBOUND
    kind: KIND_REPLY
    author { id: "4000000001" handle: "AcmeSupport" display_name: "Acme Support" }
    text: "@danak_88 Sorry Dana! Please DM us the email on the order and we'll check."
    created_at { seconds: 1741080062 nanos: 50000000 }
    permalink: "https://x.com/AcmeSupport/status/1896872640000000777"
    attributes { key: "for_user_id" value: "4000000001" }
    attributes { key: "in_reply_to_user_id" value: "7777001" }
  )pb"));
}

TEST(NormalizeXTest, LongMentionUsesExtendedTweetFullText) {
  Normalized out = NormalizeFixture("long_mention.json");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "x:4000000001:1896880000000000999"
    platform: PLATFORM_X
    account_id: "4000000001"
    thread_key: "x:4000000001:u:8888002"
    message_id: "1896880000000000999"
    direction: DIRECTION_INBOUND
    kind: KIND_MENTION
    author { id: "8888002" handle: "ravi_p" }
    text: "Third week waiting on a refund for a broken kettle. I've called twice, emailed three times and the chat bot keeps looping me back to the FAQ. Case 99-1234. @AcmeSupport can a human please look at this?"
    created_at { seconds: 1741082531 }
    permalink: "https://x.com/ravi_p/status/1896880000000000999"
    attributes { key: "for_user_id" value: "4000000001" }
    attributes { key: "user_has_blocked" value: "false" }
  )pb"));
}

TEST(NormalizeXTest, IncomingDirectMessageTakesNamesFromUsersMap) {
  Normalized out = NormalizeFixture("dm_incoming.json");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "x:4000000001:dm:1896890000000001111"
    platform: PLATFORM_X
    account_id: "4000000001"
    thread_key: "x:4000000001:dm:7777001"
    message_id: "1896890000000001111"
    direction: DIRECTION_INBOUND
    kind: KIND_DIRECT_MESSAGE
    author { id: "7777001" handle: "danak_88" display_name: "Dana K" }
    text: "Email on the order is dana@example.org"
    created_at { seconds: 1741085000 nanos: 123000000 }
    attributes { key: "for_user_id" value: "4000000001" }
    attributes { key: "recipient_id" value: "4000000001" }
  )pb"));
}

TEST(NormalizeXTest, OutgoingDirectMessageThreadsOnRecipient) {
  Normalized out = NormalizeFixture("dm_outgoing.json");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "x:4000000001:dm:1896891000000002222"
    platform: PLATFORM_X
    account_id: "4000000001"
    thread_key: "x:4000000001:dm:7777001"
    message_id: "1896891000000002222"
    direction: DIRECTION_OUTBOUND
    kind: KIND_DIRECT_MESSAGE
    author {
      id: "4000000001"
      handle: "AcmeSupport"
      display_name: "Acme Support"
      follower_count: 15200
    }
    text: "Thanks Dana, found it: the parcel leaves today."
    created_at { seconds: 1741085300 nanos: 456000000 }
    attributes { key: "for_user_id" value: "4000000001" }
    attributes { key: "recipient_id" value: "7777001" }
    attributes { key: "source_app_id" value: "268278" }
  )pb"));
}

TEST(NormalizeXTest, TweetDeleteIsDeleteInAuthorThread) {
  Normalized out = NormalizeFixture("tweet_delete.json");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "x:4000000001:1896871234567890123:delete"
    platform: PLATFORM_X
    account_id: "4000000001"
    thread_key: "x:4000000001:u:7777001"
    message_id: "1896871234567890123"
    direction: DIRECTION_INBOUND
    kind: KIND_DELETE
    author { id: "7777001" }
    created_at { seconds: 1741090000 }
    attributes { key: "for_user_id" value: "4000000001" }
  )pb"));
}

TEST(NormalizeXTest, RetweetIsMentionMarkedAsRetweet) {
  Normalized out = NormalizeFixture("retweet.json");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "x:4000000001:1896894000000001234"
    platform: PLATFORM_X
    account_id: "4000000001"
    thread_key: "x:4000000001:u:9990003"
    message_id: "1896894000000001234"
    direction: DIRECTION_INBOUND
    kind: KIND_MENTION
    author { id: "9990003" handle: "kettle_fan" display_name: "Kettle Fan" follower_count: 312 }
    text: "RT @AcmeSupport: Spring sale: 20% off all kettles until Sunday."
    lang: "en"
    created_at { seconds: 1741086005 }
    permalink: "https://x.com/kettle_fan/status/1896894000000001234"
    attributes { key: "for_user_id" value: "4000000001" }
    attributes { key: "is_retweet" value: "true" }
    attributes { key: "retweeted_status_id" value: "1896886000000000555" }
  )pb"));
}

TEST(NormalizeXTest, QuoteIsMentionMarkedAsQuote) {
  Normalized out = NormalizeFixture("quote.json");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "x:4000000001:1896911000000000777"
    platform: PLATFORM_X
    account_id: "4000000001"
    thread_key: "x:4000000001:u:7777001"
    message_id: "1896911000000000777"
    direction: DIRECTION_INBOUND
    kind: KIND_MENTION
    author { id: "7777001" handle: "danak_88" display_name: "Dana K" follower_count: 88 }
    text: "Still waiting for mine @AcmeSupport https://t.co/QuOtE12345"
    lang: "en"
    created_at { seconds: 1741090200 }
    permalink: "https://x.com/danak_88/status/1896911000000000777"
    attributes { key: "for_user_id" value: "4000000001" }
    attributes { key: "user_has_blocked" value: "false" }
    attributes { key: "is_quote" value: "true" }
    attributes { key: "quoted_status_id" value: "1896886000000000555" }
  )pb"));
}

TEST(NormalizeXTest, FavoriteOfBrandPostIsInboundReaction) {
  Normalized out = NormalizeFixture("favorite.json");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "x:4000000001:fav:a7c1e1f0d3b24c5e9f0a1b2c3d4e5f60"
    platform: PLATFORM_X
    account_id: "4000000001"
    thread_key: "x:4000000001:u:7777001"
    message_id: "a7c1e1f0d3b24c5e9f0a1b2c3d4e5f60"
    parent_id: "1896872640000000777"
    direction: DIRECTION_INBOUND
    kind: KIND_REACTION
    author { id: "7777001" handle: "danak_88" display_name: "Dana K" follower_count: 88 }
    created_at { seconds: 1741080300 }
    attributes { key: "for_user_id" value: "4000000001" }
  )pb"));
}

TEST(NormalizeXTest, BrandFavoriteThreadsOnFavoritedAuthor) {
  Normalized out = NormalizeFixture("favorite_outgoing.json");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "x:4000000001:fav:0b9e8d7c6b5a49382716f5e4d3c2b1a0"
    platform: PLATFORM_X
    account_id: "4000000001"
    thread_key: "x:4000000001:u:7777001"
    message_id: "0b9e8d7c6b5a49382716f5e4d3c2b1a0"
    parent_id: "1896871234567890123"
    direction: DIRECTION_OUTBOUND
    kind: KIND_REACTION
    author {
      id: "4000000001"
      handle: "AcmeSupport"
      display_name: "Acme Support"
      follower_count: 15200
    }
    created_at { seconds: 1741080600 }
    attributes { key: "for_user_id" value: "4000000001" }
  )pb"));
}

TEST(NormalizeXTest, UserHasBlockedAsBoolean) {
  Normalized out = NormalizeFixture("user_has_blocked_bool.json");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "x:4000000001:1896924000000000111"
    platform: PLATFORM_X
    account_id: "4000000001"
    thread_key: "x:4000000001:u:6660005"
    message_id: "1896924000000000111"
    direction: DIRECTION_INBOUND
    kind: KIND_MENTION
    author { id: "6660005" handle: "angry_al" display_name: "Al" follower_count: 5 }
    text: "@AcmeSupport worst support ever, never buying again"
    lang: "en"
    created_at { seconds: 1741093200 }
    permalink: "https://x.com/angry_al/status/1896924000000000111"
    attributes { key: "for_user_id" value: "4000000001" }
    attributes { key: "user_has_blocked" value: "true" }
    attributes { key: "in_reply_to_user_id" value: "4000000001" }
  )pb"));
}

// Also: numeric ids only (read exactly as integers), created_at text as the only time, and
// lang "und" (X could not tell) left empty.
TEST(NormalizeXTest, IsBlockedByWithNumericIdsAndTextTime) {
  Normalized out = NormalizeFixture("is_blocked_by.json");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "x:4000000001:1896925000000000222"
    platform: PLATFORM_X
    account_id: "4000000001"
    thread_key: "x:4000000001:u:6660005"
    message_id: "1896925000000000222"
    direction: DIRECTION_INBOUND
    kind: KIND_MENTION
    author { id: "6660005" handle: "angry_al" display_name: "Al" }
    text: "@AcmeSupport hello?? anyone there"
    created_at { seconds: 1741093500 }
    permalink: "https://x.com/angry_al/status/1896925000000000222"
    attributes { key: "for_user_id" value: "4000000001" }
    attributes { key: "user_has_blocked" value: "true" }
  )pb"));
}

TEST(NormalizeXTest, ActivityApiMentionUsesIncludesAndReferencedTweets) {
  Normalized out = NormalizeFixture("xaa_post_mention.json");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(out.unknown.empty());
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "x:4000000001:1896920000000004321"
    platform: PLATFORM_X
    account_id: "4000000001"
    thread_key: "x:4000000001:u:5550004"
    message_id: "1896920000000004321"
    parent_id: "1896919000000000100"
    direction: DIRECTION_INBOUND
    kind: KIND_REPLY
    author { id: "5550004" handle: "marta_s" display_name: "Marta S" follower_count: 240 }
    text: "@danak_88 @AcmeSupport same problem here, order A-5610"
    lang: "en"
    created_at { seconds: 1741092310 }
    permalink: "https://x.com/marta_s/status/1896920000000004321"
    attributes { key: "for_user_id" value: "4000000001" }
    attributes { key: "event_type" value: "post.mention.create" }
    attributes { key: "conversation_id" value: "1896919000000000100" }
    attributes { key: "in_reply_to_user_id" value: "7777001" }
  )pb"));
}

TEST(NormalizeXTest, ActivityApiBrandPostPrefersNoteTweet) {
  Normalized out = NormalizeFixture("xaa_post_create.json");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "x:4000000001:1896930000000000042"
    platform: PLATFORM_X
    account_id: "4000000001"
    thread_key: "x:4000000001:u:4000000001"
    message_id: "1896930000000000042"
    direction: DIRECTION_OUTBOUND
    kind: KIND_POST
    author {
      id: "4000000001"
      handle: "AcmeSupport"
      display_name: "Acme Support"
      follower_count: 15200
    }
    text: "Service update: orders placed before noon today ship tomorrow. Delays on the Leipzig route are over and every pending order from last week has left the warehouse. Tracking links update within 24 hours; reply here if yours does not."
    lang: "en"
    created_at { seconds: 1741096800 }
    permalink: "https://x.com/AcmeSupport/status/1896930000000000042"
    attributes { key: "for_user_id" value: "4000000001" }
    attributes { key: "event_type" value: "post.create" }
    attributes { key: "conversation_id" value: "1896930000000000042" }
  )pb"));
}

TEST(NormalizeXTest, ActivityApiPostDeleteHasNoTimeSoUsesReceipt) {
  Normalized out = NormalizeFixture("xaa_post_delete.json");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "x:4000000001:1896930000000000042:delete"
    platform: PLATFORM_X
    account_id: "4000000001"
    thread_key: "x:4000000001:u:4000000001"
    message_id: "1896930000000000042"
    direction: DIRECTION_OUTBOUND
    kind: KIND_DELETE
    author { id: "4000000001" handle: "AcmeSupport" display_name: "Acme Support" }
    created_at { seconds: 1750000000 }
    attributes { key: "for_user_id" value: "4000000001" }
    attributes { key: "event_type" value: "post.delete" }
  )pb"));
}

TEST(NormalizeXTest, ActivityApiDmReceivedUnwrapsUserData) {
  Normalized out = NormalizeFixture("xaa_dm_received.json");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "x:4000000001:dm:1896925000000003333"
    platform: PLATFORM_X
    account_id: "4000000001"
    thread_key: "x:4000000001:dm:5550004"
    message_id: "1896925000000003333"
    direction: DIRECTION_INBOUND
    kind: KIND_DIRECT_MESSAGE
    author { id: "5550004" handle: "marta_s" display_name: "Marta S" follower_count: 240 }
    text: "Order A-5610, email marta@example.net"
    created_at { seconds: 1741093500 nanos: 789000000 }
    attributes { key: "for_user_id" value: "4000000001" }
    attributes { key: "event_type" value: "dm.received" }
    attributes { key: "recipient_id" value: "4000000001" }
  )pb"));
}

TEST(NormalizeXTest, SameTweetForTwoBrandsGetsTwoEventIds) {
  std::string body = Fixture("x/mention_reply.json");
  absl::StatusOr<Normalized> first = NormalizeX(body, Context());
  std::string other = body;
  other.replace(other.find("\"4000000001\""), 12, "\"4000000002\"");
  absl::StatusOr<Normalized> second = NormalizeX(other, Context());
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_EQ(first->events.size(), 1u);
  ASSERT_EQ(second->events.size(), 1u);
  EXPECT_EQ(second->events[0].event_id(), "x:4000000002:1896871234567890123");
  EXPECT_NE(first->events[0].event_id(), second->events[0].event_id());
}

TEST(NormalizeXTest, NonMessageActivitiesAreIgnored) {
  for (const char* name : {"follow.json", "typing.json", "empty_tweet_create.json",
                           "replay_job_status.json", "xaa_like.json"}) {
    SCOPED_TRACE(name);
    Normalized out = NormalizeFixture(name);
    EXPECT_TRUE(out.events.empty());
    EXPECT_TRUE(out.unknown.empty());
    EXPECT_EQ(out.ignored, 1);
  }
}

TEST(NormalizeXTest, UnknownShapeGivesOneReason) {
  Normalized out = NormalizeFixture("unknown.json");
  EXPECT_TRUE(out.events.empty());
  EXPECT_EQ(out.ignored, 0);
  ASSERT_EQ(out.unknown.size(), 1u);
  EXPECT_NE(out.unknown[0].find("no known activity key"), std::string::npos) << out.unknown[0];
}

TEST(NormalizeXTest, TweetEventsWithoutForUserIdAreUnknown) {
  absl::StatusOr<Normalized> out =
      NormalizeX(R"({"tweet_create_events":[{"id_str":"1","user":{"id_str":"2"}}]})", Context());
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->events.empty());
  ASSERT_EQ(out->unknown.size(), 1u);
  EXPECT_EQ(out->unknown[0], "tweet_create_events: envelope without for_user_id");
}

TEST(NormalizeXTest, MalformedJsonIsInvalidArgument) {
  absl::StatusOr<Normalized> out = NormalizeX(Fixture("x/malformed.json"), Context());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NormalizeX("[1,2]", Context()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NormalizeX("", Context()).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace earshot::gateway
