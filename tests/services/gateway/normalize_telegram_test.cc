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

constexpr char kBot[] = "7000000001";

Normalized NormalizeFixture(const std::string& name) {
  absl::StatusOr<Normalized> result = NormalizeTelegram(Fixture("telegram/" + name), Context(kBot));
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : Normalized{};
}

earshot::v1::Event OnlyEvent(const std::string& name) {
  Normalized out = NormalizeFixture(name);
  EXPECT_EQ(out.ignored, 0);
  EXPECT_TRUE(out.unknown.empty()) << (out.unknown.empty() ? "" : out.unknown[0]);
  EXPECT_EQ(out.events.size(), 1u);
  return out.events.empty() ? earshot::v1::Event{} : out.events[0];
}

TEST(NormalizeTelegramTest, PrivateReplyToBotIsDirectMessage) {
  EXPECT_TRUE(EventIs(OnlyEvent("private_reply.json"), R"pb(
    event_id: "tg:7000000001:5123456789:2817"
    platform: PLATFORM_TELEGRAM
    account_id: "7000000001"
    thread_key: "tg:7000000001:5123456789"
    message_id: "2817"
    parent_id: "2815"
    direction: DIRECTION_INBOUND
    kind: KIND_DIRECT_MESSAGE
    author { id: "5123456789" handle: "priya_k" display_name: "Priya" }
    text: "It's A-7710"
    created_at { seconds: 1741174000 }
    attributes { key: "update_id" value: "731200451" }
    attributes { key: "chat_type" value: "private" }
  )pb"));
}

TEST(NormalizeTelegramTest, EditedMessageIsEditWithEditDateInId) {
  EXPECT_TRUE(EventIs(OnlyEvent("edited.json"), R"pb(
    event_id: "tg:7000000001:5123456789:2817:edit:1741174042"
    platform: PLATFORM_TELEGRAM
    account_id: "7000000001"
    thread_key: "tg:7000000001:5123456789"
    message_id: "2817"
    direction: DIRECTION_INBOUND
    kind: KIND_EDIT
    author { id: "5123456789" display_name: "Priya" }
    text: "It's A-7716 (typo before)"
    created_at { seconds: 1741174000 }
    attributes { key: "update_id" value: "731200452" }
    attributes { key: "chat_type" value: "private" }
    attributes { key: "edit_date" value: "1741174042" }
  )pb"));
}

TEST(NormalizeTelegramTest, ChannelPostIsBrandPostWithNegativeChatId) {
  EXPECT_TRUE(EventIs(OnlyEvent("channel_post.json"), R"pb(
    event_id: "tg:7000000001:-1001987654321:93"
    platform: PLATFORM_TELEGRAM
    account_id: "7000000001"
    thread_key: "tg:7000000001:-1001987654321"
    message_id: "93"
    direction: DIRECTION_OUTBOUND
    kind: KIND_POST
    author { id: "-1001987654321" display_name: "Acme News" }
    text: "Store hours change on Friday."
    created_at { seconds: 1741175000 }
    attributes { key: "update_id" value: "731200460" }
    attributes { key: "chat_type" value: "channel" }
  )pb"));
}

TEST(NormalizeTelegramTest, BusinessMessageFromCustomerIsInbound) {
  EXPECT_TRUE(EventIs(OnlyEvent("business_inbound.json"), R"pb(
    event_id: "tg:7000000001:6234567890:512"
    platform: PLATFORM_TELEGRAM
    account_id: "7000000001"
    thread_key: "tg:7000000001:6234567890"
    message_id: "512"
    direction: DIRECTION_INBOUND
    kind: KIND_DIRECT_MESSAGE
    author { id: "6234567890" handle: "marek_n" display_name: "Marek Nowak" }
    text: "Do you ship to Poland?"
    created_at { seconds: 1741176000 }
    attributes { key: "update_id" value: "731200470" }
    attributes { key: "chat_type" value: "private" }
    attributes { key: "business_connection_id" value: "BCxAbCdEfGh0123456789" }
  )pb"));
}

TEST(NormalizeTelegramTest, BusinessMessageFromOwnerIsOutbound) {
  EXPECT_TRUE(EventIs(OnlyEvent("business_outbound.json"), R"pb(
    event_id: "tg:7000000001:6234567890:513"
    platform: PLATFORM_TELEGRAM
    account_id: "7000000001"
    thread_key: "tg:7000000001:6234567890"
    message_id: "513"
    parent_id: "512"
    direction: DIRECTION_OUTBOUND
    kind: KIND_DIRECT_MESSAGE
    author { id: "5000000777" handle: "acme_shop" display_name: "Acme Shop" }
    text: "Yes, 3-5 working days to Poland."
    created_at { seconds: 1741176120 }
    attributes { key: "update_id" value: "731200471" }
    attributes { key: "chat_type" value: "private" }
    attributes { key: "business_connection_id" value: "BCxAbCdEfGh0123456789" }
  )pb"));
}

TEST(NormalizeTelegramTest, BusinessMessageSentByBusinessBotIsOutbound) {
  EXPECT_TRUE(EventIs(OnlyEvent("business_bot_reply.json"), R"pb(
    event_id: "tg:7000000001:6234567890:514"
    platform: PLATFORM_TELEGRAM
    account_id: "7000000001"
    thread_key: "tg:7000000001:6234567890"
    message_id: "514"
    direction: DIRECTION_OUTBOUND
    kind: KIND_DIRECT_MESSAGE
    author { id: "5000000777" handle: "acme_shop" display_name: "Acme Shop" }
    text: "Your tracking number will follow by email."
    created_at { seconds: 1741176180 }
    attributes { key: "update_id" value: "731200472" }
    attributes { key: "chat_type" value: "private" }
    attributes { key: "business_connection_id" value: "BCxAbCdEfGh0123456789" }
    attributes { key: "sender_business_bot_id" value: "7000000001" }
  )pb"));
}

TEST(NormalizeTelegramTest, GroupReplyIsReplyWithPublicPermalink) {
  EXPECT_TRUE(EventIs(OnlyEvent("group_reply.json"), R"pb(
    event_id: "tg:7000000001:-1001555000111:4410"
    platform: PLATFORM_TELEGRAM
    account_id: "7000000001"
    thread_key: "tg:7000000001:-1001555000111"
    message_id: "4410"
    parent_id: "4402"
    direction: DIRECTION_INBOUND
    kind: KIND_REPLY
    author { id: "5987654321" handle: "lars_h" display_name: "Lars Holm" }
    text: "After 2.1 my kettle beeps twice, is that normal?"
    created_at { seconds: 1741177000 }
    permalink: "https://t.me/acme_community/4410"
    attributes { key: "update_id" value: "731200480" }
    attributes { key: "chat_type" value: "supergroup" }
  )pb"));
}

// A forum-topic message "replies" to the topic's creation message; that is not a reply.
TEST(NormalizeTelegramTest, TopicPhotoWithCaptionIsMention) {
  EXPECT_TRUE(EventIs(OnlyEvent("group_photo.json"), R"pb(
    event_id: "tg:7000000001:-1001555000111:4415"
    platform: PLATFORM_TELEGRAM
    account_id: "7000000001"
    thread_key: "tg:7000000001:-1001555000111"
    message_id: "4415"
    direction: DIRECTION_INBOUND
    kind: KIND_MENTION
    author { id: "5987654322" display_name: "Ines" }
    text: "Limescale after two weeks, @acme_help_bot is this covered?"
    created_at { seconds: 1741177100 }
    permalink: "https://t.me/acme_community/4415"
    attributes { key: "update_id" value: "731200481" }
    attributes { key: "chat_type" value: "supergroup" }
    attributes { key: "message_thread_id" value: "4400" }
    attributes { key: "media_group_id" value: "13912345678901234" }
    attributes { key: "attachment_types" value: "photo" }
  )pb"));
}

TEST(NormalizeTelegramTest, DeletedBusinessMessagesGiveOneDeletePerId) {
  Normalized out = NormalizeFixture("deleted_business_messages.json");
  EXPECT_TRUE(out.unknown.empty());
  ASSERT_EQ(out.events.size(), 2u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "tg:7000000001:6234567890:512:delete"
    platform: PLATFORM_TELEGRAM
    account_id: "7000000001"
    thread_key: "tg:7000000001:6234567890"
    message_id: "512"
    direction: DIRECTION_INBOUND
    kind: KIND_DELETE
    created_at { seconds: 1750000000 }
    attributes { key: "update_id" value: "731200490" }
    attributes { key: "chat_type" value: "private" }
    attributes { key: "business_connection_id" value: "BCxAbCdEfGh0123456789" }
  )pb"));
  EXPECT_EQ(out.events[1].event_id(), "tg:7000000001:6234567890:515:delete");
  EXPECT_EQ(out.events[1].message_id(), "515");
}

TEST(NormalizeTelegramTest, MessageReactionIsReaction) {
  EXPECT_TRUE(EventIs(OnlyEvent("message_reaction.json"), R"pb(
    event_id: "tg:7000000001:-1001555000111:4402:reaction:5987654321:1741177200"
    platform: PLATFORM_TELEGRAM
    account_id: "7000000001"
    thread_key: "tg:7000000001:-1001555000111"
    parent_id: "4402"
    direction: DIRECTION_INBOUND
    kind: KIND_REACTION
    author { id: "5987654321" handle: "lars_h" display_name: "Lars Holm" }
    created_at { seconds: 1741177200 }
    attributes { key: "update_id" value: "731200495" }
    attributes { key: "chat_type" value: "supergroup" }
    attributes { key: "reaction" value: "👍" }
  )pb"));
}

TEST(NormalizeTelegramTest, MessageFromBotItselfIsOutbound) {
  std::string body = R"({"update_id": 731200520, "message": {"message_id": 4420,
    "from": {"id": 7000000001, "is_bot": true, "first_name": "Acme Help", "username": "acme_help_bot"},
    "chat": {"id": -1001555000111, "title": "Acme Community", "type": "supergroup"},
    "date": 1741177300, "text": "Known issue, fix in 2.1.1."}})";
  absl::StatusOr<Normalized> out = NormalizeTelegram(body, Context(kBot));
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->events.size(), 1u);
  EXPECT_TRUE(EventIs(out->events[0], R"pb(
    event_id: "tg:7000000001:-1001555000111:4420"
    platform: PLATFORM_TELEGRAM
    account_id: "7000000001"
    thread_key: "tg:7000000001:-1001555000111"
    message_id: "4420"
    direction: DIRECTION_OUTBOUND
    kind: KIND_MENTION
    author { id: "7000000001" handle: "acme_help_bot" display_name: "Acme Help" is_bot: true }
    text: "Known issue, fix in 2.1.1."
    created_at { seconds: 1741177300 }
    attributes { key: "update_id" value: "731200520" }
    attributes { key: "chat_type" value: "supergroup" }
  )pb"));
}

TEST(NormalizeTelegramTest, CallbackQueryIsIgnored) {
  Normalized out = NormalizeFixture("callback_query.json");
  EXPECT_TRUE(out.events.empty());
  EXPECT_TRUE(out.unknown.empty());
  EXPECT_EQ(out.ignored, 1);
}

TEST(NormalizeTelegramTest, UpdateWithoutKnownFieldIsUnknown) {
  Normalized out = NormalizeFixture("unknown.json");
  EXPECT_TRUE(out.events.empty());
  EXPECT_EQ(out.ignored, 0);
  ASSERT_EQ(out.unknown.size(), 1u);
  EXPECT_NE(out.unknown[0].find("no known field"), std::string::npos) << out.unknown[0];
}

TEST(NormalizeTelegramTest, MalformedJsonIsInvalidArgument) {
  EXPECT_EQ(NormalizeTelegram(Fixture("telegram/malformed.json"), Context(kBot)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NormalizeTelegram("731200451", Context(kBot)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace earshot::gateway
