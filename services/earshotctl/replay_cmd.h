#pragma once
// `earshotctl replay FILE`: sends a file of recorded webhooks to a gateway with the replay
// library (services/replay), signed with the secrets of --config / EARSHOT_*, at --rate with
// --concurrency requests in flight, with a progress bar on a terminal and a summary at the end.
// Main thread (the progress bar has a thread of its own while the replay runs).
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/earshotctl/args.h"
#include "services/earshotctl/canceller.h"
#include "services/replay/replayer.h"

namespace earshot::ctl {

// "50" or "50/s" (per second), "600/m" (per minute), "0.5/s"; "" is 0 (no limit).
absl::StatusOr<double> ParseRate(std::string_view text);

// The summary block printed at the end of a replay.
std::string FormatSummary(const replay::Summary& summary, std::string_view file,
                          std::string_view gateway);

// Exit code: 0 every line answered 2xx; 1 any other answer or no answer (each listed with its
// line); 2 usage (no file, a bad flag, a recording that does not parse).
int RunReplay(const std::vector<std::string>& operands, const ReplayArgs& args, const Io& io,
              Canceller* canceller);

}  // namespace earshot::ctl
