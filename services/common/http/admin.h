#pragma once
// The admin endpoint every process serves (EARSHOT_ADMIN_ADDR): /metrics (Prometheus text),
// /healthz (alive) and /readyz (every readiness check passes; 503 names the failing ones).
#include <memory>

#include "prometheus/registry.h"
#include "services/common/base/metrics.h"
#include "services/common/http/server.h"

namespace earshot::http {

class AdminHandler final : public Handler {
 public:
  AdminHandler(prometheus::Registry& registry, Health& health)
      : registry_(registry), health_(health) {}
  void Handle(Request request, Responder respond) override;

 private:
  prometheus::Registry& registry_;
  Health& health_;
};

}  // namespace earshot::http
