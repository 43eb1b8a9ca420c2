#pragma once
// The process's memory as the kernel and the allocator see it, set before each scrape:
//   process_resident_memory_bytes       VmRSS (the name every Prometheus client library uses)
//   earshot_heap_allocated_bytes        bytes the program holds (RocksDB's caches included)
//   earshot_heap_free_bytes{cache}      freed memory tcmalloc keeps for reuse, counted in VmRSS:
//                                       page_heap (whole pages), central, transfer, thread
//   earshot_heap_released_bytes_total   free pages handed back to the kernel (ReleaseFreeHeap)
// A leak grows the allocated bytes. The free bytes rise after a peak of allocations; the page
// heap's share goes back to the kernel when ReleaseFreeHeap runs (memory.release_interval),
// as Envoy's memory allocator manager does, instead of being counted in VmRSS for good.
// The heap figures come from tcmalloc, which the earshot binary runs on; without it (the tests)
// or under a sanitizer, whose allocator replaces it, they are absent.
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EARSHOT_SANITIZED_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define EARSHOT_SANITIZED_ALLOCATOR 1
#endif
#endif

namespace earshot {

class ProcessMetrics {
 public:
  explicit ProcessMetrics(prometheus::Registry& registry);
  // Reads /proc/self/statm and the allocator's figures; the admin server calls it per scrape.
  void Refresh();
  // Hands tcmalloc's free pages back to the kernel; returns how many bytes (0 without tcmalloc).
  double ReleaseFreeHeap();

 private:
  prometheus::Gauge* resident_;
  prometheus::Gauge* allocated_ = nullptr;
  prometheus::Gauge* page_heap_ = nullptr;
  prometheus::Gauge* central_ = nullptr;
  prometheus::Gauge* transfer_ = nullptr;
  prometheus::Gauge* thread_ = nullptr;
  prometheus::Counter* released_ = nullptr;
};

}  // namespace earshot
