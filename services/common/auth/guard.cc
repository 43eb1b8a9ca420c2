#include "services/common/auth/guard.h"

#include "fmt/format.h"
#include "google/protobuf/descriptor.h"
#include "services/common/base/log.h"

namespace earshot::auth {
namespace {

constexpr char kLogger[] = "auth";

std::string Denial(std::string_view who, std::string_view scope, std::string_view resource) {
  const std::string_view noun = scope.starts_with("ingest:") ? "source"
                                : scope == "threads:erase"   ? "platform"
                                                             : "queue";
  if (resource == "*") return fmt::format("principal {} lacks {} on every {}", who, scope, noun);
  return fmt::format("principal {} lacks {} on {} {}", who, scope, noun, resource);
}

}  // namespace

Guard::Guard(prometheus::Registry& registry, std::shared_ptr<const Authenticator> auth)
    : decisions_(&prometheus::BuildCounter()
                      .Name("earshot_grpc_auth_decisions_total")
                      .Help("Authentication and authorization decisions on gRPC calls, by method")
                      .Register(registry)),
      auth_(std::move(auth)) {
  // Every method of the services a process may serve, at 0 from the start.
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const char* name : {"earshot.v1.Ingest", "earshot.v1.Threads", "earshot.v1.Stream"}) {
    const auto* service = pool->FindServiceByName(name);
    for (int i = 0; service != nullptr && i < service->method_count(); ++i) {
      const std::string method = fmt::format("/{}/{}", name, service->method(i)->name());
      for (const char* decision : {"allowed", "unauthenticated", "denied"}) {
        decisions_->Add({{"method", method}, {"decision", decision}});
      }
    }
  }
}

void Guard::Swap(std::shared_ptr<const Authenticator> auth) {
  absl::MutexLock l(&mu_);
  auth_ = std::move(auth);
}

std::shared_ptr<const Authenticator> Guard::current() const {
  absl::MutexLock l(&mu_);
  return auth_;
}

absl::StatusOr<Caller> Guard::Authenticate(const grpc::ServerContextBase& ctx,
                                           std::string_view method) const {
  Caller caller{current(), nullptr, nullptr, std::string(method), ctx.peer()};
  auto refuse = [&](const absl::Status& st, std::string_view principal) {
    Count(method, "unauthenticated");
    LogRefusal(method, caller.peer, principal, "", st);
    return st;
  };
  auto principal = caller.auth->Authenticate(ctx);
  if (!principal.ok()) return refuse(principal.status(), "");
  caller.principal = *principal;
  const auto& md = ctx.client_metadata();
  auto behalf = md.find(kOnBehalfOf);
  if (behalf == md.end() || caller.open()) return caller;
  // A forwarded call: whether the forwarder may forward is decided per queue, in Authorize.
  const std::string_view name(behalf->second.data(), behalf->second.size());
  const Principal* original = caller.auth->Find(name);
  if (original == nullptr) {
    return refuse(
        absl::UnauthenticatedError(fmt::format("{} names unknown principal {}", kOnBehalfOf, name)),
        caller.name());
  }
  if (caller.principal->Find("threads:forward") == nullptr) {
    const auto st = absl::PermissionDeniedError(fmt::format(
        "principal {} lacks threads:forward and may not act for {}", caller.name(), name));
    Count(method, "denied");
    LogRefusal(method, caller.peer, caller.name(), "", st);
    return st;
  }
  caller.via = caller.principal;
  caller.principal = original;
  return caller;
}

absl::Status Guard::Authorize(const Caller& caller, std::string_view scope,
                              std::span<const std::string> resources) const {
  absl::Status decision;
  for (const std::string& resource : resources) {
    if (caller.via != nullptr && !caller.via->Holds("threads:forward", resource)) {
      decision = absl::PermissionDeniedError(Denial(caller.via->name, "threads:forward", resource) +
                                             " (forwarding for " + caller.name() + ")");
      break;
    }
    if (!caller.principal->Holds(scope, resource)) {
      decision = absl::PermissionDeniedError(Denial(caller.name(), scope, resource));
      break;
    }
  }
  Record(caller, decision);
  return decision;
}

absl::StatusOr<Caller> Guard::Check(const grpc::ServerContextBase& ctx, std::string_view method,
                                    std::string_view scope, const std::string& resource) const {
  auto caller = Authenticate(ctx, method);
  if (!caller.ok()) return caller.status();
  if (auto st = Authorize(*caller, scope, resource); !st.ok()) return st;
  return caller;
}

void Guard::Record(const Caller& caller, const absl::Status& decision) const {
  if (decision.ok()) return Count(caller.method, "allowed");
  Count(caller.method, "denied");
  LogRefusal(caller.method, caller.peer, caller.name(),
             caller.via != nullptr ? std::string_view(caller.via->name) : "", decision);
}

void Guard::Count(std::string_view method, std::string_view decision) const {
  decisions_->Add({{"method", std::string(method)}, {"decision", std::string(decision)}})
      .Increment();
}

void Guard::LogRefusal(std::string_view method, std::string_view peer, std::string_view principal,
                       std::string_view via, const absl::Status& status) const {
  log::Warn(kLogger, "call refused",
            {{"method", method},
             {"peer", peer},
             {"principal", principal},
             {"via", via},
             {"code", absl::StatusCodeToString(status.code())},
             {"reason", status.message()}});
}

absl::StatusOr<std::shared_ptr<const Authenticator>> LoadFromConfig(const Config& config) {
  const std::string principals = config.GetString("auth.principals_file", "");
  const std::string teams = config.GetString("stream.tokens_file", "");
  if (principals.empty() && teams.empty()) return Authenticator::Open();
  if (!teams.empty()) {
    log::Warn(kLogger,
              "stream.tokens_file is deprecated: its teams are principals holding "
              "stream:read; move them to auth.principals_file",
              {{"file", teams}});
  }
  return Authenticator::Load(principals, teams);
}

}  // namespace earshot::auth
