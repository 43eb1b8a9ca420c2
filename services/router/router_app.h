#pragma once
// RouterApp: the router's Kafka loop and gRPC Threads service.
//
// The router is a processor of the stateful runtime (kafka/stateful_runtime.h), which polls
// earshot.events.v1 (cooperative-sticky group) and commits each batch: RoutedEvents, changelog
// records and input offsets in one Kafka transaction, then the local RocksDB write. The router
// splits each batch by partition over apply_threads lanes, which apply it with RouterCore, each
// to a view of its own, and write their partitions' state and positions in one RocksDB batch
// each. Rules are swapped on Reload() (SIGHUP) between batches. Once a minute a batch (one
// without input too) also deletes the threads idle longer than router.thread_ttl, so their
// deletes reach the changelog as every other state change does.
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "earshot/v1/threads.grpc.pb.h"
#include "services/common/base/clock.h"
#include "services/common/base/service.h"
#include "services/common/kafka/changelog.h"
#include "services/common/kafka/producer.h"
#include "services/common/kafka/stateful_consumer.h"
#include "services/common/kafka/stateful_runtime.h"
#include "services/common/store/store.h"
#include "services/router/router_core.h"
#include "services/router/rules.h"

namespace boost::asio {
class thread_pool;
}

namespace earshot::router {

// The record the router writes for a routed event to `topic`: key thread_key, CloudEvents
// headers.
kafka::Record RoutedRecord(const earshot::v1::RoutedEvent& routed, const std::string& topic);

class DedupClock;
class ThreadsService;

struct RouterAppOptions {
  std::string events_topic = "earshot.events.v1";
  std::string routed_topic = "earshot.routed.v1";
  std::string audit_topic = "earshot.audit.v1";  // the Threads API's Erase records
  std::string group_id = "earshot-router";
  std::string rules_file;  // empty: RuleSet::Default()
  int batch_max = 1000;
  // After the first record, how long to gather more: each batch waits for it, so it adds to every
  // event's latency while the load is light (bench/README.md, Stream).
  absl::Duration batch_wait = absl::Milliseconds(1);
  // Threads that apply a batch and write its state, each for the partitions p with
  // p % apply_threads equal to its number.
  int apply_threads = 2;
  // Compacted topic holding the state's changes, partitioned like events_topic.
  std::string changelog_topic = "earshot-router.state.v1";
  RouterOptions core;
};

class RouterApp final : public Service, private kafka::StatefulProcessor {
 public:
  RouterApp();
  ~RouterApp() override;
  std::string_view name() const override { return "router"; }
  absl::Status Start(const ServiceContext& ctx, grpc::ServerBuilder& grpc) override;
  void Stop() override;
  void Reload() override;

  // For tests and the Threads service.
  std::set<int32_t> OwnedPartitions() const;
  int64_t events_applied() const { return applied_.load(); }

  struct Metrics;

 private:
  struct Lane;
  // kafka::StatefulProcessor: the router's part of the stateful loop.
  absl::StatusOr<std::optional<kafka::StoredPosition>> Position(int32_t partition) override;
  void OnAssigned(int32_t partition) override;
  void OnRevoked(int32_t partition) override;
  absl::Status Apply(kafka::StatefulBatch& batch) override;
  absl::Status WriteViews(kafka::StatefulBatch& batch) override;
  void Committed(const kafka::StatefulBatch& batch) override;
  void Periodic() override;

  void ApplyLane(Lane& lane, const RuleSet& rules, absl::Time now);
  // body(lane) for every lane with events, the first on the calling thread and the others on
  // lane_pool_; returns when all are done.
  void ForEachLane(std::vector<Lane>& lanes, absl::FunctionRef<void(Lane&)> body);
  std::shared_ptr<const RuleSet> rules() const;

  RouterAppOptions options_;
  std::string rules_path_;
  std::shared_ptr<DedupClock> dedup_clock_;  // shared with the dedup compaction filter
  std::unique_ptr<store::Store> store_;
  // Writes the Threads API's control events to the input topic (the runtime's producer is
  // transactional and belongs to the loop).
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<RouterCore> core_;
  std::unique_ptr<ThreadsService> threads_service_;  // over store_, producer_, the owned set
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<kafka::StatefulRuntime> runtime_;
  std::unique_ptr<boost::asio::thread_pool> lane_pool_;  // apply_threads - 1 threads
  std::vector<Lane> lanes_;                              // the batch in hand (loop thread)
  absl::Time batch_started_;
  int partition_count_ = 0;
  const Clock* clock_ = nullptr;
  absl::Time next_expiry_;  // when the next batch expires idle threads (loop thread)

  mutable absl::Mutex mu_;
  std::shared_ptr<const RuleSet> rules_ ABSL_GUARDED_BY(mu_);
  std::map<int32_t, earshot::v1::RouterPartitionState> owned_ ABSL_GUARDED_BY(mu_);

  std::atomic<int64_t> applied_{0};
};

}  // namespace earshot::router
