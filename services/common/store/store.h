#pragma once
// Store: a RocksDB database with named column families, opened once per service and owned by
// its App. rocksdb::Status becomes absl::Status here and nowhere else. Thread-safe as RocksDB is.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rocksdb/compaction_filter.h"
#include "rocksdb/db.h"
#include "rocksdb/statistics.h"
#include "rocksdb/write_batch.h"

namespace earshot::store {

// IO errors and "busy" are Unavailable (retryable); corruption is DataLoss; the rest Internal.
absl::Status FromRocks(const rocksdb::Status& status, std::string_view context);

struct ColumnFamily {
  std::string name;
  // Optional, e.g. to drop expired deduplication keys during compaction.
  std::shared_ptr<rocksdb::CompactionFilterFactory> compaction_filter;
  // Read by key only (Get and Put), never iterated: its memtable is then a hash table of keys
  // (RocksDB's hash-linked-list memtable) instead of a skip list, so a Get or Put finds its key
  // without descending a skip list of every key written since the last flush. Such a family
  // cannot be scanned in key order (RocksDB's prefix seek, with the whole key as the prefix).
  bool point_lookups = false;
};

struct StoreOptions {
  std::string path;
  std::vector<ColumnFamily> column_families;
  std::size_t block_cache_bytes = 64 << 20;
  std::size_t write_buffer_bytes = 32 << 20;  // per column family
  int max_open_files = 512;
  bool sync_writes = false;  // the WAL survives a process crash either way
  // A store RocksDB finds corrupt at open, or that MarkCorrupt() marked, is renamed to
  // "<path>.corrupt-<UTC time>" and an empty one opened in its place, for an owner that
  // rebuilds its state from elsewhere (the changelog). Otherwise such an open fails.
  bool rebuild_if_corrupt = false;
};

// The RocksDB figures an operator watches.
struct StoreStats {
  uint64_t sst_bytes = 0;
  uint64_t pending_compaction_bytes = 0;
  uint64_t block_cache_hits = 0;
  uint64_t block_cache_misses = 0;
  uint64_t write_stall_micros = 0;
  uint64_t estimated_keys = 0;
  uint64_t memtable_bytes = 0;
  uint64_t block_cache_usage_bytes = 0;
  // The filesystem holding the store: what an unprivileged process may still write, and all.
  uint64_t disk_free_bytes = 0;
  uint64_t disk_size_bytes = 0;
};

class Store {
 public:
  static absl::StatusOr<std::unique_ptr<Store>> Open(StoreOptions options);
  ~Store();

  // The handle of a column family named at Open (aborts on a name that was not).
  rocksdb::ColumnFamilyHandle* cf(std::string_view name) const;

  absl::StatusOr<std::optional<std::string>> Get(std::string_view cf_name, std::string_view key);
  // Visits the keys of a family that start with `prefix`, in key order, from the first at or
  // after `from` (empty: the prefix's first); `visit` returns false to stop. The scan's own
  // error (an unreadable file) is the result: a scan that ended early never looks complete.
  // Point-lookup families (ColumnFamily::point_lookups) are scanned in total order too.
  using Visit = absl::FunctionRef<bool(std::string_view key, std::string_view value)>;
  absl::Status Scan(std::string_view cf_name, std::string_view prefix, std::string_view from,
                    Visit visit);
  absl::Status Write(rocksdb::WriteBatch* batch);
  // Removes every key in [begin, end) of a column family (a partition's range).
  absl::Status DeleteRange(std::string_view cf_name, std::string_view begin, std::string_view end);
  StoreStats Stats();

  // RocksDB itself, for benchmarks and tests that inspect it (properties, forced compaction,
  // key-by-key comparison). Services go through Get, Scan and Write, which turn every
  // rocksdb::Status into an absl::Status.
  rocksdb::DB* rocksdb_for_tools() { return db_.get(); }
  // The folder the store lives in.
  const std::string& path() const { return options_.path; }
  // Records that the store returned data it cannot use (a checksum failure, a stored value that
  // does not parse): the next Open with rebuild_if_corrupt moves it aside.
  void MarkCorrupt(const absl::Status& why);

 private:
  static absl::StatusOr<std::unique_ptr<Store>> OpenOnce(StoreOptions options);
  friend class OverlayView;  // reads into its own buffers
  rocksdb::DB* db() { return db_.get(); }
  Store() = default;
  StoreOptions options_;
  std::shared_ptr<rocksdb::Statistics> statistics_;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> handles_;
  std::vector<rocksdb::ColumnFamilyHandle*> owned_handles_;
  rocksdb::WriteOptions write_options_;
};

// Big-endian encodings keep numeric order in RocksDB's byte order.
void AppendBigEndian32(uint32_t v, std::string* out);
void AppendBigEndian64(uint64_t v, std::string* out);
uint32_t ReadBigEndian32(std::string_view in);
uint64_t ReadBigEndian64(std::string_view in);
// The 4-byte big-endian input partition every key of a partitioned service's state starts
// with, so that a partition's state is one key range.
std::string PartitionPrefix(int32_t partition);

// A key that sorts by time within a partition: the partition (4 bytes), the time (µs since the
// epoch, 8 bytes, big-endian) and an id (a thread key). The SLA monitor's timers and waits are
// such keys; the router's queue index puts the time-and-id part under a queue.
struct TimedKey {
  int32_t partition = 0;
  absl::Time at;
  std::string id;

  std::string Encode() const;
  // The time and id alone: "time (8 bytes) + id".
  std::string EncodeSuffix() const;
  // nullopt for a key too short to be one.
  static std::optional<TimedKey> Decode(std::string_view key);
  static std::optional<TimedKey> DecodeSuffix(std::string_view suffix);
};

}  // namespace earshot::store
