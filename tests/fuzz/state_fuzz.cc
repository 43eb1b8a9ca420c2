// The records the stateful services read from Kafka, applied to their state: events from
// earshot.events.v1 through the router's core (EARSHOT_FUZZ_STATE_ROUTER), routed events from
// earshot.routed.v1 through the SLA monitor's core with its timers fired as time passes
// (EARSHOT_FUZZ_STATE_SLA). Each input is a sequence of records; their thread keys and ids are
// drawn from a few values so that records meet in one conversation and redeliveries happen.
//
// Beyond not crashing: the router's per-partition thread counts stay equal to the threads it
// stores, and every alert the SLA monitor raises names its thread and has an id.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdlib>
#include <string>

#include "services/common/store/memory_view.h"

#if EARSHOT_FUZZ_STATE_ROUTER
#include "services/router/router_core.h"
#else
#include "services/sla/policy.h"
#include "services/sla/sla_core.h"
#endif

namespace {

constexpr int32_t kPartition = 2;
const absl::Time kStart = absl::FromUnixSeconds(1767225600);

std::string Pick(FuzzedDataProvider& in, const char* prefix) {
  return prefix + std::to_string(in.ConsumeIntegralInRange(0, 3));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  earshot::store::MemoryView view;
  absl::Time now = kStart;
#if EARSHOT_FUZZ_STATE_ROUTER
  namespace r = earshot::router;
  static const auto* rules = r::RuleSet::Default().release();
  const r::RouterCore core(r::RouterOptions{});
  for (int64_t offset = 0; offset < 32 && in.remaining_bytes() > 0; ++offset) {
    earshot::v1::Event event;
    const auto bytes = in.ConsumeRandomLengthString(1024);
    // The router's own checks of what it reads (RouterApp): the record parses, with an id.
    if (!event.ParseFromString(bytes) || event.event_id().empty()) continue;
    if (in.ConsumeBool()) event.set_thread_key(Pick(in, "fb:1:c:"));
    if (in.ConsumeBool()) event.set_event_id(Pick(in, "fb:e"));
    r::PartitionStates partitions;
    core.Apply(kPartition, offset, event, *rules, view, partitions);
    partitions.Flush(view);
  }
  now += absl::Hours(24 * 365);
  r::PartitionStates partitions;
  core.Expire(kPartition, now, view, partitions);
  partitions.Flush(view);
  earshot::v1::RouterPartitionState state;
  if (auto v = view.Get(r::CfName(r::Cf::kPartitions), r::PartitionPrefix(kPartition))) {
    if (!state.ParseFromString(*v)) std::abort();
  }
  int64_t counted = 0;
  for (const auto& [status, n] : state.threads_by_status()) {
    if (n < 0) std::abort();
    counted += n;
  }
  if (counted != static_cast<int64_t>(view.Data(r::CfName(r::Cf::kThreads)).size())) std::abort();
#else
  namespace s = earshot::sla;
  static const auto* policies = s::PolicySet::Default().release();
  const s::SlaCore core;
  for (int64_t offset = 0; offset < 32 && in.remaining_bytes() > 0; ++offset) {
    earshot::v1::RoutedEvent routed;
    if (!routed.ParseFromString(in.ConsumeRandomLengthString(1024))) continue;
    if (in.ConsumeBool()) routed.mutable_event()->set_thread_key(Pick(in, "fb:1:c:"));
    now += absl::Seconds(in.ConsumeIntegralInRange(0, 7200));
    s::Outcome out;
    s::PartitionStates partitions;
    core.Apply(kPartition, offset, routed, *policies, now, view, &out, partitions);
    partitions.Flush(view);
    // Fire whatever fell due, as the app's timer loop does: timer keys sort by their time, so
    // the due ones are those before the key of `now`.
    const std::string until = s::TimerKey(kPartition, now + absl::Microseconds(1), "");
    std::vector<std::string> due;
    (void)view.Scan(s::kTimers, s::PartitionPrefix(kPartition), "",
                    [&](std::string_view key, std::string_view) {
                      if (key >= until) return false;
                      if (auto k = earshot::store::TimedKey::Decode(key)) due.push_back(k->id);
                      return true;
                    });
    for (const auto& thread_key : due) core.Fire(kPartition, thread_key, now, view, &out);
    for (const auto& alert : out.alerts) {
      if (alert.alert_id().empty() || alert.thread_key().empty()) std::abort();
    }
  }
#endif
  return 0;
}
