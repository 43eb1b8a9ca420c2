#pragma once
// SlaCore: the SLA monitor's logic against a key-value view of its state. For each routed event
// it opens, moves or closes the thread's clock; Fire() raises the levels that are due. Clocks
// live in RocksDB, ordered by their next firing time (the `timers` column family), so millions
// of waiting conversations cost disk, not memory; the app keeps only the near future in memory.
// No I/O, no wall clock: `now` is passed in (simulated time in tests). One thread calls it.
//
// Column families (every key starts with the 4-byte input partition):
//   clocks   thread_key                       -> SlaClock
//   timers   next fire time (µs, BE), thread_key -> ""
//   waits    wait start (µs, BE), thread_key  -> ""     (the oldest wait, for its age metric)
//   firing   alert_id                         -> Alert  (firing now; re-sent, then resolved)
//   partitions                                -> SlaPartitionState (offset, waiting counts)
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/time/time.h"
#include "earshot/v1/alert.pb.h"
#include "earshot/v1/routing.pb.h"
#include "services/common/store/kv_view.h"
#include "services/common/store/partition_states.h"
#include "services/common/store/store.h"
#include "services/sla/policy.h"

namespace earshot::sla {

inline constexpr char kClocks[] = "clocks";
inline constexpr char kTimers[] = "timers";
inline constexpr char kWaits[] = "waits";
inline constexpr char kFiring[] = "firing";
inline constexpr char kPartitions[] = "partitions";

// The monitor's column families: clocks and partitions are read by key only
// (store::ColumnFamily::point_lookups); timers, waits and firing are scanned in order.
std::vector<store::ColumnFamily> ColumnFamilies();

struct Answered {
  std::string queue;
  bool first_response = false;
  absl::Duration waited;
  bool within_target = false;
};

struct Outcome {
  std::vector<earshot::v1::Alert> alerts;  // to publish, in order
  std::vector<Answered> answered;          // for the response-time metrics
  // Clocks whose next firing time changed: (time, partition, thread_key); the app keeps the
  // near ones in memory.
  std::vector<std::tuple<absl::Time, int32_t, std::string>> scheduled;
  // For each level raised: how late it fired after its due time.
  std::vector<absl::Duration> delays;
};

// The SLA monitor's partition records (next offset, waiting counts), kept for a batch.
class PartitionStates : public store::PartitionStates<earshot::v1::SlaPartitionState> {
 public:
  PartitionStates() : store::PartitionStates<earshot::v1::SlaPartitionState>(kPartitions) {}
};

class SlaCore {
 public:
  // Applies one routed event (consumed at `offset` of `partition`) at time `now`. The
  // partition's record (offset, waiting counts) moves in `partitions`, which the caller flushes
  // into `view` before committing it, as RouterCore::Apply.
  void Apply(int32_t partition, int64_t offset, const earshot::v1::RoutedEvent& routed,
             const PolicySet& policies, absl::Time now, store::KvView& view, Outcome* out,
             PartitionStates& partitions) const;
  // Raises the levels of the thread's clock that are due at `now`. Nothing happens when the
  // clock has closed or moved since it was scheduled, or the level already fired.
  void Fire(int32_t partition, std::string_view thread_key, absl::Time now, store::KvView& view,
            Outcome* out) const;
};

using store::PartitionPrefix;
std::string TimerKey(int32_t partition, absl::Time at, std::string_view thread_key);
// The alert for one level of a clock, firing at `now`.
earshot::v1::Alert MakeAlert(const earshot::v1::SlaClock& clock, earshot::v1::AlertLevel level,
                             absl::Time now);
const char* AlertName(earshot::v1::AlertLevel level);

// The key of SlaPartitionState.waiting: "<queue>|<platform enum>|<priority enum>".
struct WaitingKey {
  std::string queue;
  earshot::v1::Platform platform = earshot::v1::PLATFORM_UNSPECIFIED;
  earshot::v1::Priority priority = earshot::v1::PRIORITY_UNSPECIFIED;

  std::string Encode() const;
  static WaitingKey Decode(std::string_view key);
};

}  // namespace earshot::sla
