#pragma once
// RouterCore: what the router does with one consumed event, against a key-value view of its
// state: drop redeliveries, apply the event to its thread, maintain the indexes and the
// partition's offset and counts, and build the RoutedEvent. No I/O of its own; the Kafka loop
// (RouterApp) gives it a view backed by a RocksDB write batch, tests an in-memory map. Stateless:
// the router's lanes call it concurrently, each on partitions of its own.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "earshot/v1/event.pb.h"
#include "earshot/v1/routing.pb.h"
#include "services/common/store/kv_view.h"
#include "services/common/store/partition_states.h"
#include "services/common/store/store.h"
#include "services/router/rules.h"
#include "services/router/thread_state.h"

namespace earshot::router {

// Column families; every key starts with the 4-byte big-endian input partition so a
// partition's state is one key range. `thread_refs` lists, per thread, the dedup and messages
// keys its events wrote, so erasing or expiring the thread deletes them too.
enum class Cf { kDedup, kThreads, kMessages, kQueueIndex, kPartitions, kRefs };
const char* CfName(Cf cf);
// The router's column families, `dedup` with the given compaction filter. All but the queue
// index, which ListThreads scans, are read by key only (store::ColumnFamily::point_lookups).
std::vector<store::ColumnFamily> ColumnFamilies(
    std::shared_ptr<rocksdb::CompactionFilterFactory> dedup_filter);

using StateView = store::KvView;

// The router's partition records (next offset, thread counts by status), kept for a batch and
// written once at its end (Flush before the batch commits).
class PartitionStates : public store::PartitionStates<earshot::v1::RouterPartitionState> {
 public:
  PartitionStates()
      : store::PartitionStates<earshot::v1::RouterPartitionState>(CfName(Cf::kPartitions)) {}
};

struct RouterOptions {
  absl::Duration dedup_window = absl::Hours(24 * 7);  // the longest platform retry horizon
  ThreadLimits limits;
  // A thread with no event for this long is deleted (Expire); zero: never.
  absl::Duration thread_ttl = absl::Hours(24 * 90);
  int expire_max = 1000;  // threads looked at per partition and Expire call
};

struct ApplyResult {
  bool duplicate = false;
  bool erased = false;  // an erase control event that removed a customer's data
  std::optional<earshot::v1::RoutedEvent> routed;
  earshot::v1::ThreadStatus old_status = earshot::v1::THREAD_STATUS_UNSPECIFIED;
};

class RouterCore {
 public:
  explicit RouterCore(RouterOptions options) : options_(options) {}

  // Applies one event consumed at `offset` of `partition`; the partition's record moves in
  // `partitions`, which the caller flushes into `view` before committing it.
  ApplyResult Apply(int32_t partition, int64_t offset, const earshot::v1::Event& event,
                    const RuleSet& rules, StateView& view, PartitionStates& partitions) const;

  // Deletes the partition's threads that received no event since `now` - thread_ttl (at most
  // expire_max a call; the next call goes on), exactly as an erase: the thread and the keys it
  // holds. Returns the routed erase of each, for the SLA monitor to drop its clock.
  std::vector<earshot::v1::RoutedEvent> Expire(int32_t partition, absl::Time now, StateView& view,
                                               PartitionStates& partitions) const;

  const RouterOptions& options() const { return options_; }

 private:
  RouterOptions options_;
};

// Whether an event is the erase control action (on the input, or the router's routed output).
bool IsErase(const earshot::v1::Event& event);

// Key helpers, shared with the gRPC Threads service and tests.
using store::PartitionPrefix;
std::string PartitionKey(int32_t partition, std::string_view key);
// Queue index: partition, queue, status, sort time, thread key; one entry per thread, under
// its queue ("" while it has none). ListThreads over every queue reads each queue's range, and
// the expiry its ranges' oldest entries.
std::string QueueIndexPrefix(int32_t partition, std::string_view queue,
                             earshot::v1::ThreadStatus status);
std::string QueueIndexKey(int32_t partition, std::string_view queue,
                          earshot::v1::ThreadStatus status, absl::Time sort_time,
                          std::string_view thread_key);
// A queue-index key taken apart: QueueIndexPrefix, then the sort time and thread key
// (store::TimedKey's suffix, also the listing's order key). nullopt: not such a key.
struct QueueIndexEntry {
  int32_t partition = 0;
  std::string queue;
  earshot::v1::ThreadStatus status = earshot::v1::THREAD_STATUS_UNSPECIFIED;
  absl::Time sort_time;
  std::string thread_key;
  static std::optional<QueueIndexEntry> Decode(std::string_view key);
};
// The time a thread sorts by in listings: its oldest unanswered message while it waits, else
// its last update.
absl::Time ThreadSortTime(const earshot::v1::Thread& thread);
// Dedup values hold the expiry time; RocksDB drops expired keys during compaction.
bool DedupExpired(std::string_view value, absl::Time now);

// Data folders of earlier versions give every thread a second queue-index entry, under ""
// for "all queues". Removes those of threads that have a queue from a store written before, so
// a listing of every queue shows each thread once; a no-op once done (a marker in the default
// column family says so). Run at start, before consuming.
absl::Status UpgradeQueueIndex(store::Store& store);

}  // namespace earshot::router
