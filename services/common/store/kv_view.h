#pragma once
// KvView: the key-value seam between a service's logic and its RocksDB state. The logic reads
// and writes through it and one batch's writes commit in one atomic RocksDB write, with the
// offsets they move; tests use an in-memory map (memory_view.h). Column families are named.
//
// OverlayView (router, SLA monitor): the batch's writes in a hash map that reads consult before
// RocksDB, committed as one WriteBatch holding each key's last value, in key order. A key written
// many times in a batch (a busy thread, the partition's state) reaches the memtable once, and
// sorted keys go into a skip-list memtable each beside the one before (bench/README.md; column
// families read by key only have hash memtables instead, store.h).
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/status.h"
#include "services/common/store/store.h"

namespace earshot::store {

class KvView {
 public:
  virtual ~KvView() = default;
  virtual std::optional<std::string> Get(std::string_view cf, std::string_view key) = 0;
  virtual void Put(std::string_view cf, std::string_view key, std::string_view value) = 0;
  virtual void Delete(std::string_view cf, std::string_view key) = 0;
  // Store::Scan as the view sees it: the keys of `cf` under `prefix`, from `from` on, in order.
  // The visitor must not write to the view.
  virtual absl::Status Scan(std::string_view cf, std::string_view prefix, std::string_view from,
                            Store::Visit visit) = 0;
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
  // Its own writes merged in: a key it wrote shows its new value, one it deleted is skipped.
  absl::Status Scan(std::string_view cf, std::string_view prefix, std::string_view from,
                    Store::Visit visit) override;
  // Writes the batch in one RocksDB write (none when it wrote nothing); the first read error
  // instead, if there was one.
  absl::Status Commit();
  const absl::Status& error() const { return error_; }
  // Every write of the batch: "cf\0key" and the value, nullopt for a delete.
  const std::unordered_map<std::string, std::optional<std::string>>& writes() const {
    return writes_;
  }

 private:
  static std::string Key(std::string_view cf, std::string_view key);

  Store* store_;
  // "cf\0key" -> last value (nullopt: deleted).
  std::unordered_map<std::string, std::optional<std::string>> writes_;
  absl::Status error_;
};

}  // namespace earshot::store
