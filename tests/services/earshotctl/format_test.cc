#include "services/earshotctl/format.h"

#include "gtest/gtest.h"

namespace earshot::ctl {
namespace {

using earshot::v1::Alert;
using earshot::v1::RoutedEvent;

const absl::TimeZone kUtc = absl::UTCTimeZone();

RoutedEvent Routed() {
  RoutedEvent r;
  auto* e = r.mutable_event();
  e->set_platform(earshot::v1::PLATFORM_TELEGRAM);
  e->set_thread_key("tg:7000000001:1795400559");
  e->set_direction(earshot::v1::DIRECTION_INBOUND);
  e->set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
  e->mutable_author()->set_handle("mia_hff");
  e->set_text("Hi! Is your Hamburg\nstore open this Sunday?");
  e->mutable_created_at()->set_seconds(1795400577);
  r.mutable_decision()->set_queue("care-en");
  r.mutable_decision()->set_priority(earshot::v1::PRIORITY_HIGH);
  r.mutable_decision()->add_tags("question");
  return r;
}

TEST(FormatTest, RoutedLineHasTimePlatformQueuePriorityThreadAuthorExcerptTags) {
  EXPECT_EQ(FormatRouted(Routed(), kUtc),
            "2026-11-23 02:22:57  telegram   care-en     high    tg:7000000001:1795400559  "
            "@mia_hff  \"Hi! Is your Hamburg store open this Sunday?\"  #question");
}

TEST(FormatTest, BrandMessagesIgnoredOnesAndTextlessEvents) {
  RoutedEvent r = Routed();
  r.mutable_event()->set_direction(earshot::v1::DIRECTION_OUTBOUND);
  r.mutable_event()->set_kind(earshot::v1::KIND_STATUS);
  r.mutable_event()->clear_text();
  r.mutable_event()->mutable_author()->clear_handle();
  r.mutable_event()->mutable_author()->set_id("410000000000222");
  (*r.mutable_event()->mutable_attributes())["status"] = "delivered";
  r.mutable_decision()->set_ignore(true);
  r.mutable_decision()->clear_tags();
  const std::string line = FormatRouted(r, kUtc);
  EXPECT_NE(line.find("410000000000222 (brand)  [status delivered]  [ignored]"), std::string::npos)
      << line;
}

TEST(FormatTest, AlertLineHasLevelStateQueueThreadWaited) {
  Alert a;
  a.set_level(earshot::v1::ALERT_LEVEL_BREACH);
  a.set_state(earshot::v1::ALERT_STATE_FIRING);
  a.set_queue("care-en");
  a.set_thread_key("tg:7000000001:1795400559");
  a.set_policy("dm");
  a.mutable_waited()->set_seconds(31);
  a.mutable_fired_at()->set_seconds(1795400608);
  a.set_excerpt("Hi! Is your Hamburg store open this Sunday?");
  EXPECT_EQ(FormatAlert(a, kUtc),
            "2026-11-23 02:23:28  BREACH      firing    care-en     tg:7000000001:1795400559  "
            "waited 31s  policy dm  \"Hi! Is your Hamburg store open this Sunday?\"");
  a.set_state(earshot::v1::ALERT_STATE_RESOLVED);
  a.mutable_resolved_at()->set_seconds(1795400700);
  EXPECT_NE(FormatAlert(a, kUtc).find("02:25:00  BREACH      resolved"), std::string::npos);
}

TEST(FormatTest, ExcerptIsOneLineAndCutsOnCharacters) {
  EXPECT_EQ(Excerpt("a\n\n b\tc ", 10), "a b c");
  EXPECT_EQ(Excerpt("Größe 38 bitte", 5), "Größe…");
  EXPECT_EQ(Excerpt("Größe", 5), "Größe");
  EXPECT_EQ(Excerpt("", 5), "");
}

TEST(FormatTest, Waits) {
  EXPECT_EQ(FormatWait(absl::Seconds(45)), "45s");
  EXPECT_EQ(FormatWait(absl::Seconds(245)), "4m05s");
  EXPECT_EQ(FormatWait(absl::Minutes(123)), "2h03m");
  EXPECT_EQ(FormatWait(absl::Hours(76)), "3d04h");
  EXPECT_EQ(FormatWait(-absl::Seconds(3)), "0s");
}

TEST(FormatTest, ThreadBlockAndRow) {
  earshot::v1::Thread t;
  t.set_thread_key("tg:7000000001:1795400559");
  t.set_status(earshot::v1::THREAD_STATUS_AWAITING_REPLY);
  t.set_platform(earshot::v1::PLATFORM_TELEGRAM);
  t.set_queue("care-en");
  t.set_priority(earshot::v1::PRIORITY_HIGH);
  t.set_sla_policy("dm");
  t.set_unanswered_count(1);
  t.set_message_count(1);
  t.mutable_oldest_unanswered()->set_seconds(1795400577);
  t.set_excerpt("Is your Hamburg store open?");
  const absl::Time now = absl::FromUnixSeconds(1795400577 + 95);
  const std::string block = FormatThread(t, kUtc, now);
  EXPECT_NE(block.find("status        awaiting_reply for 1m35s (1 unanswered)"), std::string::npos)
      << block;
  EXPECT_NE(block.find("sla policy    dm\n"), std::string::npos) << block;
  EXPECT_EQ(block.find("last outbound"), std::string::npos) << block;
  EXPECT_EQ(FormatThreadRow(t, now),
            "tg:7000000001:1795400559  awaiting_reply  care-en     high      1m35s  "
            "\"Is your Hamburg store open?\"");
}

TEST(FormatTest, JsonLinesAndStatusNames) {
  const std::string json = ToJsonLine(Routed());
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_NE(json.find(R"("threadKey":"tg:7000000001:1795400559")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("platform":"PLATFORM_TELEGRAM")"), std::string::npos) << json;
  earshot::v1::ThreadStatus s;
  EXPECT_TRUE(ParseThreadStatus("answered", &s));
  EXPECT_EQ(s, earshot::v1::THREAD_STATUS_ANSWERED);
  EXPECT_FALSE(ParseThreadStatus("open", &s));
}

}  // namespace
}  // namespace earshot::ctl
