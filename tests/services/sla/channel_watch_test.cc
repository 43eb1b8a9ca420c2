#include "services/sla/channel_watch.h"

#include "gtest/gtest.h"
#include "services/sla/alertmanager_sink.h"

namespace earshot::sla {
namespace {

earshot::v1::RoutedEvent Mention(const std::string& account) {
  earshot::v1::RoutedEvent r;
  auto* e = r.mutable_event();
  e->set_platform(earshot::v1::PLATFORM_X);
  e->set_account_id(account);
  e->set_direction(earshot::v1::DIRECTION_INBOUND);
  e->set_kind(earshot::v1::KIND_MENTION);
  return r;
}

class ChannelWatchTest : public ::testing::Test {
 protected:
  ChannelWatchOptions Options() {
    ChannelWatchOptions o;
    o.surge_window = absl::Minutes(5);
    o.surge_baseline = absl::Hours(1);
    o.surge_factor = 5;
    o.surge_min_count = 20;
    o.silence_min_events = 10;
    o.silence_factor = 10;
    o.silence_min = absl::Minutes(30);
    return o;
  }
  const absl::Time t0_ = absl::FromUnixSeconds(1741000000);
};

TEST_F(ChannelWatchTest, SurgeFiresWhenFarAboveTheUsualRateAndResolves) {
  ChannelWatch w(Options());
  absl::Time now = t0_;
  // Two hours of a usual 4 mentions per 5 minutes: no alert.
  for (int window = 0; window < 24; ++window) {
    for (int i = 0; i < 4; ++i) w.Observe(Mention("brand"), now + absl::Seconds(60 * i));
    now += absl::Minutes(5);
    EXPECT_TRUE(w.Check(now).empty()) << "window " << window;
  }
  // A crisis: 60 mentions within a few minutes.
  for (int i = 0; i < 60; ++i) w.Observe(Mention("brand"), now + absl::Seconds(3 * i));
  auto alerts = w.Check(now + absl::Minutes(3));
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].name(), "MentionSurge");
  EXPECT_EQ(alerts[0].state(), earshot::v1::ALERT_STATE_FIRING);
  EXPECT_EQ(alerts[0].details().at("mentions_in_window"), "60");
  EXPECT_EQ(alerts[0].account_id(), "brand");
  EXPECT_TRUE(w.Check(now + absl::Minutes(4)).empty());  // once
  // Quiet again: it resolves with the same id.
  auto later = w.Check(now + absl::Minutes(11));
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].state(), earshot::v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(later[0].alert_id(), alerts[0].alert_id());
}

TEST_F(ChannelWatchTest, FewMentionsNeverSurgeBelowTheMinimumCount) {
  ChannelWatch w(Options());
  w.Observe(Mention("small"), t0_);
  w.Check(t0_ + absl::Minutes(5));
  for (int i = 0; i < 15; ++i) w.Observe(Mention("small"), t0_ + absl::Minutes(6));
  EXPECT_TRUE(w.Check(t0_ + absl::Minutes(7)).empty());
}

TEST_F(ChannelWatchTest, SilentChannelAlertsAndResolvesWithTheNextEvent) {
  ChannelWatch w(Options());
  absl::Time now = t0_;
  for (int i = 0; i < 12; ++i) {
    w.Observe(Mention("brand"), now);
    now += absl::Minutes(1);  // usually one a minute
  }
  EXPECT_TRUE(w.Check(now + absl::Minutes(20)).empty());  // 30 min is the floor
  auto alerts = w.Check(now + absl::Minutes(31));
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].name(), "ChannelSilent");
  EXPECT_TRUE(w.Check(now + absl::Minutes(40)).empty());
  w.Observe(Mention("brand"), now + absl::Minutes(45));
  auto resolved = w.Check(now + absl::Minutes(45));
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].state(), earshot::v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(resolved[0].alert_id(), alerts[0].alert_id());
}

TEST_F(ChannelWatchTest, NewChannelsAreNotSilentBeforeTheyHaveAHistory) {
  ChannelWatch w(Options());
  w.Observe(Mention("new"), t0_);
  EXPECT_TRUE(w.Check(t0_ + absl::Hours(10)).empty());
}

// The owner of input partition 0 checkpoints its watch; the next owner loads it.
ChannelWatch Reloaded(const ChannelWatch& w, const ChannelWatchOptions& o) {
  earshot::v1::ChannelWatchState state;
  w.Save(&state);
  earshot::v1::ChannelWatchState wire;
  EXPECT_TRUE(wire.ParseFromString(state.SerializeAsString()));
  ChannelWatch loaded(o);
  loaded.Load(wire);
  return loaded;
}

TEST_F(ChannelWatchTest, ALoadedCheckpointKeepsTheBaselineAndDoesNotFireAgain) {
  ChannelWatch w(Options());
  absl::Time now = t0_;
  for (int window = 0; window < 24; ++window) {
    for (int i = 0; i < 4; ++i) w.Observe(Mention("brand"), now + absl::Seconds(60 * i));
    now += absl::Minutes(5);
    w.Check(now);
  }
  // Moved before the crisis: the new owner knows the usual rate (a fresh watch would have no
  // baseline and stay quiet).
  ChannelWatch moved = Reloaded(w, Options());
  for (int i = 0; i < 60; ++i) moved.Observe(Mention("brand"), now + absl::Seconds(3 * i));
  auto alerts = moved.Check(now + absl::Minutes(3));
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].name(), "MentionSurge");
  // Moved while firing: no second alert, and the resolution carries the same id.
  ChannelWatch again = Reloaded(moved, Options());
  EXPECT_TRUE(again.Check(now + absl::Minutes(4)).empty());
  auto later = again.Check(now + absl::Minutes(11));
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].state(), earshot::v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(later[0].alert_id(), alerts[0].alert_id());
}

TEST_F(ChannelWatchTest, ALoadedCheckpointKeepsASilenceAndResolvesIt) {
  ChannelWatch w(Options());
  absl::Time now = t0_;
  for (int i = 0; i < 12; ++i) {
    w.Observe(Mention("brand"), now);
    now += absl::Minutes(1);
  }
  auto alerts = w.Check(now + absl::Minutes(31));
  ASSERT_EQ(alerts.size(), 1u);
  ChannelWatch moved = Reloaded(w, Options());
  EXPECT_TRUE(moved.Check(now + absl::Minutes(40)).empty());
  moved.Observe(Mention("brand"), now + absl::Minutes(45));
  auto resolved = moved.Check(now + absl::Minutes(45));
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].alert_id(), alerts[0].alert_id());
}

TEST(AlertmanagerJsonTest, LabelsAnnotationsAndTimes) {
  earshot::v1::Alert a;
  a.set_name("ResponseTimeBreached");
  a.set_level(earshot::v1::ALERT_LEVEL_BREACH);
  a.set_state(earshot::v1::ALERT_STATE_FIRING);
  a.set_thread_key("x:1:u:2");
  a.set_queue("care-en");
  a.set_platform(earshot::v1::PLATFORM_X);
  a.set_priority(earshot::v1::PRIORITY_HIGH);
  a.set_summary("A \"quoted\" summary");
  a.set_excerpt("My number is +49 151 12345678");
  a.set_permalink("https://x.com/customer/status/2");
  a.mutable_fired_at()->set_seconds(1741000000);
  AlertmanagerOptions options{.resend_interval = absl::Minutes(1),
                              .generator_url = "http://grafana/d/earshot"};
  const std::string json =
      AlertmanagerSink::ToJson({a}, absl::FromUnixSeconds(1741000060), options);
  EXPECT_NE(json.find(R"("alertname":"ResponseTimeBreached")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("platform":"x")"), std::string::npos);
  EXPECT_NE(json.find(R"("priority":"high")"), std::string::npos);
  EXPECT_NE(json.find(R"("severity":"critical")"), std::string::npos);
  EXPECT_NE(json.find(R"("summary":"A \"quoted\" summary")"), std::string::npos);
  EXPECT_NE(json.find(R"("startsAt":"2025-03-03T11:06:40.000Z")"), std::string::npos);
  // Firing: valid for four re-send intervals after now.
  EXPECT_NE(json.find(R"("endsAt":"2025-03-03T11:11:40.000Z")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("generatorURL":"http://grafana/d/earshot")"), std::string::npos);
  // No customer data by default: the thread by its digest, no key, excerpt or permalink.
  EXPECT_NE(json.find(R"("thread_ref":")" + ThreadRef("x:1:u:2") + "\""), std::string::npos);
  EXPECT_EQ(ThreadRef("x:1:u:2").size(), 16u);
  for (const char* hidden : {"x:1:u:2", "12345678", "x.com/customer", "excerpt", "permalink"}) {
    EXPECT_EQ(json.find(hidden), std::string::npos) << hidden << " in " << json;
  }
  options.customer_data = true;
  const std::string with_data =
      AlertmanagerSink::ToJson({a}, absl::FromUnixSeconds(1741000060), options);
  EXPECT_NE(with_data.find(R"("thread":"x:1:u:2")"), std::string::npos) << with_data;
  EXPECT_NE(with_data.find(R"("excerpt":"My number is +49 151 12345678")"), std::string::npos);
  EXPECT_NE(with_data.find(R"("permalink":"https://x.com/customer/status/2")"), std::string::npos);

  a.set_state(earshot::v1::ALERT_STATE_RESOLVED);
  a.mutable_resolved_at()->set_seconds(1741000030);
  const std::string resolved = AlertmanagerSink::ToJson({a}, absl::FromUnixSeconds(1741000060),
                                                        {.resend_interval = absl::Minutes(1)});
  EXPECT_NE(resolved.find(R"("endsAt":"2025-03-03T11:07:10.000Z")"), std::string::npos);
}

}  // namespace
}  // namespace earshot::sla
