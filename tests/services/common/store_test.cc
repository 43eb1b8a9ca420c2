// Store on a real RocksDB directory: a column family read by key only (hash memtable) keeps
// every key's last value through memtable flushes and a reopen, beside an ordered one.
#include "services/common/store/store.h"

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/common/store/kv_view.h"

namespace earshot::store {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/store-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(path_);
  }
  void TearDown() override { std::filesystem::remove_all(path_); }

  // `by_key_hashed`: false opens "by_key" as a data folder of the releases before hash memtables.
  std::unique_ptr<Store> Open(bool by_key_hashed = true) {
    StoreOptions o;
    o.path = path_;
    o.write_buffer_bytes = 64 << 10;  // small: the writes below fill and flush many memtables
    o.block_cache_bytes = 1 << 20;
    o.column_families = {{"by_key", nullptr, by_key_hashed},
                         {"ordered", nullptr, /*point_lookups=*/false}};
    auto store = Store::Open(std::move(o));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::string path_;
};

// Keys written, overwritten and deleted over many batches read back as the last batch left
// them, before and after a reopen; the ordered family still scans in key order.
TEST_F(StoreTest, PointLookupFamilyKeepsLastValuesThroughFlushesAndReopen) {
  std::map<std::string, std::string> expected;  // key -> last value ("" = deleted)
  {
    std::unique_ptr<Store> store = Open();
    ASSERT_NE(store, nullptr);
    for (int batch = 0; batch < 40; ++batch) {
      OverlayView view(store.get());
      for (int i = 0; i < 100; ++i) {
        // Each batch touches 100 of 1000 keys, so keys are overwritten across memtables.
        const std::string key =
            PartitionPrefix(i % 4) + absl::StrCat("thread-", (batch * 37 + i * 13) % 1000);
        if ((batch + i) % 11 == 0) {
          view.Delete("by_key", key);
          expected[key] = "";
        } else {
          const std::string value = absl::StrCat("v", batch, "-", i, std::string(200, 'x'));
          view.Put("by_key", key, value);
          expected[key] = value;
        }
        view.Put("ordered", key, "");
      }
      ASSERT_TRUE(view.Commit().ok());
    }
    for (const auto& [key, value] : expected) {
      auto got = store->Get("by_key", key);
      ASSERT_TRUE(got.ok());
      EXPECT_EQ(got->value_or(""), value) << "before reopen";
    }
  }
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  int present = 0;
  for (const auto& [key, value] : expected) {
    auto got = store->Get("by_key", key);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->value_or(""), value) << "after reopen";
    present += value.empty() ? 0 : 1;
  }
  EXPECT_GT(present, 500);
  EXPECT_FALSE(store->Get("by_key", PartitionPrefix(0) + "never-written")->has_value());

  std::vector<std::string> scanned;
  std::unique_ptr<rocksdb::Iterator> it(
      store->rocksdb_for_tools()->NewIterator(rocksdb::ReadOptions(), store->cf("ordered")));
  for (it->SeekToFirst(); it->Valid(); it->Next()) scanned.push_back(it->key().ToString());
  std::vector<std::string> keys;
  for (const auto& [key, value] : expected) keys.push_back(key);
  EXPECT_EQ(scanned, keys);  // std::map's order is RocksDB's bytewise order
}

// A partition's range is removed from a point-lookup family as a whole; the others stay.
TEST_F(StoreTest, DeleteRangeOnPointLookupFamily) {
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  OverlayView view(store.get());
  for (int p = 0; p < 3; ++p) {
    for (int i = 0; i < 50; ++i) view.Put("by_key", PartitionPrefix(p) + absl::StrCat("k", i), "v");
  }
  ASSERT_TRUE(view.Commit().ok());
  ASSERT_TRUE(store->DeleteRange("by_key", PartitionPrefix(1), PartitionPrefix(2)).ok());
  for (int p = 0; p < 3; ++p) {
    for (int i = 0; i < 50; ++i) {
      auto got = store->Get("by_key", PartitionPrefix(p) + absl::StrCat("k", i));
      ASSERT_TRUE(got.ok());
      EXPECT_EQ(got->has_value(), p != 1) << "partition " << p << " key " << i;
    }
  }
}

// A data folder written with skip-list memtables (before hash memtables) opens with them and
// reads every key, in its SST files and in its write-ahead log alike.
TEST_F(StoreTest, FolderFromBeforeHashMemtablesReadsBack) {
  std::map<std::string, std::string> expected;
  {
    std::unique_ptr<Store> old = Open(/*by_key_hashed=*/false);
    ASSERT_NE(old, nullptr);
    for (int batch = 0; batch < 20; ++batch) {
      OverlayView view(old.get());
      for (int i = 0; i < 100; ++i) {
        const std::string key = PartitionPrefix(i % 4) + absl::StrCat("k", batch * 100 + i);
        const std::string value = absl::StrCat("v", batch, "-", i, std::string(100, 'y'));
        view.Put("by_key", key, value);
        expected[key] = value;
      }
      ASSERT_TRUE(view.Commit().ok());
    }
  }
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  for (const auto& [key, value] : expected) {
    auto got = store->Get("by_key", key);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->value_or(""), value);
  }
  EXPECT_FALSE(store->Get("by_key", PartitionPrefix(0) + "k-none")->has_value());
}

// A scan hands out the prefix's keys in order from `from`, stops when asked, and sees through
// a batch's own writes when it goes through the batch's view.
TEST_F(StoreTest, ScanVisitsAPrefixInOrderAndAViewMergesItsBatch) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  rocksdb::WriteBatch batch;
  for (const char* k : {"a1", "a3", "a5", "b1"}) batch.Put(store->cf("ordered"), k, k);
  ASSERT_TRUE(store->Write(&batch).ok());

  std::vector<std::string> seen;
  auto collect = [&](std::string_view key, std::string_view value) {
    seen.push_back(std::string(key) + "=" + std::string(value));
    return true;
  };
  ASSERT_TRUE(store->Scan("ordered", "a", "", collect).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a1=a1", "a3=a3", "a5=a5"}));
  seen.clear();
  ASSERT_TRUE(store->Scan("ordered", "a", "a2", collect).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a3=a3", "a5=a5"}));
  int visited = 0;
  ASSERT_TRUE(store->Scan("ordered", "a", "", [&](auto, auto) { return ++visited < 2; }).ok());
  EXPECT_EQ(visited, 2) << "the scan went on after the visitor stopped it";

  // A batch that adds a2 and a9, rewrites a3 and deletes a5 sees its own state.
  OverlayView view(store.get());
  view.Put("ordered", "a2", "new");
  view.Put("ordered", "a3", "changed");
  view.Delete("ordered", "a5");
  view.Put("ordered", "a9", "new");
  view.Put("ordered", "b2", "other prefix");
  seen.clear();
  ASSERT_TRUE(view.Scan("ordered", "a", "", collect).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a1=a1", "a2=new", "a3=changed", "a9=new"}));
  seen.clear();
  ASSERT_TRUE(view.Scan("ordered", "a", "a3", collect).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a3=changed", "a9=new"}));
  // Point-lookup families scan in key order too.
  rocksdb::WriteBatch hashed;
  for (const char* k : {"k3", "k1", "k2"}) hashed.Put(store->cf("by_key"), k, k);
  ASSERT_TRUE(store->Write(&hashed).ok());
  seen.clear();
  ASSERT_TRUE(store->Scan("by_key", "k", "", collect).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"k1=k1", "k2=k2", "k3=k3"}));
}

TEST(TimedKeyTest, RoundTripsAndSortsByTimeWithinAPartition) {
  const absl::Time t = absl::FromUnixMicros(1741173000123456);
  const TimedKey key{7, t, "wa:410000000000222:4915112345678"};
  auto back = TimedKey::Decode(key.Encode());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->partition, 7);
  EXPECT_EQ(back->at, t);
  EXPECT_EQ(back->id, key.id);
  EXPECT_LT(TimedKey({7, t, "z"}).Encode(), TimedKey({7, t + absl::Microseconds(1), "a"}).Encode());
  EXPECT_LT(TimedKey({6, t + absl::Hours(1), "a"}).Encode(), TimedKey({7, t, "a"}).Encode());
  EXPECT_FALSE(TimedKey::Decode("short").has_value());
}

}  // namespace
}  // namespace earshot::store
