#include "services/common/base/metrics.h"

#include "prometheus/text_serializer.h"

namespace earshot {

void Health::AddReadinessCheck(std::string name, std::function<bool()> check) {
  absl::MutexLock lock(&mu_);
  checks_.emplace_back(std::move(name), std::move(check));
}

void Health::AddLivenessCheck(std::string name, std::function<bool()> check) {
  absl::MutexLock lock(&mu_);
  liveness_.emplace_back(std::move(name), std::move(check));
}

std::vector<std::string> Health::Failing(const Checks& checks) {
  std::vector<std::string> failing;
  for (const auto& [name, check] : checks) {
    if (!check()) failing.push_back(name);
  }
  return failing;
}

std::vector<std::string> Health::FailingChecks() const {
  absl::MutexLock lock(&mu_);
  return Failing(checks_);
}

std::vector<std::string> Health::FailingLivenessChecks() const {
  absl::MutexLock lock(&mu_);
  return Failing(liveness_);
}

void Health::Export(prometheus::Registry& registry) {
  absl::MutexLock lock(&mu_);
  readiness_family_ = &prometheus::BuildGauge()
                           .Name("earshot_readiness_check")
                           .Help("1 while the readiness check passes, 0 while it fails (/readyz)")
                           .Register(registry);
  liveness_family_ = &prometheus::BuildGauge()
                          .Name("earshot_liveness_check")
                          .Help("1 while the liveness check passes, 0 while it fails (/healthz)")
                          .Register(registry);
}

void Health::Gauges(const Checks& checks, prometheus::Family<prometheus::Gauge>* family) {
  if (family == nullptr) return;
  for (const auto& [name, check] : checks) family->Add({{"check", name}}).Set(check() ? 1 : 0);
}

void Health::Refresh() {
  absl::MutexLock lock(&mu_);
  Gauges(checks_, readiness_family_);
  Gauges(liveness_, liveness_family_);
}

std::string SerializeMetrics(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};
}

}  // namespace earshot
