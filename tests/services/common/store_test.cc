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
      store->db()->NewIterator(rocksdb::ReadOptions(), store->cf("ordered")));
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

}  // namespace
}  // namespace earshot::store
