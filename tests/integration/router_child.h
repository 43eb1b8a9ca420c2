#pragma once
// RouterChild: `earshot --target=router` as a separate process (tests/support/earshot_child.h)
// that can wait until it has caught up with its input; for the tests that kill, restart and
// break routers. The test target defines EARSHOT_BINARY.
#include <optional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/support/earshot_child.h"

namespace earshot {

using testing::MetricByLabel;
using testing::MetricSum;

class RouterChild : public testing::EarshotChild {
 public:
  // `partitions`: of the input topic, all of which a caught-up router owns.
  RouterChild(std::string data_dir, std::string log, std::string config,
              std::vector<std::string> env, int partitions)
      : EarshotChild(EARSHOT_BINARY, "router", std::move(data_dir), std::move(log),
                     std::move(config), std::move(env)),
        partitions_(partitions) {}

  void Start() {
    auto st = EarshotChild::Start();
    ASSERT_TRUE(st.ok()) << st;
  }

  struct CaughtUp {
    double consumed = 0;  // records this process consumed
    absl::Time since;     // first seen caught up (the metrics lag up to 2 s behind)
  };
  // Waits until this router owns every partition, reports no lag on any, and has consumed
  // nothing more for longer than two metric refreshes (the router refreshes every 2 s).
  std::optional<CaughtUp> WaitCaughtUp(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    std::optional<absl::Time> quiet_since;
    double quiet_total = -1;
    while (absl::Now() < deadline && running()) {
      const std::string m = Metrics();
      const double owned = MetricSum(m, "earshot_router_owned_partitions");
      const auto lag = MetricByLabel(m, "earshot_router_consumer_lag", "partition");
      const double total = MetricSum(m, "earshot_router_events_total");
      bool caught_up =
          !m.empty() && owned == partitions_ && lag.size() == static_cast<size_t>(partitions_);
      for (const auto& [_, v] : lag) caught_up = caught_up && v == 0;
      if (!caught_up || total != quiet_total || !quiet_since) {
        quiet_since = caught_up ? std::optional<absl::Time>(absl::Now()) : std::nullopt;
        quiet_total = total;
      } else if (absl::Now() - *quiet_since >= absl::Milliseconds(4500)) {
        return CaughtUp{total, *quiet_since};
      }
      absl::SleepFor(absl::Milliseconds(250));
    }
    return std::nullopt;
  }

 private:
  int partitions_;
};

}  // namespace earshot
