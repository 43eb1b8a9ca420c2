#pragma once
// Subscription: one subscriber of earshot.v1.Stream/Subscribe. It walks the shared ring (or its
// own CatchUp reader first), skips what it has seen by offset, keeps what its filter matches,
// and writes one delivery at a time, each with the cursor after it. Deliveries are built from
// the records' Kafka bytes (Delivery wire format = header fields + the payload as field 6 or 7),
// so a record is never re-serialised per subscriber.
//
// Flow control: a subscriber may fall at most `buffer_records` ring records behind the newest
// (checked by the ticker, so a burst a fast subscriber drains at once does not count); beyond
// that, or when the ring dropped a record it had not read, it is ended with RESOURCE_EXHAUSTED and
// trailing metadata `earshot-cursor` (also in the status message), never silently skipped.
//
// Shared by the gRPC reactor (until OnDone), the ring's and catch-up's wakers, and the app's
// ticker; every entry point takes mu_. gRPC reactions never block.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "services/stream/catchup.h"
#include "services/stream/filter.h"
#include "services/stream/tail.h"

namespace earshot::stream {

// earshot_stream_* metrics, built once by StreamApp.
struct StreamMetrics {
  prometheus::Gauge* subscribers;
  prometheus::Gauge* catching_up;
  prometheus::Counter* deliveries_routed;
  prometheus::Counter* deliveries_alerts;
  prometheus::Counter* heartbeats;
  prometheus::Counter* slow_disconnects;
  prometheus::Histogram* delivery_lag;
};

struct SubscriptionOptions {
  size_t buffer_records = 10000;                // stream.subscriber_buffer
  absl::Duration heartbeat = absl::Seconds(5);  // stream.heartbeat (or the request's)
  size_t read_batch = 256;
};

class Subscription : public std::enable_shared_from_this<Subscription> {
 public:
  using Reactor = grpc::ServerWriteReactor<grpc::ByteBuffer>;

  Subscription(SubscriptionOptions options, Tail* tail, StreamMetrics* metrics, Filter filter,
               Positions positions, std::string peer);
  ~Subscription();

  // Starts delivering through `reactor`: live in the ring from `seq`, or through `catchup`
  // first. Sends a heartbeat with the start cursor at once.
  void Begin(grpc::CallbackServerContext* ctx, Reactor* reactor, uint64_t seq,
             std::unique_ptr<CatchUp> catchup);

  // Reactions, forwarded by the reactor.
  void OnWriteDone(bool ok);
  void OnCancel();
  void OnDone();

  // From the app's ticker: heartbeats and the slow-subscriber check while a write waits.
  void Tick(absl::Time now);
  // Server shutting down: end with UNAVAILABLE and the cursor to resume from.
  void Shutdown();
  bool done() const { return done_.load(); }
  const std::string& peer() const { return peer_; }

 private:
  void Pump();
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Refills pending_; false when the subscription was finished or must wait.
  bool RefillLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteLocked(const Record* record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(grpc::StatusCode code, const std::string& message)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishSlowLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SubscriptionOptions options_;
  Tail* const tail_;
  StreamMetrics* const metrics_;
  const Filter filter_;
  const std::string peer_;
  std::shared_ptr<Tail::Waker> waker_;
  std::atomic<bool> parked_{false};
  std::atomic<bool> done_{false};

  absl::Mutex mu_;
  grpc::CallbackServerContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  Reactor* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::unique_ptr<CatchUp> catchup_ ABSL_GUARDED_BY(mu_);
  // A catch-up reader that handed over; destroyed (its thread joined) off its own thread and
  // outside mu_, by Tick or OnDone.
  std::unique_ptr<CatchUp> retired_ ABSL_GUARDED_BY(mu_);
  Positions positions_ ABSL_GUARDED_BY(mu_);  // next offset per partition: what the cursor says
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;     // next ring record to look at
  // How far behind the ring's newest record this subscriber may be: the buffer, or more while
  // it reads older records of the ring it joined (it may not fall further behind than it was).
  uint64_t allowance_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<RecordPtr> pending_ ABSL_GUARDED_BY(mu_);
  size_t next_pending_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_write_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer buffer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace earshot::stream
