#include "services/earshotctl/replay_cmd.h"

#include <unistd.h>

#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/synchronization/notification.h"
#include "fmt/format.h"
#include "services/common/base/config.h"
#include "services/common/base/strings.h"
#include "services/replay/recording.h"

namespace earshot::ctl {
namespace {

std::string Millis(absl::Duration d) {
  return fmt::format("{:.1f}ms", absl::ToDoubleMilliseconds(d));
}

void DrawProgress(FILE* f, const replay::Progress& p) {
  constexpr int kWidth = 30;
  const int filled =
      p.total > 0 ? static_cast<int>(kWidth * static_cast<double>(p.done) / p.total) : 0;
  fmt::print(f, "\r[{}{}] {}/{}  failed {}  ", std::string(filled, '#'),
             std::string(kWidth - filled, '.'), p.done, p.total, p.failed);
  std::fflush(f);
}

}  // namespace

absl::StatusOr<double> ParseRate(std::string_view text) {
  if (text.empty()) return 0.0;
  double per = 1;
  std::string_view number = text;
  if (const size_t slash = text.find('/'); slash != std::string_view::npos) {
    const std::string_view unit = text.substr(slash + 1);
    number = text.substr(0, slash);
    if (unit == "s") {
      per = 1;
    } else if (unit == "m") {
      per = 60;
    } else if (unit == "h") {
      per = 3600;
    } else {
      return absl::InvalidArgumentError(fmt::format("--rate={}: the unit is /s, /m or /h", text));
    }
  }
  double n = 0;
  if (!absl::SimpleAtod(ToAbsl(number), &n) || n < 0) {
    return absl::InvalidArgumentError(
        fmt::format("--rate={}: expected requests per second like 50 or 50/s or 600/m", text));
  }
  return n / per;
}

std::string FormatSummary(const replay::Summary& s, std::string_view file,
                          std::string_view gateway) {
  std::string out = fmt::format(
      "replayed {} of {} requests from {} to {} in {:.1f}s ({:.1f}/s){}\n", s.sent, s.total, file,
      gateway, absl::ToDoubleSeconds(s.elapsed), s.rate(), s.cancelled ? ", cancelled" : "");
  out += fmt::format("  answers   2xx {}  3xx {}  4xx {}  5xx {}  no answer {}\n", s.status_2xx,
                     s.status_3xx, s.status_4xx, s.status_5xx, s.errors);
  out += fmt::format("  gateway   events accepted {}, parts ignored {}, dead-lettered {}\n",
                     s.events_accepted, s.parts_ignored, s.deadlettered);
  out += fmt::format("  latency   p50 {}  p99 {}  max {}\n", Millis(s.latency_p50),
                     Millis(s.latency_p99), Millis(s.latency_max));
  return out;
}

int RunReplay(const std::vector<std::string>& operands, const ReplayArgs& args, const Io& io,
              Canceller* canceller) {
  auto usage = [&](std::string_view message) {
    fmt::print(io.err, "earshotctl: {}\n", message);
    fmt::print(io.err,
               "usage: earshotctl replay FILE.jsonl [--gateway=URL] [--config=FILE] "
               "[--rate=N/s] [--concurrency=N] [--no-progress] [--keep-signatures]\n");
    return kExitUsage;
  };
  if (operands.size() != 1) return usage("replay takes one file of recordings (or - for stdin)");
  const std::string& file = operands[0];
  auto rate = ParseRate(args.rate);
  if (!rate.ok()) return usage(ToStd(rate.status().message()));
  if (args.concurrency < 1 || args.concurrency > 1000) {
    return usage("--concurrency must be between 1 and 1000");
  }
  auto gateway = replay::ParseGatewayUrl(args.gateway);
  if (!gateway.ok()) return usage(ToStd(gateway.status().message()));

  absl::StatusOr<std::vector<replay::Recording>> recordings;
  if (file == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    recordings = replay::ParseRecordings(ss.str(), "stdin");
  } else {
    recordings = replay::LoadRecordings(file);
  }
  if (!recordings.ok()) return usage(ToStd(recordings.status().message()));

  auto config = Config::LoadFile(args.config);
  if (!config.ok()) return usage(ToStd(config.status().message()));
  auto secrets = replay::SigningSecrets::FromConfig(*config);
  if (!secrets.ok()) return usage(ToStd(secrets.status().message()));

  replay::ReplayOptions options;
  options.gateway = *gateway;
  options.rate = *rate;
  options.concurrency = args.concurrency;
  options.keep_signatures = args.keep_signatures;
  options.run_id = args.run_id;
  options.timeout = args.timeout;
  replay::Replayer replayer(options, std::move(*secrets));
  canceller->Attach([&replayer] { replayer.Cancel(); });

  absl::Notification done;
  std::thread bar;
  const bool draw = args.progress && isatty(fileno(io.err)) && !recordings->empty();
  if (draw) {
    bar = std::thread([&] {
      do {
        DrawProgress(io.err, replayer.progress());
      } while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
      DrawProgress(io.err, replayer.progress());
      fmt::print(io.err, "\n");
    });
  }
  auto summary = replayer.Run(*recordings);
  done.Notify();
  if (bar.joinable()) bar.join();
  canceller->Attach(nullptr);
  if (!summary.ok()) {
    fmt::print(io.err, "earshotctl: {}\n", ToStd(summary.status().message()));
    return summary.status().code() == absl::StatusCode::kFailedPrecondition ? kExitUsage
                                                                            : kExitError;
  }
  fmt::print(io.out, "{}", FormatSummary(*summary, file, args.gateway));
  std::fflush(io.out);
  for (const auto& f : summary->failures) {
    if (f.status == 0) {
      fmt::print(io.err, "line {}: no answer: {}\n", f.line, f.message);
    } else {
      fmt::print(io.err, "line {}: {} {}\n", f.line, f.status, f.message);
    }
  }
  if (summary->failed() > static_cast<int64_t>(summary->failures.size())) {
    fmt::print(io.err, "... and {} more\n", summary->failed() - summary->failures.size());
  }
  return summary->ok() ? kExitOk : kExitError;
}

}  // namespace earshot::ctl
