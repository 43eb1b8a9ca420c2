#include "services/stream/stream_app.h"

#include "earshot/v1/stream.grpc.pb.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "services/common/base/log.h"
#include "services/common/base/metrics.h"
#include "services/common/base/status.h"
#include "services/common/kafka/options.h"

namespace earshot::stream {
namespace {
constexpr char kLogger[] = "stream";
using earshot::v1::StreamTopic;

// Ends a call at once with an error (bad request, no access, too many subscribers).
class Rejected final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit Rejected(const absl::Status& status) { Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

class SubscribeReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit SubscribeReactor(std::shared_ptr<Subscription> sub) : sub_(std::move(sub)) {}
  void OnWriteDone(bool ok) override { sub_->OnWriteDone(ok); }
  void OnCancel() override { sub_->OnCancel(); }
  void OnDone() override {
    sub_->OnDone();
    delete this;
  }

 private:
  std::shared_ptr<Subscription> sub_;
};

std::string_view CodeLabel(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnauthenticated:
      return "unauthenticated";
    case absl::StatusCode::kPermissionDenied:
      return "permission_denied";
    case absl::StatusCode::kInvalidArgument:
      return "invalid_argument";
    case absl::StatusCode::kResourceExhausted:
      return "resource_exhausted";
    default:
      return "unavailable";
  }
}

}  // namespace

absl::StatusOr<Filter> StreamApp::FilterFor(const auth::Caller& caller,
                                            const earshot::v1::SubscribeRequest& request) const {
  const auth::Grant* grant = caller.principal->Find("stream:read");
  if (grant == nullptr) {
    const auto denied =
        absl::PermissionDeniedError("principal " + caller.name() + " lacks stream:read");
    guard_->Record(caller, denied);
    return denied;
  }
  auto filter = Filter::Create(request, Access{caller.name(), grant->all, grant->names});
  // A queue outside the grant is the decision; a malformed request is not.
  guard_->Record(caller,
                 absl::IsPermissionDenied(filter.status()) ? filter.status() : absl::OkStatus());
  return filter;
}

class StreamApp::GrpcService final
    : public earshot::v1::Stream::WithRawCallbackMethod_Subscribe<earshot::v1::Stream::Service> {
 public:
  explicit GrpcService(StreamApp* app) : app_(app) {}
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Subscribe(grpc::CallbackServerContext* ctx,
                                                        const grpc::ByteBuffer* request) override {
    return app_->Subscribe(ctx, request);
  }

 private:
  StreamApp* app_;
};

StreamApp::StreamApp() = default;
StreamApp::~StreamApp() { Stop(); }

absl::Status StreamApp::Start(const ServiceContext& ctx, grpc::ServerBuilder& grpc) {
  const Config& config = ctx.config;
  guard_ = &ctx.auth;
  subscription_options_.buffer_records =
      static_cast<size_t>(config.GetInt("stream.subscriber_buffer", 10000));
  subscription_options_.heartbeat = config.GetDuration("stream.heartbeat", absl::Seconds(5));
  max_subscribers_ = static_cast<size_t>(config.GetInt("stream.max_subscribers", 1000));
  catchup_queue_ = static_cast<size_t>(config.GetInt("stream.catchup_queue", 2048));
  if (subscription_options_.buffer_records == 0 || max_subscribers_ == 0 ||
      subscription_options_.heartbeat <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "stream.subscriber_buffer, stream.max_subscribers and stream.heartbeat must be positive");
  }

  auto& reg = ctx.registry;
  auto& subscribers = prometheus::BuildGauge()
                          .Name("earshot_stream_subscribers")
                          .Help("Subscribers connected to Stream/Subscribe")
                          .Register(reg);
  auto& catching_up =
      prometheus::BuildGauge()
          .Name("earshot_stream_catching_up_subscribers")
          .Help("Subscribers reading history from Kafka before joining the live ring")
          .Register(reg);
  auto& deliveries = prometheus::BuildCounter()
                         .Name("earshot_stream_deliveries_total")
                         .Help("Routed events and alerts delivered to subscribers, by topic")
                         .Register(reg);
  auto& heartbeats = prometheus::BuildCounter()
                         .Name("earshot_stream_heartbeats_total")
                         .Help("Heartbeat deliveries (cursor only) sent while nothing matched")
                         .Register(reg);
  auto& slow = prometheus::BuildCounter()
                   .Name("earshot_stream_slow_disconnects_total")
                   .Help("Subscribers ended with RESOURCE_EXHAUSTED because they fell behind")
                   .Register(reg);
  auto& lag = prometheus::BuildHistogram()
                  .Name("earshot_stream_delivery_lag_seconds")
                  .Help("Time from the record's Kafka timestamp to its delivery")
                  .Register(reg);
  rejected_ = &prometheus::BuildCounter()
                   .Name("earshot_stream_rejected_total")
                   .Help("Subscribe calls refused, by gRPC status code")
                   .Register(reg);
  metrics_ = std::make_unique<StreamMetrics>(
      StreamMetrics{&subscribers.Add({}), &catching_up.Add({}),
                    &deliveries.Add({{"topic", "routed"}}), &deliveries.Add({{"topic", "alerts"}}),
                    &heartbeats.Add({}), &slow.Add({}), &lag.Add({}, LatencyBuckets())});
  for (auto code : {"unauthenticated", "permission_denied", "invalid_argument",
                    "resource_exhausted", "unavailable"}) {
    rejected_->Add({{"code", code}});
  }

  TailOptions tail_options;
  tail_options.consumer =
      kafka::ConsumerOptionsFromConfig(config, ctx.kafka_bootstrap, "earshot-stream");
  tail_options.consumer.client_id = "earshot-stream";
  tail_options.consumer.extra["fetch.wait.max.ms"] = std::to_string(
      absl::ToInt64Milliseconds(config.GetDuration("stream.fetch_wait", absl::Milliseconds(10))));
  tail_options.ring_records = static_cast<size_t>(config.GetInt("stream.ring_records", 65536));
  // One Kafka poll never appends more than a subscriber's buffer holds.
  tail_options.poll_batch = static_cast<int>(
      std::min<size_t>(tail_options.poll_batch, subscription_options_.buffer_records));
  if (tail_options.ring_records < subscription_options_.buffer_records) {
    return absl::InvalidArgumentError(
        "stream.ring_records must be at least stream.subscriber_buffer");
  }
  auto tail = Tail::Start(std::move(tail_options));
  if (!tail.ok()) return tail.status();
  tail_ = std::move(*tail);
  ctx.health.AddReadinessCheck("stream.kafka", [this] { return tail_ && tail_->healthy(); });

  service_ = std::make_unique<GrpcService>(this);
  grpc.RegisterService(service_.get());
  ticker_ = std::thread([this] { TickLoop(); });
  log::Info(kLogger, "started",
            {{"buffer_records", static_cast<int64_t>(subscription_options_.buffer_records)}});
  return absl::OkStatus();
}

absl::Status StreamApp::ResolveStart(const earshot::v1::SubscribeRequest& request,
                                     const Filter& filter, Positions* positions,
                                     std::optional<uint64_t>* seq) {
  using Req = earshot::v1::SubscribeRequest;
  const auto& topics = filter.topics();
  switch (request.start_case()) {
    case Req::kCursor: {
      auto decoded = DecodeCursor(request.cursor());
      if (!decoded.ok()) return decoded.status();
      // Partitions the cursor does not name (a topic added to the subscription, a partition
      // added to a topic) start at the earliest record still held.
      auto earliest = tail_->Earliest(topics);
      if (!earliest.ok()) return earliest.status();
      *positions = std::move(*earliest);
      for (auto& [tp, offset] : *positions) {
        if (auto it = decoded->find(tp); it != decoded->end())
          offset = std::max(offset, it->second);
      }
      break;
    }
    case Req::kEarliest: {
      auto earliest = tail_->Earliest(topics);
      if (!earliest.ok()) return earliest.status();
      *positions = std::move(*earliest);
      break;
    }
    case Req::kTime: {
      const int64_t ms = google::protobuf::util::TimeUtil::TimestampToMilliseconds(request.time());
      auto at = tail_->AtTime(topics, ms);
      if (!at.ok()) return at.status();
      *positions = std::move(*at);
      break;
    }
    default: {  // latest
      Positions all;
      *seq = tail_->Snapshot(&all);
      positions->clear();
      for (const auto& [tp, offset] : all) {
        if (filter.Wants(tp.topic)) (*positions)[tp] = offset;
      }
      return absl::OkStatus();
    }
  }
  *seq = tail_->Join(*positions);
  return absl::OkStatus();
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* StreamApp::Subscribe(grpc::CallbackServerContext* ctx,
                                                                 const grpc::ByteBuffer* raw) {
  auto reject = [&](const absl::Status& status) -> grpc::ServerWriteReactor<grpc::ByteBuffer>* {
    rejected_->Add({{"code", std::string(CodeLabel(status.code()))}}).Increment();
    log::Info(kLogger, "subscribe refused", {{"peer", ctx->peer()}, {"error", status.ToString()}});
    return new Rejected(status);
  };
  earshot::v1::SubscribeRequest request;
  grpc::ByteBuffer copy(*raw);
  if (!grpc::SerializationTraits<earshot::v1::SubscribeRequest>::Deserialize(&copy, &request)
           .ok()) {
    return reject(absl::InvalidArgumentError("request is not an earshot.v1.SubscribeRequest"));
  }
  auto caller = guard_->Authenticate(*ctx, "/earshot.v1.Stream/Subscribe");
  if (!caller.ok()) return reject(caller.status());
  auto filter = FilterFor(*caller, request);
  if (!filter.ok()) return reject(filter.status());
  {
    absl::MutexLock l(&mu_);
    if (draining_) return reject(absl::UnavailableError("server shutting down"));
    size_t live = 0;
    for (const auto& w : subscriptions_) live += w.expired() ? 0 : 1;
    if (live >= max_subscribers_) {
      return reject(absl::ResourceExhaustedError(
          "too many subscribers (stream.max_subscribers); try another replica or later"));
    }
  }
  Positions positions;
  std::optional<uint64_t> seq;
  if (auto st = ResolveStart(request, *filter, &positions, &seq); !st.ok()) return reject(st);

  const uint64_t id = ++next_id_;
  std::unique_ptr<CatchUp> catchup;
  if (!seq.has_value()) {
    auto started = CatchUp::Start(tail_.get(), positions, catchup_queue_,
                                  "earshot-stream-catchup-" + std::to_string(id));
    if (!started.ok()) return reject(started.status());
    catchup = std::move(*started);
  }
  SubscriptionOptions options = subscription_options_;
  if (request.heartbeat_seconds() > 0)
    options.heartbeat = absl::Seconds(request.heartbeat_seconds());
  auto sub = std::make_shared<Subscription>(options, tail_.get(), metrics_.get(),
                                            std::move(*filter), std::move(positions), ctx->peer());
  auto* reactor = new SubscribeReactor(sub);
  log::Info(kLogger, "subscribed",
            {{"peer", ctx->peer()},
             {"principal", caller->name()},
             {"client", request.client_name()},
             {"from", seq.has_value() ? "ring" : "kafka"}});
  sub->Begin(ctx, reactor, seq.value_or(0), std::move(catchup));
  {
    absl::MutexLock l(&mu_);
    subscriptions_.push_back(sub);
  }
  return reactor;
}

void StreamApp::TickLoop() {
  do {
    std::vector<std::shared_ptr<Subscription>> live;
    {
      absl::MutexLock l(&mu_);
      std::erase_if(subscriptions_, [](const auto& w) { return w.expired(); });
      for (const auto& w : subscriptions_) {
        if (auto s = w.lock()) live.push_back(std::move(s));
      }
    }
    const absl::Time now = absl::Now();
    for (auto& s : live) s->Tick(now);
  } while (!stop_ticker_.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
}

void StreamApp::Drain() {
  std::vector<std::shared_ptr<Subscription>> live;
  {
    absl::MutexLock l(&mu_);
    draining_ = true;
    for (const auto& w : subscriptions_) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->Shutdown();
  if (!live.empty())
    log::Info(kLogger, "ended streams for shutdown",
              {{"subscribers", static_cast<int64_t>(live.size())}});
}

void StreamApp::Stop() {
  if (ticker_.joinable()) {
    stop_ticker_.Notify();
    ticker_.join();
  }
  if (tail_) tail_->Stop();
}

}  // namespace earshot::stream
