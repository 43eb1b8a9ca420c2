#pragma once
// Metrics and health shared by every service of one process.
//
// Health holds named readiness checks that components register (Kafka reachable, state
// restored); the admin HTTP endpoint serves /metrics from Metrics::registry(), /healthz
// (alive) and /readyz (every check true). Owned by the process's App wiring; any thread may
// read or register.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace earshot {

class Health {
 public:
  void AddReadinessCheck(std::string name, std::function<bool()> check);
  // The names of the failing checks; empty when ready.
  std::vector<std::string> FailingChecks() const;
  bool Ready() const { return FailingChecks().empty(); }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::pair<std::string, std::function<bool()>>> checks_ ABSL_GUARDED_BY(mu_);
};

// Prometheus text exposition of every metric family in the registry.
std::string SerializeMetrics(prometheus::Registry& registry);

// Buckets for latencies from 100 microseconds to 10 seconds.
prometheus::Histogram::BucketBoundaries LatencyBuckets();

}  // namespace earshot
