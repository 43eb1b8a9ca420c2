#pragma once
// KvView: the key-value seam between a service's logic and its RocksDB state. The logic reads
// and writes through it and one batch's writes commit in one atomic RocksDB write, with the
// offsets they move; tests use an in-memory map. Column families are named.
//   OverlayView (router): the batch's writes in a hash map that reads consult before RocksDB,
//     committed as one WriteBatch holding each key's last value: a key written many times in a
//     batch (a busy thread, the partition's state) reaches the memtable once.
//   BatchView (SLA monitor): the writes in a WriteBatchWithIndex, every write kept.
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/status.h"
#include "rocksdb/utilities/write_batch_with_index.h"
#include "services/common/store/store.h"

namespace earshot::store {

class KvView {
 public:
  virtual ~KvView() = default;
  virtual std::optional<std::string> Get(std::string_view cf, std::string_view key) = 0;
  virtual void Put(std::string_view cf, std::string_view key, std::string_view value) = 0;
  virtual void Delete(std::string_view cf, std::string_view key) = 0;
};

class BatchView final : public KvView {
 public:
  BatchView(Store* store, rocksdb::WriteBatchWithIndex* batch) : store_(store), batch_(batch) {}

  std::optional<std::string> Get(std::string_view cf, std::string_view key) override {
    std::string value;
    rocksdb::Status st = batch_->GetFromBatchAndDB(store_->db(), rocksdb::ReadOptions(),
                                                   store_->cf(cf), Slice(key), &value);
    if (!st.ok()) {
      if (!st.IsNotFound() && error_.ok()) error_ = FromRocks(st, "read state");
      return std::nullopt;
    }
    return value;
  }
  void Put(std::string_view cf, std::string_view key, std::string_view value) override {
    batch_->Put(store_->cf(cf), Slice(key), Slice(value));
  }
  void Delete(std::string_view cf, std::string_view key) override {
    batch_->Delete(store_->cf(cf), Slice(key));
  }
  // The first read error of the batch; the batch must then not be committed.
  const absl::Status& error() const { return error_; }

 private:
  static rocksdb::Slice Slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
  Store* store_;
  rocksdb::WriteBatchWithIndex* batch_;
  absl::Status error_;
};

class OverlayView final : public KvView {
 public:
  explicit OverlayView(Store* store) : store_(store) {}

  std::optional<std::string> Get(std::string_view cf, std::string_view key) override;
  void Put(std::string_view cf, std::string_view key, std::string_view value) override {
    writes_[Key(cf, key)] = std::string(value);
  }
  void Delete(std::string_view cf, std::string_view key) override {
    writes_[Key(cf, key)] = std::nullopt;
  }

  // The batch's value of a key it wrote: the value, nullopt when deleted or not written.
  std::optional<std::string> Written(std::string_view cf, std::string_view key) const;
  // Writes the batch in one RocksDB write; the first read error instead, if there was one.
  absl::Status Commit();
  const absl::Status& error() const { return error_; }

 private:
  static std::string Key(std::string_view cf, std::string_view key);

  Store* store_;
  // "cf\0key" -> last value (nullopt: deleted).
  std::unordered_map<std::string, std::optional<std::string>> writes_;
  absl::Status error_;
};

}  // namespace earshot::store
