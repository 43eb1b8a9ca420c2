#pragma once
// Process: the wiring of one `earshot` process. Starts, in order, the embedded broker (standalone
// without a configured Kafka), the admin endpoint, the selected services and the shared gRPC
// server (health always, reflection with grpc.reflection), every gRPC service behind the one
// auth::Guard; Stop() undoes it in reverse. Used by main() and by
// end-to-end tests that run the whole stack in one test process.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "prometheus/registry.h"
#include "services/common/auth/guard.h"
#include "services/common/base/clock.h"
#include "services/common/base/config.h"
#include "services/common/base/metrics.h"
#include "services/common/base/process_metrics.h"
#include "services/common/base/service.h"
#include "services/common/http/admin.h"
#include "services/common/http/server.h"
#include "services/common/kafka/embedded_broker.h"

namespace earshot {

struct ProcessOptions {
  std::string target = "all";  // all | gateway
  std::string data_dir = "data";
  const Clock* clock = nullptr;  // null: the real clock (tests pass a simulated one)
};

class Process {
 public:
  Process(ProcessOptions options, Config config);
  ~Process();

  absl::Status Start();
  void Stop();
  // SIGHUP, or a watched file changed: every service re-reads what may change at run time.
  void Reload();

  const std::string& kafka_bootstrap() const { return bootstrap_; }
  kafka::EmbeddedBroker* embedded_broker() { return broker_.get(); }
  int grpc_port() const { return grpc_port_; }
  int admin_port() const { return admin_ ? admin_->port() : 0; }
  Service* service(std::string_view name);
  bool Ready() const { return health_.Ready(); }

 private:
  void WatchFiles(absl::Duration interval);

  ProcessOptions options_;
  Config config_;
  std::shared_ptr<prometheus::Registry> registry_;
  Health health_;
  std::unique_ptr<ProcessMetrics> process_metrics_;  // memory, for /metrics
  std::unique_ptr<auth::Guard> auth_;
  std::unique_ptr<kafka::EmbeddedBroker> broker_;
  std::string bootstrap_;
  std::unique_ptr<http::AdminHandler> admin_handler_;
  std::unique_ptr<http::Server> admin_;
  std::vector<std::unique_ptr<Service>> services_;
  std::unique_ptr<grpc::CallbackGenericService> unknown_methods_ =
      std::make_unique<grpc::CallbackGenericService>();
  std::unique_ptr<grpc::Server> grpc_;
  int grpc_port_ = 0;
  std::thread health_thread_;
  absl::Notification stop_health_;
  // Watches the files services reload (rules, SLA policies, stream tokens): an edited file, or a
  // Kubernetes ConfigMap update, takes effect without a restart or a signal.
  std::thread watch_thread_;
  absl::Notification stop_watch_;
  absl::Mutex reload_mu_;  // one reload at a time (signal and watcher)
  std::atomic<bool> started_{false};
};

// gRPC listener credentials from config: plain, TLS (grpc.tls.cert_file, grpc.tls.key_file), or
// also client certificates (grpc.tls.client_ca_file): verified when presented, so that token
// clients without one still connect, and required with grpc.tls.require_client_certificate. An
// untrusted or expired certificate fails the handshake (the client sees UNAVAILABLE).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(
    const Config& config);

// Whether a listening address ("host:port") is reachable from this machine only: 127.0.0.0/8,
// ::1, localhost, or a unix socket.
bool IsLoopback(std::string_view addr);

// The names --target accepts.
const std::vector<std::string>& KnownTargets();

}  // namespace earshot
