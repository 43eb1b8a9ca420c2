#pragma once
// StreamApp: the stream service (`earshot --target=stream`). Serves earshot.v1.Stream/Subscribe:
// filtered, resumable server streams of routed events and alerts for downstream teams. Stateless:
// it keeps no offsets of its own; a subscriber's position travels in its cursor.
//
// Parts, built in Start and stopped in reverse: the shared Kafka reader (Tail), the gRPC
// adapter, and a ticker thread for heartbeats and slow-subscriber checks. Callers are the
// process's principals (auth::Guard) holding stream:read on queues.
// Config keys and metrics: services/stream/README.md.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "services/common/auth/guard.h"
#include "services/common/base/service.h"
#include "services/stream/subscription.h"
#include "services/stream/tail.h"

namespace earshot::stream {

class StreamApp final : public Service {
 public:
  StreamApp();
  ~StreamApp() override;
  std::string_view name() const override { return "stream"; }
  absl::Status Start(const ServiceContext& ctx, grpc::ServerBuilder& grpc) override;
  void Drain() override;
  void Stop() override;

  // The gRPC handler (callback API, raw bytes in and out).
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Subscribe(grpc::CallbackServerContext* ctx,
                                                        const grpc::ByteBuffer* request);
  // Records the shared ring has appended since start (Tail::head()), 0 before Start. Read-only;
  // for benchmarks and tests that wait until the ring holds what they produced.
  uint64_t ring_head() const { return tail_ ? tail_->head() : 0; }

 private:
  class GrpcService;
  // Where the subscriber starts: positions, and the ring sequence when it can start there.
  absl::Status ResolveStart(const earshot::v1::SubscribeRequest& request, const Filter& filter,
                            Positions* positions, std::optional<uint64_t>* seq);
  void TickLoop();
  // The caller's stream:read queues narrowed by the request's filter; PERMISSION_DENIED (counted
  // by the guard) for a queue outside them.
  absl::StatusOr<Filter> FilterFor(const auth::Caller& caller,
                                   const earshot::v1::SubscribeRequest& request) const;

  const auth::Guard* guard_ = nullptr;
  SubscriptionOptions subscription_options_;
  size_t max_subscribers_ = 1000;
  size_t catchup_queue_ = 2048;
  std::unique_ptr<StreamMetrics> metrics_;
  prometheus::Family<prometheus::Counter>* rejected_ = nullptr;
  std::unique_ptr<Tail> tail_;
  std::unique_ptr<GrpcService> service_;

  mutable absl::Mutex mu_;
  std::vector<std::weak_ptr<Subscription>> subscriptions_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> next_id_{0};

  absl::Notification stop_ticker_;
  std::thread ticker_;
};

}  // namespace earshot::stream
