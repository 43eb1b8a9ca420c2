#pragma once
// RuleSet: the routing rules of one YAML file, validated when loaded; Decide() maps an event to
// a RoutingDecision (queue, priority, tags, SLA policy, ignore). Immutable once built, so the
// router swaps in a new one on SIGHUP while the old one finishes the event in hand; Decide() is
// safe from any thread.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "earshot/v1/event.pb.h"
#include "earshot/v1/routing.pb.h"

namespace earshot::router {

class RuleSet {
 public:
  virtual ~RuleSet() = default;

  // Errors name the source, the line and the reason, e.g.
  // "rules.yaml:14: rule \"influencers\": unknown condition \"folowers_min\"".
  // InvalidArgument listing every error found (up to 20), one a line; the file format is in
  // services/router/README.md. yaml-cpp's exceptions do not leave Parse().
  static absl::StatusOr<std::unique_ptr<RuleSet>> Parse(std::string_view yaml,
                                                        std::string_view source_name);
  // NotFound when the file cannot be read; otherwise as Parse() with the path as source name.
  static absl::StatusOr<std::unique_ptr<RuleSet>> LoadFile(const std::string& path);
  // The rules used when none are configured: everything to queue "general", priority NORMAL,
  // SLA policy "default"; the brand's own messages are ignored.
  static std::unique_ptr<RuleSet> Default();

  virtual earshot::v1::RoutingDecision Decide(const earshot::v1::Event& event) const = 0;
  virtual size_t rule_count() const = 0;
  // Every queue a decision can name (the default's and the rules'), for metrics that show each
  // queue at 0 before its first event. Default: none.
  virtual std::vector<std::string> queues() const { return {}; }
};

}  // namespace earshot::router
