#pragma once
// Producer: an idempotent librdkafka producer (acks=all) that reports, per batch of records,
// one status once every record of the batch is acknowledged by Kafka or has failed.
//
// Thread-safe: Produce() from any thread; callbacks run on the producer's poll thread (or, with
// ProducerOptions::external_delivery, on the owner's event loop) and must not block. A probe thread
// keeps reachable() current (metadata round-trip), which feeds /readyz. Destruction flushes what is
// queued (bounded by ProducerOptions::flush_timeout).
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace earshot::kafka {

struct Record {
  std::string topic;
  std::string key;  // empty: no key (librdkafka's sticky partitioner picks the partition)
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  int32_t partition = -1;  // -1: the partitioner's choice by key
  bool tombstone = false;  // no value at all: deletes the key from a compacted topic
};

struct ProducerOptions {
  std::string bootstrap;
  std::string client_id = "earshot";
  absl::Duration delivery_timeout = absl::Seconds(10);  // message.timeout.ms
  absl::Duration linger = absl::Milliseconds(1);
  int queue_max_messages = 100000;                   // beyond it: Unavailable at once
  absl::Duration probe_interval = absl::Seconds(1);  // reachability check
  int probe_failures = 3;  // unanswered probes in a row that make Kafka unreachable
  absl::Duration flush_timeout = absl::Seconds(10);  // on destruction
  // message.max.bytes: the largest record librdkafka takes (0: its default, 1,000,000).
  // Services set it from http.body_limit_bytes (topic_limits.h: MaxRecordBytes).
  int64_t max_message_bytes = 0;
  // Metric names start with it: <prefix>_kafka_delivery_latency_seconds, ...
  std::string metrics_prefix = "earshot";
  // Where delivery reports (and error callbacks) are served. false: on a poll thread of the
  // producer's own. true: by the owner's event loop, which watches delivery_fd() and calls
  // ServeDeliveries() when it turns readable; the gateway's HTTP thread does, so an answer is
  // written where its report arrives instead of being handed over between threads.
  bool external_delivery = false;
  // transactional.id: "" for a plain idempotent producer. With one, every record is produced
  // inside a transaction (BeginTransaction .. CommitTransaction) and InitTransactions must run
  // first; a later producer with the same id fences this one.
  std::string transactional_id;
  // transaction.timeout.ms: how long the coordinator lets a transaction stay open before it
  // aborts it. A replica that dies mid-transaction holds back read_committed readers of its
  // partitions (and the next owner's restore) this long; Kafka Streams uses 10 s too. At least
  // delivery_timeout (librdkafka's rule).
  absl::Duration transaction_timeout = absl::Seconds(10);
  // Passed to librdkafka unchanged (security.protocol, sasl.*, ssl.*, compression.type, ...).
  std::map<std::string, std::string> extra;
};

// Where services write records; Producer is the real one, tests use fakes.
class RecordSink {
 public:
  using Callback = absl::AnyInvocable<void(absl::Status) &&>;
  virtual ~RecordSink() = default;
  // `done` runs once: OK when every record is acknowledged, else the first error.
  virtual void ProduceBatch(std::vector<Record> records, Callback done) = 0;
  virtual bool reachable() const = 0;
};

// Produces the records and blocks until every one is acknowledged or has failed (bounded by the
// producer's delivery time-out): OK, or the first error.
absl::Status ProduceAndWait(RecordSink& sink, std::vector<Record> records);

class Producer final : public RecordSink {
 public:
  // registry may be null (no metrics).
  static absl::StatusOr<std::unique_ptr<Producer>> Create(ProducerOptions options,
                                                          prometheus::Registry* registry);
  ~Producer();

  // Enqueues every record; `done` runs once: OK when all are acknowledged, else the first
  // error. A record that cannot be enqueued (queue full) fails the batch at once; records
  // already enqueued still go out (at-least-once; consumers deduplicate by event id).
  void ProduceBatch(std::vector<Record> records, Callback done) override;

  // Blocks until everything queued is acknowledged or the time-out passes.
  absl::Status Flush(absl::Duration timeout);

  // Transactions (ProducerOptions::transactional_id). Errors come as:
  //   Aborted: the transaction must be aborted (AbortTransaction) and its work done again;
  //   FailedPrecondition: fatal, e.g. fenced by a newer producer with the same id: this
  //     producer can do nothing more;
  //   Unavailable: retryable as it is (a time-out).
  absl::Status InitTransactions(absl::Duration timeout);
  absl::Status BeginTransaction();
  // Adds the consumer's input positions (topic, partition -> next offset) to the transaction,
  // committed to the consumer's group only if the transaction commits (KIP-447: the group's
  // generation fences a consumer that lost the partitions).
  absl::Status SendOffsetsToTransaction(rd_kafka_t* consumer, const std::string& topic,
                                        const std::map<int32_t, int64_t>& next_offsets,
                                        absl::Duration timeout);
  absl::Status CommitTransaction(absl::Duration timeout);
  absl::Status AbortTransaction(absl::Duration timeout);
  bool transactional() const { return !options_.transactional_id.empty(); }

  bool reachable() const override { return reachable_.load(); }
  int queue_depth() const;

  // With external_delivery: readable when reports wait (-1 otherwise), and what serves them.
  // ServeDeliveries() runs their callbacks on the calling thread and never blocks.
  int delivery_fd() const { return delivery_pipe_[0]; }
  void ServeDeliveries();

 private:
  struct Metrics;
  explicit Producer(ProducerOptions options);
  static void OnDelivery(rd_kafka_t* rk, const void* msg, void* opaque);
  void PollLoop();
  void ProbeLoop();

  ProducerOptions options_;
  rd_kafka_t* rk_ = nullptr;
  std::unique_ptr<Metrics> metrics_;
  std::atomic<bool> reachable_{false};
  std::atomic<bool> stop_{false};
  absl::Notification stop_probe_;
  std::thread poll_thread_;
  int delivery_pipe_[2] = {-1, -1};  // external_delivery: librdkafka writes, the owner reads
  std::thread probe_thread_;
};

}  // namespace earshot::kafka
