#pragma once
// SlaApp: the SLA monitor, a processor of the stateful runtime (kafka/stateful_runtime.h), which
// consumes earshot.routed.v1 (cooperative-sticky group). It keeps a clock per waiting
// conversation in RocksDB (SlaCore), fires warnings, breaches and escalations within a poll
// interval of their due time, and publishes every alert to earshot.alerts.v1 in the same Kafka
// transaction as the state that records it (a batch that does not commit is consumed and fired
// again). Only the timers due within `sla.horizon` are in
// memory. Alerts also go to Alertmanager (AlertmanagerSink, its own thread) and the channel
// alerts (surges, silence) come from ChannelWatch, run by the owner of input partition 0.
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "services/common/base/service.h"
#include "services/common/kafka/changelog.h"
#include "services/common/kafka/consumer.h"
#include "services/common/kafka/producer.h"
#include "services/common/kafka/stateful_consumer.h"
#include "services/common/kafka/stateful_runtime.h"
#include "services/common/store/kv_view.h"
#include "services/common/store/store.h"
#include "services/sla/alertmanager_sink.h"
#include "services/sla/channel_watch.h"
#include "services/sla/policy.h"
#include "services/sla/sla_core.h"

namespace earshot::sla {

class SlaApp final : public Service, private kafka::StatefulProcessor {
 public:
  SlaApp();
  ~SlaApp() override;
  std::string_view name() const override { return "sla"; }
  absl::Status Start(const ServiceContext& ctx, grpc::ServerBuilder& grpc) override;
  void Stop() override;
  void Reload() override;

  // For tests.
  std::set<int32_t> OwnedPartitions() const;
  int64_t events_applied() const { return applied_.load(); }
  size_t timers_in_memory() const;

  struct Metrics;

 private:
  // kafka::StatefulProcessor: the SLA monitor's part of the stateful loop.
  absl::StatusOr<std::optional<kafka::StoredPosition>> Position(int32_t partition) override;
  void OnAssigned(int32_t partition) override;
  void OnRevoked(int32_t partition) override;
  absl::Duration PollWait() override;
  absl::Status Apply(kafka::StatefulBatch& batch) override;
  void Committed(const kafka::StatefulBatch& batch) override;
  void Failed(kafka::StatefulBatch& batch) override;
  void Periodic() override;

  // The channel watch (surges, silence) sees every partition's events, so one replica runs it:
  // the owner of input partition 0, reading the whole routed topic with a reader of its own
  // and checkpointing the watch with that partition's state (WatchKey), so that it moves, like
  // the partition, without relearning or firing twice.
  static constexpr int32_t kWatchPartition = 0;
  static std::string WatchKey();
  absl::Status LoadWatch();
  // On the loop thread in Apply: reads what was routed since the last turn, checks, writes the
  // alerts to out_ and the checkpoint to `view`.
  absl::Status WatchStep(absl::Time now, store::KvView& view);
  void DropWatch();

  void LoadTimers(int32_t partition, absl::Time until);
  void Refill();
  std::shared_ptr<const PolicySet> policies() const;

  const Clock* clock_ = nullptr;
  std::string policies_file_;
  std::string alerts_topic_ = "earshot.alerts.v1";
  absl::Duration horizon_ = absl::Seconds(60);
  size_t fire_max_ = 10000;  // timers fired per batch at most
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<AlertmanagerSink> alertmanager_;
  ChannelWatchOptions watch_options_;
  kafka::ConsumerOptions watch_consumer_;
  std::string routed_topic_;
  int watch_read_max_ = 5000;  // routed events the watch reads per batch at most
  absl::Duration watch_checkpoint_interval_ = absl::Seconds(1);
  // Loop thread: the watch and its reader while this replica owns partition 0 (else null).
  std::unique_ptr<ChannelWatch> watch_;
  std::unique_ptr<kafka::Consumer> watch_reader_;
  earshot::v1::ChannelWatchState watch_state_;  // its reader's next offsets, its last checkpoint
  absl::Time watch_saved_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<kafka::StatefulRuntime> runtime_;
  SlaCore core_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const PolicySet> policies_ ABSL_GUARDED_BY(mu_);
  std::map<int32_t, earshot::v1::SlaPartitionState> owned_ ABSL_GUARDED_BY(mu_);
  // Loop thread: timers due within the horizon, by time, partition and key.
  std::set<std::tuple<absl::Time, int32_t, std::string>> timers_;
  absl::Time loaded_until_;     // timers up to here are in `timers_`
  bool timers_failed_ = false;  // a partition's timers could not be read: load them again
  // Loop thread: partitions whose routed events written before their assignment are not all
  // applied yet, with the offset they end at. Their timers wait, since those events may answer
  // or move the waits the timers are for (a deadline that passed while the monitor was down
  // must not fire for a conversation answered meanwhile).
  std::map<int32_t, int64_t> catching_up_;
  std::atomic<size_t> timers_size_{0};
  // The batch in hand (loop thread): its state changes, what it produced, the timers it fired.
  std::optional<store::OverlayView> view_;
  Outcome out_;
  std::vector<std::tuple<absl::Time, int32_t, std::string>> fired_;

  std::atomic<int64_t> applied_{0};
};

}  // namespace earshot::sla
