// earshot --target=all|gateway|router|sla|stream [--config FILE] [--data-dir DIR]
// One server binary for every service; `all` runs them in one process with an embedded
// Kafka-protocol broker unless EARSHOT_KAFKA_BOOTSTRAP names a real cluster.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "services/common/base/log.h"
#include "services/earshot/demo.h"
#include "services/earshot/process.h"
#include "services/gateway/gateway_app.h"

ABSL_FLAG(std::string, target, "all", "service to run: all | gateway | router | sla | stream");
ABSL_FLAG(std::string, config, "", "YAML config file (every key overridable by EARSHOT_*)");
ABSL_FLAG(std::string, data_dir, "data", "folder for RocksDB and kafka.bootstrap");
ABSL_FLAG(std::string, log_level, "info", "debug | info | warn | error");
ABSL_FLAG(bool, demo, false,
          "first run: replay the bundled scenario (config/demo) into this process, with a "
          "30-second policy for direct messages; uses config/earshot.dev.yaml unless --config");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "earshot --target=all|gateway|router|sla|stream [--config FILE] [--data-dir DIR]\n"
      "Receives social-media webhooks and makes sure every customer gets an answer.");
  // The documented flags have dashes (--data-dir); Abseil flag names use underscores.
  std::vector<std::string> args(argv, argv + argc);
  std::vector<char*> arg_ptrs;
  for (auto& a : args) {
    if (a.starts_with("--")) {
      auto end = a.find('=');
      std::replace(a.begin() + 2, end == std::string::npos ? a.end() : a.begin() + end, '-', '_');
    }
    arg_ptrs.push_back(a.data());
  }
  absl::ParseCommandLine(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's lock-order graph on for every
  // lock: about 8% of the stream's deliveries/s (bench/README.md, Stream). Tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  earshot::log::SetLevel(absl::GetFlag(FLAGS_log_level));

  // Signals are taken by sigwait below; every thread started later inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::string config_path = absl::GetFlag(FLAGS_config);
  if (absl::GetFlag(FLAGS_demo)) {
    auto path = earshot::DemoConfigPath(absl::GetFlag(FLAGS_target), config_path);
    if (!path.ok()) {
      earshot::log::Error("earshot", "cannot run the demo", {{"error", path.status().ToString()}});
      return 2;
    }
    config_path = *path;
  }
  auto config = earshot::Config::LoadFile(config_path);
  if (!config.ok()) {
    earshot::log::Error("earshot", "bad config", {{"error", config.status().ToString()}});
    return 2;
  }
  std::optional<earshot::DemoPlan> demo_plan;
  if (absl::GetFlag(FLAGS_demo)) {
    auto plan = earshot::PlanDemo(*config);
    if (!plan.ok()) {
      earshot::log::Error("earshot", "cannot run the demo", {{"error", plan.status().ToString()}});
      return 2;
    }
    demo_plan = std::move(*plan);
  }
  earshot::ProcessOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  earshot::Process process(options, std::move(*config));
  if (auto st = process.Start(); !st.ok()) {
    earshot::log::Error("earshot", "cannot start", {{"error", st.ToString()}});
    process.Stop();
    return 1;
  }
  std::unique_ptr<earshot::Demo> demo;
  if (demo_plan) {
    auto* gateway = static_cast<earshot::gateway::GatewayApp*>(process.service("gateway"));
    demo_plan->options.gateway.port = gateway->http_port();
    auto started = earshot::Demo::Start(demo_plan->options, std::move(demo_plan->secrets),
                                        [&process] { return process.Ready(); });
    if (!started.ok()) {
      earshot::log::Error("earshot", "cannot run the demo",
                          {{"error", started.status().ToString()}});
    } else {
      demo = std::move(*started);
    }
  }
  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP) {
      earshot::log::Info("earshot", "SIGHUP: reloading");
      process.Reload();
      continue;
    }
    earshot::log::Info("earshot", "shutting down", {{"signal", sig}});
    break;
  }
  demo.reset();
  process.Stop();
  return 0;
}
