#include "services/router/router_core.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "services/common/store/memory_view.h"

namespace earshot::router {
namespace {

using earshot::v1::Event;
using earshot::v1::Thread;

// The router's column families by enum, over the shared in-memory view.
class MapView : public store::MemoryView {
 public:
  using store::MemoryView::Get;
  std::optional<std::string> Get(Cf cf, std::string_view key) { return Get(CfName(cf), key); }
  std::map<std::string, std::string>& Data(Cf cf) { return MemoryView::Data(CfName(cf)); }
};

// Decides by the text: "ignore" → ignore; "urgent" → URGENT; otherwise queue care, NORMAL.
class FakeRules : public RuleSet {
 public:
  earshot::v1::RoutingDecision Decide(const Event& e) const override {
    earshot::v1::RoutingDecision d;
    d.set_queue(e.text().find("legal") != std::string::npos ? "escalation" : "care");
    d.set_priority(e.text().find("urgent") != std::string::npos ? earshot::v1::PRIORITY_URGENT
                                                                : earshot::v1::PRIORITY_NORMAL);
    d.set_sla_policy(e.kind() == earshot::v1::KIND_DIRECT_MESSAGE ? "dm" : "public");
    d.set_ignore(e.text().find("ignore") != std::string::npos);
    if (e.text().find("urgent") != std::string::npos) d.add_tags("hot");
    return d;
  }
  size_t rule_count() const override { return 0; }
};

class RouterCoreTest : public ::testing::Test {
 protected:
  Event Msg(std::string id, earshot::v1::Direction dir, int minute, std::string text = "hi",
            earshot::v1::Kind kind = earshot::v1::KIND_COMMENT, std::string thread = "fb:1:c:9") {
    Event e;
    e.set_event_id("fb:" + id);
    e.set_message_id(id);
    e.set_platform(earshot::v1::PLATFORM_FACEBOOK);
    e.set_account_id("1");
    e.set_thread_key(thread);
    e.set_direction(dir);
    e.set_kind(kind);
    e.set_text(text);
    e.mutable_author()->set_id(dir == earshot::v1::DIRECTION_INBOUND ? "cust" : "1");
    e.mutable_created_at()->set_seconds(base_ + 60 * minute);
    e.mutable_received_at()->set_seconds(base_ + 60 * minute + 1);
    return e;
  }
  ApplyResult Apply(const Event& e) {
    PartitionStates partitions;  // a batch of one event, as RouterApp flushes at a batch's end
    ApplyResult r = core_.Apply(3, offset_++, e, rules_, view_, partitions);
    partitions.Flush(view_);
    return r;
  }
  Thread Stored(const std::string& key = "fb:1:c:9") {
    Thread t;
    auto v = view_.Get(Cf::kThreads, PartitionKey(3, key));
    EXPECT_TRUE(v.has_value());
    if (v) t.ParseFromString(*v);
    return t;
  }
  earshot::v1::RouterPartitionState Partition() {
    earshot::v1::RouterPartitionState p;
    p.ParseFromString(*view_.Get(Cf::kPartitions, PartitionPrefix(3)));
    return p;
  }

  const int64_t base_ = 1741170000;
  int64_t offset_ = 100;
  MapView view_;
  FakeRules rules_;
  RouterCore core_{RouterOptions{}};
};

constexpr auto kIn = earshot::v1::DIRECTION_INBOUND;
constexpr auto kOut = earshot::v1::DIRECTION_OUTBOUND;

TEST_F(RouterCoreTest, CustomerMessageOpensAWait) {
  auto r = Apply(Msg("c1", kIn, 0, "where is my order"));
  ASSERT_TRUE(r.routed.has_value());
  const Thread& t = r.routed->thread();
  EXPECT_EQ(t.status(), earshot::v1::THREAD_STATUS_AWAITING_REPLY);
  EXPECT_EQ(t.oldest_unanswered().seconds(), base_);
  EXPECT_EQ(t.first_seen().seconds(), base_);
  EXPECT_EQ(t.unanswered_count(), 1);
  EXPECT_EQ(t.queue(), "care");
  EXPECT_EQ(t.sla_policy(), "public");
  EXPECT_EQ(t.message_count(), 1);
  EXPECT_EQ(r.routed->decision().queue(), "care");
  EXPECT_EQ(Stored().SerializeAsString(), t.SerializeAsString());
}

TEST_F(RouterCoreTest, RedeliveryWithinWindowIsDropped) {
  Event e = Msg("c1", kIn, 0);
  EXPECT_FALSE(Apply(e).duplicate);
  e.mutable_received_at()->set_seconds(e.received_at().seconds() + 3600 * 24 * 6);
  EXPECT_TRUE(Apply(e).duplicate);
  EXPECT_EQ(Stored().message_count(), 1);
  EXPECT_EQ(Partition().next_offset(), 102);  // the duplicate counts as consumed
}

TEST_F(RouterCoreTest, RedeliveryAfterWindowIsNew) {
  Event e = Msg("c1", kIn, 0);
  Apply(e);
  e.mutable_received_at()->set_seconds(e.received_at().seconds() + 3600 * 24 * 8);
  EXPECT_FALSE(Apply(e).duplicate);
}

TEST_F(RouterCoreTest, SecondMessageJoinsTheOpenWait) {
  Apply(Msg("c1", kIn, 0));
  auto r = Apply(Msg("c2", kIn, 5, "urgent please"));
  const Thread& t = r.routed->thread();
  EXPECT_EQ(t.oldest_unanswered().seconds(), base_);  // the clock keeps the first message
  EXPECT_EQ(t.unanswered_count(), 2);
  EXPECT_EQ(t.priority(), earshot::v1::PRIORITY_URGENT);
  EXPECT_EQ(t.tags_size(), 1);
}

TEST_F(RouterCoreTest, BrandAnswerStopsTheClockAndNextMessageOpensNewWait) {
  Apply(Msg("c1", kIn, 0, "urgent"));
  auto answered = Apply(Msg("b1", kOut, 10, "we are on it", earshot::v1::KIND_REPLY));
  EXPECT_EQ(answered.routed->thread().status(), earshot::v1::THREAD_STATUS_ANSWERED);
  EXPECT_FALSE(answered.routed->thread().has_oldest_unanswered());
  EXPECT_EQ(answered.routed->thread().last_outbound().seconds(), base_ + 600);
  auto again = Apply(Msg("c2", kIn, 30, "still broken"));
  EXPECT_EQ(again.routed->thread().status(), earshot::v1::THREAD_STATUS_AWAITING_REPLY);
  EXPECT_EQ(again.routed->thread().oldest_unanswered().seconds(), base_ + 1800);
  EXPECT_EQ(again.routed->thread().priority(), earshot::v1::PRIORITY_NORMAL);  // a new wait
  EXPECT_EQ(again.routed->thread().tags_size(), 0);
}

TEST_F(RouterCoreTest, EditsAndReactionsChangeNoClock) {
  Apply(Msg("c1", kIn, 0));
  Thread before = Stored();
  Event edit = Msg("c1", kIn, 3, "edited text", earshot::v1::KIND_EDIT);
  edit.set_event_id("fb:c1:edited:3");
  Apply(edit);
  Event like = Msg("l1", kOut, 4, "", earshot::v1::KIND_REACTION);
  Apply(like);
  Thread after = Stored();
  EXPECT_EQ(after.status(), earshot::v1::THREAD_STATUS_AWAITING_REPLY);
  EXPECT_EQ(after.oldest_unanswered().seconds(), before.oldest_unanswered().seconds());
  EXPECT_EQ(after.unanswered_count(), 1);
  EXPECT_EQ(after.message_count(), 1);
}

TEST_F(RouterCoreTest, DeletingTheOnlyUnansweredMessageResolves) {
  Apply(Msg("c1", kIn, 0));
  Event del = Msg("c1", kIn, 2, "", earshot::v1::KIND_DELETE);
  del.set_event_id("fb:c1:remove");
  auto r = Apply(del);
  EXPECT_EQ(r.routed->thread().status(), earshot::v1::THREAD_STATUS_RESOLVED);
  EXPECT_FALSE(r.routed->thread().has_oldest_unanswered());
}

TEST_F(RouterCoreTest, DeletingOneOfTwoMovesTheClockToTheOther) {
  Apply(Msg("c1", kIn, 0));
  Apply(Msg("c2", kIn, 5));
  Event del = Msg("c1", kIn, 6, "", earshot::v1::KIND_DELETE);
  del.set_event_id("fb:c1:remove");
  auto r = Apply(del);
  EXPECT_EQ(r.routed->thread().status(), earshot::v1::THREAD_STATUS_AWAITING_REPLY);
  EXPECT_EQ(r.routed->thread().oldest_unanswered().seconds(), base_ + 300);
  EXPECT_EQ(r.routed->thread().unanswered_count(), 1);
}

TEST_F(RouterCoreTest, ResolveControlEventResolvesWithReason) {
  Apply(Msg("c1", kIn, 0));
  Event ctl;
  ctl.set_event_id("ctl:resolve:1");
  ctl.set_thread_key("fb:1:c:9");
  ctl.set_kind(earshot::v1::KIND_CONTROL);
  ctl.mutable_control()->set_action(earshot::v1::Control::ACTION_RESOLVE);
  ctl.mutable_control()->set_reason("answered by phone");
  ctl.mutable_received_at()->set_seconds(base_ + 100);
  auto r = Apply(ctl);
  EXPECT_EQ(r.routed->thread().status(), earshot::v1::THREAD_STATUS_RESOLVED);
  EXPECT_EQ(r.routed->thread().resolve_reason(), "answered by phone");
  // A new customer message reopens it.
  auto again = Apply(Msg("c2", kIn, 10));
  EXPECT_EQ(again.routed->thread().status(), earshot::v1::THREAD_STATUS_AWAITING_REPLY);
  EXPECT_TRUE(again.routed->thread().resolve_reason().empty());
}

TEST_F(RouterCoreTest, IgnoredMessageIsTrackedWithoutAWait) {
  auto r = Apply(Msg("c1", kIn, 0, "ignore me, spam"));
  EXPECT_TRUE(r.routed->decision().ignore());
  EXPECT_NE(r.routed->thread().status(), earshot::v1::THREAD_STATUS_AWAITING_REPLY);
  EXPECT_TRUE(r.routed->thread().ignored());
  EXPECT_EQ(r.routed->thread().message_count(), 1);
}

TEST_F(RouterCoreTest, FailedWhatsAppStatusDoesNotAnswer) {
  Apply(Msg("c1", kIn, 0, "hi", earshot::v1::KIND_DIRECT_MESSAGE));
  Event failed = Msg("w1", kOut, 1, "", earshot::v1::KIND_STATUS);
  (*failed.mutable_attributes())["status"] = "failed";
  EXPECT_EQ(Apply(failed).routed->thread().status(), earshot::v1::THREAD_STATUS_AWAITING_REPLY);
  Event sent = Msg("w2", kOut, 2, "", earshot::v1::KIND_STATUS);
  (*sent.mutable_attributes())["status"] = "sent";
  EXPECT_EQ(Apply(sent).routed->thread().status(), earshot::v1::THREAD_STATUS_ANSWERED);
}

TEST_F(RouterCoreTest, CountsAndQueueIndexFollowTransitions) {
  Apply(Msg("c1", kIn, 0));
  Apply(Msg("x1", kIn, 1, "hi", earshot::v1::KIND_COMMENT, "fb:1:c:10"));
  auto p = Partition();
  EXPECT_EQ(p.threads_by_status().at(earshot::v1::THREAD_STATUS_AWAITING_REPLY), 2);
  Apply(Msg("b1", kOut, 2, "answer", earshot::v1::KIND_REPLY));
  p = Partition();
  EXPECT_EQ(p.threads_by_status().at(earshot::v1::THREAD_STATUS_AWAITING_REPLY), 1);
  EXPECT_EQ(p.threads_by_status().at(earshot::v1::THREAD_STATUS_ANSWERED), 1);
  // The index lists exactly the one waiting thread, under its queue, and each thread once.
  int waiting = 0;
  for (const auto& [k, v] : view_.Data(Cf::kQueueIndex)) {
    if (k.rfind(QueueIndexPrefix(3, "care", earshot::v1::THREAD_STATUS_AWAITING_REPLY), 0) == 0) {
      ++waiting;
      EXPECT_NE(k.find("fb:1:c:10"), std::string::npos);
    }
  }
  EXPECT_EQ(waiting, 1);
  EXPECT_EQ(view_.Data(Cf::kQueueIndex).size(), 2u);
}

TEST_F(RouterCoreTest, DeleteOfBrandReplyFoundThroughMessageIndex) {
  // The brand's reply lives in the customer's thread; its delete arrives keyed elsewhere on
  // the same partition (X delete events only know the author).
  Apply(Msg("c1", kIn, 0));
  Apply(Msg("b1", kOut, 1, "reply", earshot::v1::KIND_REPLY));
  Event del = Msg("b1", kOut, 2, "", earshot::v1::KIND_DELETE, "fb:1:c:other");
  del.set_event_id("fb:b1:remove");
  auto r = Apply(del);
  EXPECT_EQ(r.routed->event().thread_key(), "fb:1:c:9");
  EXPECT_FALSE(view_.Get(Cf::kThreads, PartitionKey(3, "fb:1:c:other")).has_value());
}

}  // namespace
}  // namespace earshot::router

namespace earshot::router {
namespace {

// A data folder written before the queue index had one entry per thread: every thread also had
// an entry under "" (all queues). The upgrade, on the real RocksDB folder, keeps the entry of a
// thread without a queue and removes the others, once.
TEST(QueueIndexEntryTest, DecodesWhatQueueIndexKeyBuilds) {
  const absl::Time at = absl::FromUnixMicros(1741170000123456);
  auto e = QueueIndexEntry::Decode(
      QueueIndexKey(7, "care-de", earshot::v1::THREAD_STATUS_AWAITING_REPLY, at, "x:1:u:2"));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->partition, 7);
  EXPECT_EQ(e->queue, "care-de");
  EXPECT_EQ(e->status, earshot::v1::THREAD_STATUS_AWAITING_REPLY);
  EXPECT_EQ(e->sort_time, at);
  EXPECT_EQ(e->thread_key, "x:1:u:2");
  auto none = QueueIndexEntry::Decode(
      QueueIndexKey(0, "", earshot::v1::THREAD_STATUS_RESOLVED, at, "x:1:u:3"));
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->queue, "");
  EXPECT_EQ(none->thread_key, "x:1:u:3");
  EXPECT_FALSE(QueueIndexEntry::Decode(PartitionPrefix(1) + "no-terminator").has_value());
}

TEST(QueueIndexUpgradeTest, RemovesTheAllQueuesEntriesOfThreadsWithAQueue) {
  const std::string path = ::testing::TempDir() + "/queue-index-upgrade";
  std::filesystem::remove_all(path);
  auto open = [&] {
    store::StoreOptions o;
    o.path = path;
    o.column_families = ColumnFamilies(nullptr);
    auto s = store::Store::Open(std::move(o));
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  };
  const auto waiting = earshot::v1::THREAD_STATUS_AWAITING_REPLY;
  const absl::Time at = absl::FromUnixSeconds(1741170000);
  auto index_keys = [](store::Store& s) {
    std::vector<std::string> keys;
    std::unique_ptr<rocksdb::Iterator> it(
        s.rocksdb_for_tools()->NewIterator(rocksdb::ReadOptions(), s.cf(CfName(Cf::kQueueIndex))));
    for (it->SeekToFirst(); it->Valid(); it->Next()) keys.push_back(it->key().ToString());
    return keys;
  };
  const std::string queued_all = QueueIndexKey(0, "", waiting, at, "fb:1:c:queued");
  const std::string queued = QueueIndexKey(0, "care-de", waiting, at, "fb:1:c:queued");
  const std::string no_queue = QueueIndexKey(7, "", waiting, at, "fb:1:c:no-queue");
  const std::string other_all =
      QueueIndexKey(7, "", waiting, at + absl::Seconds(1), "fb:1:c:other");
  const std::string other =
      QueueIndexKey(7, "sales", waiting, at + absl::Seconds(1), "fb:1:c:other");
  const std::string gone = QueueIndexKey(9, "", waiting, at, "fb:1:c:gone");  // no thread record
  {
    auto s = open();
    rocksdb::WriteBatch b;
    auto put_thread = [&](int32_t p, const std::string& key, const std::string& queue) {
      earshot::v1::Thread t;
      t.set_thread_key(key);
      t.set_queue(queue);
      t.set_status(waiting);
      b.Put(s->cf(CfName(Cf::kThreads)), PartitionKey(p, key), t.SerializeAsString());
    };
    put_thread(0, "fb:1:c:queued", "care-de");
    put_thread(7, "fb:1:c:no-queue", "");
    put_thread(7, "fb:1:c:other", "sales");
    for (const auto& k : {queued_all, queued, no_queue, other_all, other, gone}) {
      b.Put(s->cf(CfName(Cf::kQueueIndex)), k, "");
    }
    ASSERT_TRUE(s->Write(&b).ok());
  }
  std::vector<std::string> want = {queued, no_queue, other};
  std::sort(want.begin(), want.end());
  {
    auto s = open();
    ASSERT_TRUE(UpgradeQueueIndex(*s).ok());
    EXPECT_EQ(index_keys(*s), want);
  }
  {
    // Once done, never again: an entry under "" written now (a thread without a queue) stays.
    auto s = open();
    const std::string later = QueueIndexKey(3, "", waiting, at, "fb:1:c:later");
    rocksdb::WriteBatch b;
    b.Put(s->cf(CfName(Cf::kQueueIndex)), later, "");
    ASSERT_TRUE(s->Write(&b).ok());
    ASSERT_TRUE(UpgradeQueueIndex(*s).ok());
    want.push_back(later);
    std::sort(want.begin(), want.end());
    EXPECT_EQ(index_keys(*s), want);
  }
  std::filesystem::remove_all(path);
}

}  // namespace
}  // namespace earshot::router
