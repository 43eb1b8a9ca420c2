#include "services/common/base/process_metrics.h"

#include <unistd.h>

#include <cstddef>
#include <fstream>

// gperftools' C interface, weak: present when the program links tcmalloc (earshot::malloc).
extern "C" int MallocExtension_GetNumericProperty(const char* property, size_t* value)
    __attribute__((weak));
extern "C" void MallocExtension_ReleaseFreeMemory() __attribute__((weak));

namespace earshot {
namespace {

// A tcmalloc figure in bytes; 0 when it has none.
double Tcmalloc(const char* property) {
  size_t value = 0;
  if (MallocExtension_GetNumericProperty == nullptr ||
      MallocExtension_GetNumericProperty(property, &value) == 0) {
    return 0;
  }
  return static_cast<double>(value);
}

bool OnTcmalloc() {
#ifdef EARSHOT_SANITIZED_ALLOCATOR
  return false;  // the sanitizer's allocator serves malloc; tcmalloc, if loaded, holds nothing
#else
  return MallocExtension_GetNumericProperty != nullptr &&
         MallocExtension_ReleaseFreeMemory != nullptr;
#endif
}

}  // namespace

ProcessMetrics::ProcessMetrics(prometheus::Registry& registry)
    : resident_(&prometheus::BuildGauge()
                     .Name("process_resident_memory_bytes")
                     .Help("Resident memory (VmRSS)")
                     .Register(registry)
                     .Add({})) {
  if (!OnTcmalloc()) return;
  allocated_ =
      &prometheus::BuildGauge()
           .Name("earshot_heap_allocated_bytes")
           .Help("Heap bytes the program holds (tcmalloc's generic.current_allocated_bytes)")
           .Register(registry)
           .Add({});
  auto& free = prometheus::BuildGauge()
                   .Name("earshot_heap_free_bytes")
                   .Help("Freed heap tcmalloc keeps for reuse, by cache")
                   .Register(registry);
  page_heap_ = &free.Add({{"cache", "page_heap"}});
  central_ = &free.Add({{"cache", "central"}});
  transfer_ = &free.Add({{"cache", "transfer"}});
  thread_ = &free.Add({{"cache", "thread"}});
  released_ = &prometheus::BuildCounter()
                   .Name("earshot_heap_released_bytes_total")
                   .Help("Free heap pages handed back to the kernel (memory.release_interval)")
                   .Register(registry)
                   .Add({});
}

void ProcessMetrics::Refresh() {
  long pages_total = 0;
  long pages_resident = 0;
  std::ifstream statm("/proc/self/statm");
  if (statm >> pages_total >> pages_resident) {
    resident_->Set(static_cast<double>(pages_resident) *
                   static_cast<double>(sysconf(_SC_PAGESIZE)));
  }
  if (allocated_ == nullptr) return;
  allocated_->Set(Tcmalloc("generic.current_allocated_bytes"));
  page_heap_->Set(Tcmalloc("tcmalloc.pageheap_free_bytes"));
  central_->Set(Tcmalloc("tcmalloc.central_cache_free_bytes"));
  transfer_->Set(Tcmalloc("tcmalloc.transfer_cache_free_bytes"));
  thread_->Set(Tcmalloc("tcmalloc.current_total_thread_cache_bytes"));
}

double ProcessMetrics::ReleaseFreeHeap() {
  if (released_ == nullptr) return 0;
  const double before = Tcmalloc("tcmalloc.pageheap_unmapped_bytes");
  MallocExtension_ReleaseFreeMemory();
  const double released = Tcmalloc("tcmalloc.pageheap_unmapped_bytes") - before;
  if (released > 0) released_->Increment(released);
  return released > 0 ? released : 0;
}

}  // namespace earshot
