// earshotctl: the command-line client of Earshot. Follows the streams of routed events and
// alerts (earshot.v1.Stream), looks up, resolves and erases threads (earshot.v1.Threads), and
// replays recorded webhooks into a gateway. `earshotctl --help` lists the commands and flags.
#include <pthread.h>
#include <signal.h>

#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "services/common/base/strings.h"
#include "services/earshotctl/args.h"
#include "services/earshotctl/canceller.h"
#include "services/earshotctl/erase_cmd.h"
#include "services/earshotctl/replay_cmd.h"
#include "services/earshotctl/stream_cmd.h"
#include "services/earshotctl/thread_cmd.h"

namespace {

using earshot::ctl::Canceller;
using earshot::ctl::Io;

int Dispatch(const std::vector<std::string>& words, const Io& io, Canceller* canceller) {
  namespace ctl = earshot::ctl;
  if (words.empty() || words[0] == "help") {
    fmt::print(words.empty() ? io.err : io.out, "{}", ctl::Usage());
    return words.empty() ? ctl::kExitUsage : ctl::kExitOk;
  }
  const std::string& command = words[0];
  const std::vector<std::string> operands(words.begin() + 1, words.end());
  if (command == "tail" || command == "alerts") {
    if (!operands.empty()) {
      fmt::print(io.err, "earshotctl: {} takes no operand (got \"{}\"); filters are flags\n",
                 command, operands[0]);
      return ctl::kExitUsage;
    }
    return ctl::RunStream(
        command == "tail" ? earshot::v1::STREAM_TOPIC_ROUTED : earshot::v1::STREAM_TOPIC_ALERTS,
        ctl::StreamFromFlags(), io, canceller);
  }
  if (command == "thread") return ctl::RunThread(operands, ctl::ThreadFromFlags(), io);
  if (command == "erase") return ctl::RunErase(operands, ctl::ThreadFromFlags(), io);
  if (command == "replay") return ctl::RunReplay(operands, ctl::ReplayFromFlags(), io, canceller);
  fmt::print(io.err,
             "earshotctl: unknown command \"{}\" (tail, alerts, thread, erase, replay, help)\n",
             command);
  return ctl::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  const Io io;
  auto words = earshot::ctl::ParseArgs(std::vector<std::string>(argv, argv + argc));
  if (!words.ok()) {
    fmt::print(io.err, "earshotctl: {}\nsee: earshotctl --help\n",
               earshot::ToStd(words.status().message()));
    return earshot::ctl::kExitUsage;
  }

  // Ctrl-C and SIGTERM end the running call cleanly (tail prints its cursor); a second one
  // ends the process at once.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  Canceller canceller;
  std::thread([&canceller, signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    canceller.Cancel();
    sigwait(&signals, &sig);
    _exit(128 + sig);
  }).detach();

  return Dispatch(*words, io, &canceller);
}
