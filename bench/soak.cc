// soak: the soak benchmark of bench/README.md ("Soak"). The whole pipeline as an operator runs
// it, each service an `earshot --target=...` process of its own (gateway, router, SLA monitor,
// stream) on a real Apache Kafka (--bootstrap; bench/run_soak.sh starts one on loopback), with
// --subscribers stream subscribers, driven with signed Telegram webhooks, in three steps:
//
//   1. The maximum: a closed loop over --connections keep-alive connections (--warmup, then
//      --max_seconds measured) finds the most routed deliveries/s a subscriber receives, which
//      is the most the whole pipeline sustains end to end (a gateway that accepts more than the
//      router routes only builds a backlog). --max_rate gives it instead.
//   2. The soak: --load_fraction (0.7) of the maximum on a fixed schedule for --minutes. Every
//      --interval (30 s) one line: requests sent/s, deliveries/s, each service's VmRSS, errors
//      so far, end-to-end p50/p99 (the request's slot in the schedule -> the delivery on a
//      subscriber, matched by the message id), the gateway's answer p99 (POST sent -> 2xx), the
//      router's and SLA monitor's consumer lag (their /metrics), the stream's mean
//      Kafka-record-to-delivery time and the alerts fired.
//   3. The verdict: each service's VmRSS grew by less than --rss_growth_max from the mark
//      (--baseline, 2 minutes; half the run when it is shorter than twice that) to the end (the
//      router's and SLA monitor's without RocksDB's memtables and block cache, whose sizes its
//      settings bound and which fill as the state grows); no
//      error (a non-2xx answer, a failed or unsent request, a stream that ended, a delivery
//      missing --deliver_within after its answer or after the drain, a duplicate, a service
//      that died or did not exit with 0 on SIGTERM); the end-to-end p99 of the last minute
//      (--p99_window) at most --p99_ratio_max (1.5) times that of the minute ending at the mark.
//
// Workload: request g is Telegram message g + 1 in conversation (chat) MessageOf(g): --open_threads
// conversations are written to at once, each gets --messages_per_thread messages spread over
// that window (so one conversation's messages are a window apart and arrive in order), then
// the next conversations start. The last message of three conversations in four is the brand's
// answer (the bot's own message), which closes the SLA clock; every fourth conversation stays
// unanswered and fires a warning, a breach and an escalation (the soak's SLA policy: 10 s,
// warning at 50%, escalation 10 s after the breach). So threads, clocks and alerts keep coming
// at a steady rate, as they would in production, and nothing is ever resent.
//
//   build/bench/soak --bootstrap=HOST:PORT [--minutes=10] [--max_rate=R] [--subscribers=4]
//
// Everything runs on this machine and on loopback: the services listen on 127.0.0.1 port 0 (the
// ports come from their logs), under a temporary folder removed at the end (--keep keeps it).
// Every wait is bounded (--phase_timeout, --drain, the HTTP client's 10 s time-out); the
// services die with this process (PR_SET_PDEATHSIG). Exits 1 when a criterion is missed, 2 when
// the soak could not run.
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "earshot/v1/stream.grpc.pb.h"
#include "fmt/format.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/sync_stream.h"
#include "services/common/http/client.h"
#include "services/common/kafka/embedded_broker.h"
#include "tests/support/earshot_child.h"

ABSL_FLAG(std::string, bootstrap, "",
          "the Apache Kafka to run on (required; its standard topics are deleted and created "
          "anew); bench/run_soak.sh starts one on loopback");
ABSL_FLAG(int, minutes, 10, "length of the soak at the fixed rate");
ABSL_FLAG(double, max_rate, 0,
          "the pipeline's maximum end-to-end rate (requests/s) from an earlier run; 0: measure it "
          "first");
ABSL_FLAG(double, load_fraction, 0.7, "the soak's rate as a fraction of the maximum");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(20),
          "closed loop before the maximum is measured: until the alerts of the conversations it "
          "leaves unanswered (5, 10 and 20 s after their first message) come at their steady rate");
ABSL_FLAG(absl::Duration, max_seconds, absl::Seconds(30), "closed loop measured for the maximum");
ABSL_FLAG(absl::Duration, interval, absl::Seconds(30), "one line of figures each");
ABSL_FLAG(absl::Duration, baseline, absl::Minutes(2),
          "the mark that RSS growth and p99 are compared against (half the run when the run is "
          "shorter than twice this)");
ABSL_FLAG(double, rss_growth_max, 0.05, "criterion: VmRSS growth from the mark to the end");
ABSL_FLAG(double, p99_ratio_max, 1.5,
          "criterion: the end-to-end p99 of the run's last --p99_window over that of the "
          "--p99_window ending at the mark");
ABSL_FLAG(absl::Duration, p99_window, absl::Minutes(1),
          "the samples each side of the p99 criterion pools (whole intervals)");
ABSL_FLAG(absl::Duration, deliver_within, absl::Seconds(30),
          "an accepted request not delivered to every subscriber this long after its answer "
          "counts as missing");
ABSL_FLAG(absl::Duration, drain, absl::Seconds(60),
          "after the load, how long to wait for the last deliveries");
ABSL_FLAG(absl::Duration, phase_timeout, absl::Seconds(180),
          "start-up (ready, partitions owned) and the drain after the maximum");
ABSL_FLAG(int, connections, 64,
          "keep-alive connections sending webhooks, a thread each (32 kept the closed loop below "
          "the pipeline's maximum: 3,541 against 4,331 deliveries/s with 64)");
ABSL_FLAG(int, subscribers, 4,
          "stream subscribers (routed events and alerts, no filter), each on a connection of its "
          "own");
ABSL_FLAG(int, partitions, 4, "partitions of every topic");
ABSL_FLAG(int, open_threads, 1000, "conversations written to at once");
ABSL_FLAG(int, messages_per_thread, 4,
          "messages of each conversation, the brand's answer included");
ABSL_FLAG(int, kafka_pid, 0, "the broker's process, for its RSS and CPU (information only)");
ABSL_FLAG(std::vector<std::string>, service_env, {},
          "comma-separated NAME=VALUE for every service, e.g. EARSHOT_ROUTER_BATCH_WAIT=20ms (any "
          "config key as its EARSHOT_* variable)");
ABSL_FLAG(std::vector<std::string>, kafka_properties, {},
          "comma-separated name=value librdkafka settings for every service (kafka.properties), "
          "e.g. fetch.min.bytes=16384");
ABSL_FLAG(std::string, tmp, "", "folder for data and logs (default: a new folder under $TMPDIR)");
ABSL_FLAG(bool, keep, false, "keep the temporary folder");

namespace earshot::bench {
namespace {

using earshot::v1::Delivery;
using earshot::v1::SubscribeRequest;
using testing::EarshotChild;

constexpr char kBot[] = "7000000001";
constexpr char kTelegramToken[] = "soak-telegram-secret";
constexpr int64_t kChatBase = 200000000;    // chat of conversation j: kChatBase + j
constexpr int64_t kUpdateBase = 600000000;  // update_id of request g: kUpdateBase + g
constexpr int kMaxResubscribes = 10;        // per subscriber, each an error
constexpr const char* kServiceNames[] = {"gateway", "router", "sla", "stream"};
constexpr int kServices = 4;
// Cores of other work above which a line is marked DISTURBED. Loopback traffic's interrupts
// count as other work: about 0.07 cores in an undisturbed interval.
constexpr double kOthersMax = 0.2;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Clock(double seconds) {
  const auto s = static_cast<int64_t>(std::lround(seconds));
  return fmt::format("{}:{:02d}", s / 60, s % 60);
}

// ---------------------------------------------------------------------------------------------
// The workload.

struct Message {
  int64_t chat = 0;
  bool brand = false;  // the brand's answer, sent by the bot
};

Message MessageOf(int64_t g) {
  const int64_t open = std::max(1, absl::GetFlag(FLAGS_open_threads));
  const int64_t per_thread = std::max(1, absl::GetFlag(FLAGS_messages_per_thread));
  const int64_t r = g % (open * per_thread);
  const int64_t thread = g / (open * per_thread) * open + r % open;
  const bool last = r / open == per_thread - 1;
  return {kChatBase + thread, per_thread > 1 && last && thread % 4 != 0};
}

// ---------------------------------------------------------------------------------------------
// /proc figures of the service processes.

// A field of /proc/<pid>/status in kB (VmRSS, VmHWM), as MiB; -1 when the process is gone.
double StatusMiB(pid_t pid, std::string_view field) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field, 0) == 0 && line.size() > field.size() && line[field.size()] == ':') {
      return std::stod(line.substr(field.size() + 1)) / 1024.0;
    }
  }
  return -1;
}

// CPU seconds (user + system, every thread) of a process so far; -1 when it is gone.
double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos) return -1;
  std::istringstream fields(stat.substr(paren + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i >= 14) ticks += std::stod(f);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// ---------------------------------------------------------------------------------------------
// What the senders and the subscribers observe. Request g of the maximum is only counted; request
// first + k of the soak has its answer and, per subscriber, its delivery recorded at index k.

class Tracker {
 public:
  explicit Tracker(int subscribers)
      : subscribers_(subscribers), max_delivered_(static_cast<size_t>(subscribers)) {}

  int subscribers() const { return subscribers_; }

  // The soak's schedule: request first + k is due at t0_ns + k / rate.
  void StartSoak(int64_t first, int64_t planned, int64_t t0_ns, double rate) {
    planned_ = planned;
    t0_ns_ = t0_ns;
    rate_ = rate;
    answered_ = std::make_unique<std::atomic<int32_t>[]>(static_cast<size_t>(planned));
    for (int s = 0; s < subscribers_; ++s) {
      delivered_.push_back(std::make_unique<std::atomic<uint8_t>[]>(static_cast<size_t>(planned)));
    }
    soak_first_.store(first, std::memory_order_release);
  }
  int64_t SlotNs(int64_t k) const {
    return t0_ns_ + static_cast<int64_t>(static_cast<double>(k) * 1e9 / rate_);
  }

  // The maximum's requests.
  std::atomic<int64_t> max_accepted{0};
  std::atomic<int64_t> max_errors{0};
  int64_t MaxDelivered(int s) const { return max_delivered_[static_cast<size_t>(s)].load(); }
  int64_t MaxDeliveredByAll() const {
    int64_t least = INT64_MAX;
    for (const auto& d : max_delivered_) least = std::min(least, d.load());
    return least;
  }

  // The soak's requests.
  void Sent() { ++sent; }
  void Unsent() { ++unsent; }
  void Behind(int64_t ns) {
    int64_t seen = behind_ns_.load();
    while (ns > seen && !behind_ns_.compare_exchange_weak(seen, ns)) {
    }
  }
  // status: the HTTP status, 0 for an I/O error or time-out; sent_ns: when the POST went out.
  void Answered(int64_t k, int status, const std::string& error, int64_t sent_ns) {
    if (status / 100 == 2) {
      ++accepted;
      const int64_t now = NowNs();
      answered_[static_cast<size_t>(k)].store(static_cast<int32_t>((now - t0_ns_) / 1000000 + 1));
      absl::MutexLock l(&mu_);
      answer_ms_.push_back(static_cast<double>(now - sent_ns) / 1e6);
      return;
    }
    answered_[static_cast<size_t>(k)].store(-1);
    if (status == 0) {
      if (io_failed++ < 3) std::printf("  ! request failed: %s\n", error.c_str());
    } else {
      if (non_2xx++ < 3) std::printf("  ! request answered %d\n", status);
      absl::MutexLock l(&mu_);
      ++by_status_[status];
    }
    std::fflush(stdout);
  }

  // From the subscribers.
  void Routed(int s, int64_t g, int64_t arrived_ns) {
    const int64_t first = soak_first_.load(std::memory_order_acquire);
    if (g < first) {
      if (g >= 0) ++max_delivered_[static_cast<size_t>(s)];
      if (g < 0) ++unexpected;
      return;
    }
    const int64_t k = g - first;
    if (k >= planned_) {
      ++unexpected;
      return;
    }
    if (delivered_[static_cast<size_t>(s)][static_cast<size_t>(k)].exchange(1) != 0) {
      ++duplicates;
      return;
    }
    if (answered_[static_cast<size_t>(k)].load() < 0) ++delivered_refused;
    ++delivered;
    const double ms = static_cast<double>(arrived_ns - SlotNs(k)) / 1e6;
    absl::MutexLock l(&mu_);
    latency_ms_.push_back(ms);
  }
  void Alert() { ++alerts; }
  void StreamError(int s, const std::string& what) {
    ++stream_errors;
    std::printf("  ! subscriber %d: %s\n", s, what.c_str());
    std::fflush(stdout);
  }

  // The interval's end-to-end latencies and answer times (taken: the next interval starts
  // empty).
  std::vector<double> TakeLatencies() {
    absl::MutexLock l(&mu_);
    std::vector<double> out;
    out.swap(latency_ms_);
    return out;
  }
  std::vector<double> TakeAnswerTimes() {
    absl::MutexLock l(&mu_);
    std::vector<double> out;
    out.swap(answer_ms_);
    return out;
  }
  int64_t TakeBehindNs() { return behind_ns_.exchange(0); }

  // Accepted requests answered more than `within` before `now_ns` and not yet delivered to every
  // subscriber. Requests before the first unsettled one are not looked at again.
  int64_t Overdue(int64_t now_ns, absl::Duration within) {
    const int64_t within_ns = absl::ToInt64Nanoseconds(within);
    int64_t overdue = 0;
    bool prefix = true;
    for (int64_t k = settled_; k < planned_; ++k) {
      if (SlotNs(k) + within_ns > now_ns) break;  // answered after its slot
      const int32_t answered = answered_[static_cast<size_t>(k)].load();
      bool settled = answered < 0;
      if (answered > 0 && t0_ns_ + int64_t{answered - 1} * 1000000 + within_ns <= now_ns) {
        settled = true;
        for (int s = 0; s < subscribers_; ++s) {
          settled &= delivered_[static_cast<size_t>(s)][static_cast<size_t>(k)].load() != 0;
        }
        overdue += !settled;
      }
      prefix &= settled;
      if (prefix) settled_ = k + 1;
    }
    return overdue;
  }

  // Errors so far, missing deliveries aside.
  int64_t Errors() const { return non_2xx + io_failed + unsent + stream_errors + duplicates; }

  // Counts of the soak's requests and deliveries.
  std::atomic<int64_t> sent{0}, unsent{0}, accepted{0}, non_2xx{0}, io_failed{0};
  std::atomic<int64_t> delivered{0}, duplicates{0}, unexpected{0}, delivered_refused{0};
  std::atomic<int64_t> alerts{0}, stream_errors{0};

  std::string StatusCodes() {
    absl::MutexLock l(&mu_);
    std::string out;
    for (const auto& [code, n] : by_status_) out += fmt::format(" {}x{}", code, n);
    return out.empty() ? " none" : out;
  }

 private:
  const int subscribers_;
  std::vector<std::atomic<int64_t>> max_delivered_;
  std::atomic<int64_t> soak_first_{INT64_MAX};
  int64_t planned_ = 0;
  int64_t t0_ns_ = 0;
  double rate_ = 1;
  // Per request of the soak: 0 unanswered, -1 refused or failed, else 1 + the answer's time in
  // ms after t0.
  std::unique_ptr<std::atomic<int32_t>[]> answered_;
  std::vector<std::unique_ptr<std::atomic<uint8_t>[]>> delivered_;  // per subscriber
  std::atomic<int64_t> behind_ns_{0};
  int64_t settled_ = 0;  // Overdue's: every request before it is delivered or was refused
  absl::Mutex mu_;
  std::vector<double> latency_ms_ ABSL_GUARDED_BY(mu_);
  std::vector<double> answer_ms_ ABSL_GUARDED_BY(mu_);
  std::map<int, int64_t> by_status_ ABSL_GUARDED_BY(mu_);
};

// ---------------------------------------------------------------------------------------------
// One stream subscriber on a connection and thread of its own: routed events and alerts, no
// filter, from `latest`. A stream that ends is an error; it subscribes again from the cursor of
// its last delivery (the resume contract: nothing missed, nothing twice), at most
// kMaxResubscribes times.

class Subscriber {
 public:
  Subscriber(int index, int port, Tracker* tracker) : index_(index), tracker_(tracker) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
    channel_ = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                         grpc::InsecureChannelCredentials(), args);
    stub_ = earshot::v1::Stream::NewStub(channel_);
    thread_ = std::thread([this] { Run(); });
  }
  ~Subscriber() { Stop(); }

  bool WaitLive(absl::Duration timeout) {
    absl::MutexLock l(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&live_), timeout);
  }
  void Stop() {
    {
      absl::MutexLock l(&mu_);
      stopping_ = true;
      if (ctx_ != nullptr) ctx_->TryCancel();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    std::string cursor;
    for (int attempt = 0; attempt <= kMaxResubscribes; ++attempt) {
      grpc::ClientContext ctx;
      {
        absl::MutexLock l(&mu_);
        if (stopping_) return;
        ctx_ = &ctx;
      }
      SubscribeRequest request;
      request.add_topics(earshot::v1::STREAM_TOPIC_ROUTED);
      request.add_topics(earshot::v1::STREAM_TOPIC_ALERTS);
      if (cursor.empty()) {
        request.set_latest(true);
      } else {
        request.set_cursor(cursor);
      }
      request.set_client_name(fmt::format("soak-{}", index_));
      auto reader = stub_->Subscribe(&ctx, request);
      Delivery d;
      while (reader->Read(&d)) {
        const int64_t now = NowNs();
        cursor = d.cursor();
        if (d.has_routed()) {
          int64_t chat = 0, message = 0;
          tracker_->Routed(
              index_,
              TelegramEventIds(d.routed().event().event_id(), &chat, &message) ? message - 1 : -1,
              now);
        } else if (d.has_alert()) {
          tracker_->Alert();
        } else if (!live_) {
          absl::MutexLock l(&mu_);
          live_ = true;
        }
      }
      const grpc::Status status = reader->Finish();
      {
        absl::MutexLock l(&mu_);
        ctx_ = nullptr;
        if (stopping_) return;
      }
      tracker_->StreamError(
          index_, fmt::format("stream ended: {} {}{}", static_cast<int>(status.error_code()),
                              status.error_message(),
                              attempt < kMaxResubscribes ? "; subscribing again from its cursor"
                                                         : "; giving up"));
      absl::SleepFor(absl::Seconds(1));
    }
  }

  const int index_;
  Tracker* const tracker_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<earshot::v1::Stream::Stub> stub_;
  std::thread thread_;
  absl::Mutex mu_;
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool live_ = false;  // written under mu_; read alone only by the subscriber's own thread
};

// ---------------------------------------------------------------------------------------------

// The CPU of everything on the machine: seconds so far (Soak::SampleCpu), or cores over an
// interval (Cores).
struct CpuUse {
  double service[kServices] = {};
  double kafka = -1;   // -1 without --kafka_pid
  double soak = 0;     // this process: senders and subscribers
  double machine = 0;  // every process and interrupt
  // The machine's CPU besides the services, the broker and this process (interrupts included):
  // other work on the machine, which moves every figure.
  double Others() const {
    double mine = soak + std::max(0.0, kafka);
    for (double c : service) mine += c;
    return std::max(0.0, machine - mine);
  }
};

CpuUse Cores(const CpuUse& before, const CpuUse& after, double seconds) {
  CpuUse c;
  for (int i = 0; i < kServices; ++i)
    c.service[i] = (after.service[i] - before.service[i]) / seconds;
  c.kafka = after.kafka < 0 ? -1 : (after.kafka - before.kafka) / seconds;
  c.soak = (after.soak - before.soak) / seconds;
  c.machine = (after.machine - before.machine) / seconds;
  return c;
}

// One line of figures, at the end of an interval of the soak.
struct Mark {
  double at_s = 0;
  double sent_per_s = 0, delivered_per_s = 0;
  double rss[kServices] = {};
  CpuUse cores;                          // over the interval
  double rocksdb[kServices] = {};        // MiB of memtables and block cache (router, SLA monitor)
  double heap[kServices] = {};           // MiB the program holds (tcmalloc), RocksDB's included
  double heap_free[kServices] = {};      // MiB the allocator keeps freed for reuse
  double open_clocks = -1, timers = -1;  // the SLA monitor's
  double kafka_rss = -1;
  int64_t errors = 0, overdue = 0;
  double p50 = 0, p99 = 0, answer_p99 = 0;
  std::vector<double> latencies;  // end to end, ms
  double behind_ms = 0;
  double router_lag = -1, sla_lag = -1, stream_lag_ms = -1, alerts_per_s = 0;
};

// Nearest-rank percentiles of the end-to-end latencies of consecutive marks together.
struct Pooled {
  double p50 = 0, p99 = 0;
  int64_t samples = 0;
  std::string span;
};
Pooled Pool(const std::vector<Mark>& lines, size_t from, size_t to, double interval_s) {
  std::vector<double> all;
  for (size_t i = from; i < to; ++i) {
    all.insert(all.end(), lines[i].latencies.begin(), lines[i].latencies.end());
  }
  Pooled p;
  p.samples = static_cast<int64_t>(all.size());
  p.p50 = Percentile(all, 0.50);
  p.p99 = Percentile(all, 0.99);
  p.span = fmt::format("{}-{}", Clock(interval_s * static_cast<double>(from)),
                       Clock(interval_s * static_cast<double>(to)));
  return p;
}

class Soak {
 public:
  Soak(std::string dir, std::string bootstrap)
      : dir_(std::move(dir)),
        bootstrap_(std::move(bootstrap)),
        tracker_(std::max(1, absl::GetFlag(FLAGS_subscribers))) {}
  ~Soak() {
    subscribers_.clear();
    for (auto& s : services_) {
      if (s != nullptr) s->Kill(SIGKILL);
    }
  }

  // --kafka_properties as the inside of a YAML flow map: "a: \"1\", b: \"2\"".
  static std::string KafkaProperties() {
    std::vector<std::string> entries;
    for (const std::string& p : absl::GetFlag(FLAGS_kafka_properties)) {
      const size_t eq = p.find('=');
      if (eq == std::string::npos) continue;
      entries.push_back(fmt::format("{}: \"{}\"", p.substr(0, eq), p.substr(eq + 1)));
    }
    return fmt::format("{}", fmt::join(entries, ", "));
  }

  // The topics, the four services, ready with every partition owned, and the subscribers live.
  bool Start() {
    const int partitions = absl::GetFlag(FLAGS_partitions);
    std::string error;
    kafka_ = BenchKafka::Start(partitions, kafka::StandardTopics(), bootstrap_, &error);
    if (kafka_ == nullptr) return Fail("Kafka: " + error);
    const std::string policies = dir_ + "/sla-policies.yaml";
    // Hours compressed into seconds: every conversation the soak leaves unanswered fires its
    // warning, breach and escalation within 20 s, so that the alerts come at their steady rate
    // from early in the maximum's warm-up on, and the mark is in the same steady state as the
    // end. With a 1-minute target, escalations began only at the 2-minute mark and the monitor's
    // memory and the latency grew until then.
    std::ofstream(policies) <<
        R"(# bench/soak: calendar time and short targets; the rules (config/rules.example.yaml) name
# "dm" for direct messages and "public" otherwise.
policies:
  dm: {first_response: 10s, next_response: 10s, warn_at: 50%, escalate_after: 10s}
  public: {first_response: 10s, next_response: 10s, warn_at: 50%, escalate_after: 10s}
  default: {first_response: 10s, next_response: 10s, warn_at: 50%, escalate_after: 10s}
)";
    const std::string config = dir_ + "/earshot.yaml";
    std::ofstream(config) << fmt::format(
        R"(# bench/soak: every service of one pipeline, each in a process of its own.
kafka: {{bootstrap: "{}", properties: {{{}}}}}
http: {{addr: "127.0.0.1:0"}}
grpc: {{addr: "127.0.0.1:0"}}
admin: {{addr: "127.0.0.1:0"}}
telegram: {{secret_token: {}, bot_id: "{}"}}
router: {{rules_file: "{}/config/rules.example.yaml"}}
sla: {{policies_file: "{}"}}
)",
        bootstrap_, KafkaProperties(), kTelegramToken, kBot, EARSHOT_SOURCE_DIR, policies);
    for (int i = 0; i < kServices; ++i) {
      const std::string name = kServiceNames[i];
      services_[i] = std::make_unique<EarshotChild>(EARSHOT_BINARY, name, dir_ + "/" + name,
                                                    dir_ + "/" + name + ".log", config,
                                                    absl::GetFlag(FLAGS_service_env));
      if (auto st = services_[i]->Start(); !st.ok()) return Fail(name + ": " + st.ToString());
    }
    const absl::Duration timeout = absl::GetFlag(FLAGS_phase_timeout);
    const absl::Time deadline = absl::Now() + timeout;
    for (int i = 0; i < kServices; ++i) {
      if (services_[i]->AdminPort(timeout) == 0) return Died(i, "no admin port in its log");
    }
    auto gateway_port = services_[0]->WaitForLog(
        R"re("logger":"gateway.http","msg":"listening","addr":"127\.0\.0\.1:(\d+)")re", timeout);
    if (!gateway_port) return Died(0, "no HTTP port in its log");
    http_port_ = std::stoi(*gateway_port);
    const int stream_port = services_[3]->GrpcPort(timeout);
    if (stream_port == 0) return Died(3, "no gRPC port in its log");
    for (bool ready = false; !ready;) {
      if (absl::Now() > deadline) {
        return Fail(fmt::format("the services were not ready with every partition owned within {}",
                                absl::FormatDuration(timeout)));
      }
      for (int i = 0; i < kServices; ++i) {
        if (services_[i]->Wait(absl::ZeroDuration())) return Died(i, "exited during start-up");
      }
      ready =
          MetricValue(services_[1]->Metrics(), "earshot_router_owned_partitions") == partitions &&
          MetricValue(services_[2]->Metrics(), "earshot_sla_owned_partitions") == partitions;
      for (auto& s : services_) ready = ready && s->Ready();
      if (!ready) absl::SleepFor(absl::Milliseconds(250));
    }
    for (int s = 0; s < tracker_.subscribers(); ++s) {
      subscribers_.push_back(std::make_unique<Subscriber>(s, stream_port, &tracker_));
    }
    for (auto& s : subscribers_) {
      if (!s->WaitLive(absl::Seconds(30))) {
        return Fail("a subscriber got no first heartbeat in 30 s");
      }
    }
    for (int c = 0; c < absl::GetFlag(FLAGS_connections); ++c) {
      clients_.push_back(
          std::make_unique<http::Client>("127.0.0.1", http_port_, absl::Seconds(10)));
    }
    std::printf(
        "  %s at %s, %d partitions a topic; ready after %.1f s: gateway (pid %d, HTTP "
        "127.0.0.1:%d), router (pid %d), SLA monitor (pid %d), stream (pid %d, gRPC "
        "127.0.0.1:%d); %d subscribers (routed events and alerts, no filter); %d connections "
        "sending\n",
        kafka_->name().c_str(), bootstrap_.c_str(), partitions,
        absl::ToDoubleSeconds(timeout - (deadline - absl::Now())), services_[0]->pid(), http_port_,
        services_[1]->pid(), services_[2]->pid(), services_[3]->pid(), stream_port,
        tracker_.subscribers(), absl::GetFlag(FLAGS_connections));
    std::fflush(stdout);
    return true;
  }

  // The most routed deliveries/s a subscriber receives under a closed loop; 0 when it failed.
  double MeasureMax() {
    const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
    const absl::Duration measured = absl::GetFlag(FLAGS_max_seconds);
    std::atomic<bool> stop{false};
    const int64_t from = NowNs() + absl::ToInt64Nanoseconds(warmup);
    const int64_t to = from + absl::ToInt64Nanoseconds(measured);
    std::vector<std::vector<double>> answer_ms(clients_.size());
    std::atomic<int64_t> accepted_in_window{0};
    std::vector<std::thread> threads;
    for (size_t c = 0; c < clients_.size(); ++c) {
      threads.emplace_back([&, c] {
        while (!stop.load()) {
          const int64_t sent = NowNs();
          std::string error;
          const int status = Post(*clients_[c], next_request_++, &error);
          const int64_t done = NowNs();
          if (status / 100 != 2) {
            ++tracker_.max_errors;
            continue;
          }
          ++tracker_.max_accepted;
          if (sent >= from && done < to) {
            ++accepted_in_window;
            answer_ms[c].push_back(static_cast<double>(done - sent) / 1e6);
          }
        }
      });
    }
    absl::SleepFor(warmup);
    const int64_t delivered_before = tracker_.MaxDelivered(0);
    const CpuUse cpu_before = SampleCpu();
    absl::SleepFor(measured);
    const int64_t delivered = tracker_.MaxDelivered(0) - delivered_before;
    const CpuUse cores = Cores(cpu_before, SampleCpu(), absl::ToDoubleSeconds(measured));
    const int64_t backlog = tracker_.max_accepted.load() - tracker_.MaxDelivered(0);
    stop = true;
    for (auto& t : threads) t.join();
    const double secs = absl::ToDoubleSeconds(measured);
    const double rate = static_cast<double>(delivered) / secs;
    std::vector<double> all;
    for (auto& v : answer_ms) all.insert(all.end(), v.begin(), v.end());
    std::printf(
        "  closed loop, %zu connections, %s warm-up, %s measured: %.0f routed deliveries/s at a "
        "subscriber, %.0f requests/s answered 2xx (answer p99 %.1f ms), %lld errors; %lld "
        "accepted but not yet delivered at the end\n"
        "  CPU cores: gateway %.2f, router %.2f, SLA monitor %.2f, stream %.2f, Kafka %.2f, this "
        "process %.2f, other work %.2f%s; the machine %.2f\n",
        clients_.size(), absl::FormatDuration(warmup).c_str(),
        absl::FormatDuration(measured).c_str(), rate,
        static_cast<double>(accepted_in_window.load()) / secs, Percentile(all, 0.99),
        static_cast<long long>(tracker_.max_errors.load()), static_cast<long long>(backlog),
        cores.service[0], cores.service[1], cores.service[2], cores.service[3], cores.kafka,
        cores.soak, cores.Others(), cores.Others() > kOthersMax ? " (DISTURBED)" : "",
        cores.machine);
    disturbed_ |= cores.Others() > kOthersMax;
    std::fflush(stdout);
    // The soak starts from a drained pipeline.
    const absl::Time start = absl::Now();
    const absl::Time deadline = start + absl::GetFlag(FLAGS_phase_timeout);
    while (tracker_.MaxDeliveredByAll() < tracker_.max_accepted.load() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
    }
    const bool drained = tracker_.MaxDeliveredByAll() >= tracker_.max_accepted.load();
    std::printf("  %s %.1f s after the load (%lld of %lld accepted requests on every subscriber)\n",
                drained ? "drained" : "NOT DRAINED", absl::ToDoubleSeconds(absl::Now() - start),
                static_cast<long long>(tracker_.MaxDeliveredByAll()),
                static_cast<long long>(tracker_.max_accepted.load()));
    std::fflush(stdout);
    if (!drained) return 0;
    return rate;
  }

  // Whether other work took more than kOthersMax cores in the maximum or an interval.
  bool disturbed() const { return disturbed_; }

  // The soak at `rate` for --minutes; the lines as it goes, then the verdicts. Returns 2 when it
  // could not run, else 0 (the verdicts say whether it passed).
  int Run(double rate, Verdicts& verdicts) {
    const absl::Duration interval = absl::GetFlag(FLAGS_interval);
    const absl::Duration length = absl::Minutes(absl::GetFlag(FLAGS_minutes));
    const int marks =
        std::max(1, static_cast<int>(std::ceil(absl::FDivDuration(length, interval))));
    const int mark_at =
        std::clamp(static_cast<int>(std::lround(absl::FDivDuration(
                       std::min(absl::GetFlag(FLAGS_baseline), length / 2), interval))),
                   1, marks);
    const double planned_d = rate * absl::ToDoubleSeconds(length);
    if (rate <= 0 || planned_d > 2e8) {
      Fail(fmt::format("no sensible rate to run at: {:.0f} requests/s", rate));
      return 2;
    }
    const auto planned = static_cast<int64_t>(planned_d);
    const int64_t first = next_request_.load();
    // 100 ms for the tracker's tables and the senders to start.
    const int64_t t0 = NowNs() + 100000000;
    tracker_.StartSoak(first, planned, t0, rate);
    std::printf(
        "\n== soak: %.0f requests/s on a fixed schedule for %s (%lld requests); one line every "
        "%s; the mark is %s\n",
        rate, absl::FormatDuration(length).c_str(), static_cast<long long>(planned),
        absl::FormatDuration(interval).c_str(),
        Clock(absl::ToDoubleSeconds(interval * mark_at)).c_str());
    std::printf(
        "          requests/s             VmRSS MiB                   end to end ms   answer   "
        "consumer lag           alerts\n"
        "   time    sent  deliv  gateway router    sla stream  errors    p50     p99   p99 ms  "
        "router   sla  stream ms     /s\n");
    std::fflush(stdout);

    // A sender that falls this far behind its slots gives the rest up (they count as unsent).
    const int64_t hard_end = t0 + absl::ToInt64Nanoseconds(length + absl::Seconds(30));
    std::atomic<int64_t> next{0};
    std::atomic<bool> abort{false};
    std::vector<std::thread> senders;
    for (size_t c = 0; c < clients_.size(); ++c) {
      senders.emplace_back([&, c] {
        for (int64_t k = next++; k < planned; k = next++) {
          const int64_t at = tracker_.SlotNs(k);
          int64_t now = NowNs();
          if (now < at) {
            absl::SleepFor(absl::Nanoseconds(at - now));
            now = NowNs();
          }
          if (abort.load() || now > hard_end) {
            tracker_.Unsent();
            continue;
          }
          tracker_.Behind(now - at);
          tracker_.Sent();
          std::string error;
          const int status = Post(*clients_[c], first + k, &error);
          tracker_.Answered(k, status, error, now);
        }
      });
    }

    std::vector<Mark> lines;
    cpu_before_ = SampleCpu();
    metrics_before_ = Scrapes();
    int64_t sent_before = 0, delivered_before = 0;
    std::string died;
    for (int m = 1; m <= marks && died.empty(); ++m) {
      const int64_t at = t0 + absl::ToInt64Nanoseconds(interval * m);
      if (const int64_t now = NowNs(); now < at) absl::SleepFor(absl::Nanoseconds(at - now));
      const double before_s = lines.empty() ? 0 : lines.back().at_s;
      Mark mark = TakeMark(static_cast<double>(NowNs() - t0) / 1e9, before_s);
      mark.sent_per_s =
          static_cast<double>(tracker_.sent.load() - sent_before) / (mark.at_s - before_s);
      mark.delivered_per_s = static_cast<double>(tracker_.delivered.load() - delivered_before) /
                             tracker_.subscribers() / (mark.at_s - before_s);
      sent_before = tracker_.sent.load();
      delivered_before = tracker_.delivered.load();
      PrintMark(mark);
      lines.push_back(std::move(mark));
      for (int i = 0; i < kServices; ++i) {
        if (auto status = services_[i]->Wait(absl::ZeroDuration())) {
          died = fmt::format("{} exited (wait status {})", kServiceNames[i], *status);
        }
      }
    }
    if (!died.empty()) {
      std::printf("  ! %s: the soak stops here\n", died.c_str());
      abort = true;
    }
    for (auto& t : senders) t.join();

    // The last deliveries.
    const absl::Time drain_start = absl::Now();
    const absl::Time drain_end = drain_start + absl::GetFlag(FLAGS_drain);
    int64_t missing = tracker_.Overdue(NowNs(), absl::ZeroDuration());
    while (missing > 0 && absl::Now() < drain_end && died.empty()) {
      absl::SleepFor(absl::Milliseconds(250));
      missing = tracker_.Overdue(NowNs(), absl::ZeroDuration());
    }
    const double drain_s = absl::ToDoubleSeconds(absl::Now() - drain_start);
    const int64_t unanswered = planned - tracker_.accepted.load() - tracker_.non_2xx.load() -
                               tracker_.io_failed.load() - tracker_.unsent.load();

    // The figures.
    std::printf("\n== figures\n");
    std::printf(
        "  requests: %lld planned, %lld sent, %lld accepted (2xx), %lld non-2xx [status:%s], %lld "
        "failed (I/O, time-out), %lld unsent (sender over 30 s behind), %lld unanswered\n",
        static_cast<long long>(planned), static_cast<long long>(tracker_.sent.load()),
        static_cast<long long>(tracker_.accepted.load()),
        static_cast<long long>(tracker_.non_2xx.load()), tracker_.StatusCodes().c_str(),
        static_cast<long long>(tracker_.io_failed.load()),
        static_cast<long long>(tracker_.unsent.load()), static_cast<long long>(unanswered));
    std::printf(
        "  deliveries: %lld routed on %d subscribers (%lld missing after a %.1f s drain, %lld "
        "duplicates, %lld of refused requests, %lld not of this soak), %lld alerts; %lld stream "
        "errors\n",
        static_cast<long long>(tracker_.delivered.load()), tracker_.subscribers(),
        static_cast<long long>(missing), drain_s,
        static_cast<long long>(tracker_.duplicates.load()),
        static_cast<long long>(tracker_.delivered_refused.load()),
        static_cast<long long>(tracker_.unexpected.load()),
        static_cast<long long>(tracker_.alerts.load()),
        static_cast<long long>(tracker_.stream_errors.load()));
    const size_t base_index = static_cast<size_t>(std::min<int>(mark_at, lines.size()) - 1);
    const Mark& first_line = lines.front();
    const Mark& base = lines[base_index];
    const Mark& end = lines.back();
    std::printf(
        "  %-8s VmRSS MiB: %5s %7s %7s  growth  VmHWM  RocksDB MiB: %5s %7s   CPU cores: "
        "%5s %7s\n",
        "", Clock(first_line.at_s).c_str(), Clock(base.at_s).c_str(), Clock(end.at_s).c_str(),
        Clock(base.at_s).c_str(), Clock(end.at_s).c_str(), Clock(first_line.at_s).c_str(),
        Clock(end.at_s).c_str());
    for (int i = 0; i < kServices; ++i) {
      const bool stateful = i == 1 || i == 2;
      std::printf("  %-8s %16.1f %7.1f %7.1f %+6.1f%% %6.1f %18s %7s %17.2f %7.2f\n",
                  kServiceNames[i], first_line.rss[i], base.rss[i], end.rss[i],
                  Growth(base.rss[i], end.rss[i]), StatusMiB(services_[i]->pid(), "VmHWM"),
                  stateful ? fmt::format("{:.1f}", base.rocksdb[i]).c_str() : "",
                  stateful ? fmt::format("{:.1f}", end.rocksdb[i]).c_str() : "",
                  first_line.cores.service[i], end.cores.service[i]);
    }
    // Where the memory went: what the program holds and what the allocator keeps freed.
    for (int i = 0; i < kServices; ++i) {
      std::printf(
          "  %-8s heap MiB held %7.1f -> %7.1f (%+.1f%%), allocator's free %5.1f -> %5.1f\n",
          kServiceNames[i], base.heap[i], end.heap[i], Growth(base.heap[i], end.heap[i]),
          base.heap_free[i], end.heap_free[i]);
    }
    if (absl::GetFlag(FLAGS_kafka_pid) > 0) {
      std::printf("  %-8s %16.1f %7.1f %7.1f %+6.1f%% %6.1f %26s %17.2f %7.2f  (information)\n",
                  "kafka", first_line.kafka_rss, base.kafka_rss, end.kafka_rss,
                  Growth(base.kafka_rss, end.kafka_rss),
                  StatusMiB(absl::GetFlag(FLAGS_kafka_pid), "VmHWM"), "", first_line.cores.kafka,
                  end.cores.kafka);
    }
    std::printf("  %-8s %75.2f %7.2f  (this process: senders and subscribers)\n", "soak",
                first_line.cores.soak, end.cores.soak);
    std::printf("  %-8s %75.2f %7.2f  (other work on the machine, interrupts included)\n", "others",
                first_line.cores.Others(), end.cores.Others());
    std::printf("  %-8s %75.2f %7.2f  (of %ld: every process and interrupt)\n", "machine",
                first_line.cores.machine, end.cores.machine, sysconf(_SC_NPROCESSORS_ONLN));
    int disturbed = 0;
    for (const Mark& m : lines) disturbed += m.cores.Others() > kOthersMax;
    disturbed_ |= disturbed > 0;
    if (disturbed > 0) {
      std::printf(
          "  warning: other work used the machine in %d of %zu intervals (DISTURBED): "
          "take the figures again\n",
          disturbed, lines.size());
    }
    std::printf(
        "  SLA monitor: %.0f open clocks at %s, %.0f at the end; timers in memory %.0f and "
        "%.0f\n",
        base.open_clocks, Clock(base.at_s).c_str(), end.open_clocks, base.timers, end.timers);
    std::string p99s;
    for (const Mark& m : lines) p99s += fmt::format(" {:.1f}", m.p99);
    std::printf("  end-to-end p99 by interval (ms):%s\n", p99s.c_str());
    // The p99 criterion pools --p99_window of samples on each side: one interval's p99 is set by
    // its few slowest requests, and a single stall of a second moved it 2-5x between
    // neighbouring intervals in the runs that chose this.
    const double interval_s = absl::ToDoubleSeconds(interval);
    const size_t window = static_cast<size_t>(std::max<int64_t>(
        1, std::lround(absl::FDivDuration(absl::GetFlag(FLAGS_p99_window), interval))));
    const Pooled at_mark =
        Pool(lines, base_index + 1 - std::min(window, base_index + 1), base_index + 1, interval_s);
    const Pooled last_window =
        Pool(lines, lines.size() - std::min(window, lines.size()), lines.size(), interval_s);
    std::printf("  end-to-end p50 / p99 (ms): %s %.1f / %.1f, %s %.1f / %.1f\n",
                at_mark.span.c_str(), at_mark.p50, at_mark.p99, last_window.span.c_str(),
                last_window.p50, last_window.p99);
    std::fflush(stdout);

    // The verdicts.
    const double growth_max = absl::GetFlag(FLAGS_rss_growth_max);
    for (int i = 0; i < kServices; ++i) {
      const double g = Growth(base.rss[i], end.rss[i]);
      if (i != 1 && i != 2) {
        verdicts.Add(fmt::format("{} VmRSS growth < {:.0f}% from {} to the end", kServiceNames[i],
                                 100 * growth_max, Clock(base.at_s)),
                     died.empty() && g < 100 * growth_max,
                     fmt::format("{:.1f} -> {:.1f} MiB ({:+.1f}%)", base.rss[i], end.rss[i], g));
        continue;
      }
      // RocksDB's memtables and block cache fill up to sizes its settings bound (block cache +
      // 3 write buffers per column family) as the state grows, which takes longer than the
      // two minutes before the mark; a leak is in the rest of the process.
      const double rest_base = base.rss[i] - base.rocksdb[i];
      const double rest_end = end.rss[i] - end.rocksdb[i];
      const double rest = Growth(rest_base, rest_end);
      verdicts.Add(
          fmt::format("{} VmRSS growth < {:.0f}% from {} to the end, RocksDB's memtables and "
                      "block cache aside",
                      kServiceNames[i], 100 * growth_max, Clock(base.at_s)),
          died.empty() && rest < 100 * growth_max,
          fmt::format("{:.1f} -> {:.1f} MiB ({:+.1f}%); VmRSS {:.1f} -> {:.1f} MiB ({:+.1f}%), "
                      "RocksDB {:.1f} -> {:.1f} MiB",
                      rest_base, rest_end, rest, base.rss[i], end.rss[i], g, base.rocksdb[i],
                      end.rocksdb[i]));
    }
    const int64_t errors = tracker_.Errors() + missing + unanswered;
    verdicts.Add("zero errors", died.empty() && errors == 0,
                 fmt::format("{} (non-2xx {}, failed {}, unsent {}, unanswered {}, stream errors "
                             "{}, missing {}, duplicates {}){}",
                             errors, tracker_.non_2xx.load(), tracker_.io_failed.load(),
                             tracker_.unsent.load(), unanswered, tracker_.stream_errors.load(),
                             missing, tracker_.duplicates.load(), died.empty() ? "" : "; " + died));
    const double ratio_max = absl::GetFlag(FLAGS_p99_ratio_max);
    const double ratio = at_mark.p99 > 0 ? last_window.p99 / at_mark.p99 : 0;
    verdicts.Add(
        fmt::format("p99 stable: {} <= {:.1f}x {}", last_window.span, ratio_max, at_mark.span),
        died.empty() && at_mark.samples > 0 && last_window.samples > 0 && ratio <= ratio_max,
        fmt::format("{:.1f} ms against {:.1f} ms: {:.2f}x (p50 {:.1f} against {:.1f} ms)",
                    last_window.p99, at_mark.p99, ratio, last_window.p50, at_mark.p50));
    if (base_index + 1 == lines.size()) {
      std::printf("  (the run is too short for a mark before its end: nothing to compare)\n");
    }
    return 0;
  }

  // SIGTERM to every service, subscribers first gone; true when each exited with 0.
  bool Stop() {
    subscribers_.clear();
    bool clean = true;
    for (int i = 0; i < kServices; ++i) {
      if (services_[i] == nullptr || !services_[i]->running()) continue;
      services_[i]->Kill(SIGTERM);
      const auto status = services_[i]->Wait(absl::Seconds(60));
      if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
        clean = false;
        std::printf("  ! %s did not stop cleanly on SIGTERM (%s)\n", kServiceNames[i],
                    status ? fmt::format("wait status {}", *status).c_str() : "still running");
      }
    }
    // What the services logged at warning level and above (their logs are JSON lines).
    for (int i = 0; i < kServices; ++i) {
      if (services_[i] == nullptr) continue;
      int warnings = 0, errors = 0;
      std::vector<std::string> first;
      std::istringstream log(services_[i]->Log());
      for (std::string line; std::getline(log, line);) {
        const bool error = line.find(R"("level":"error")") != std::string::npos;
        const bool warning = line.find(R"("level":"warn")") != std::string::npos;
        warnings += warning;
        errors += error;
        if ((error || warning) && first.size() < 3) first.push_back(line.substr(0, 300));
      }
      std::printf("  %s log: %d warnings, %d errors%s\n", kServiceNames[i], warnings, errors,
                  first.empty() ? "" : "; the first:");
      for (const auto& l : first) std::printf("    %s\n", l.c_str());
    }
    std::fflush(stdout);
    return clean;
  }

 private:
  // Returns the HTTP status, 0 after an I/O error or time-out (`error` says which).
  int Post(http::Client& client, int64_t g, std::string* error) {
    const Message m = MessageOf(g);
    auto r = client.Send("POST", "/webhooks/telegram",
                         TelegramUpdate(kUpdateBase + g, m.chat, g + 1, m.brand ? kBot : ""),
                         {{"Content-Type", "application/json"},
                          {"X-Telegram-Bot-Api-Secret-Token", kTelegramToken}});
    if (!r.ok()) {
      *error = r.status().ToString();
      return 0;
    }
    return r->status;
  }

  CpuUse SampleCpu() const {
    CpuUse c;
    for (int i = 0; i < kServices; ++i) c.service[i] = ProcessCpuSeconds(services_[i]->pid());
    if (const int kafka_pid = absl::GetFlag(FLAGS_kafka_pid); kafka_pid > 0) {
      c.kafka = ProcessCpuSeconds(kafka_pid);
    }
    c.soak = CpuSeconds();
    c.machine = MachineBusySeconds();
    return c;
  }

  std::array<std::string, kServices> Scrapes() {
    std::array<std::string, kServices> out;
    for (int i = 0; i < kServices; ++i) out[i] = services_[i]->Metrics();
    return out;
  }

  Mark TakeMark(double at_s, double before_s) {
    Mark m;
    m.at_s = at_s;
    const double secs = at_s - before_s;
    for (int i = 0; i < kServices; ++i) m.rss[i] = StatusMiB(services_[i]->pid(), "VmRSS");
    if (const int kafka_pid = absl::GetFlag(FLAGS_kafka_pid); kafka_pid > 0) {
      m.kafka_rss = StatusMiB(kafka_pid, "VmRSS");
    }
    const CpuUse cpu = SampleCpu();
    m.cores = Cores(cpu_before_, cpu, secs);
    cpu_before_ = cpu;
    m.latencies = tracker_.TakeLatencies();
    m.p50 = Percentile(m.latencies, 0.50);  // sorts them
    m.p99 = Percentile(m.latencies, 0.99);
    std::vector<double> answers = tracker_.TakeAnswerTimes();
    m.answer_p99 = Percentile(answers, 0.99);
    m.behind_ms = static_cast<double>(tracker_.TakeBehindNs()) / 1e6;
    m.overdue = tracker_.Overdue(NowNs(), absl::GetFlag(FLAGS_deliver_within));
    m.errors = tracker_.Errors() + m.overdue;
    const auto metrics = Scrapes();
    m.router_lag = testing::MetricSum(metrics[1], "earshot_router_consumer_lag");
    m.sla_lag = testing::MetricSum(metrics[2], "earshot_sla_consumer_lag");
    auto delta = [&](int i, const std::string& name) {
      return testing::MetricSum(metrics[i], name) - testing::MetricSum(metrics_before_[i], name);
    };
    const double lag_count = delta(3, "earshot_stream_delivery_lag_seconds_count");
    m.stream_lag_ms =
        lag_count > 0 ? 1e3 * delta(3, "earshot_stream_delivery_lag_seconds_sum") / lag_count : -1;
    m.alerts_per_s = delta(2, "earshot_sla_alerts_total") / secs;
    m.open_clocks = MetricValue(metrics[2], "earshot_sla_open_clocks");
    m.timers = MetricValue(metrics[2], "earshot_sla_timers_in_memory");
    for (int i : {1, 2}) {
      m.rocksdb[i] =
          (testing::MetricSum(metrics[i],
                              fmt::format("earshot_{}_rocksdb_memtable_bytes", kServiceNames[i])) +
           testing::MetricSum(metrics[i], fmt::format("earshot_{}_rocksdb_block_cache_"
                                                      "usage_bytes",
                                                      kServiceNames[i]))) /
          (1 << 20);
    }
    for (int i = 0; i < kServices; ++i) {
      m.heap[i] = testing::MetricSum(metrics[i], "earshot_heap_allocated_bytes") / (1 << 20);
      m.heap_free[i] = testing::MetricSum(metrics[i], "earshot_heap_free_bytes") / (1 << 20);
    }
    metrics_before_ = metrics;
    return m;
  }

  static void PrintMark(const Mark& m) {
    std::printf(
        "  %5s %7.0f %6.0f %8.1f %6.1f %6.1f %6.1f %7lld %6.1f %7.1f %8.1f %7.0f %5.0f %10.1f "
        "%6.0f%s\n",
        Clock(m.at_s).c_str(), m.sent_per_s, m.delivered_per_s, m.rss[0], m.rss[1], m.rss[2],
        m.rss[3], static_cast<long long>(m.errors), m.p50, m.p99, m.answer_p99, m.router_lag,
        m.sla_lag, m.stream_lag_ms, m.alerts_per_s, Notes(m).c_str());
    std::fflush(stdout);
  }

  // What a line adds when it needs saying: senders behind their slots, other work running.
  static std::string Notes(const Mark& m) {
    std::string notes;
    if (m.behind_ms > 1000)
      notes += fmt::format("  senders up to {:.1f} s behind;", m.behind_ms / 1e3);
    if (m.cores.Others() > kOthersMax) {
      notes += fmt::format("  DISTURBED: {:.2f} cores of other work;", m.cores.Others());
    }
    if (!notes.empty()) notes.pop_back();
    return notes;
  }

  static double Growth(double from, double to) { return from > 0 ? 100 * (to - from) / from : 0; }

  bool Fail(const std::string& what) {
    std::printf("  could not run: %s\n", what.c_str());
    std::fflush(stdout);
    return false;
  }
  bool Died(int i, const std::string& what) {
    return Fail(fmt::format("{}: {}; its log ends:\n{}", kServiceNames[i], what,
                            services_[i]->LogTail(2000)));
  }

  const std::string dir_;
  const std::string bootstrap_;
  std::unique_ptr<BenchKafka> kafka_;
  std::array<std::unique_ptr<EarshotChild>, kServices> services_;
  int http_port_ = 0;
  Tracker tracker_;
  std::vector<std::unique_ptr<Subscriber>> subscribers_;
  std::vector<std::unique_ptr<http::Client>> clients_;
  std::atomic<int64_t> next_request_{0};  // request ids over both phases
  CpuUse cpu_before_;
  bool disturbed_ = false;  // other work took more than kOthersMax somewhere
  std::array<std::string, kServices> metrics_before_;
};

int Main() {
  const std::string bootstrap = absl::GetFlag(FLAGS_bootstrap);
  if (bootstrap.empty()) {
    std::fprintf(stderr, "soak: --bootstrap is required (bench/run_soak.sh starts a Kafka)\n");
    return 2;
  }
  if (absl::GetFlag(FLAGS_minutes) < 1 || absl::GetFlag(FLAGS_connections) < 1 ||
      absl::GetFlag(FLAGS_interval) < absl::Seconds(1)) {
    std::fprintf(stderr, "soak: --minutes and --connections must be >= 1, --interval >= 1s\n");
    return 2;
  }
  TempFolder folder(absl::GetFlag(FLAGS_tmp), "earshot-soak", absl::GetFlag(FLAGS_keep));
  if (!folder.ok()) {
    std::fprintf(stderr, "cannot create a temporary folder\n");
    return 2;
  }
  std::printf("== machine\n  %s\n  %s\n", Machine().c_str(),
              absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::Now(), absl::UTCTimeZone()).c_str());
  std::printf("\n== pipeline: earshot --target=gateway, router, sla, stream, each a process\n");
  std::fflush(stdout);
  Soak soak(folder.path(), bootstrap);
  if (!soak.Start()) return 2;

  Verdicts verdicts;
  verdicts.echo = false;  // the figures print their own lines; the verdicts go in the summary
  double max = absl::GetFlag(FLAGS_max_rate);
  std::printf("\n== maximum end-to-end rate\n");
  if (max > 0) {
    std::printf("  given: %.0f requests/s (--max_rate)\n", max);
  } else {
    max = soak.MeasureMax();
    if (max <= 0) return 2;
  }
  const double rate = absl::GetFlag(FLAGS_load_fraction) * max;
  std::printf("  max %.0f requests/s end to end; the soak runs at %.0f%% of it: %.0f requests/s\n",
              max, 100 * absl::GetFlag(FLAGS_load_fraction), rate);
  std::fflush(stdout);
  if (const int code = soak.Run(rate, verdicts); code != 0) return code;
  std::printf("\n== stop\n");
  const bool clean = soak.Stop();
  verdicts.Add("every service stopped cleanly on SIGTERM", clean,
               clean ? "each exited with status 0" : "see \"stop\" above");
  verdicts.PrintSummary();
  if (soak.disturbed()) {
    std::printf("  warning: other work used the machine (DISTURBED above): the figures are low\n");
  }
  return verdicts.failed ? 1 : 0;
}

}  // namespace
}  // namespace earshot::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "The soak benchmark: the whole pipeline, one process per service, on a real Kafka at 70% of "
      "its measured maximum for --minutes. See bench/README.md (Soak).");
  // --max-rate and --max_rate alike: Abseil's flag names have underscores.
  std::vector<std::string> args(argv, argv + argc);
  std::vector<char*> pointers;
  for (std::string& a : args) {
    if (a.rfind("--", 0) == 0) {
      std::replace(a.begin() + 2,
                   a.begin() + static_cast<std::ptrdiff_t>(std::min(a.find('='), a.size())), '-',
                   '_');
    }
    pointers.push_back(a.data());
  }
  absl::ParseCommandLine(static_cast<int>(pointers.size()), pointers.data());
  return earshot::bench::Main();
}
