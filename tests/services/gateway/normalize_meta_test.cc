#include <string>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "services/gateway/normalize.h"
#include "tests/services/gateway/normalize_test_util.h"

namespace earshot::gateway {
namespace {

using testing::Context;
using testing::EventIs;
using testing::Fixture;

Normalized NormalizeFixture(const std::string& name) {
  absl::StatusOr<Normalized> result = NormalizeMeta(Fixture("meta/" + name), Context());
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : Normalized{};
}

// One event, nothing ignored, nothing unknown.
earshot::v1::Event OnlyEvent(const std::string& name) {
  Normalized out = NormalizeFixture(name);
  EXPECT_EQ(out.ignored, 0);
  EXPECT_TRUE(out.unknown.empty()) << (out.unknown.empty() ? "" : out.unknown[0]);
  EXPECT_EQ(out.events.size(), 1u);
  return out.events.empty() ? earshot::v1::Event{} : out.events[0];
}

// --- Facebook Page feed ---

TEST(NormalizeMetaTest, FacebookTopLevelCommentOpensItsOwnThread) {
  EXPECT_TRUE(EventIs(OnlyEvent("fb_comment.json"), R"pb(
    event_id: "fb:901234567890123_1122334455667788"
    platform: PLATFORM_FACEBOOK
    account_id: "105550000000001"
    thread_key: "fb:105550000000001:c:901234567890123_1122334455667788"
    message_id: "901234567890123_1122334455667788"
    parent_id: "105550000000001_901234567890123"
    direction: DIRECTION_INBOUND
    kind: KIND_COMMENT
    author { id: "6012345678901234" display_name: "Lena Vogt" }
    text: "Is the spring sale also valid in stores?"
    created_at { seconds: 1741169990 }
    permalink: "https://www.facebook.com/901234567890123_1122334455667788"
    attributes { key: "post_id" value: "105550000000001_901234567890123" }
    attributes { key: "verb" value: "add" }
    attributes { key: "item" value: "comment" }
  )pb"));
}

TEST(NormalizeMetaTest, FacebookPageReplyIsOutboundInTopLevelCommentThread) {
  EXPECT_TRUE(EventIs(OnlyEvent("fb_page_reply.json"), R"pb(
    event_id: "fb:901234567890123_1122334455669999"
    platform: PLATFORM_FACEBOOK
    account_id: "105550000000001"
    thread_key: "fb:105550000000001:c:901234567890123_1122334455667788"
    message_id: "901234567890123_1122334455669999"
    parent_id: "901234567890123_1122334455667788"
    direction: DIRECTION_OUTBOUND
    kind: KIND_REPLY
    author { id: "105550000000001" display_name: "Acme" }
    text: "Hi Lena, yes - all stores until Sunday."
    created_at { seconds: 1741170395 }
    permalink: "https://www.facebook.com/901234567890123_1122334455669999"
    attributes { key: "post_id" value: "105550000000001_901234567890123" }
    attributes { key: "verb" value: "add" }
    attributes { key: "item" value: "comment" }
  )pb"));
}

TEST(NormalizeMetaTest, FacebookVisitorPostIsInboundPost) {
  EXPECT_TRUE(EventIs(OnlyEvent("fb_post.json"), R"pb(
    event_id: "fb:105550000000001_901234567899999"
    platform: PLATFORM_FACEBOOK
    account_id: "105550000000001"
    thread_key: "fb:105550000000001:c:105550000000001_901234567899999"
    message_id: "105550000000001_901234567899999"
    direction: DIRECTION_INBOUND
    kind: KIND_POST
    author { id: "6012345678909999" display_name: "Tom Berger" }
    text: "Your store in Leipzig was closed at 11am although the sign says 10-20."
    created_at { seconds: 1741179995 }
    permalink: "https://www.facebook.com/105550000000001_901234567899999"
    attributes { key: "post_id" value: "105550000000001_901234567899999" }
    attributes { key: "verb" value: "add" }
    attributes { key: "item" value: "status" }
  )pb"));
}

TEST(NormalizeMetaTest, FacebookEditedCommentIsEditWithTimeInId) {
  EXPECT_TRUE(EventIs(OnlyEvent("fb_comment_edited.json"), R"pb(
    event_id: "fb:901234567890123_1122334455667788:edited:1741170100"
    platform: PLATFORM_FACEBOOK
    account_id: "105550000000001"
    thread_key: "fb:105550000000001:c:901234567890123_1122334455667788"
    message_id: "901234567890123_1122334455667788"
    parent_id: "105550000000001_901234567890123"
    direction: DIRECTION_INBOUND
    kind: KIND_EDIT
    author { id: "6012345678901234" display_name: "Lena Vogt" }
    text: "Is the spring sale also valid in stores and online?"
    created_at { seconds: 1741170100 }
    permalink: "https://www.facebook.com/901234567890123_1122334455667788"
    attributes { key: "post_id" value: "105550000000001_901234567890123" }
    attributes { key: "verb" value: "edited" }
    attributes { key: "item" value: "comment" }
  )pb"));
}

TEST(NormalizeMetaTest, FacebookRemovedCommentIsDelete) {
  EXPECT_TRUE(EventIs(OnlyEvent("fb_comment_remove.json"), R"pb(
    event_id: "fb:901234567890123_1122334455667788:remove"
    platform: PLATFORM_FACEBOOK
    account_id: "105550000000001"
    thread_key: "fb:105550000000001:c:901234567890123_1122334455667788"
    message_id: "901234567890123_1122334455667788"
    parent_id: "105550000000001_901234567890123"
    direction: DIRECTION_INBOUND
    kind: KIND_DELETE
    author { id: "6012345678901234" display_name: "Lena Vogt" }
    created_at { seconds: 1741170200 }
    permalink: "https://www.facebook.com/901234567890123_1122334455667788"
    attributes { key: "post_id" value: "105550000000001_901234567890123" }
    attributes { key: "verb" value: "remove" }
    attributes { key: "item" value: "comment" }
  )pb"));
}

TEST(NormalizeMetaTest, FacebookReactionOnReplyThreadsOnTopLevelComment) {
  EXPECT_TRUE(EventIs(OnlyEvent("fb_reaction.json"), R"pb(
    event_id: "fb:901234567890123_1122334455669999:reaction:6012345678901234:add:1741170490"
    platform: PLATFORM_FACEBOOK
    account_id: "105550000000001"
    thread_key: "fb:105550000000001:c:901234567890123_1122334455667788"
    parent_id: "901234567890123_1122334455669999"
    direction: DIRECTION_INBOUND
    kind: KIND_REACTION
    author { id: "6012345678901234" display_name: "Lena Vogt" }
    created_at { seconds: 1741170490 }
    attributes { key: "post_id" value: "105550000000001_901234567890123" }
    attributes { key: "verb" value: "add" }
    attributes { key: "item" value: "reaction" }
    attributes { key: "reaction_type" value: "love" }
    attributes { key: "comment_id" value: "901234567890123_1122334455669999" }
  )pb"));
}

TEST(NormalizeMetaTest, FacebookHiddenCommentIsIgnored) {
  Normalized out = NormalizeFixture("fb_hide.json");
  EXPECT_TRUE(out.events.empty());
  EXPECT_TRUE(out.unknown.empty());
  EXPECT_EQ(out.ignored, 1);
}

TEST(NormalizeMetaTest, FacebookUnknownFieldIsUnknown) {
  Normalized out = NormalizeFixture("fb_ratings.json");
  EXPECT_TRUE(out.events.empty());
  ASSERT_EQ(out.unknown.size(), 1u);
  EXPECT_EQ(out.unknown[0], "entry[0].changes[0]: unknown field \"ratings\"");
}

// --- Messenger ---

TEST(NormalizeMetaTest, MessengerMessageThreadsOnPsid) {
  EXPECT_TRUE(EventIs(OnlyEvent("messenger_message.json"), R"pb(
    event_id: "fbm:m_Qk9fZXhhbXBsZV9taWRfMDAx"
    platform: PLATFORM_MESSENGER
    account_id: "105550000000001"
    thread_key: "fbm:105550000000001:7300000000000042"
    message_id: "m_Qk9fZXhhbXBsZV9taWRfMDAx"
    parent_id: "m_Qk9fZXhhbXBsZV9taWRfMDAw"
    direction: DIRECTION_INBOUND
    kind: KIND_DIRECT_MESSAGE
    author { id: "7300000000000042" }
    text: "Can I change the delivery address?"
    created_at { seconds: 1741171000 nanos: 321000000 }
  )pb"));
}

TEST(NormalizeMetaTest, MessengerEchoIsOutboundToRecipient) {
  EXPECT_TRUE(EventIs(OnlyEvent("messenger_echo.json"), R"pb(
    event_id: "fbm:m_Qk9fZXhhbXBsZV9taWRfMDAy"
    platform: PLATFORM_MESSENGER
    account_id: "105550000000001"
    thread_key: "fbm:105550000000001:7300000000000042"
    message_id: "m_Qk9fZXhhbXBsZV9taWRfMDAy"
    direction: DIRECTION_OUTBOUND
    kind: KIND_DIRECT_MESSAGE
    author { id: "105550000000001" }
    text: "Sure - send me the new address here."
    created_at { seconds: 1741171059 nanos: 888000000 }
    attributes { key: "is_echo" value: "true" }
    attributes { key: "app_id" value: "263902037430900" }
  )pb"));
}

TEST(NormalizeMetaTest, MessengerAttachmentOnlyMessageListsTypes) {
  EXPECT_TRUE(EventIs(OnlyEvent("messenger_attachment.json"), R"pb(
    event_id: "fbm:m_Qk9fZXhhbXBsZV9taWRfMDAz"
    platform: PLATFORM_MESSENGER
    account_id: "105550000000001"
    thread_key: "fbm:105550000000001:7300000000000042"
    message_id: "m_Qk9fZXhhbXBsZV9taWRfMDAz"
    direction: DIRECTION_INBOUND
    kind: KIND_DIRECT_MESSAGE
    author { id: "7300000000000042" }
    created_at { seconds: 1741171200 nanos: 400000000 }
    attributes { key: "attachment_types" value: "image,video" }
  )pb"));
}

TEST(NormalizeMetaTest, MessengerReactionPointsAtMessage) {
  EXPECT_TRUE(EventIs(OnlyEvent("messenger_reaction.json"), R"pb(
    event_id: "fbm:m_Qk9fZXhhbXBsZV9taWRfMDAy:reaction:7300000000000042:react:1741171300200"
    platform: PLATFORM_MESSENGER
    account_id: "105550000000001"
    thread_key: "fbm:105550000000001:7300000000000042"
    parent_id: "m_Qk9fZXhhbXBsZV9taWRfMDAy"
    direction: DIRECTION_INBOUND
    kind: KIND_REACTION
    author { id: "7300000000000042" }
    created_at { seconds: 1741171300 nanos: 200000000 }
    attributes { key: "action" value: "react" }
    attributes { key: "reaction" value: "love" }
    attributes { key: "emoji" value: "❤️" }
  )pb"));
}

TEST(NormalizeMetaTest, MessengerReadReceiptIsIgnored) {
  Normalized out = NormalizeFixture("messenger_read.json");
  EXPECT_TRUE(out.events.empty());
  EXPECT_TRUE(out.unknown.empty());
  EXPECT_EQ(out.ignored, 1);
}

// --- Instagram ---

TEST(NormalizeMetaTest, InstagramCommentUsesFbCommentThread) {
  EXPECT_TRUE(EventIs(OnlyEvent("ig_comment.json"), R"pb(
    event_id: "ig:18012345678900001"
    platform: PLATFORM_INSTAGRAM
    account_id: "17841400000000001"
    thread_key: "fb:17841400000000001:c:18012345678900001"
    message_id: "18012345678900001"
    direction: DIRECTION_INBOUND
    kind: KIND_COMMENT
    author { id: "6200000000000077" handle: "mila.runs" }
    text: "@acme does this come in size 38?"
    created_at { seconds: 1741172000 }
    attributes { key: "media_id" value: "17999999999000111" }
    attributes { key: "media_product_type" value: "FEED" }
    attributes { key: "field" value: "comments" }
  )pb"));
}

TEST(NormalizeMetaTest, InstagramCommentWithCommentIdKey) {
  EXPECT_TRUE(EventIs(OnlyEvent("ig_comment_id.json"), R"pb(
    event_id: "ig:18012345678900005"
    platform: PLATFORM_INSTAGRAM
    account_id: "17841400000000001"
    thread_key: "fb:17841400000000001:c:18012345678900005"
    message_id: "18012345678900005"
    direction: DIRECTION_INBOUND
    kind: KIND_COMMENT
    author { id: "6200000000000088" handle: "jo.bakes" }
    text: "Is shipping to Austria free?"
    created_at { seconds: 1741172800 }
    attributes { key: "media_id" value: "17999999999000222" }
    attributes { key: "media_product_type" value: "REELS" }
    attributes { key: "field" value: "comments" }
  )pb"));
}

TEST(NormalizeMetaTest, InstagramReplyThreadsOnParentComment) {
  EXPECT_TRUE(EventIs(OnlyEvent("ig_reply.json"), R"pb(
    event_id: "ig:18012345678900002"
    platform: PLATFORM_INSTAGRAM
    account_id: "17841400000000001"
    thread_key: "fb:17841400000000001:c:18012345678900001"
    message_id: "18012345678900002"
    parent_id: "18012345678900001"
    direction: DIRECTION_INBOUND
    kind: KIND_REPLY
    author { id: "6200000000000077" handle: "mila.runs" }
    text: "also in blue?"
    created_at { seconds: 1741172300 }
    attributes { key: "media_id" value: "17999999999000111" }
    attributes { key: "media_product_type" value: "FEED" }
    attributes { key: "field" value: "comments" }
  )pb"));
}

TEST(NormalizeMetaTest, InstagramBrandReplyIsOutbound) {
  EXPECT_TRUE(EventIs(OnlyEvent("ig_brand_reply.json"), R"pb(
    event_id: "ig:18012345678900004"
    platform: PLATFORM_INSTAGRAM
    account_id: "17841400000000001"
    thread_key: "fb:17841400000000001:c:18012345678900001"
    message_id: "18012345678900004"
    parent_id: "18012345678900001"
    direction: DIRECTION_OUTBOUND
    kind: KIND_REPLY
    author { id: "17841400000000001" handle: "acme" }
    text: "@mila.runs yes, 38 in black and blue!"
    created_at { seconds: 1741172400 }
    attributes { key: "media_id" value: "17999999999000111" }
    attributes { key: "media_product_type" value: "FEED" }
    attributes { key: "field" value: "comments" }
  )pb"));
}

TEST(NormalizeMetaTest, InstagramLiveComment) {
  EXPECT_TRUE(EventIs(OnlyEvent("ig_live_comment.json"), R"pb(
    event_id: "ig:18012345678900006"
    platform: PLATFORM_INSTAGRAM
    account_id: "17841400000000001"
    thread_key: "fb:17841400000000001:c:18012345678900006"
    message_id: "18012345678900006"
    direction: DIRECTION_INBOUND
    kind: KIND_COMMENT
    author { id: "6200000000000099" handle: "kai.cooks" }
    text: "what's the wattage on that one?"
    created_at { seconds: 1741172900 }
    attributes { key: "media_id" value: "17999999999000333" }
    attributes { key: "media_product_type" value: "LIVE" }
    attributes { key: "field" value: "live_comments" }
  )pb"));
}

TEST(NormalizeMetaTest, InstagramMentionHasNoText) {
  EXPECT_TRUE(EventIs(OnlyEvent("ig_mention.json"), R"pb(
    event_id: "ig:mention:18055500000000003"
    platform: PLATFORM_INSTAGRAM
    account_id: "17841400000000001"
    thread_key: "fb:17841400000000001:c:18055500000000003"
    message_id: "18055500000000003"
    direction: DIRECTION_INBOUND
    kind: KIND_MENTION
    created_at { seconds: 1741172500 }
    attributes { key: "media_id" value: "18044400000000009" }
    attributes { key: "comment_id" value: "18055500000000003" }
    attributes { key: "field" value: "mentions" }
  )pb"));
}

TEST(NormalizeMetaTest, InstagramDirectMessage) {
  EXPECT_TRUE(EventIs(OnlyEvent("ig_dm.json"), R"pb(
    event_id: "igm:aWdfZXhhbXBsZV9taWRfMTIz"
    platform: PLATFORM_INSTAGRAM
    account_id: "17841400000000001"
    thread_key: "igm:17841400000000001:6200000000000077"
    message_id: "aWdfZXhhbXBsZV9taWRfMTIz"
    direction: DIRECTION_INBOUND
    kind: KIND_DIRECT_MESSAGE
    author { id: "6200000000000077" }
    text: "hi! question about my order"
    created_at { seconds: 1741172600 nanos: 1000000 }
  )pb"));
}

TEST(NormalizeMetaTest, InstagramEchoIsOutbound) {
  EXPECT_TRUE(EventIs(OnlyEvent("ig_echo.json"), R"pb(
    event_id: "igm:aWdfZXhhbXBsZV9taWRfMTI0"
    platform: PLATFORM_INSTAGRAM
    account_id: "17841400000000001"
    thread_key: "igm:17841400000000001:6200000000000077"
    message_id: "aWdfZXhhbXBsZV9taWRfMTI0"
    direction: DIRECTION_OUTBOUND
    kind: KIND_DIRECT_MESSAGE
    author { id: "17841400000000001" }
    text: "Hi Mila! What's your order number?"
    created_at { seconds: 1741172700 nanos: 321000000 }
    attributes { key: "is_echo" value: "true" }
  )pb"));
}

// --- WhatsApp ---

TEST(NormalizeMetaTest, WhatsAppTextTakesNameFromContacts) {
  EXPECT_TRUE(EventIs(OnlyEvent("wa_text.json"), R"pb(
    event_id: "wa:wamid.RVhBTVBMRV9JTkJPVU5EXzAwMDE="
    platform: PLATFORM_WHATSAPP
    account_id: "410000000000222"
    thread_key: "wa:410000000000222:4915112345678"
    message_id: "wamid.RVhBTVBMRV9JTkJPVU5EXzAwMDE="
    parent_id: "wamid.RVhBTVBMRV9PVVRCT1VORF8wMDA5"
    direction: DIRECTION_INBOUND
    kind: KIND_DIRECT_MESSAGE
    author { id: "4915112345678" display_name: "Jonas" }
    text: "Thanks, the tracking link works now"
    created_at { seconds: 1741173000 }
    attributes { key: "message_type" value: "text" }
    attributes { key: "waba_id" value: "300000000000111" }
    attributes { key: "display_phone_number" value: "4930123456789" }
  )pb"));
}

TEST(NormalizeMetaTest, WhatsAppImageCaptionIsText) {
  EXPECT_TRUE(EventIs(OnlyEvent("wa_image.json"), R"pb(
    event_id: "wa:wamid.RVhBTVBMRV9JTUFHRV8wMDAy"
    platform: PLATFORM_WHATSAPP
    account_id: "410000000000222"
    thread_key: "wa:410000000000222:4915112345678"
    message_id: "wamid.RVhBTVBMRV9JTUFHRV8wMDAy"
    direction: DIRECTION_INBOUND
    kind: KIND_DIRECT_MESSAGE
    author { id: "4915112345678" display_name: "Jonas" }
    text: "This is how the kettle arrived"
    created_at { seconds: 1741173200 }
    attributes { key: "message_type" value: "image" }
    attributes { key: "media_id" value: "1203456789012345" }
    attributes { key: "mime_type" value: "image/jpeg" }
    attributes { key: "waba_id" value: "300000000000111" }
    attributes { key: "display_phone_number" value: "4930123456789" }
  )pb"));
}

TEST(NormalizeMetaTest, WhatsAppInteractiveReplyTitleIsText) {
  EXPECT_TRUE(EventIs(OnlyEvent("wa_interactive.json"), R"pb(
    event_id: "wa:wamid.RVhBTVBMRV9JTlRFUkFDVElWRV8wMDM="
    platform: PLATFORM_WHATSAPP
    account_id: "410000000000222"
    thread_key: "wa:410000000000222:4917687654321"
    message_id: "wamid.RVhBTVBMRV9JTlRFUkFDVElWRV8wMDM="
    parent_id: "wamid.RVhBTVBMRV9PVVRCT1VORF8wMDEy"
    direction: DIRECTION_INBOUND
    kind: KIND_DIRECT_MESSAGE
    author { id: "4917687654321" display_name: "Aylin" }
    text: "Reschedule delivery"
    created_at { seconds: 1741173300 }
    attributes { key: "message_type" value: "interactive" }
    attributes { key: "interactive_type" value: "button_reply" }
    attributes { key: "waba_id" value: "300000000000111" }
    attributes { key: "display_phone_number" value: "4930123456789" }
  )pb"));
}

TEST(NormalizeMetaTest, WhatsAppReactionPointsAtReactedMessage) {
  EXPECT_TRUE(EventIs(OnlyEvent("wa_reaction.json"), R"pb(
    event_id: "wa:wamid.RVhBTVBMRV9SRUFDVElPTl8wMDQ="
    platform: PLATFORM_WHATSAPP
    account_id: "410000000000222"
    thread_key: "wa:410000000000222:4915112345678"
    message_id: "wamid.RVhBTVBMRV9SRUFDVElPTl8wMDQ="
    parent_id: "wamid.RVhBTVBMRV9PVVRCT1VORF8wMDEw"
    direction: DIRECTION_INBOUND
    kind: KIND_REACTION
    author { id: "4915112345678" display_name: "Jonas" }
    created_at { seconds: 1741173400 }
    attributes { key: "message_type" value: "reaction" }
    attributes { key: "emoji" value: "👍" }
    attributes { key: "waba_id" value: "300000000000111" }
    attributes { key: "display_phone_number" value: "4930123456789" }
  )pb"));
}

TEST(NormalizeMetaTest, WhatsAppReadStatusIsOutboundStatus) {
  EXPECT_TRUE(EventIs(OnlyEvent("wa_status_read.json"), R"pb(
    event_id: "wa:wamid.RVhBTVBMRV9PVVRCT1VORF8wMDEw:read"
    platform: PLATFORM_WHATSAPP
    account_id: "410000000000222"
    thread_key: "wa:410000000000222:4915112345678"
    message_id: "wamid.RVhBTVBMRV9PVVRCT1VORF8wMDEw"
    direction: DIRECTION_OUTBOUND
    kind: KIND_STATUS
    author { id: "410000000000222" }
    created_at { seconds: 1741173055 }
    attributes { key: "status" value: "read" }
    attributes { key: "recipient_id" value: "4915112345678" }
    attributes { key: "waba_id" value: "300000000000111" }
    attributes { key: "display_phone_number" value: "4930123456789" }
  )pb"));
}

TEST(NormalizeMetaTest, WhatsAppFailedStatusCarriesErrors) {
  EXPECT_TRUE(EventIs(OnlyEvent("wa_status_failed.json"), R"pb(
    event_id: "wa:wamid.RVhBTVBMRV9PVVRCT1VORF8wMDEx:failed"
    platform: PLATFORM_WHATSAPP
    account_id: "410000000000222"
    thread_key: "wa:410000000000222:4915112345678"
    message_id: "wamid.RVhBTVBMRV9PVVRCT1VORF8wMDEx"
    direction: DIRECTION_OUTBOUND
    kind: KIND_STATUS
    author { id: "410000000000222" }
    created_at { seconds: 1741260000 }
    attributes { key: "status" value: "failed" }
    attributes { key: "recipient_id" value: "4915112345678" }
    attributes { key: "error_titles" value: "Re-engagement message" }
    attributes { key: "error_codes" value: "131047" }
    attributes { key: "waba_id" value: "300000000000111" }
    attributes { key: "display_phone_number" value: "4930123456789" }
  )pb"));
}

TEST(NormalizeMetaTest, WhatsAppBatchOfThreeEntriesKeepsOrder) {
  Normalized out = NormalizeFixture("wa_batch.json");
  EXPECT_EQ(out.ignored, 0);
  EXPECT_TRUE(out.unknown.empty());
  ASSERT_EQ(out.events.size(), 3u);
  EXPECT_TRUE(EventIs(out.events[0], R"pb(
    event_id: "wa:wamid.QkFUQ0hfMDAx"
    platform: PLATFORM_WHATSAPP
    account_id: "410000000000222"
    thread_key: "wa:410000000000222:4915112345678"
    message_id: "wamid.QkFUQ0hfMDAx"
    direction: DIRECTION_INBOUND
    kind: KIND_DIRECT_MESSAGE
    author { id: "4915112345678" display_name: "Jonas" }
    text: "Is the store open on Sunday?"
    created_at { seconds: 1741174000 }
    attributes { key: "message_type" value: "text" }
    attributes { key: "waba_id" value: "300000000000111" }
    attributes { key: "display_phone_number" value: "4930123456789" }
  )pb"));
  EXPECT_TRUE(EventIs(out.events[1], R"pb(
    event_id: "wa:wamid.QkFUQ0hfT1VUXzAwMQ==:delivered"
    platform: PLATFORM_WHATSAPP
    account_id: "410000000000222"
    thread_key: "wa:410000000000222:4917687654321"
    message_id: "wamid.QkFUQ0hfT1VUXzAwMQ=="
    direction: DIRECTION_OUTBOUND
    kind: KIND_STATUS
    author { id: "410000000000222" }
    created_at { seconds: 1741174005 }
    attributes { key: "status" value: "delivered" }
    attributes { key: "recipient_id" value: "4917687654321" }
    attributes { key: "conversation_id" value: "8a1b2c3d4e5f60718293a4b5c6d7e8f9" }
    attributes { key: "pricing_category" value: "service" }
    attributes { key: "waba_id" value: "300000000000111" }
    attributes { key: "display_phone_number" value: "4930123456789" }
  )pb"));
  EXPECT_TRUE(EventIs(out.events[2], R"pb(
    event_id: "wa:wamid.QkFUQ0hfMDAz"
    platform: PLATFORM_WHATSAPP
    account_id: "410000000000444"
    thread_key: "wa:410000000000444:4915298765432"
    message_id: "wamid.QkFUQ0hfMDAz"
    direction: DIRECTION_INBOUND
    kind: KIND_DIRECT_MESSAGE
    author { id: "4915298765432" display_name: "Sophie" }
    text: "My voucher code does not work"
    created_at { seconds: 1741174010 }
    attributes { key: "message_type" value: "text" }
    attributes { key: "waba_id" value: "300000000000333" }
    attributes { key: "display_phone_number" value: "4940987654321" }
  )pb"));
}

TEST(NormalizeMetaTest, WhatsAppGroupMessageThreadsOnGroup) {
  std::string body = Fixture("meta/wa_text.json");
  body.replace(body.find("\"timestamp\""), 0, "\"group_id\": \"120363040000000001\", ");
  absl::StatusOr<Normalized> out = NormalizeMeta(body, Context());
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->events.size(), 1u);
  EXPECT_EQ(out->events[0].thread_key(), "wa:410000000000222:g:120363040000000001");
  EXPECT_EQ(out->events[0].attributes().at("wa_group_id"), "120363040000000001");
}

TEST(NormalizeMetaTest, WhatsAppTemplateStatusIsIgnored) {
  Normalized out = NormalizeFixture("wa_template_status.json");
  EXPECT_TRUE(out.events.empty());
  EXPECT_TRUE(out.unknown.empty());
  EXPECT_EQ(out.ignored, 1);
}

// --- Envelope ---

TEST(NormalizeMetaTest, ThousandUpdatesInOneBody) {
  std::string body = R"({"object":"page","entry":[)";
  for (int i = 0; i < 1000; ++i) {
    if (i > 0) {
      body += ",";
    }
    absl::StrAppend(&body, R"({"id":"105550000000001","time":1741171000000,"messaging":[)",
                    R"({"sender":{"id":"73000000000)", 10000 + i,
                    R"("},"recipient":{"id":"105550000000001"},"timestamp":1741171000000,)",
                    R"("message":{"mid":"m_)", i, R"(","text":"hi"}}]})");
  }
  body += "]}";
  absl::StatusOr<Normalized> out = NormalizeMeta(body, Context());
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->events.size(), 1000u);
  EXPECT_EQ(out->events[999].event_id(), "fbm:m_999");
  EXPECT_EQ(out->events[999].thread_key(), "fbm:105550000000001:7300000000010999");
}

// The thread's parser is reused from call to call: a short or truncated body after a longer
// one (over the 1 MiB the parser keeps, then under it) reads only its own bytes.
TEST(NormalizeMetaTest, BodiesAfterALargerBodyParseOnTheirOwn) {
  const std::string small = Fixture("meta/fb_comment.json");
  absl::StatusOr<Normalized> first = NormalizeMeta(small, Context());
  ASSERT_TRUE(first.ok()) << first.status();
  for (size_t text_bytes : {1500, 100}) {  // about 1.6 MB of body, then about 200 KB
    std::string body = R"({"object":"page","entry":[)";
    for (int i = 0; i < 1000; ++i) {
      absl::StrAppend(&body, i > 0 ? "," : "",
                      R"({"id":"105550000000001","time":1741171000000,"messaging":[)",
                      R"({"sender":{"id":"7300000000001"},"recipient":{"id":"105550000000001"},)",
                      R"("timestamp":1741171000000,"message":{"mid":"m_)", i, R"(","text":")",
                      std::string(text_bytes, 'x'), R"("}}]})");
    }
    body += "]}";
    absl::StatusOr<Normalized> large = NormalizeMeta(body, Context());
    ASSERT_TRUE(large.ok()) << large.status();
    ASSERT_EQ(large->events.size(), 1000u);
    EXPECT_EQ(large->events[999].text(), std::string(text_bytes, 'x'));

    EXPECT_EQ(NormalizeMeta(small.substr(0, small.size() / 2), Context()).status().code(),
              absl::StatusCode::kInvalidArgument);
    absl::StatusOr<Normalized> again = NormalizeMeta(small, Context());
    ASSERT_TRUE(again.ok()) << again.status();
    ASSERT_EQ(again->events.size(), 1u);
    EXPECT_TRUE(
        google::protobuf::util::MessageDifferencer::Equals(again->events[0], first->events[0]));
  }
}

TEST(NormalizeMetaTest, UnknownObjectIsUnknown) {
  Normalized out = NormalizeFixture("unknown_object.json");
  EXPECT_TRUE(out.events.empty());
  ASSERT_EQ(out.unknown.size(), 1u);
  EXPECT_EQ(out.unknown[0], "object: unknown value \"user\"");
}

TEST(NormalizeMetaTest, MissingEntryIsUnknown) {
  Normalized out = NormalizeFixture("missing_entry.json");
  EXPECT_TRUE(out.events.empty());
  ASSERT_EQ(out.unknown.size(), 1u);
  EXPECT_EQ(out.unknown[0], "entry: missing or not an array");
}

TEST(NormalizeMetaTest, MalformedJsonIsInvalidArgument) {
  EXPECT_EQ(NormalizeMeta(Fixture("meta/malformed.json"), Context()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NormalizeMeta("\"page\"", Context()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace earshot::gateway
