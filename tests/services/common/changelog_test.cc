// Changelog: a partition's state written by one replica is rebuilt by another from the
// changelog alone, through a real (embedded) Kafka broker and real RocksDB directories.
#include "services/common/kafka/changelog.h"

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "rocksdb/iterator.h"
#include "services/common/kafka/embedded_broker.h"
#include "services/common/kafka/producer.h"
#include "services/common/store/kv_view.h"
#include "services/common/store/store.h"

namespace earshot::kafka {
namespace {

constexpr char kTopic[] = "test.state.v1";

TEST(PlanRestoreTest, EveryWayALocalCopyCanStand) {
  // No copy, nothing logged: nothing to do.
  // No checkpoint, nothing logged: whatever is local (state from before changelogs) is seeded.
  EXPECT_EQ(PlanRestore(std::nullopt, "c1", 0, 0).reason, "empty");
  EXPECT_FALSE(PlanRestore(std::nullopt, "c1", 0, 0).drop_local);
  EXPECT_TRUE(PlanRestore(std::nullopt, "c1", 0, 0).seed);
  // No copy, a log: everything, from the start.
  RestorePlan p = PlanRestore(std::nullopt, "c1", 0, 50);
  EXPECT_TRUE(p.drop_local);
  EXPECT_EQ(p.from, 0);
  // A copy behind: only the tail.
  p = PlanRestore(ChangelogCheckpoint{30, "c1"}, "c1", 0, 50);
  EXPECT_FALSE(p.drop_local);
  EXPECT_EQ(p.from, 30);
  EXPECT_EQ(p.reason, "behind");
  EXPECT_EQ(PlanRestore(ChangelogCheckpoint{50, "c1"}, "c1", 0, 50).reason, "current");
  // Counted in another cluster, or ahead of a recreated log: dropped and rebuilt.
  p = PlanRestore(ChangelogCheckpoint{30, "c0"}, "c1", 0, 50);
  EXPECT_TRUE(p.drop_local);
  EXPECT_EQ(p.reason, "cluster_changed");
  p = PlanRestore(ChangelogCheckpoint{80, "c1"}, "c1", 0, 50);
  EXPECT_TRUE(p.drop_local);
  EXPECT_EQ(p.reason, "ahead_of_changelog");
  p = PlanRestore(ChangelogCheckpoint{5, "c1"}, "c1", 10, 50);
  EXPECT_TRUE(p.drop_local);
  EXPECT_EQ(p.from, 10);
  // Another cluster whose changelog is empty: the local copy is all there is; kept and seeded.
  p = PlanRestore(ChangelogCheckpoint{30, "c0"}, "c1", 0, 0);
  EXPECT_FALSE(p.drop_local);
  EXPECT_TRUE(p.seed);
  EXPECT_EQ(p.reason, "cluster_changed");
}

TEST(CheckpointTest, RoundTrips) {
  auto c = DecodeCheckpoint(EncodeCheckpoint({123456789012, "cluster-a"}));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->offset, 123456789012);
  EXPECT_EQ(c->cluster_id, "cluster-a");
  EXPECT_FALSE(DecodeCheckpoint("short").has_value());
}

class ChangelogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NewCluster();
    root_ = ::testing::TempDir() + "/changelog-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }

  // A broker of its own (another cluster, an empty changelog) and a producer to it.
  void NewCluster() {
    producer_.reset();
    broker_.reset();
    auto broker = EmbeddedBroker::Start(1, 2, {kTopic});
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = std::move(*broker);
    ProducerOptions po;
    po.bootstrap = broker_->bootstrap();
    auto producer = Producer::Create(po, nullptr);
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = std::move(*producer);
  }

  struct Replica {
    std::unique_ptr<store::Store> store;
    std::unique_ptr<Changelog> changelog;
  };

  Replica Open(const std::string& name, const std::string& cluster = "cluster",
               bool transactional = false) {
    Replica r;
    store::StoreOptions so;
    so.path = root_ + "/" + name;
    so.column_families = {{"state"}, {"changelog"}};
    auto s = store::Store::Open(so);
    EXPECT_TRUE(s.ok()) << s.status();
    r.store = std::move(*s);
    ChangelogOptions co;
    co.topic = kTopic;
    co.partitions = 2;
    co.consumer.bootstrap = broker_->bootstrap();
    co.consumer.group_id = "changelog-test";
    co.state_cfs = {"state"};
    co.read_timeout = absl::Seconds(10);
    co.transactional = transactional;
    auto c = Changelog::Create(co, r.store.get(), producer_.get(), cluster);
    EXPECT_TRUE(c.ok()) << c.status();
    r.changelog = std::move(*c);
    return r;
  }

  absl::Status Produce(std::vector<Record> records) {
    return ProduceAndWait(*producer_, std::move(records));
  }

  // One batch as a service writes it: state changes, changelog records, checkpoint, commit.
  void WriteBatch(Replica& r, const std::map<std::string, std::optional<std::string>>& writes) {
    store::OverlayView view(r.store.get());
    for (const auto& [k, v] : writes) {
      if (v) {
        view.Put("state", k, *v);
      } else {
        view.Delete("state", k);
      }
    }
    std::map<int32_t, int64_t> counts;
    ASSERT_TRUE(Produce(r.changelog->Records(view, &counts)).ok());
    r.changelog->Checkpoint(counts, view);
    ASSERT_TRUE(view.Commit().ok());
  }

  static std::map<std::string, std::string> Partition(Replica& r, int32_t p) {
    std::map<std::string, std::string> out;
    const std::string prefix = store::PartitionPrefix(p);
    std::unique_ptr<rocksdb::Iterator> it(
        r.store->rocksdb_for_tools()->NewIterator(rocksdb::ReadOptions(), r.store->cf("state")));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      out[it->key().ToString()] = it->value().ToString();
    }
    return out;
  }

  static std::string Key(int32_t p, const std::string& k) { return store::PartitionPrefix(p) + k; }

  std::unique_ptr<EmbeddedBroker> broker_;
  std::unique_ptr<Producer> producer_;
  std::string root_;
};

TEST_F(ChangelogTest, AnotherReplicaRebuildsAPartitionFromTheChangelogAlone) {
  Replica a = Open("a");
  ASSERT_TRUE(a.changelog->Restore(0).ok());
  ASSERT_TRUE(a.changelog->Restore(1).ok());
  WriteBatch(
      a,
      {{Key(0, "t1"), "open"}, {Key(0, "t2"), "open"}, {Key(1, "t9"), "open"}, {Key(0, "q"), ""}});
  WriteBatch(a, {{Key(0, "t1"), "answered"}, {Key(0, "t2"), std::nullopt}});

  // B never saw the input: its copy of partition 0 comes from the changelog, and equals A's
  // (an empty value stays a value, a delete stays deleted); partition 1 is not touched.
  Replica b = Open("b");
  ASSERT_TRUE(b.changelog->Restore(0).ok());
  EXPECT_EQ(Partition(b, 0), Partition(a, 0));
  EXPECT_EQ(Partition(b, 0).count(Key(0, "t2")), 0);
  EXPECT_EQ(Partition(b, 0).at(Key(0, "q")), "");
  EXPECT_TRUE(Partition(b, 1).empty());

  // A goes on; B, behind, reads only the tail and is equal again.
  WriteBatch(a, {{Key(0, "t3"), "open"}});
  ASSERT_TRUE(b.changelog->Restore(0).ok());
  EXPECT_EQ(Partition(b, 0), Partition(a, 0));
}

TEST_F(ChangelogTest, AHalfWrittenBatchIsNeverApplied) {
  Replica a = Open("a");
  ASSERT_TRUE(a.changelog->Restore(0).ok());
  WriteBatch(a, {{Key(0, "t1"), "open"}});
  const auto whole = Partition(a, 0);
  // A crash in the middle of the next batch's changelog write: records, no marker.
  Record half;
  half.topic = kTopic;
  half.partition = 0;
  half.key = std::string("state") + '\0' + Key(0, "t1");
  half.value = "half";
  ASSERT_TRUE(Produce({half}).ok());

  Replica b = Open("b");
  ASSERT_TRUE(b.changelog->Restore(0).ok());
  EXPECT_EQ(Partition(b, 0), whole) << "state of half a batch was applied";
}

// Written in transactions, a changelog read read_committed holds only whole batches: records
// apply as they are read, also where compaction left no marker after them (each partition's
// marker key keeps only its last one), instead of being held in memory up to that marker.
TEST_F(ChangelogTest, ATransactionalChangelogAppliesRecordsWithoutAMarkerAfterThem) {
  std::vector<Record> records;
  std::map<std::string, std::string> expected;
  for (int i = 0; i < 50; ++i) {
    Record r;
    r.topic = kTopic;
    r.partition = 0;
    r.key = std::string("state") + '\0' + Key(0, "t" + std::to_string(i));
    r.value = "open";
    expected[Key(0, "t" + std::to_string(i))] = "open";
    records.push_back(std::move(r));
  }
  ASSERT_TRUE(Produce(std::move(records)).ok());
  Replica b = Open("b", "cluster", /*transactional=*/true);
  ASSERT_TRUE(b.changelog->Restore(0).ok());
  EXPECT_EQ(Partition(b, 0), expected);
}

TEST_F(ChangelogTest, AStandbyCopyFollowsItsOwnerAndLeavesOwnedPartitionsAlone) {
  Replica a = Open("a");
  ASSERT_TRUE(a.changelog->Restore(0).ok());
  ASSERT_TRUE(a.changelog->Restore(1).ok());
  WriteBatch(a, {{Key(0, "t1"), "open"}, {Key(1, "t2"), "open"}});

  // B keeps a standby copy of partition 0: built from the changelog, then only the tail.
  Replica b = Open("b");
  b.changelog->SetStandby({0});
  auto behind = b.changelog->Warm(0);
  ASSERT_TRUE(behind.ok()) << behind.status();
  EXPECT_GT(*behind, 0);
  EXPECT_EQ(Partition(b, 0), Partition(a, 0));
  WriteBatch(a, {{Key(0, "t1"), "answered"}, {Key(0, "t3"), "open"}});
  ASSERT_TRUE(b.changelog->Warm(0).ok());
  EXPECT_EQ(Partition(b, 0), Partition(a, 0));
  ASSERT_TRUE(b.changelog->Warm(0).ok());
  EXPECT_EQ(*b.changelog->Warm(0), 0) << "a current standby copy read records again";
  // Not a standby: never warmed.
  EXPECT_EQ(*b.changelog->Warm(1), 0);
  EXPECT_TRUE(Partition(b, 1).empty());

  // B takes partition 0 over: its warm copy is current, so nothing is read at assignment.
  ASSERT_TRUE(b.changelog->Restore(0).ok());
  EXPECT_EQ(Partition(b, 0), Partition(a, 0));
  // Owned now: a standby refresh that still names it must not touch it, even when the
  // changelog has records B's copy lacks (B writes its own state from here on).
  b.changelog->SetStandby({0});
  WriteBatch(a, {{Key(0, "t1"), "stale owner"}});
  auto owned = b.changelog->Warm(0);
  ASSERT_TRUE(owned.ok());
  EXPECT_EQ(*owned, 0);
  EXPECT_EQ(Partition(b, 0).at(Key(0, "t1")), "answered");

  // Standby copies are not dropped as stale; a copy that stops being one is.
  b.changelog->Revoked(0);
  b.changelog->SetStandby({0});
  EXPECT_EQ(b.changelog->DropStale(absl::Now() + absl::Hours(1)), 0);
  EXPECT_FALSE(Partition(b, 0).empty());
  b.changelog->SetStandby({});
  EXPECT_EQ(b.changelog->DropStale(absl::Now() + absl::Hours(1)), 1);
  EXPECT_TRUE(Partition(b, 0).empty());
}

TEST_F(ChangelogTest, DropClearsOnlyThatPartition) {
  Replica a = Open("a");
  ASSERT_TRUE(a.changelog->Restore(0).ok());
  ASSERT_TRUE(a.changelog->Restore(1).ok());
  WriteBatch(a, {{Key(0, "t1"), "open"}, {Key(1, "t2"), "open"}});
  ASSERT_TRUE(a.changelog->Drop(0).ok());
  EXPECT_TRUE(Partition(a, 0).empty());
  EXPECT_EQ(Partition(a, 1).size(), 1u);
  // With its checkpoint gone, the next restore rebuilds it from the changelog.
  ASSERT_TRUE(a.changelog->Restore(0).ok());
  EXPECT_EQ(Partition(a, 0).size(), 1u);
}

TEST_F(ChangelogTest, ALocalCopyIsKeptAndSeededWhenTheClusterIsNew) {
  {
    Replica a = Open("a", "cluster-1");
    ASSERT_TRUE(a.changelog->Restore(0).ok());
    WriteBatch(a, {{Key(0, "t1"), "answered"}, {Key(0, "q"), ""}});
  }
  // The embedded broker started anew: same data folder, empty changelog, another cluster.
  NewCluster();
  Replica a = Open("a", "cluster-2");
  const auto before = Partition(a, 0);
  ASSERT_EQ(before.size(), 2u);
  ASSERT_TRUE(a.changelog->Restore(0).ok());
  EXPECT_EQ(Partition(a, 0), before) << "the only copy of the state was dropped";
  // The new cluster's changelog now holds it: another replica rebuilds it from there.
  Replica b = Open("b", "cluster-2");
  ASSERT_TRUE(b.changelog->Restore(0).ok());
  EXPECT_EQ(Partition(b, 0), before);
}

}  // namespace
}  // namespace earshot::kafka
