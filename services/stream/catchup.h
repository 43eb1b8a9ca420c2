#pragma once
// CatchUp: a subscriber's own Kafka reader for history the shared ring no longer (or not yet)
// holds: a start at `earliest`, at a time, or at an old cursor. It reads from the subscriber's
// positions into a bounded queue (it waits while the queue is full, so a slow reader of history
// costs only its own reader) until the ring covers every partition at the positions it reached;
// then it hands the subscriber over to the ring and ends.
//
// Owned by one Subscription; one thread of its own reads Kafka, the subscription takes records
// from any thread.
#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/stream/tail.h"

namespace earshot::stream {

class CatchUp {
 public:
  static absl::StatusOr<std::unique_ptr<CatchUp>> Start(Tail* tail, Positions from,
                                                        size_t queue_records,
                                                        const std::string& client_id);
  ~CatchUp();

  struct Taken {
    absl::Status error;              // the reader failed; the subscription should end
    std::optional<uint64_t> joined;  // queue drained and handed over: continue in the ring here
  };
  // Moves up to `max` queued records to `out`.
  Taken Take(size_t max, std::vector<RecordPtr>* out);
  // Registers `waker` for the next record, hand-over or error; false when one is already there.
  bool Park(std::shared_ptr<Tail::Waker> waker);

 private:
  CatchUp(Tail* tail, Positions from, size_t queue_records)
      : tail_(tail), reached_(std::move(from)), queue_records_(queue_records) {}
  void Loop();
  void WakeLocked(std::vector<std::shared_ptr<Tail::Waker>>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Tail* tail_;
  std::unique_ptr<kafka::Consumer> consumer_;
  Positions reached_;  // reader thread only: next offset after the records queued
  const size_t queue_records_;

  absl::Mutex mu_;
  std::deque<RecordPtr> queue_ ABSL_GUARDED_BY(mu_);
  std::optional<uint64_t> joined_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Tail::Waker>> parked_ ABSL_GUARDED_BY(mu_);

  std::atomic<bool> stop_{false};
  std::thread loop_;
};

}  // namespace earshot::stream
