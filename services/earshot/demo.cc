#include "services/earshot/demo.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "fmt/format.h"
#include "services/common/base/log.h"
#include "services/common/base/strings.h"

namespace earshot {
namespace {

constexpr char kLogger[] = "demo";

void Hint(bool print, const std::string& line) {
  if (!print) return;
  std::printf("demo: %s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace

absl::StatusOr<std::string> DemoConfigPath(std::string_view target, std::string config_path) {
  if (target != "all") {
    return absl::InvalidArgumentError("--demo runs every service: use it with --target=all");
  }
  const std::string scenario = std::string(kDemoDir) + "/scenario.jsonl";
  if (!std::filesystem::exists(scenario)) {
    return absl::NotFoundError(
        fmt::format("--demo needs {} (start it from the repository's root folder)", scenario));
  }
  return config_path.empty() ? std::string(kDemoDefaultConfig) : config_path;
}

absl::StatusOr<DemoPlan> PlanDemo(Config& config) {
  ApplyDemoOverlay(config, kDemoDir);
  DemoPlan plan;
  plan.options.scenario = std::string(kDemoDir) + "/scenario.jsonl";
  auto secrets = replay::SigningSecrets::FromConfig(config);
  if (!secrets.ok()) return secrets.status();
  plan.secrets = std::move(*secrets);
  // The gateway listens on http.addr; a wildcard address is reached on loopback.
  const std::string addr = config.GetString("http.addr", "0.0.0.0:8080");
  std::string host = addr.substr(0, addr.rfind(':'));
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0" || host == "::") host = "127.0.0.1";
  plan.options.gateway.host = host;
  return plan;
}

void ApplyDemoOverlay(Config& config, const std::string& demo_dir) {
  const std::string policies = demo_dir + "/sla.yaml";
  config.set_env_lookup([policies](const std::string& name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name.c_str()); v != nullptr) return std::string(v);
    if (name == Config::EnvName("sla.policies_file")) return policies;
    return std::nullopt;
  });
}

absl::StatusOr<std::unique_ptr<Demo>> Demo::Start(DemoOptions options,
                                                  replay::SigningSecrets secrets,
                                                  std::function<bool()> ready) {
  auto recordings = replay::LoadRecordings(options.scenario);
  if (!recordings.ok()) return recordings.status();
  for (const auto& r : *recordings) {
    if (auto st = secrets.CanSign(r); !st.ok()) {
      return absl::FailedPreconditionError(
          fmt::format("{}: {}", options.scenario, ToStd(st.message())));
    }
  }
  std::unique_ptr<Demo> demo(
      new Demo(std::move(options), std::move(secrets), std::move(ready), std::move(*recordings)));
  demo->thread_ = std::thread([d = demo.get()] { d->Run(); });
  return demo;
}

Demo::Demo(DemoOptions options, replay::SigningSecrets secrets, std::function<bool()> ready,
           std::vector<replay::Recording> recordings)
    : options_(std::move(options)),
      replayer_(
          [&] {
            replay::ReplayOptions o;
            o.gateway = options_.gateway;
            o.concurrency = 1;  // the scenario is a conversation: in order
            o.delay_scale = options_.delay_scale;
            return o;
          }(),
          std::move(secrets)),
      ready_(std::move(ready)),
      recordings_(std::move(recordings)) {}

Demo::~Demo() { Stop(); }

void Demo::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  replayer_.Cancel();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<replay::Summary> Demo::Wait(absl::Duration timeout) {
  if (!done_.WaitForNotificationWithTimeout(timeout)) {
    return absl::DeadlineExceededError("the demo is still replaying");
  }
  absl::MutexLock lock(&mu_);
  return result_;
}

void Demo::Run() {
  auto finish = [this](absl::StatusOr<replay::Summary> result) {
    {
      absl::MutexLock lock(&mu_);
      result_ = std::move(result);
    }
    done_.Notify();
  };
  const absl::Time deadline = absl::Now() + options_.ready_timeout;
  while (!ready_()) {
    if (absl::Now() > deadline) {
      log::Error(kLogger, "the process did not get ready; the demo does not run");
      return finish(absl::DeadlineExceededError("the process did not get ready"));
    }
    if (stop_.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
      return finish(absl::CancelledError("stopped before the process was ready"));
    }
  }
  absl::Duration span = absl::ZeroDuration();
  for (const auto& r : recordings_) span += r.delay;
  const std::string gateway = fmt::format("{}:{}", options_.gateway.host, options_.gateway.port);
  log::Info(kLogger, "replaying the demo scenario",
            {{"scenario", options_.scenario},
             {"webhooks", static_cast<int64_t>(recordings_.size())},
             {"gateway", gateway}});
  Hint(options_.print_hints,
       fmt::format("replaying {} webhooks of {} into the gateway on {} over about {} s",
                   recordings_.size(), options_.scenario, gateway,
                   absl::ToInt64Seconds(span * options_.delay_scale)));
  auto summary = replayer_.Run(recordings_);
  if (!summary.ok()) {
    log::Error(kLogger, "demo replay failed", {{"error", summary.status().ToString()}});
    return finish(summary.status());
  }
  log::Info(kLogger, "demo scenario replayed",
            {{"sent", summary->sent},
             {"accepted", summary->status_2xx},
             {"failed", summary->failed()},
             {"events", summary->events_accepted}});
  for (const auto& f : summary->failures) {
    log::Warn(kLogger, "demo webhook refused",
              {{"line", f.line}, {"status", f.status}, {"answer", f.message}});
  }
  Hint(options_.print_hints,
       fmt::format("done: {} of {} webhooks accepted ({} events); one conversation is left "
                   "unanswered: `earshotctl alerts` shows its warning and breach within a "
                   "minute",
                   summary->status_2xx, summary->total, summary->events_accepted));
  finish(std::move(*summary));
}

}  // namespace earshot
