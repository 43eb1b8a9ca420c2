#include "services/gateway/ingest_service.h"

#include "absl/strings/str_cat.h"
#include "fmt/format.h"
#include "prometheus/counter.h"
#include "services/common/base/status.h"
#include "services/common/names/names.h"

namespace earshot::gateway {
namespace {

absl::Status Validate(const earshot::v1::Event& e, int index) {
  auto bad = [index](std::string_view what) {
    return absl::InvalidArgumentError(fmt::format("events[{}]: {}", index, what));
  };
  if (e.event_id().empty()) return bad("event_id is required");
  if (e.thread_key().empty()) return bad("thread_key is required");
  if (e.platform() == earshot::v1::PLATFORM_UNSPECIFIED) return bad("platform is required");
  if (e.kind() == earshot::v1::KIND_UNSPECIFIED) return bad("kind is required");
  if (e.direction() == earshot::v1::DIRECTION_UNSPECIFIED &&
      e.kind() != earshot::v1::KIND_CONTROL) {
    return bad("direction is required");
  }
  return absl::OkStatus();
}

// What ingest:publish names: the platform, or a generic webhook source's account.
std::string Source(const earshot::v1::Event& e) {
  if (e.platform() == earshot::v1::PLATFORM_GENERIC) return "generic:" + e.account_id();
  return std::string(names::Platform(e.platform()));
}

}  // namespace

IngestService::IngestService(kafka::RecordSink* sink, Topics topics, std::size_t max_batch,
                             prometheus::Registry& registry, const auth::Guard& guard,
                             const Clock& clock)
    : sink_(sink), topics_(std::move(topics)), max_batch_(max_batch), guard_(guard), clock_(clock) {
  auto& family = prometheus::BuildCounter()
                     .Name("earshot_gateway_ingest_events_total")
                     .Help("Events published through gRPC Ingest, by result")
                     .Register(registry);
  published_ = &family.Add({{"result", "acknowledged"}});
  rejected_ = &family.Add({{"result", "rejected"}});
}

grpc::ServerUnaryReactor* IngestService::Publish(grpc::CallbackServerContext* context,
                                                 const earshot::v1::PublishRequest* request,
                                                 earshot::v1::PublishResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const int n = request->events_size();
  auto caller = guard_.Authenticate(*context, "/earshot.v1.Ingest/Publish");
  if (!caller.ok()) {
    rejected_->Increment(n);
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  if (static_cast<std::size_t>(n) > max_batch_) {
    rejected_->Increment(n);
    reactor->Finish(ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("batch of ", n, " events is over the limit of ", max_batch_))));
    return reactor;
  }
  for (int i = 0; i < n; ++i) {
    if (auto st = Validate(request->events(i), i); !st.ok()) {
      rejected_->Increment(n);
      reactor->Finish(ToGrpcStatus(st));
      return reactor;
    }
  }
  std::vector<std::string> sources;
  absl::Status allowed;
  for (int i = 0; i < n && allowed.ok(); ++i) {
    if (request->events(i).kind() == earshot::v1::KIND_CONTROL) {
      allowed = absl::PermissionDeniedError(fmt::format(
          "events[{}]: control events come only from Threads/Resolve, never from Ingest", i));
      guard_.Record(*caller, allowed);
    }
    sources.push_back(Source(request->events(i)));
  }
  if (allowed.ok()) allowed = guard_.Authorize(*caller, "ingest:publish", sources);
  if (!allowed.ok()) {
    rejected_->Increment(n);
    reactor->Finish(ToGrpcStatus(allowed));
    return reactor;
  }
  if (!sink_->reachable()) {
    reactor->Finish(ToGrpcStatus(absl::UnavailableError("kafka is unreachable")));
    return reactor;
  }
  const absl::Time now = clock_.Now();
  std::vector<kafka::Record> records;
  records.reserve(n);
  for (int i = 0; i < n; ++i) {
    const earshot::v1::Event& in = request->events(i);
    if (in.has_received_at()) {
      records.push_back(EventRecord(in, topics_.events));
    } else {
      earshot::v1::Event e = in;
      e.mutable_received_at()->set_seconds(absl::ToUnixSeconds(now));
      records.push_back(EventRecord(e, topics_.events));
    }
    response->add_event_ids(in.event_id());
  }
  sink_->ProduceBatch(std::move(records), [this, reactor, response, n](absl::Status st) {
    if (st.ok()) {
      response->set_accepted(n);
      published_->Increment(n);
    } else {
      response->clear_event_ids();
    }
    reactor->Finish(ToGrpcStatus(st));
  });
  return reactor;
}

}  // namespace earshot::gateway
