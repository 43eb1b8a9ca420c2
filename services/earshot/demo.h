#pragma once
// Demo: the first run of `earshot --target=all --demo`. Once the process is ready, a thread of
// its own replays the bundled scenario (config/demo/scenario.jsonl: X, Facebook, Instagram,
// WhatsApp, Telegram and a review site, German and English) into this process's own gateway
// with the replay library, signed with the process's configured secrets, over about 25 s. The
// scenario leaves one conversation unanswered, and the demo overlay (ApplyDemoOverlay) gives
// direct messages a 30-second policy, so a breach alert follows within a minute.
//
// Owned by main(); Start and Stop on the main thread.
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "services/common/base/config.h"
#include "services/replay/replayer.h"

namespace earshot {

struct DemoOptions {
  std::string scenario = "config/demo/scenario.jsonl";
  replay::Endpoint gateway;  // this process's gateway
  absl::Duration ready_timeout = absl::Seconds(60);
  double delay_scale = 1.0;  // tests: 0 sends at once (timestamps keep the scenario's timeline)
  bool print_hints = true;   // the "demo: ..." lines on stdout for the person watching
};

inline constexpr char kDemoDir[] = "config/demo";
inline constexpr char kDemoDefaultConfig[] = "config/earshot.dev.yaml";

// --demo, before the config is loaded: the demo runs with --target=all from the repository
// root (its files are config/demo/*); the config file is the dev config unless one is given.
absl::StatusOr<std::string> DemoConfigPath(std::string_view target, std::string config_path);

// The config --demo runs with: `config` with the demo's SLA policies (`<demo_dir>/sla.yaml`)
// in place of sla.policies_file. An EARSHOT_* variable the user set still wins.
void ApplyDemoOverlay(Config& config, const std::string& demo_dir);

// What the demo takes from the config before the process owns it: the overlay applied, the
// signing secrets and the gateway's address (its port comes from the started gateway).
struct DemoPlan {
  DemoOptions options;
  replay::SigningSecrets secrets;
};
absl::StatusOr<DemoPlan> PlanDemo(Config& config);

class Demo {
 public:
  // Loads the scenario (a missing file, a bad line or a secret the scenario needs and the
  // config lacks are errors) and starts the thread, which waits until `ready()` holds.
  static absl::StatusOr<std::unique_ptr<Demo>> Start(DemoOptions options,
                                                     replay::SigningSecrets secrets,
                                                     std::function<bool()> ready);
  ~Demo();
  Demo(const Demo&) = delete;
  Demo& operator=(const Demo&) = delete;

  // Stops the replay (requests in flight finish) and joins the thread.
  void Stop();
  // Waits up to `timeout` for the replay to end; its summary, or why it did not run.
  absl::StatusOr<replay::Summary> Wait(absl::Duration timeout);

 private:
  Demo(DemoOptions options, replay::SigningSecrets secrets, std::function<bool()> ready,
       std::vector<replay::Recording> recordings);
  void Run();

  DemoOptions options_;
  replay::Replayer replayer_;
  std::function<bool()> ready_;
  std::vector<replay::Recording> recordings_;
  absl::Notification stop_;
  absl::Notification done_;
  absl::Mutex mu_;
  absl::StatusOr<replay::Summary> result_ ABSL_GUARDED_BY(mu_) =
      absl::UnavailableError("the demo has not run");
  std::thread thread_;
};

}  // namespace earshot
