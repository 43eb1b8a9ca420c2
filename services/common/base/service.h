#pragma once
// The shape of every Earshot service (gateway, router, sla, stream), so that one binary can run
// any of them alone or all of them in one process. The process wiring (services/earshot)
// starts services in order and stops them in reverse; there are no singletons.
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "grpcpp/server_builder.h"
#include "prometheus/registry.h"
#include "services/common/base/clock.h"
#include "services/common/base/config.h"
#include "services/common/base/metrics.h"

namespace earshot {

namespace auth {
class Guard;  // services/common/auth: base does not depend on it
}

struct ServiceContext {
  const Config& config;
  prometheus::Registry& registry;
  Health& health;
  std::string kafka_bootstrap;
  std::string data_dir;
  const Clock& clock;  // the real clock, or a simulated one in tests
  auth::Guard& auth;   // who calls a gRPC method, and what it may do
};

class Service {
 public:
  virtual ~Service() = default;
  virtual std::string_view name() const = 0;
  // Builds the service's parts and registers its gRPC services on `grpc` (which is started
  // after every service's Start). Returns an error for bad config or unreachable resources.
  virtual absl::Status Start(const ServiceContext& ctx, grpc::ServerBuilder& grpc) = 0;
  // Called before the gRPC server shuts down: end long-lived calls (streams) so that the
  // shutdown does not wait for them. Default: nothing.
  virtual void Drain() {}
  // Stops taking work, drains what is in flight, flushes and commits. Called once, after the
  // gRPC server has shut down, in reverse order of Start.
  virtual void Stop() = 0;
  // SIGHUP: re-read what can change at run time (rules, policies). Must not lose events.
  virtual void Reload() {}
};

}  // namespace earshot
