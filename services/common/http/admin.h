#pragma once
// The admin endpoint every process serves (EARSHOT_ADMIN_ADDR): /metrics (Prometheus text),
// /healthz (alive) and /readyz (every readiness check passes; 503 names the failing ones).
#include <memory>

#include "prometheus/registry.h"
#include "services/common/base/metrics.h"
#include "services/common/base/process_metrics.h"
#include "services/common/http/server.h"

namespace earshot::http {

class AdminHandler final : public Handler {
 public:
  // `process` (may be null): refreshed before each scrape with the health checks.
  AdminHandler(prometheus::Registry& registry, Health& health, ProcessMetrics* process = nullptr)
      : registry_(registry), health_(health), process_(process) {}
  void Handle(Request request, Responder respond) override;

 private:
  prometheus::Registry& registry_;
  Health& health_;
  ProcessMetrics* process_;
};

}  // namespace earshot::http
