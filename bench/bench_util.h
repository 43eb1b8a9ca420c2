#pragma once
// What the benchmarks (router_bench, sla_bench, stream_bench) share: the machine line, CPU and
// load figures, a measurement in a forked child, percentiles, Prometheus samples, the PASS/FAIL
// verdicts, the temporary folder and synthetic conversations. Single-threaded use from each
// benchmark's Main().
#include <sys/wait.h>
#include <unistd.h>
#include <cstdint>

#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/time/time.h"
#include "earshot/v1/event.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace earshot::bench {

// CPU seconds (user + system) of this process so far.
double CpuSeconds();
double LoadAverage();
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

// Runs `fn` in a child process forked now and returns what it returned (a trivially copyable
// struct with a `char error[]` field), so that each measurement starts from the same memory and
// no thread of one lives on into the next (gRPC and librdkafka threads do not survive a fork).
// The child leaves with _exit: what must be closed closes inside `fn`.
template <typename R, typename F>
R InChild(F&& fn) {
  static_assert(std::is_trivially_copyable_v<R>);
  R r{};
  int fds[2];
  if (pipe(fds) != 0) {
    std::snprintf(r.error, sizeof(r.error), "pipe failed");
    return r;
  }
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
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
  char* p = reinterpret_cast<char*>(&r);
  size_t got = 0;
  while (got < sizeof(r)) {
    const ssize_t n = read(fds[0], p + got, sizeof(r) - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fds[0]);
  int wstatus = 0;
  if (pid > 0) waitpid(pid, &wstatus, 0);
  if (got != sizeof(r)) {
    r = R{};
    std::snprintf(r.error, sizeof(r.error),
                  "the measuring process ended without a result (wait status %d)", wstatus);
  }
  return r;
}

}  // namespace earshot::bench
