#pragma once
// ChannelWatch: alerts about channels rather than single conversations.
//   MentionSurge  — customer messages to one account in the last `surge.window` exceed both
//                   `surge.min_count` and `surge.factor` × their usual rate (an exponentially
//                   weighted average of earlier windows): a crisis, a "shitstorm".
//   ChannelSilent — a platform account that delivered at least `silence.min_events` events has
//                   been silent longer than both `silence.min_silence` and `silence.factor` × its
//                   usual gap between events: an expired token, a dropped subscription.
// Each fires once and resolves when the condition ends. A watch must see every event of the
// routed topic: the SLA app runs one, on the replica that owns input partition 0, fed by a reader
// of the whole topic, and checkpoints it (Save/Load) with that partition's state, so it moves
// with the partition without relearning or firing again. Called from the SLA loop thread.
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "earshot/v1/alert.pb.h"
#include "earshot/v1/routing.pb.h"

namespace earshot::sla {

struct ChannelWatchOptions {
  absl::Duration surge_window = absl::Minutes(5);
  absl::Duration surge_baseline = absl::Hours(6);  // horizon of the usual rate
  double surge_factor = 5.0;
  int surge_min_count = 20;
  int silence_min_events = 20;
  double silence_factor = 10.0;
  absl::Duration silence_min = absl::Minutes(30);
};

class ChannelWatch {
 public:
  explicit ChannelWatch(ChannelWatchOptions options) : options_(options) {}

  void Observe(const earshot::v1::RoutedEvent& routed, absl::Time now);
  // Alerts that start or end at `now`.
  std::vector<earshot::v1::Alert> Check(absl::Time now);

  // Every channel's counts and alert states (not state->next_offsets, the caller's), and back:
  // a loaded watch decides as the saved one would have.
  void Save(earshot::v1::ChannelWatchState* state) const;
  void Load(const earshot::v1::ChannelWatchState& state);
  size_t channels() const { return silence_.size(); }

 private:
  struct Surge {
    absl::Time window_start;
    int count = 0;
    double baseline = 0;  // usual count per window
    int windows = 0;      // windows seen, to not alert before a baseline exists
    bool firing = false;
    absl::Time fired_start;  // the window that started the surge (names the alert)
    std::string account;
    earshot::v1::Platform platform;
  };
  struct Silence {
    absl::Time last_seen;
    double mean_gap_s = 0;
    int events = 0;
    bool firing = false;
    std::string account;
    earshot::v1::Platform platform;
    absl::Time fired_at;
  };
  void RollWindow(Surge& s, absl::Time now);

  ChannelWatchOptions options_;
  std::map<std::string, Surge> surges_;     // by "<platform>:<account>"
  std::map<std::string, Silence> silence_;  // by "<platform>:<account>"
  std::vector<earshot::v1::Alert> pending_;
};

}  // namespace earshot::sla
