#pragma once
// StatefulRuntime: the one loop of every service that keeps per-partition state (the router,
// the SLA monitor). It owns the consumer group member, the changelog, the producer and the
// batch's commit; a service plugs in a StatefulProcessor (how to read its stored position,
// apply a batch, react to assignments and timers), as a Kafka Streams processor plugs into its
// stream thread.
//
// One batch, on the loop thread:
//   1. poll the input (at most PollWait(); the processor's timers shorten it), keeping only
//      records of partitions this replica owns now (a partition revoked during the poll is
//      another replica's);
//   2. processor.Apply: the batch's state changes go to views over the store, its output to
//      records; nothing is written yet;
//   3. commit, in one of two ways:
//      exactly once (Kafka transactions, kafka.exactly_once): the output records, the
//        changelog records of the state changes and the input positions (sent to the
//        consumer group's coordinator) commit in one transaction; then the local write. A
//        crash before the commit aborts all three; a crash after it leaves the local copy
//        behind its changelog, which the next restore reads (changelog.h). Readers of the
//        output with isolation.level=read_committed (librdkafka's default) see each record once.
//      at least once (no transactions; librdkafka's mock cluster, which keeps aborted records
//        visible): the output is acknowledged, then the changelog records, then the local
//        write. A crash in between repeats output (stable ids), never loses it; state is
//        still exactly once.
//   4. processor.Committed, or, after any failure, the input is read again from the batch's
//      first offsets and processor.Failed lets it undo what it took (timers).
// On every assignment each partition's local copy is restored from the changelog before its
// stored position is read (StatefulConsumer). A replica is ready only when every partition it
// owns is restored and positioned.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "services/common/base/config.h"
#include "services/common/base/metrics.h"
#include "services/common/kafka/changelog.h"
#include "services/common/kafka/producer.h"
#include "services/common/kafka/stateful_consumer.h"
#include "services/common/store/kv_view.h"
#include "services/common/store/store.h"

namespace prometheus {
class Counter;
class Registry;
}  // namespace prometheus

namespace earshot::kafka {

struct StatefulBatch {
  // The input records of partitions this replica owns (may be none: a timer's turn).
  std::vector<MessagePtr> records;
  // Per partition: the batch's first offset (where a failed batch is read again) and the
  // offset after its last record (committed with the batch).
  std::map<int32_t, int64_t> first_offset;
  std::map<int32_t, int64_t> next_offset;
  // Filled by StatefulProcessor::Apply: the state changes (one view, or one per apply thread;
  // owned by the processor and kept until Committed or Failed) and the records to produce.
  std::vector<store::OverlayView*> views;
  std::vector<Record> output;
};

class StatefulProcessor {
 public:
  virtual ~StatefulProcessor() = default;
  // The stored position of `partition` after its restore; nullopt: no state, read from the start.
  virtual absl::StatusOr<std::optional<StoredPosition>> Position(int32_t partition) = 0;
  virtual void OnAssigned(int32_t partition) {}
  virtual void OnRevoked(int32_t partition) {}
  // The longest wait for input before Apply is called with none (the next timer).
  virtual absl::Duration PollWait() { return absl::Milliseconds(100); }
  // Applies the batch to views and output; writes nothing. An error: the batch is retried.
  virtual absl::Status Apply(StatefulBatch& batch) = 0;
  // Writes the views, with the checkpoints the runtime added, to the store. Default: in turn.
  virtual absl::Status WriteViews(StatefulBatch& batch);
  // After the batch committed / after it failed and its input will be read again.
  virtual void Committed(const StatefulBatch& batch) {}
  virtual void Failed(StatefulBatch& batch) {}
  // Every few seconds on the loop thread (metrics).
  virtual void Periodic() {}
};

struct StatefulRuntimeOptions {
  StatefulConsumerOptions consumer;
  // topic, state and checkpoint families, revoked TTL; the partition count and the reader's
  // client settings are filled in from `consumer`.
  ChangelogOptions changelog;
  ProducerOptions producer;  // the batch producer; transactional with exactly_once
  // Kafka transactions: true, false, or nullopt (auto): on, except on librdkafka's mock
  // cluster (the embedded broker), which keeps aborted records visible to every reader.
  std::optional<bool> exactly_once;
  // How long a transaction's commit (or abort) may take before the batch is retried.
  absl::Duration commit_timeout = absl::Seconds(30);
  absl::Duration periodic_interval = absl::Seconds(2);
  // Standby replicas (Kafka Streams' num.standby.replicas): how many other replicas keep a warm
  // copy of each partition, reading its changelog's tail every standby_interval. The group's
  // members, ordered by instance id (else member id), each keep the partitions of the
  // standby_replicas members before them in that order. 0: none.
  int standby_replicas = 0;
  absl::Duration standby_interval = absl::Seconds(1);
  // Liveness (alive()): how long the loop may stay stopped by a fatal error, or keep failing to
  // apply a batch (a poisoned one), before the process should be restarted; and how long one
  // step may take (a wait on Kafka, a restore reads on) before the loop counts as stuck.
  absl::Duration liveness_grace = absl::Seconds(60);
  absl::Duration stall_timeout = absl::Minutes(5);
  std::string logger = "stateful";
  prometheus::Registry* registry = nullptr;  // may be null: no metrics
  std::string metrics_prefix = "earshot";
};

// The settings every stateful service reads alike, from `<service>.*` (session_timeout_ms,
// instance_id, standby_replicas, standby_interval, revoked_state_ttl) and kafka.exactly_once,
// kafka.transaction_timeout; also client ids, the logger and metric names (earshot_<service>).
// The topics, families, batches and producer/consumer connection settings stay the caller's.
absl::Status RuntimeSettingsFromConfig(const Config& config, const std::string& service,
                                       prometheus::Registry* registry,
                                       StatefulRuntimeOptions* options);

// kafka.exactly_once: "auto" (the default, nullopt), true or false.
absl::StatusOr<std::optional<bool>> ExactlyOnceSetting(std::string_view value);
// Whether a cluster is librdkafka's mock cluster (its cluster id), which has no isolation.
bool IsMockCluster(std::string_view cluster_id);

// A member of the consumer group, as DescribeConsumerGroups shows it.
struct GroupMember {
  std::string member_id;
  std::string instance_id;          // "" for a dynamic member
  std::vector<int32_t> partitions;  // of the runtime's input topic
};
// The partitions `self` (a member id) keeps standby copies of: those of the `standbys` members
// before it, in the order of instance ids (else member ids). Pure, for tests.
std::set<int32_t> PlanStandbys(std::vector<GroupMember> members, const std::string& self,
                               int standbys);

// The transactional.id of a replica, stable across its restarts so that a restart fences its
// own earlier incarnation: Kafka aborts the transaction a killed process left open at once,
// instead of after kafka.transaction_timeout, during which that open transaction holds every
// read_committed reader of its partitions back. From the static instance id when there is one,
// else from the host and the state folder (a folder is one replica's: RocksDB locks it).
std::string TransactionalId(const std::string& group_id, const std::string& instance_id,
                            const std::string& state_dir);

class StatefulRuntime {
 public:
  static absl::StatusOr<std::unique_ptr<StatefulRuntime>> Create(StatefulRuntimeOptions options,
                                                                 store::Store* store,
                                                                 StatefulProcessor* processor);
  ~StatefulRuntime();

  // Starts the loop thread; the first assignment happens in its first poll.
  void Start();
  // Finishes the batch in hand (committed), leaves the group (revokes through the processor).
  void Stop();

  // Partitions this replica owns and has restored; any thread.
  std::set<int32_t> Owned() const;
  // Every owned partition restored and positioned, and no fatal error: readiness.
  bool ready() const;
  // False after an error that stops the loop (a failed local write, a fenced producer).
  bool healthy() const { return healthy_.load(); }
  // Liveness: false once the loop has been stopped by such an error, or has failed to apply
  // every batch since, for longer than liveness_grace, or once one step has run longer than
  // stall_timeout without progress. A restart is the way out (a corrupt store is then moved
  // aside and rebuilt from the changelog, see store::StoreOptions).
  bool alive() const;
  // Registers the runtime's checks under `service` ("router", "sla"): readiness
  // <service>.state (healthy), <service>.kafka (the producer reaches Kafka), <service>.partitions
  // (ready), and liveness <service>.loop (alive).
  void AddHealthChecks(Health& health, const std::string& service);
  bool exactly_once() const { return exactly_once_; }
  int partition_count() const { return consumer_->partition_count(); }
  const std::string& cluster_id() const { return consumer_->cluster_id(); }
  // StatefulConsumer::Lag; from the processor's hooks (the loop thread) only.
  int64_t Lag(int32_t partition, int64_t next_offset) {
    return consumer_->Lag(partition, next_offset);
  }
  // StatefulConsumer::AssignedEnd and Position; from the processor's hooks (the loop thread)
  // only.
  int64_t AssignedEnd(int32_t partition) const { return consumer_->AssignedEnd(partition); }
  int64_t Position(int32_t partition) { return consumer_->Position(partition); }
  earshot::v1::InputMark Mark(const rd_kafka_message_t* m) const { return consumer_->Mark(m); }
  Producer& producer() { return *producer_; }

 private:
  struct Metrics;
  StatefulRuntime() = default;
  void Loop();
  bool Step();
  absl::Status Commit(StatefulBatch& batch);
  absl::Status CommitAtLeastOnce(StatefulBatch& batch);
  absl::Status CommitTransaction(StatefulBatch& batch);
  // After the batch's records are acknowledged or committed: the changelog checkpoints (each
  // partition's end moved by its records and `markers`), then the local write; a failed local
  // write stops the loop.
  absl::Status WriteLocal(StatefulBatch& batch,
                          const std::vector<std::map<int32_t, int64_t>>& counts, int64_t markers);
  // A transaction that failed: aborted, and the changelog's ends read again.
  void AbortTransaction(const std::vector<std::map<int32_t, int64_t>>& counts);
  void Fatal(const absl::Status& status);
  void StandbyLoop();
  absl::StatusOr<std::vector<GroupMember>> DescribeGroup();

  StatefulRuntimeOptions options_;
  bool exactly_once_ = false;
  StatefulProcessor* processor_ = nullptr;
  store::Store* store_ = nullptr;
  std::unique_ptr<Producer> producer_;
  std::unique_ptr<RecordSink> seed_sink_;  // seeds a changelog in a transaction of its own
  std::unique_ptr<StatefulConsumer> consumer_;
  std::unique_ptr<Changelog> changelog_;
  std::unique_ptr<Metrics> metrics_;

  mutable absl::Mutex mu_;
  std::set<int32_t> owned_ ABSL_GUARDED_BY(mu_);

  std::atomic<bool> stop_{false};
  std::atomic<bool> healthy_{true};
  // Liveness, in absl::ToUnixNanos: when the current step began or last made progress, when
  // the loop stopped on a fatal error, and when the batches began failing (0: none).
  std::atomic<int64_t> progress_ns_{0};
  std::atomic<int64_t> fatal_ns_{0};
  std::atomic<int64_t> failing_since_ns_{0};
  std::thread loop_;
  absl::Notification stop_standby_;
  std::thread standby_;
};

}  // namespace earshot::kafka
