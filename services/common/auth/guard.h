#pragma once
// Guard: the process's one Authenticator, swapped whole on reload, and every decision taken with
// it on a gRPC call: counted in earshot_grpc_auth_decisions_total{method, decision} (allowed,
// unauthenticated, denied); refusals logged as JSON lines with method, peer, principal and
// reason, never a token. A handler authenticates first, then authorizes where it knows the
// queue or source:
//
//   auto caller = guard.Check(ctx, "/earshot.v1.Threads/Erase", "threads:erase", "*");
//
// A router replica forwarding a Threads call to the owner of the thread authenticates as itself
// and names the original principal in x-earshot-on-behalf-of; the owner accepts that only from a
// principal holding threads:forward (on the queue), then authorizes the named one. Any thread.
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "services/common/auth/authenticator.h"
#include "services/common/base/config.h"

namespace earshot::auth {

inline constexpr char kOnBehalfOf[] = "x-earshot-on-behalf-of";

// Who a call acts for, and what it was authenticated with.
struct Caller {
  std::shared_ptr<const Authenticator> auth;  // keeps the principals alive during the call
  const Principal* principal = nullptr;       // whom the call acts for
  const Principal* via = nullptr;             // the forwarding replica, if any
  std::string method;
  std::string peer;
  const std::string& name() const { return principal->name; }
  bool open() const { return auth->open(); }
};

class Guard {
 public:
  Guard(prometheus::Registry& registry, std::shared_ptr<const Authenticator> auth);

  void Swap(std::shared_ptr<const Authenticator> auth);
  std::shared_ptr<const Authenticator> current() const;

  // UNAUTHENTICATED (counted and logged) without credentials naming a principal.
  absl::StatusOr<Caller> Authenticate(const grpc::ServerContextBase& ctx,
                                      std::string_view method) const;
  // OK when the caller holds `scope` on every one of `resources` (queues, or sources for
  // ingest:publish); else PERMISSION_DENIED naming the first one it lacks. One decision.
  absl::Status Authorize(const Caller& caller, std::string_view scope,
                         std::span<const std::string> resources) const;
  absl::Status Authorize(const Caller& caller, std::string_view scope,
                         const std::string& resource) const {
    return Authorize(caller, scope, std::span<const std::string>(&resource, 1));
  }
  // Authenticate, then Authorize one resource.
  absl::StatusOr<Caller> Check(const grpc::ServerContextBase& ctx, std::string_view method,
                               std::string_view scope, const std::string& resource) const;
  // Counts (and logs, when refused) a decision a service took itself (a stream filter).
  void Record(const Caller& caller, const absl::Status& decision) const;

 private:
  void Count(std::string_view method, std::string_view decision) const;
  // `via`: the forwarding replica's principal, "" for a direct call.
  void LogRefusal(std::string_view method, std::string_view peer, std::string_view principal,
                  std::string_view via, const absl::Status& status) const;

  prometheus::Family<prometheus::Counter>* decisions_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Authenticator> auth_ ABSL_GUARDED_BY(mu_);
};

// The Authenticator of a process's config: auth.principals_file, and the deprecated
// stream.tokens_file; open when neither is set.
absl::StatusOr<std::shared_ptr<const Authenticator>> LoadFromConfig(const Config& config);

}  // namespace earshot::auth
