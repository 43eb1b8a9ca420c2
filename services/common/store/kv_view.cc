#include "services/common/store/kv_view.h"

#include <algorithm>
#include <vector>

#include "rocksdb/write_batch.h"

namespace earshot::store {

std::string OverlayView::Key(std::string_view cf, std::string_view key) {
  std::string k;
  k.reserve(cf.size() + 1 + key.size());
  k.append(cf);
  k.push_back('\0');
  k.append(key);
  return k;
}

std::optional<std::string> OverlayView::Get(std::string_view cf, std::string_view key) {
  if (auto it = writes_.find(Key(cf, key)); it != writes_.end()) return it->second;
  std::string value;
  rocksdb::Status st = store_->db()->Get(rocksdb::ReadOptions(), store_->cf(cf),
                                         rocksdb::Slice(key.data(), key.size()), &value);
  if (st.ok()) return value;
  if (!st.IsNotFound() && error_.ok()) error_ = FromRocks(st, "read state");
  return std::nullopt;
}

std::optional<std::string> OverlayView::Written(std::string_view cf, std::string_view key) const {
  if (auto it = writes_.find(Key(cf, key)); it != writes_.end()) return it->second;
  return std::nullopt;
}

absl::Status OverlayView::Scan(std::string_view cf, std::string_view prefix, std::string_view from,
                               Store::Visit visit) {
  // The batch's writes under the prefix, in order (the map is unordered; a batch is small).
  const std::string head = Key(cf, prefix);
  const std::string start = Key(cf, from.empty() ? prefix : from);
  std::vector<std::pair<std::string_view, const std::optional<std::string>*>> mine;
  for (const auto& [k, v] : writes_) {
    if (k.starts_with(head) && k >= start) {
      mine.emplace_back(std::string_view(k).substr(cf.size() + 1), &v);
    }
  }
  std::sort(mine.begin(), mine.end());
  size_t next = 0;
  bool go = true;
  // Hands out the batch's own keys that sort before `key` (all of them when key is nullopt);
  // false once the visitor stopped.
  auto own_before = [&](std::optional<std::string_view> key) {
    for (; go && next < mine.size() && (!key || mine[next].first < *key); ++next) {
      if (*mine[next].second) go = visit(mine[next].first, **mine[next].second);
    }
    return go;
  };
  absl::Status st = store_->Scan(cf, prefix, from, [&](std::string_view key, std::string_view v) {
    if (!own_before(key)) return false;
    if (next < mine.size() && mine[next].first == key) {  // the batch's value replaces it
      const auto* mine_v = mine[next++].second;
      if (*mine_v) go = visit(key, **mine_v);
      return go;
    }
    go = visit(key, v);
    return go;
  });
  if (!st.ok()) {
    if (error_.ok()) error_ = st;  // fails the batch, as a failed Get does
    return st;
  }
  own_before(std::nullopt);
  return absl::OkStatus();
}

absl::Status OverlayView::Commit() {
  if (!error_.ok()) return error_;
  if (writes_.empty()) return absl::OkStatus();  // nothing to write: no RocksDB write at all
  // In key order: RocksDB inserts each key next to the one before it in the memtable's skip
  // list, instead of searching from the top for every key.
  std::vector<const std::pair<const std::string, std::optional<std::string>>*> sorted;
  sorted.reserve(writes_.size());
  for (const auto& w : writes_) sorted.push_back(&w);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  rocksdb::WriteBatch batch;
  for (const auto* w : sorted) {
    const auto& [k, v] = *w;
    const auto sep = k.find('\0');
    rocksdb::ColumnFamilyHandle* cf = store_->cf(std::string_view(k).substr(0, sep));
    const rocksdb::Slice key(k.data() + sep + 1, k.size() - sep - 1);
    if (v) {
      batch.Put(cf, key, *v);
    } else {
      batch.Delete(cf, key);
    }
  }
  return store_->Write(&batch);
}

}  // namespace earshot::store
