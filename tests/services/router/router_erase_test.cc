// Erasing a customer's data and expiring idle threads on RouterCore's in-memory view: what
// goes (thread, index, messages, dedup keys, refs) and what the routed output still says.
#include <string>

#include "gtest/gtest.h"
#include "services/common/store/memory_view.h"
#include "services/router/router_core.h"

namespace earshot::router {
namespace {

using earshot::v1::Event;
using earshot::v1::Thread;

class AllCare : public RuleSet {
 public:
  earshot::v1::RoutingDecision Decide(const Event&) const override {
    earshot::v1::RoutingDecision d;
    d.set_queue("care");
    return d;
  }
  size_t rule_count() const override { return 0; }
};

constexpr int32_t kPartition = 3;
constexpr int64_t kBase = 1741170000;

class RouterEraseTest : public ::testing::Test {
 protected:
  Event Msg(std::string id, std::string author, int minute, std::string thread = "wa:1:491511",
            earshot::v1::Direction dir = earshot::v1::DIRECTION_INBOUND) {
    Event e;
    e.set_event_id("wa:" + id);
    e.set_message_id(id);
    e.set_platform(earshot::v1::PLATFORM_WHATSAPP);
    e.set_account_id("1");
    e.set_thread_key(std::move(thread));
    e.set_direction(dir);
    e.set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
    e.set_text("text of " + author);
    e.set_permalink("https://example.com/" + id);
    e.mutable_author()->set_id(std::move(author));
    e.mutable_created_at()->set_seconds(kBase + 60 * minute);
    e.mutable_received_at()->set_seconds(kBase + 60 * minute + 1);
    return e;
  }
  Event Erase(std::string author, std::string thread = "wa:1:491511") {
    Event e;
    e.set_event_id("ctl:erase:" + std::to_string(offset_));
    e.set_platform(earshot::v1::PLATFORM_WHATSAPP);
    e.set_account_id("1");
    e.set_thread_key(std::move(thread));
    e.set_kind(earshot::v1::KIND_CONTROL);
    e.mutable_control()->set_action(earshot::v1::Control::ACTION_ERASE);
    e.mutable_author()->set_id(std::move(author));
    e.mutable_received_at()->set_seconds(kBase + 3600);
    return e;
  }
  ApplyResult Apply(const Event& e) {
    PartitionStates partitions;
    ApplyResult r = core_.Apply(kPartition, offset_++, e, rules_, view_, partitions);
    partitions.Flush(view_);
    return r;
  }
  std::vector<earshot::v1::RoutedEvent> Expire(absl::Time now) {
    PartitionStates partitions;
    auto out = core_.Expire(kPartition, now, view_, partitions);
    partitions.Flush(view_);
    return out;
  }
  size_t Keys(Cf cf) { return view_.Data(CfName(cf)).size(); }
  // Whether any key or value of any router family holds `text`.
  bool Holds(const std::string& text) {
    for (Cf cf : {Cf::kDedup, Cf::kThreads, Cf::kMessages, Cf::kQueueIndex, Cf::kRefs}) {
      for (const auto& [k, v] : view_.Data(CfName(cf))) {
        if (k.find(text) != std::string::npos || v.find(text) != std::string::npos) return true;
      }
    }
    return false;
  }
  int64_t Count(earshot::v1::ThreadStatus status) {
    earshot::v1::RouterPartitionState p;
    p.ParseFromString(*view_.Get(CfName(Cf::kPartitions), PartitionPrefix(kPartition)));
    return p.threads_by_status().contains(status) ? p.threads_by_status().at(status) : 0;
  }

  int64_t offset_ = 0;
  store::MemoryView view_;
  AllCare rules_;
  RouterCore core_{RouterOptions{}};
};

TEST_F(RouterEraseTest, EraseDeletesTheThreadAndEveryKeyItWrote) {
  Apply(Msg("m1", "491511", 0));
  Apply(Msg("m2", "491511", 1));
  Apply(Msg("b1", "1", 2, "wa:1:491511", earshot::v1::DIRECTION_OUTBOUND));
  Apply(Msg("m3", "491511", 3));
  Apply(Msg("o1", "other", 0, "wa:1:other"));  // another customer's thread stays
  ASSERT_TRUE(Holds("wa:m1"));

  ApplyResult r = Apply(Erase("491511"));
  EXPECT_TRUE(r.erased);
  ASSERT_TRUE(r.routed.has_value());
  EXPECT_TRUE(IsErase(r.routed->event()));
  EXPECT_EQ(r.routed->event().control().reason(), "erased");
  EXPECT_TRUE(r.routed->event().author().id().empty());
  EXPECT_TRUE(r.routed->event().text().empty());
  EXPECT_EQ(r.routed->thread().status(), earshot::v1::THREAD_STATUS_RESOLVED);
  EXPECT_EQ(r.routed->thread().participants_size(), 0);
  EXPECT_TRUE(r.routed->thread().excerpt().empty());

  // Only the other thread's keys and the erase's own dedup key are left.
  EXPECT_FALSE(view_.Get(CfName(Cf::kThreads), PartitionKey(kPartition, "wa:1:491511")));
  EXPECT_EQ(Keys(Cf::kThreads), 1u);
  EXPECT_EQ(Keys(Cf::kQueueIndex), 1u);
  EXPECT_EQ(Keys(Cf::kMessages), 1u);
  EXPECT_EQ(Keys(Cf::kDedup), 2u);
  EXPECT_EQ(Keys(Cf::kRefs), 2u);  // the other thread's event and message
  for (const char* id : {"wa:m1", "wa:m2", "wa:m3", "wa:b1", "text of 491511", "wa:1:491511"}) {
    EXPECT_FALSE(Holds(id)) << id;
  }
  EXPECT_EQ(Count(earshot::v1::THREAD_STATUS_AWAITING_REPLY), 1);  // the other one

  // A later message starts a new thread; a redelivered erase changes nothing.
  EXPECT_FALSE(Apply(Erase("491511")).routed.has_value());
  auto again = Apply(Msg("m4", "491511", 90));
  EXPECT_EQ(again.routed->thread().message_count(), 1);
  EXPECT_EQ(again.routed->thread().first_seen().seconds(), kBase + 60 * 90);
}

TEST_F(RouterEraseTest, EraseOfAParticipantKeepsSomeoneElsesThread) {
  Apply(Msg("m1", "starter", 0));
  Apply(Msg("m2", "491511", 1));
  ApplyResult r = Apply(Erase("491511"));
  EXPECT_TRUE(r.erased);
  ASSERT_TRUE(r.routed.has_value());
  const Thread& t = r.routed->thread();
  EXPECT_EQ(t.participants_size(), 1);
  EXPECT_EQ(t.participants(0), "starter");
  EXPECT_TRUE(t.excerpt().empty());  // it was theirs
  EXPECT_TRUE(t.permalink().empty());
  EXPECT_EQ(t.unanswered_count(), 2);  // the wait goes on
  EXPECT_FALSE(Holds("text of 491511"));
  EXPECT_TRUE(r.routed->event().author().id().empty());
}

TEST_F(RouterEraseTest, EraseOfSomeoneNotInTheThreadOrOnAnotherPlatformDoesNothing) {
  Apply(Msg("m1", "491511", 0));
  EXPECT_FALSE(Apply(Erase("stranger")).routed.has_value());
  Event other_platform = Erase("491511");
  other_platform.set_platform(earshot::v1::PLATFORM_X);
  EXPECT_FALSE(Apply(other_platform).routed.has_value());
  EXPECT_EQ(Keys(Cf::kThreads), 1u);
}

TEST_F(RouterEraseTest, ExpireDeletesThreadsIdleLongerThanTheTtl) {
  Apply(Msg("m1", "idle", 0, "wa:1:idle"));          // waiting, idle
  Apply(Msg("m2", "answered", 0, "wa:1:answered"));  // answered, idle
  Apply(Msg("b2", "1", 1, "wa:1:answered", earshot::v1::DIRECTION_OUTBOUND));
  Apply(Msg("m3", "active", 0, "wa:1:active"));  // waits since then, but active lately
  const absl::Time start = absl::FromUnixSeconds(kBase);
  Apply(Msg("m4", "active", 60 * 24 * 89, "wa:1:active"));

  EXPECT_TRUE(Expire(start + absl::Hours(24 * 89)).empty());  // nothing idle for 90 days yet
  auto expired = Expire(start + absl::Hours(24 * 91));
  ASSERT_EQ(expired.size(), 2u);
  for (const auto& r : expired) {
    EXPECT_TRUE(IsErase(r.event()));
    EXPECT_EQ(r.event().control().reason(), "expired");
    EXPECT_NE(r.thread().thread_key(), "wa:1:active");
  }
  EXPECT_EQ(Keys(Cf::kThreads), 1u);
  EXPECT_EQ(Keys(Cf::kQueueIndex), 1u);
  EXPECT_EQ(Keys(Cf::kMessages), 2u);  // the active thread's two messages
  EXPECT_FALSE(Holds("text of idle"));
  EXPECT_FALSE(Holds("wa:m1"));
  EXPECT_EQ(Count(earshot::v1::THREAD_STATUS_ANSWERED), 0);
  EXPECT_TRUE(Expire(start + absl::Hours(24 * 91)).empty());
}

TEST_F(RouterEraseTest, ZeroTtlNeverExpires) {
  RouterOptions options;
  options.thread_ttl = absl::ZeroDuration();
  core_ = RouterCore(options);
  Apply(Msg("m1", "idle", 0));
  EXPECT_TRUE(Expire(absl::FromUnixSeconds(kBase) + absl::Hours(24 * 3650)).empty());
  EXPECT_EQ(Keys(Cf::kThreads), 1u);
}

}  // namespace
}  // namespace earshot::router
