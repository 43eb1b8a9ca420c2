#pragma once
// VisitRocksDb: every record of every column family of a RocksDB folder, opened read-only (a
// stopped service's state, or a running one's beside it), for tests that look at what a service
// stored. Fails the current test, visiting nothing, when the folder cannot be opened.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "rocksdb/db.h"

namespace earshot::testing {

using RocksDbVisit =
    std::function<void(const std::string& family, std::string_view key, std::string_view value)>;

inline void VisitRocksDb(const std::string& path, const RocksDbVisit& visit) {
  std::vector<std::string> names;
  auto listed = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names);
  EXPECT_TRUE(listed.ok()) << path << ": " << listed.ToString();
  if (!listed.ok()) return;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, families, &handles, &raw);
  EXPECT_TRUE(st.ok()) << path << ": " << st.ToString();
  if (!st.ok()) return;
  std::unique_ptr<rocksdb::DB> db(raw);
  for (size_t i = 0; i < handles.size(); ++i) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      visit(names[i], std::string_view(it->key().data(), it->key().size()),
            std::string_view(it->value().data(), it->value().size()));
    }
    EXPECT_TRUE(it->status().ok()) << path << ": " << it->status().ToString();
    it.reset();
    EXPECT_TRUE(db->DestroyColumnFamilyHandle(handles[i]).ok());
  }
}

}  // namespace earshot::testing
