#pragma once
// StoreMetrics: the RocksDB figures an operator watches (StoreStats), exported as
// earshot_<service>_rocksdb_* gauges. Built once by a service's App; Update() from the thread
// that refreshes its metrics.
#include <string_view>

#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "services/common/store/store.h"

namespace earshot::store {

class StoreMetrics {
 public:
  // `service`: "router", "sla".
  StoreMetrics(prometheus::Registry& registry, std::string_view service);
  void Update(const StoreStats& stats);

 private:
  prometheus::Gauge* sst_bytes_;
  prometheus::Gauge* pending_compaction_;
  prometheus::Gauge* cache_hit_ratio_;
  prometheus::Gauge* cache_usage_;
  prometheus::Gauge* memtable_;
  prometheus::Gauge* stall_;
  prometheus::Gauge* disk_free_;
  prometheus::Gauge* disk_size_;
};

}  // namespace earshot::store
