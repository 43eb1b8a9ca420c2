#include "services/common/base/metrics.h"

#include "prometheus/text_serializer.h"

namespace earshot {

void Health::AddReadinessCheck(std::string name, std::function<bool()> check) {
  absl::MutexLock lock(&mu_);
  checks_.emplace_back(std::move(name), std::move(check));
}

std::vector<std::string> Health::FailingChecks() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> failing;
  for (const auto& [name, check] : checks_) {
    if (!check()) failing.push_back(name);
  }
  return failing;
}

std::string SerializeMetrics(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};
}

}  // namespace earshot
