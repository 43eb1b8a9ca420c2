#pragma once
// SlaApp: the SLA monitor. One loop thread consumes earshot.routed.v1 (cooperative-sticky group),
// keeps a clock per waiting conversation in RocksDB (SlaCore), fires warnings, breaches and
// escalations within a poll interval of their due time, and publishes every alert to
// earshot.alerts.v1 before committing the state that records it (a batch that Kafka did not
// acknowledge is consumed and fired again). Only the timers due within `sla.horizon` are in
// memory. Alerts also go to Alertmanager (AlertmanagerSink, its own thread) and the channel
// alerts (surges, silence) come from ChannelWatch.
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>

#include "absl/synchronization/mutex.h"
#include "services/common/base/service.h"
#include "services/common/kafka/changelog.h"
#include "services/common/kafka/producer.h"
#include "services/common/kafka/stateful_consumer.h"
#include "services/common/store/store.h"
#include "services/sla/alertmanager_sink.h"
#include "services/sla/channel_watch.h"
#include "services/sla/policy.h"
#include "services/sla/sla_core.h"

namespace earshot::sla {

class SlaApp final : public Service {
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
  void Loop();
  bool Step();
  void LoadTimers(int32_t partition, absl::Time until);
  void Refill();
  void UpdateMetrics();
  std::shared_ptr<const PolicySet> policies() const;

  const Clock* clock_ = nullptr;
  std::string policies_file_;
  std::string alerts_topic_ = "earshot.alerts.v1";
  absl::Duration horizon_ = absl::Seconds(60);
  size_t fire_max_ = 10000;  // timers fired per batch at most
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<kafka::StatefulConsumer> consumer_;
  std::unique_ptr<kafka::Changelog> changelog_;
  std::unique_ptr<AlertmanagerSink> alertmanager_;
  std::unique_ptr<ChannelWatch> watch_;
  std::unique_ptr<Metrics> metrics_;
  SlaCore core_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const PolicySet> policies_ ABSL_GUARDED_BY(mu_);
  std::map<int32_t, earshot::v1::SlaPartitionState> owned_ ABSL_GUARDED_BY(mu_);
  // The near future: (due time, partition, thread_key), loop thread only.
  std::set<std::tuple<absl::Time, int32_t, std::string>> timers_;
  absl::Time loaded_until_;  // timers up to here are in `timers_`
  std::atomic<size_t> timers_size_{0};

  std::atomic<bool> stop_{false};
  std::atomic<bool> healthy_{true};
  std::atomic<int64_t> applied_{0};
  std::thread loop_;
};

}  // namespace earshot::sla
