#pragma once
// What the benchmarks (router_bench, sla_bench, stream_bench) share: the machine line, CPU and
// load figures, a measurement in a forked child, percentiles, Prometheus samples, the PASS/FAIL
// verdicts, the temporary folder and synthetic conversations. Single-threaded use from each
// benchmark's Main().
#include <sys/wait.h>
#include <unistd.h>
#include <cstdint>

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "earshot/v1/event.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace earshot::kafka {
class EmbeddedBroker;
}

namespace earshot::bench {

// The broker a benchmark runs on: an embedded one of its own (bootstrap empty), or the real
// cluster at `real_bootstrap` (run_*_bench.sh KAFKA=real starts one with scripts/kafka.sh),
// where `topics` are deleted and created again, empty, with `partitions` partitions and room for
// a whole webhook body. A broker on the way out is nothing to measure: Start fails, not waits.
class BenchKafka {
 public:
  static std::unique_ptr<BenchKafka> Start(int partitions, const std::vector<std::string>& topics,
                                           const std::string& real_bootstrap, std::string* error);
  ~BenchKafka();
  const std::string& bootstrap() const { return bootstrap_; }
  bool real() const { return embedded_ == nullptr; }
  // "embedded broker" or "Apache Kafka", for the figures' headings.
  std::string name() const;

 private:
  std::unique_ptr<kafka::EmbeddedBroker> embedded_;
  std::string bootstrap_;
};

// CPU seconds (user + system) of this process so far.
double CpuSeconds();
double LoadAverage();
// CPU seconds of the whole machine (every process, interrupts included) so far, from /proc/stat.
double MachineBusySeconds();
// "2 cores (nproc), <model>, 23.5 GiB memory, load average 0.66".
std::string Machine();
void SetTs(absl::Time t, google::protobuf::Timestamp* ts);
// Nearest-rank percentile of `v` (sorted in place); 0 when empty.
double Percentile(std::vector<double>& v, double q);
// The value of one sample line of Prometheus text (`name{labels} value`), or -1.
double MetricValue(const std::string& text, std::string_view sample);
// GET /metrics of an admin endpoint on 127.0.0.1; "" when it does not answer.
std::string Scrape(int admin_port);

// SplitMix64: a good 64-bit mix, for per-record properties that must not need storage.
uint64_t Mix(uint64_t x);

// Synthetic conversation `i` as the gateway keys it, with the development accounts of Acme's
// brand. Per ten conversations: 3 X mentions, 1 X DM, 2 Facebook comments, 1 each Messenger,
// Instagram DM, WhatsApp and Telegram. The customer's id is 1000000000 + i where the key has one.
struct SyntheticThread {
  earshot::v1::Platform platform = earshot::v1::PLATFORM_UNSPECIFIED;
  std::string account;
  std::string key;
  bool is_public = false;  // X mentions and Facebook comments; the rest are private chats
};
SyntheticThread ThreadOf(int64_t i);

// Customer messages in German and English, as care teams get them (the benchmarks' texts).
inline constexpr std::string_view kCustomerTexts[] = {
    "Hallo, meine Bestellung AC-4711203 ist immer noch nicht da. Wo bleibt sie?",
    "The rain jacket I got is broken, I want a refund. Worst service ever.",
    "Gibt es die Regenjacke auch in Größe M? Würde gern bestellen.",
    "Parcel says delivered but nothing here. Order AC-5512090. Please help",
    "Ich möchte meinen Vertrag kündigen, wie geht das?",
    "is the Alpine 30 backpack back in stock? I want to order two",
    "Seit zwei Wochen warte ich auf meine Erstattung. Enttäuschend.",
    "Can I change the delivery address for order AC-3390511?",
};

// A Telegram update with one private-chat message, as the Bot API posts it to a webhook, dated
// now. The chat's id is the customer's; the message is the customer's (one of eight texts in
// German and English: a late order, a complaint, a purchase question, a cancellation, ...,
// chosen by `update_id`), or with `from_bot` set the brand's answer, sent by that bot.
std::string TelegramUpdate(int64_t update_id, int64_t chat, int64_t message_id,
                           std::string_view from_bot = "");
// The chat and message id of a Telegram message's event id ("tg:<bot>:<chat>:<message_id>");
// false for any other event id.
bool TelegramEventIds(std::string_view event_id, int64_t* chat, int64_t* message_id);

// PASS/FAIL lines, printed again in the summary; `echo` also prints each as it is added.
struct Verdicts {
  bool failed = false;
  bool echo = true;
  std::vector<std::string> lines;
  void Add(const std::string& name, bool pass, const std::string& text);
  void PrintSummary() const;
};

// A folder for the run: `given`, or a new one under $TMPDIR named after `prefix`; removed at
// the end unless `keep`. ok() is false when it could not be made.
class TempFolder {
 public:
  TempFolder(std::string given, std::string_view prefix, bool keep);
  ~TempFolder();
  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool keep_;
};

// A child process forked by StartChild, whose result FinishChild reads.
struct Child {
  pid_t pid = -1;
  int result_fd = -1;
};

// Runs `fn` in a child process forked now; FinishChild(child) returns what it returned (a
// trivially copyable struct with a `char error[]` field). Each measurement starts from the same
// memory and no thread of one lives on into the next (gRPC and librdkafka threads do not
// survive a fork). The child leaves with _exit: what must be closed closes inside `fn`.
template <typename R, typename F>
Child StartChild(F&& fn) {
  static_assert(std::is_trivially_copyable_v<R>);
  Child child;
  int fds[2];
  if (pipe(fds) != 0) return child;
  std::fflush(nullptr);
  child.pid = fork();
  if (child.pid == 0) {
    close(fds[0]);
    R mine = fn();
    const char* p = reinterpret_cast<const char*>(&mine);
    for (size_t left = sizeof(mine); left > 0;) {
      const ssize_t w = write(fds[1], p, left);
      if (w <= 0) break;
      p += w;
      left -= static_cast<size_t>(w);
    }
    std::fflush(nullptr);
    _exit(0);
  }
  close(fds[1]);
  child.result_fd = fds[0];
  return child;
}

template <typename R>
R FinishChild(const Child& child) {
  R r{};
  size_t got = 0;
  if (child.result_fd >= 0) {
    char* p = reinterpret_cast<char*>(&r);
    while (got < sizeof(r)) {
      const ssize_t n = read(child.result_fd, p + got, sizeof(r) - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    close(child.result_fd);
  }
  int wstatus = 0;
  if (child.pid > 0) waitpid(child.pid, &wstatus, 0);
  if (got != sizeof(r)) {
    r = R{};
    std::snprintf(r.error, sizeof(r.error),
                  "the measuring process ended without a result (wait status %d)", wstatus);
  }
  return r;
}

// StartChild and FinishChild at once.
template <typename R, typename F>
R InChild(F&& fn) {
  return FinishChild<R>(StartChild<R>(std::forward<F>(fn)));
}

// Turns between measuring processes, so that they measure in alternation and a drift in the
// machine's speed (a virtual machine's can move by a third within minutes) falls on all of them
// alike. Made before the fork; the parent gives each child its turn with Give(), which returns
// when the child has ended it; the child brackets each measured step with Await() and End().
class Turns {
 public:
  Turns();
  ~Turns();
  // Each side first closes the pipe ends it does not use: the child at the start of its `fn`,
  // the parent right after StartChild (before it forks another child).
  void ChildSide();
  void ParentSide();
  // In the child: blocks until the parent gives a turn; false when the parent is gone.
  bool Await();
  void End();
  // In the parent: waits for the child to say it is ready (its first End()); false when the
  // child is gone.
  bool Ready();
  // In the parent: the child's turn, until it ends it; false when the child is gone.
  bool Give();
  // Closes this side's ends: a child still waiting for a turn sees the parent gone.
  void Close();

 private:
  int go_[2] = {-1, -1};
  int done_[2] = {-1, -1};
};

}  // namespace earshot::bench
