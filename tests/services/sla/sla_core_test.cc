#include "services/sla/sla_core.h"

#include "gtest/gtest.h"
#include "services/common/store/memory_view.h"

namespace earshot::sla {
namespace {

using earshot::v1::Alert;
using earshot::v1::RoutedEvent;

constexpr char kPolicies[] = R"(
policies:
  dm: {first_response: 1h, next_response: 2h, warn_at: 75%, escalate_after: 30m}
  public: {first_response: 4h, next_response: 8h, warn_at: 30m}
)";

class SlaCoreTest : public ::testing::Test {
 protected:
  SlaCoreTest() {
    auto p = PolicySet::Parse(kPolicies, "test.yaml");
    EXPECT_TRUE(p.ok()) << p.status();
    policies_ = std::move(*p);
  }

  static void Set(absl::Time t, google::protobuf::Timestamp* ts) {
    ts->set_seconds(absl::ToUnixSeconds(t));
  }

  // A routed event whose thread waits since `wait_start` (answered before at `last_out`).
  RoutedEvent Waiting(absl::Time wait_start, std::string policy = "dm",
                      std::optional<absl::Time> last_out = std::nullopt) {
    RoutedEvent r;
    r.mutable_event()->set_event_id("wa:1");
    r.mutable_event()->set_thread_key(kThread);
    r.mutable_event()->set_direction(earshot::v1::DIRECTION_INBOUND);
    r.mutable_event()->set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
    auto* t = r.mutable_thread();
    t->set_thread_key(kThread);
    t->set_platform(earshot::v1::PLATFORM_WHATSAPP);
    t->set_queue("care-de");
    t->set_priority(earshot::v1::PRIORITY_HIGH);
    t->set_sla_policy(policy);
    t->set_status(earshot::v1::THREAD_STATUS_AWAITING_REPLY);
    t->set_excerpt("Wo bleibt meine Bestellung?");
    Set(wait_start, t->mutable_oldest_unanswered());
    if (last_out) Set(*last_out, t->mutable_last_outbound());
    r.mutable_decision()->set_sla_policy(policy);
    return r;
  }

  RoutedEvent Answered(absl::Time at) {
    RoutedEvent r = Waiting(t0_);
    r.mutable_event()->set_direction(earshot::v1::DIRECTION_OUTBOUND);
    r.mutable_thread()->set_status(earshot::v1::THREAD_STATUS_ANSWERED);
    r.mutable_thread()->clear_oldest_unanswered();
    Set(at, r.mutable_thread()->mutable_last_outbound());
    return r;
  }

  // One event, its partition's record written at once (a batch of one).
  Outcome Apply(const RoutedEvent& r, absl::Time now) {
    Outcome out;
    PartitionStates partitions;
    core_.Apply(2, offset_++, r, *policies_, now, view_, &out, partitions);
    partitions.Flush(view_);
    return out;
  }
  Outcome Fire(absl::Time now) {
    Outcome out;
    core_.Fire(2, kThread, now, view_, &out);
    return out;
  }
  std::optional<earshot::v1::SlaClock> Clock() {
    auto v = view_.Get(kClocks, PartitionPrefix(2) + kThread);
    if (!v) return std::nullopt;
    earshot::v1::SlaClock c;
    c.ParseFromString(*v);
    return c;
  }

  static constexpr char kThread[] = "wa:410000000000222:4915112345678";
  const absl::Time t0_ = absl::FromUnixSeconds(1741173000);
  int64_t offset_ = 0;
  store::MemoryView view_;
  std::unique_ptr<PolicySet> policies_;
  SlaCore core_;
};

TEST_F(SlaCoreTest, CustomerWaitOpensAClockWithFirstResponseDeadlines) {
  Outcome out = Apply(Waiting(t0_), t0_);
  auto c = Clock();
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->first_response());
  EXPECT_EQ(c->policy(), "dm");
  EXPECT_EQ(c->warn_at().seconds(), absl::ToUnixSeconds(t0_ + absl::Minutes(45)));
  EXPECT_EQ(c->breach_at().seconds(), absl::ToUnixSeconds(t0_ + absl::Hours(1)));
  EXPECT_EQ(c->escalate_at().seconds(), absl::ToUnixSeconds(t0_ + absl::Minutes(90)));
  ASSERT_EQ(out.scheduled.size(), 1u);
  EXPECT_EQ(std::get<0>(out.scheduled[0]), t0_ + absl::Minutes(45));
  EXPECT_TRUE(out.alerts.empty());
  EXPECT_EQ(view_.Data(kTimers).size(), 1u);
}

TEST_F(SlaCoreTest, EachLevelFiresOnceAtItsTime) {
  Apply(Waiting(t0_), t0_);
  EXPECT_TRUE(Fire(t0_ + absl::Minutes(44)).alerts.empty());
  Outcome warn = Fire(t0_ + absl::Minutes(45));
  ASSERT_EQ(warn.alerts.size(), 1u);
  EXPECT_EQ(warn.alerts[0].name(), "ResponseTimeWarning");
  EXPECT_EQ(warn.alerts[0].state(), earshot::v1::ALERT_STATE_FIRING);
  EXPECT_EQ(warn.alerts[0].waited().seconds(), 45 * 60);
  EXPECT_EQ(warn.alerts[0].deadline().seconds(), absl::ToUnixSeconds(t0_ + absl::Hours(1)));
  EXPECT_EQ(warn.alerts[0].queue(), "care-de");
  EXPECT_TRUE(Fire(t0_ + absl::Minutes(46)).alerts.empty());  // not twice
  Outcome breach = Fire(t0_ + absl::Hours(1));
  ASSERT_EQ(breach.alerts.size(), 1u);
  EXPECT_EQ(breach.alerts[0].name(), "ResponseTimeBreached");
  Outcome esc = Fire(t0_ + absl::Minutes(90));
  ASSERT_EQ(esc.alerts.size(), 1u);
  EXPECT_EQ(esc.alerts[0].name(), "ResponseTimeEscalated");
  EXPECT_TRUE(Fire(t0_ + absl::Hours(10)).alerts.empty());
  EXPECT_TRUE(view_.Data(kTimers).empty());  // nothing left to fire
  EXPECT_EQ(view_.Data(kFiring).size(), 3u);
}

TEST_F(SlaCoreTest, AnswerResolvesWhatFiredAndRecordsTheResponseTime) {
  Apply(Waiting(t0_), t0_);
  Fire(t0_ + absl::Minutes(45));
  auto breach = Fire(t0_ + absl::Hours(1));
  Outcome out = Apply(Answered(t0_ + absl::Minutes(70)), t0_ + absl::Minutes(70));
  ASSERT_EQ(out.alerts.size(), 2u);
  for (const Alert& a : out.alerts) {
    EXPECT_EQ(a.state(), earshot::v1::ALERT_STATE_RESOLVED);
    EXPECT_EQ(a.resolved_at().seconds(), absl::ToUnixSeconds(t0_ + absl::Minutes(70)));
  }
  EXPECT_EQ(out.alerts[1].alert_id(), breach.alerts[0].alert_id());
  ASSERT_EQ(out.answered.size(), 1u);
  EXPECT_TRUE(out.answered[0].first_response);
  EXPECT_EQ(out.answered[0].waited, absl::Minutes(70));
  EXPECT_FALSE(out.answered[0].within_target);
  EXPECT_FALSE(Clock().has_value());
  EXPECT_TRUE(view_.Data(kTimers).empty());
  EXPECT_TRUE(view_.Data(kFiring).empty());
  // A timer left in memory for the closed clock fires nothing.
  EXPECT_TRUE(Fire(t0_ + absl::Minutes(90)).alerts.empty());
}

// The router's routed erase (or expiry) of a waiting thread: only the thread key and status.
TEST_F(SlaCoreTest, EraseDropsTheClockAndResolvesWithoutCustomerText) {
  Apply(Waiting(t0_), t0_);
  Fire(t0_ + absl::Minutes(45));
  RoutedEvent erase;
  erase.mutable_event()->set_event_id("ctl:erase:1");
  erase.mutable_event()->set_thread_key(kThread);
  erase.mutable_event()->set_kind(earshot::v1::KIND_CONTROL);
  erase.mutable_event()->mutable_control()->set_action(earshot::v1::Control::ACTION_ERASE);
  erase.mutable_thread()->set_thread_key(kThread);
  erase.mutable_thread()->set_status(earshot::v1::THREAD_STATUS_RESOLVED);
  Outcome out = Apply(erase, t0_ + absl::Minutes(50));
  ASSERT_EQ(out.alerts.size(), 1u);  // the warning, resolved
  EXPECT_EQ(out.alerts[0].state(), earshot::v1::ALERT_STATE_RESOLVED);
  EXPECT_TRUE(out.alerts[0].excerpt().empty());
  EXPECT_TRUE(out.answered.empty());
  EXPECT_FALSE(Clock().has_value());
  EXPECT_TRUE(view_.Data(kTimers).empty());
  EXPECT_TRUE(view_.Data(kWaits).empty());
  EXPECT_TRUE(view_.Data(kFiring).empty());
  EXPECT_TRUE(Fire(t0_ + absl::Hours(2)).alerts.empty());  // its deadline passes: nothing
}

TEST_F(SlaCoreTest, AnswerInTimeRaisesNothing) {
  Apply(Waiting(t0_), t0_);
  Outcome out = Apply(Answered(t0_ + absl::Minutes(20)), t0_ + absl::Minutes(20));
  EXPECT_TRUE(out.alerts.empty());
  ASSERT_EQ(out.answered.size(), 1u);
  EXPECT_TRUE(out.answered[0].within_target);
}

TEST_F(SlaCoreTest, NextResponseTargetAfterAnEarlierAnswer) {
  const absl::Time start = t0_ + absl::Hours(3);
  Apply(Waiting(start, "dm", t0_ + absl::Hours(1)), start);
  auto c = Clock();
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->first_response());
  EXPECT_EQ(c->breach_at().seconds(), absl::ToUnixSeconds(start + absl::Hours(2)));
  EXPECT_EQ(c->warn_at().seconds(), absl::ToUnixSeconds(start + absl::Minutes(90)));
}

TEST_F(SlaCoreTest, PolicyByNameWithWarningBeforeTheDeadline) {
  Apply(Waiting(t0_, "public"), t0_);
  auto c = Clock();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->breach_at().seconds(), absl::ToUnixSeconds(t0_ + absl::Hours(4)));
  EXPECT_EQ(c->warn_at().seconds(), absl::ToUnixSeconds(t0_ + absl::Minutes(210)));
  EXPECT_FALSE(c->has_escalate_at());
}

TEST_F(SlaCoreTest, IgnoredOrResolvedThreadsStartNoClock) {
  RoutedEvent ignored = Waiting(t0_);
  ignored.mutable_thread()->set_status(earshot::v1::THREAD_STATUS_ANSWERED);
  ignored.mutable_thread()->clear_oldest_unanswered();
  ignored.mutable_decision()->set_ignore(true);
  Outcome out = Apply(ignored, t0_);
  EXPECT_FALSE(Clock().has_value());
  EXPECT_TRUE(out.scheduled.empty());

  Apply(Waiting(t0_), t0_);
  Fire(t0_ + absl::Minutes(45));
  RoutedEvent resolved = Waiting(t0_);
  resolved.mutable_thread()->set_status(earshot::v1::THREAD_STATUS_RESOLVED);
  resolved.mutable_thread()->clear_oldest_unanswered();
  out = Apply(resolved, t0_ + absl::Minutes(50));
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].state(), earshot::v1::ALERT_STATE_RESOLVED);
  EXPECT_TRUE(out.answered.empty());  // resolved without an answer is no response time
  EXPECT_FALSE(Clock().has_value());
}

TEST_F(SlaCoreTest, AfterAPauseOnlyTheHighestDueLevelFires) {
  Apply(Waiting(t0_), t0_);
  Outcome late = Fire(t0_ + absl::Hours(2));  // the monitor was down past every level
  ASSERT_EQ(late.alerts.size(), 1u);
  EXPECT_EQ(late.alerts[0].name(), "ResponseTimeEscalated");
  ASSERT_EQ(late.delays.size(), 1u);
  EXPECT_EQ(late.delays[0], absl::Minutes(30));
  EXPECT_TRUE(Fire(t0_ + absl::Hours(3)).alerts.empty());
  Outcome answered = Apply(Answered(t0_ + absl::Hours(3)), t0_ + absl::Hours(3));
  ASSERT_EQ(answered.alerts.size(), 1u);  // only what was raised is resolved
  EXPECT_EQ(answered.alerts[0].name(), "ResponseTimeEscalated");
}

TEST_F(SlaCoreTest, MoreCustomerMessagesKeepTheClock) {
  Apply(Waiting(t0_), t0_);
  Fire(t0_ + absl::Minutes(45));
  Outcome out = Apply(Waiting(t0_), t0_ + absl::Minutes(50));  // a second message, same wait
  EXPECT_TRUE(out.scheduled.empty());
  EXPECT_TRUE(Fire(t0_ + absl::Minutes(51)).alerts.empty());  // the warning stays fired
  EXPECT_EQ(Fire(t0_ + absl::Hours(1)).alerts.size(), 1u);
}

TEST_F(SlaCoreTest, WaitingCountsPerQueuePlatformPriority) {
  Apply(Waiting(t0_), t0_);
  earshot::v1::SlaPartitionState p;
  p.ParseFromString(*view_.Get(kPartitions, PartitionPrefix(2)));
  ASSERT_EQ(p.waiting_size(), 1);
  EXPECT_EQ(p.waiting().begin()->second, 1);
  EXPECT_EQ(p.next_offset(), 1);
  Apply(Answered(t0_ + absl::Minutes(5)), t0_ + absl::Minutes(5));
  p.ParseFromString(*view_.Get(kPartitions, PartitionPrefix(2)));
  EXPECT_EQ(p.waiting_size(), 0);
}

TEST_F(SlaCoreTest, PartitionRecordWrittenOncePerBatchMatchesOneWrittenPerEvent) {
  // SlaApp keeps each partition's record in PartitionStates for a batch and writes it at its end;
  // the record it leaves must be the one that writing it at every event leaves.
  store::MemoryView batched;
  PartitionStates partitions;
  const RoutedEvent waits = Waiting(t0_);
  RoutedEvent other = Waiting(t0_, "public");  // another thread, queue and policy
  other.mutable_thread()->set_thread_key("x:1:u:2");
  other.mutable_thread()->set_queue("social");
  const RoutedEvent answered = Answered(t0_ + absl::Minutes(5));
  for (const RoutedEvent* r : std::vector<const RoutedEvent*>{&waits, &other, &answered}) {
    const int64_t offset = offset_;
    Apply(*r, t0_);  // into view_, its record written at each event
    Outcome b;
    core_.Apply(2, offset, *r, *policies_, t0_, batched, &b, partitions);
  }
  EXPECT_FALSE(batched.Get(kPartitions, PartitionPrefix(2)).has_value()) << "written at Flush";
  partitions.Flush(batched);
  earshot::v1::SlaPartitionState want;
  earshot::v1::SlaPartitionState got;
  ASSERT_TRUE(want.ParseFromString(*view_.Get(kPartitions, PartitionPrefix(2))));
  ASSERT_TRUE(got.ParseFromString(*batched.Get(kPartitions, PartitionPrefix(2))));
  EXPECT_EQ(got.next_offset(), 3);
  EXPECT_EQ(got.next_offset(), want.next_offset());
  ASSERT_EQ(got.waiting_size(), 1);  // the "social" wait; the answered one is closed
  EXPECT_EQ(got.waiting().begin()->first, want.waiting().begin()->first);
  EXPECT_EQ(got.waiting().begin()->second, 1);
}

}  // namespace
}  // namespace earshot::sla
