#pragma once
// Metrics and health shared by every service of one process.
//
// Health holds named readiness checks (Kafka reachable, state restored) and liveness checks
// (the stateful loop running) that components register; the admin HTTP endpoint serves
// /metrics, /healthz (every liveness check true) and /readyz (every readiness check true). Owned by
// the process's App wiring; any thread may read or register.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace earshot {

class Health {
 public:
  // Readiness (/readyz, gRPC health): the part can take traffic now. A failing check takes the
  // pod out of its Service; it may pass again by itself (Kafka back, restore done).
  void AddReadinessCheck(std::string name, std::function<bool()> check);
  // Liveness (/healthz): the part is not stuck beyond repair without a restart (its loop
  // stopped on a failed write, or has made no progress for too long). A failing check makes
  // Kubernetes restart the pod.
  void AddLivenessCheck(std::string name, std::function<bool()> check);
  // The names of the failing checks; empty when ready (alive).
  std::vector<std::string> FailingChecks() const;
  std::vector<std::string> FailingLivenessChecks() const;
  bool Ready() const { return FailingChecks().empty(); }

  // Exports every check as earshot_readiness_check{check} and earshot_liveness_check{check}
  // (1 passing, 0 failing), evaluated when `registry` is collected through Refresh().
  void Export(prometheus::Registry& registry);
  // Sets the exported gauges from the checks; the admin server calls it before each scrape.
  void Refresh();

 private:
  using Checks = std::vector<std::pair<std::string, std::function<bool()>>>;
  static std::vector<std::string> Failing(const Checks& checks);
  void Gauges(const Checks& checks, prometheus::Family<prometheus::Gauge>* family);

  mutable absl::Mutex mu_;
  Checks checks_ ABSL_GUARDED_BY(mu_);
  Checks liveness_ ABSL_GUARDED_BY(mu_);
  prometheus::Family<prometheus::Gauge>* readiness_family_ ABSL_GUARDED_BY(mu_) = nullptr;
  prometheus::Family<prometheus::Gauge>* liveness_family_ ABSL_GUARDED_BY(mu_) = nullptr;
};

// Prometheus text exposition of every metric family in the registry.
std::string SerializeMetrics(prometheus::Registry& registry);

// Buckets for latencies from 100 microseconds to 10 seconds.
prometheus::Histogram::BucketBoundaries LatencyBuckets();

}  // namespace earshot
