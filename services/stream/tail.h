#pragma once
// Tail: the one Kafka reader of a stream process. It reads every partition of
// earshot.routed.v1 and earshot.alerts.v1 from where they ended when the service started,
// parses each record once into a ring of recent records, and wakes the subscribers waiting for
// more. Subscribers read the ring by sequence number and share the records; the reader never
// waits for a subscriber, so a slow subscriber cannot slow the others. A subscriber that falls
// further behind than its buffer allows is ended (see Subscription).
//
// Owned by StreamApp. One thread reads Kafka; any thread may call the other methods.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "earshot/v1/stream.pb.h"
#include "services/common/kafka/consumer.h"
#include "services/stream/cursor.h"
#include "services/stream/record.h"

namespace earshot::stream {

struct TailOptions {
  kafka::ConsumerOptions consumer;
  size_t ring_records = 65536;  // stream.ring_records
  int poll_batch = 2000;
  absl::Duration metadata_timeout = absl::Seconds(10);
};

class Tail {
 public:
  // Called on the reader thread, without locks held, after records were appended.
  using Waker = std::function<void()>;

  static absl::StatusOr<std::unique_ptr<Tail>> Start(TailOptions options);
  ~Tail();
  void Stop();

  // Partitions of a stream topic (fixed at start).
  int partitions(earshot::v1::StreamTopic topic) const;
  // Sequence number of the next record to be appended.
  uint64_t head() const;
  // For a subscriber that starts live: the head and the positions of every partition at it.
  uint64_t Snapshot(Positions* positions) const;
  // Where a subscriber at `positions` can continue in the ring: the first sequence number at or
  // after which it has not seen every record; nullopt when the ring no longer holds some record
  // it has not seen (it must read that partition from Kafka first).
  std::optional<uint64_t> Join(const Positions& positions) const;
  // Appends to `out` up to `max` records from sequence `*seq` on and advances `*seq`. Returns
  // false when `*seq` was evicted from the ring (the reader is too far behind).
  bool Read(uint64_t* seq, size_t max, std::vector<RecordPtr>* out) const;
  // Registers `waker` to be called once when a record at or after `seq` is appended; returns
  // false (and registers nothing) when one already is.
  bool Park(uint64_t seq, std::shared_ptr<Waker> waker);

  // Start positions for a subscriber: earliest retained, or the first at or after a time (where
  // the broker cannot tell, the earliest: the filter's time bound skips the older records).
  absl::StatusOr<Positions> Earliest(const std::vector<earshot::v1::StreamTopic>& topics);
  absl::StatusOr<Positions> AtTime(const std::vector<earshot::v1::StreamTopic>& topics,
                                   int64_t time_ms);
  // Options for a subscriber's own catch-up reader.
  const kafka::ConsumerOptions& consumer_options() const { return options_.consumer; }
  bool healthy() const { return healthy_.load(); }

 private:
  explicit Tail(TailOptions options) : options_(std::move(options)) {}
  void Loop();

  TailOptions options_;
  std::unique_ptr<kafka::Consumer> consumer_;
  // A second handle for watermark and time look-ups: on consumer_ they would queue behind its
  // long-poll fetches (up to the fetch wait each).
  std::unique_ptr<kafka::Consumer> lookup_;
  int routed_partitions_ = 0;
  int alert_partitions_ = 0;

  mutable absl::Mutex mu_;
  std::deque<RecordPtr> ring_ ABSL_GUARDED_BY(mu_);
  uint64_t first_seq_ ABSL_GUARDED_BY(mu_) = 0;  // sequence number of ring_.front()
  // Per partition: every record at or after base_ is in the ring (or not yet read); next_ is
  // the position after the newest record read.
  Positions base_ ABSL_GUARDED_BY(mu_);
  Positions next_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Waker>> parked_ ABSL_GUARDED_BY(mu_);

  std::atomic<bool> stop_{false};
  std::atomic<bool> healthy_{false};
  std::thread loop_;
};

// Topic enum of a Kafka topic name, or UNSPECIFIED.
earshot::v1::StreamTopic StreamTopicOf(std::string_view kafka_topic);

}  // namespace earshot::stream
