#include "services/stream/subscription.h"

#include <cstring>

#include "fmt/format.h"
#include "google/protobuf/util/time_util.h"
#include "grpc/slice.h"
#include "grpcpp/server_context.h"

namespace earshot::stream {
namespace {

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// The tag and length of a length-delimited field (protobuf wire type 2); its bytes follow.
void AppendFieldHeader(int field, size_t size, std::string* out) {
  AppendVarint((static_cast<uint64_t>(field) << 3) | 2, out);
  AppendVarint(size, out);
}

constexpr int kRoutedField = 6;  // Delivery.routed
constexpr int kAlertField = 7;   // Delivery.alert

}  // namespace

Subscription::Subscription(SubscriptionOptions options, Tail* tail, StreamMetrics* metrics,
                           Filter filter, Positions positions, std::string peer)
    : options_(options),
      tail_(tail),
      metrics_(metrics),
      filter_(std::move(filter)),
      peer_(std::move(peer)),
      positions_(std::move(positions)) {}

Subscription::~Subscription() = default;

void Subscription::Begin(grpc::CallbackServerContext* ctx, Reactor* reactor, uint64_t seq,
                         std::unique_ptr<CatchUp> catchup) {
  std::weak_ptr<Subscription> weak = weak_from_this();
  waker_ = std::make_shared<Tail::Waker>([this, weak] {
    if (auto self = weak.lock()) {
      parked_ = false;
      self->Pump();
    }
  });
  metrics_->subscribers->Increment();
  absl::MutexLock l(&mu_);
  ctx_ = ctx;
  reactor_ = reactor;
  seq_ = seq;
  allowance_ = std::max<uint64_t>(options_.buffer_records, tail_->head() - seq);
  catchup_ = std::move(catchup);
  if (catchup_) metrics_->catching_up->Increment();
  WriteLocked(nullptr);  // the start cursor, at once
}

void Subscription::Pump() {
  absl::MutexLock l(&mu_);
  PumpLocked();
}

void Subscription::OnWriteDone(bool ok) {
  absl::MutexLock l(&mu_);
  writing_ = false;
  if (!ok) {  // the client went away
    FinishLocked(grpc::StatusCode::CANCELLED, "write failed");
    return;
  }
  PumpLocked();
}

void Subscription::OnCancel() {
  absl::MutexLock l(&mu_);
  FinishLocked(grpc::StatusCode::CANCELLED, "cancelled");
}

void Subscription::OnDone() {
  std::unique_ptr<CatchUp> catchup;
  std::unique_ptr<CatchUp> retired;
  {
    absl::MutexLock l(&mu_);
    done_ = true;
    reactor_ = nullptr;
    ctx_ = nullptr;
    if (catchup_) metrics_->catching_up->Decrement();
    catchup = std::move(catchup_);
    retired = std::move(retired_);
  }
  metrics_->subscribers->Decrement();
  // Joined here, outside mu_: their threads may be waking this subscription.
  catchup.reset();
  retired.reset();
}

void Subscription::Shutdown() {
  absl::MutexLock l(&mu_);
  FinishLocked(grpc::StatusCode::UNAVAILABLE, "server shutting down");
}

void Subscription::Tick(absl::Time now) {
  std::unique_ptr<CatchUp> retired;
  {
    absl::MutexLock l(&mu_);
    retired = std::move(retired_);
    if (!finished_ && reactor_ != nullptr) {
      const uint64_t behind = tail_->head() - seq_ + (pending_.size() - next_pending_);
      allowance_ = std::min(allowance_, std::max<uint64_t>(options_.buffer_records, behind));
      if (catchup_ == nullptr && behind > allowance_) {
        FinishSlowLocked();
      } else if (!writing_ && now - last_write_ >= options_.heartbeat) {
        WriteLocked(nullptr);
      } else if (!writing_) {
        PumpLocked();
      }
    }
  }
  retired.reset();
}

bool Subscription::RefillLocked() {
  pending_.clear();
  next_pending_ = 0;
  while (true) {
    if (catchup_ != nullptr) {
      CatchUp::Taken taken = catchup_->Take(options_.read_batch, &pending_);
      if (!pending_.empty()) return true;
      if (!taken.error.ok()) {
        FinishLocked(grpc::StatusCode::UNAVAILABLE,
                     "reading history failed: " + std::string(taken.error.message()));
        return false;
      }
      if (taken.joined.has_value()) {
        seq_ = *taken.joined;
        allowance_ = std::max<uint64_t>(options_.buffer_records, tail_->head() - seq_);
        retired_ = std::move(catchup_);
        metrics_->catching_up->Decrement();
        continue;
      }
      if (!parked_.exchange(true)) {
        if (!catchup_->Park(waker_)) {
          parked_ = false;
          continue;
        }
      }
      return false;
    }
    if (!tail_->Read(&seq_, options_.read_batch, &pending_)) {
      FinishSlowLocked();
      return false;
    }
    if (!pending_.empty()) return true;
    if (!parked_.exchange(true)) {
      if (!tail_->Park(seq_, waker_)) {
        parked_ = false;
        continue;
      }
    }
    return false;
  }
}

void Subscription::PumpLocked() {
  while (!finished_ && !writing_ && reactor_ != nullptr) {
    if (next_pending_ == pending_.size() && !RefillLocked()) return;
    const RecordPtr& r = pending_[next_pending_++];
    auto pos = positions_.find(r->tp);
    if (pos == positions_.end() || r->offset < pos->second) continue;  // seen, or not ours
    pos->second = r->offset + 1;
    if (!filter_.Matches(*r)) continue;  // the cursor moves past it all the same
    WriteLocked(r.get());
  }
}

void Subscription::WriteLocked(const Record* r) {
  earshot::v1::Delivery header;
  header.set_cursor(EncodeCursor(positions_));
  const absl::Time now = absl::Now();
  std::string bytes;
  if (r != nullptr) {
    header.set_topic(r->tp.topic);
    header.set_partition(r->tp.partition);
    header.set_offset(r->offset);
    *header.mutable_written_at() =
        google::protobuf::util::TimeUtil::MillisecondsToTimestamp(r->timestamp_ms);
    header.SerializeToString(&bytes);
    const bool alert = r->tp.topic == earshot::v1::STREAM_TOPIC_ALERTS;
    AppendFieldHeader(alert ? kAlertField : kRoutedField, r->payload.size(), &bytes);
    (alert ? metrics_->deliveries_alerts : metrics_->deliveries_routed)->Increment();
    metrics_->delivery_lag->Observe(std::max<double>(0, absl::ToUnixMillis(now) - r->timestamp_ms) /
                                    1000.0);
  } else {
    *header.mutable_heartbeat()->mutable_at() =
        google::protobuf::util::TimeUtil::MillisecondsToTimestamp(absl::ToUnixMillis(now));
    header.SerializeToString(&bytes);
    metrics_->heartbeats->Increment();
  }
  // One allocation and one copy of the payload: header, field tag and length, payload.
  const size_t payload = r != nullptr ? r->payload.size() : 0;
  grpc_slice raw = grpc_slice_malloc(bytes.size() + payload);
  std::memcpy(GRPC_SLICE_START_PTR(raw), bytes.data(), bytes.size());
  if (payload > 0)
    std::memcpy(GRPC_SLICE_START_PTR(raw) + bytes.size(), r->payload.data(), payload);
  grpc::Slice slice(raw, grpc::Slice::STEAL_REF);
  buffer_ = grpc::ByteBuffer(&slice, 1);
  writing_ = true;
  last_write_ = now;
  reactor_->StartWrite(&buffer_);
}

void Subscription::FinishLocked(grpc::StatusCode code, const std::string& message) {
  if (finished_ || reactor_ == nullptr) return;
  finished_ = true;
  const std::string cursor = EncodeCursor(positions_);
  ctx_->AddTrailingMetadata("earshot-cursor", cursor);
  reactor_->Finish(grpc::Status(code, fmt::format("{}; resume with cursor {}", message, cursor)));
}

void Subscription::FinishSlowLocked() {
  metrics_->slow_disconnects->Increment();
  FinishLocked(grpc::StatusCode::RESOURCE_EXHAUSTED,
               fmt::format("subscriber fell more than {} records behind", options_.buffer_records));
}

}  // namespace earshot::stream
