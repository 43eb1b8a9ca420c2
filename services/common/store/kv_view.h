#pragma once
// KvView: the key-value seam between a service's logic and its RocksDB state. The logic reads
// and writes through it; BatchView (production) collects the writes of one batch in a
// WriteBatchWithIndex whose reads see them, so state and offsets commit in one atomic write;
// tests use an in-memory map. Column families are named.
#include <optional>
#include <string>
#include <string_view>

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

}  // namespace earshot::store
