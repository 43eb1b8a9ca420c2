#include "services/common/store/store_metrics.h"

#include <string>

namespace earshot::store {

StoreMetrics::StoreMetrics(prometheus::Registry& registry, std::string_view service) {
  const std::string prefix = "earshot_" + std::string(service) + "_rocksdb_";
  auto gauge = [&](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(prefix + name).Help(help).Register(registry).Add({});
  };
  sst_bytes_ = gauge("sst_bytes", "Size of RocksDB's SST files");
  pending_compaction_ =
      gauge("pending_compaction_bytes", "Bytes RocksDB estimates compaction still has to rewrite");
  cache_hit_ratio_ =
      gauge("block_cache_hit_ratio", "Block cache hits / (hits + misses) since start");
  cache_usage_ = gauge("block_cache_usage_bytes", "Memory held by the block cache");
  memtable_ = gauge("memtable_bytes", "Memory held by memtables");
  stall_ = gauge("write_stall_seconds", "Time writes were stalled by RocksDB since start");
  disk_free_ = gauge("disk_free_bytes", "Free bytes of the filesystem holding the state folder");
  disk_size_ = gauge("disk_size_bytes", "Size of the filesystem holding the state folder");
}

void StoreMetrics::Update(const StoreStats& s) {
  sst_bytes_->Set(static_cast<double>(s.sst_bytes));
  pending_compaction_->Set(static_cast<double>(s.pending_compaction_bytes));
  const double lookups = static_cast<double>(s.block_cache_hits + s.block_cache_misses);
  cache_hit_ratio_->Set(lookups > 0 ? static_cast<double>(s.block_cache_hits) / lookups : 0);
  cache_usage_->Set(static_cast<double>(s.block_cache_usage_bytes));
  memtable_->Set(static_cast<double>(s.memtable_bytes));
  stall_->Set(static_cast<double>(s.write_stall_micros) / 1e6);
  disk_free_->Set(static_cast<double>(s.disk_free_bytes));
  disk_size_->Set(static_cast<double>(s.disk_size_bytes));
}

}  // namespace earshot::store
