#include "services/common/store/store.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/memtablerep.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "services/common/base/log.h"

namespace earshot::store {

absl::Status FromRocks(const rocksdb::Status& status, std::string_view context) {
  if (status.ok()) return absl::OkStatus();
  const std::string msg = fmt::format("{}: {}", context, status.ToString());
  if (status.IsIOError() || status.IsBusy() || status.IsTryAgain() || status.IsTimedOut() ||
      status.IsIncomplete()) {
    return absl::UnavailableError(msg);
  }
  if (status.IsCorruption()) return absl::DataLossError(msg);
  if (status.IsNotFound()) return absl::NotFoundError(msg);
  if (status.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  return absl::InternalError(msg);
}

namespace {

constexpr char kCorruptMarker[] = "EARSHOT_CORRUPT";

// Renames a corrupt store out of the way, keeping it for inspection.
absl::Status MoveAside(const std::string& path, const std::string& why) {
  const std::string aside =
      path + ".corrupt-" + absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone());
  std::error_code ec;
  std::filesystem::rename(path, aside, ec);
  if (ec) {
    return absl::DataLossError(
        fmt::format("state store {} is corrupt ({}) and cannot be moved "
                    "aside to {}: {}",
                    path, why, aside, ec.message()));
  }
  log::Error("store", "state store corrupt: moved aside, rebuilding it from the changelog",
             {{"path", path}, {"moved_to", aside}, {"error", why}});
  return absl::OkStatus();
}

}  // namespace

void Store::MarkCorrupt(const absl::Status& why) {
  std::ofstream out(options_.path + "/" + kCorruptMarker, std::ios::trunc);
  out << why.ToString() << "\n";
  log::Error("store", "state store marked corrupt; it is rebuilt at the next start",
             {{"path", options_.path}, {"error", why.ToString()}});
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(StoreOptions options) {
  if (options.rebuild_if_corrupt) {
    const std::string marker = options.path + "/" + kCorruptMarker;
    std::ifstream in(marker);
    if (in) {
      std::string why((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (auto st = MoveAside(options.path, why.empty() ? "marked corrupt" : why); !st.ok()) {
        return st;
      }
    }
  }
  auto opened = OpenOnce(options);
  if (opened.ok() || !options.rebuild_if_corrupt || !absl::IsDataLoss(opened.status())) {
    return opened;
  }
  if (auto st = MoveAside(options.path, std::string(opened.status().message())); !st.ok()) {
    return st;
  }
  return OpenOnce(std::move(options));
}

absl::StatusOr<std::unique_ptr<Store>> Store::OpenOnce(StoreOptions options) {
  std::unique_ptr<Store> s(new Store());
  s->options_ = std::move(options);
  s->statistics_ = rocksdb::CreateDBStatistics();
  // Counters only (Stats() reads nothing else): with timers every Get and Write would also read
  // the clock for latency histograms nobody reads.
  s->statistics_->set_stats_level(rocksdb::StatsLevel::kExceptTimers);
  // Index and filter blocks (high priority, below) may take up to 90% of the cache before data
  // blocks push them out. Once the state outgrows the cache, a data block is rarely read twice
  // while its index and filter partitions are read by every lookup of their key range: with
  // the default half, 1M router threads missed 0.55 index and filter blocks an event, with 90%
  // 0.07 (router_bench --parts=cost, 1M threads). A small database's data blocks still fill
  // whatever its index and filters leave.
  rocksdb::LRUCacheOptions cache_options;
  cache_options.capacity = s->options_.block_cache_bytes;
  cache_options.high_pri_pool_ratio = 0.9;
  s->cache_ = rocksdb::NewLRUCache(cache_options);

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.statistics = s->statistics_;
  db_options.max_open_files = s->options_.max_open_files;
  db_options.max_background_jobs = 2;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.keep_log_file_num = 2;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = s->cache_;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.cache_index_and_filter_blocks = true;  // memory bounded by the cache, not by data size
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  // Index and filters in 4 KiB partitions behind a small pinned top level: a lookup loads the
  // partitions it needs, not a file's whole index and filter (about 1 MiB each per million
  // keys). Without this, once the data's indexes and filters outgrow the block cache, every
  // lookup reloads and decompresses them: 1,520 CPU-us an event against 95 at 1M threads with
  // an 8 MiB cache (bench/README.md, RocksDB settings).
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = 4096;
  table.pin_top_level_index_and_filter = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  rocksdb::ColumnFamilyOptions base;
  base.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  base.write_buffer_size = s->options_.write_buffer_bytes;
  base.max_write_buffer_number = 3;
  // LZ4 on every level, the last included: once the state outgrows the block cache most reads
  // decompress a block of the last level, and ZSTD's decompression made a router event with 1M
  // threads stored cost 85 CPU-us against 54 with LZ4; the files are ~30% larger
  // (bench/README.md, RocksDB settings).
  base.compression = rocksdb::kLZ4Compression;
  base.bottommost_compression = rocksdb::kLZ4Compression;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, base);
  for (const auto& cf : s->options_.column_families) {
    rocksdb::ColumnFamilyOptions o = base;
    o.compaction_filter_factory = cf.compaction_filter;
    if (cf.point_lookups) {
      // A bucket per key hash (the whole key is the "prefix"), about one per entry a full
      // memtable holds at ~128 bytes an entry: 8 bytes of buckets per 128 of write buffer. Flushes
      // sort the memtable once instead of every write keeping it sorted.
      o.prefix_extractor.reset(rocksdb::NewNoopTransform());
      o.memtable_factory.reset(rocksdb::NewHashLinkListRepFactory(
          std::max<size_t>(1024, s->options_.write_buffer_bytes / 128)));
      // Only skip-list memtables take concurrent inserts.
      db_options.allow_concurrent_memtable_write = false;
    }
    descriptors.emplace_back(cf.name, o);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status st = rocksdb::DB::Open(db_options, s->options_.path, descriptors, &handles, &raw);
  if (!st.ok()) return FromRocks(st, "open RocksDB at " + s->options_.path);
  s->db_.reset(raw);
  for (size_t i = 0; i < handles.size(); ++i) {
    s->handles_[descriptors[i].name] = handles[i];
    s->owned_handles_.push_back(handles[i]);
  }
  s->write_options_.sync = s->options_.sync_writes;
  log::Info("store", "RocksDB open", {{"path", s->options_.path}});
  return s;
}

Store::~Store() {
  if (!db_) return;
  db_->FlushWAL(true);
  for (auto* h : owned_handles_) db_->DestroyColumnFamilyHandle(h);
  db_->Close();
}

rocksdb::ColumnFamilyHandle* Store::cf(std::string_view name) const {
  auto it = handles_.find(name);
  if (it == handles_.end()) {
    log::Error("store", "unknown column family", {{"name", name}});
    std::abort();
  }
  return it->second;
}

absl::StatusOr<std::optional<std::string>> Store::Get(std::string_view cf_name,
                                                      std::string_view key) {
  std::string value;
  rocksdb::Status st =
      db_->Get(rocksdb::ReadOptions(), cf(cf_name), rocksdb::Slice(key.data(), key.size()), &value);
  if (st.IsNotFound()) return std::optional<std::string>();
  if (!st.ok()) return FromRocks(st, "get");
  return std::optional<std::string>(std::move(value));
}

absl::Status Store::Scan(std::string_view cf_name, std::string_view prefix, std::string_view from,
                         Visit visit) {
  rocksdb::ReadOptions read;
  read.total_order_seek = true;  // point-lookup families have whole-key prefixes
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf(cf_name)));
  const std::string_view start = from.empty() ? prefix : from;
  for (it->Seek(rocksdb::Slice(start.data(), start.size())); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    if (!key.starts_with(prefix)) break;
    if (!visit(key, std::string_view(it->value().data(), it->value().size()))) break;
  }
  return FromRocks(it->status(), "scan");
}

absl::Status Store::Write(rocksdb::WriteBatch* batch) {
  return FromRocks(db_->Write(write_options_, batch), "write");
}

absl::Status Store::DeleteRange(std::string_view cf_name, std::string_view begin,
                                std::string_view end) {
  return FromRocks(
      db_->DeleteRange(write_options_, cf(cf_name), rocksdb::Slice(begin.data(), begin.size()),
                       rocksdb::Slice(end.data(), end.size())),
      "delete range");
}

StoreStats Store::Stats() {
  StoreStats s;
  uint64_t v = 0;
  for (auto* h : owned_handles_) {
    if (db_->GetIntProperty(h, "rocksdb.total-sst-files-size", &v)) s.sst_bytes += v;
    if (db_->GetIntProperty(h, "rocksdb.estimate-pending-compaction-bytes", &v)) {
      s.pending_compaction_bytes += v;
    }
    if (db_->GetIntProperty(h, "rocksdb.estimate-num-keys", &v)) s.estimated_keys += v;
    if (db_->GetIntProperty(h, "rocksdb.cur-size-all-mem-tables", &v)) s.memtable_bytes += v;
  }
  s.block_cache_hits = statistics_->getTickerCount(rocksdb::BLOCK_CACHE_HIT);
  s.block_cache_misses = statistics_->getTickerCount(rocksdb::BLOCK_CACHE_MISS);
  s.write_stall_micros = statistics_->getTickerCount(rocksdb::STALL_MICROS);
  s.block_cache_usage_bytes = cache_->GetUsage();
  struct statvfs fs {};
  if (statvfs(options_.path.c_str(), &fs) == 0) {
    s.disk_free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    s.disk_size_bytes = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize;
  }
  return s;
}

void AppendBigEndian32(uint32_t v, std::string* out) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string PartitionPrefix(int32_t partition) {
  std::string out;
  AppendBigEndian32(static_cast<uint32_t>(partition), &out);
  return out;
}

void AppendBigEndian64(uint64_t v, std::string* out) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string TimedKey::EncodeSuffix() const {
  std::string out;
  out.reserve(8 + id.size());
  AppendBigEndian64(static_cast<uint64_t>(absl::ToUnixMicros(at)), &out);
  out.append(id);
  return out;
}

std::string TimedKey::Encode() const { return PartitionPrefix(partition) + EncodeSuffix(); }

std::optional<TimedKey> TimedKey::DecodeSuffix(std::string_view suffix) {
  if (suffix.size() < 8) return std::nullopt;
  TimedKey k;
  k.at = absl::FromUnixMicros(static_cast<int64_t>(ReadBigEndian64(suffix.substr(0, 8))));
  k.id = std::string(suffix.substr(8));
  return k;
}

std::optional<TimedKey> TimedKey::Decode(std::string_view key) {
  if (key.size() < 4) return std::nullopt;
  auto k = DecodeSuffix(key.substr(4));
  if (k) k->partition = static_cast<int32_t>(ReadBigEndian32(key.substr(0, 4)));
  return k;
}

uint32_t ReadBigEndian32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4 && i < static_cast<int>(in.size()); ++i) {
    v = (v << 8) | static_cast<unsigned char>(in[i]);
  }
  return v;
}

uint64_t ReadBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8 && i < static_cast<int>(in.size()); ++i) {
    v = (v << 8) | static_cast<unsigned char>(in[i]);
  }
  return v;
}

}  // namespace earshot::store
