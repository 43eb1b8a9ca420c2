// sla_bench: the SLA monitor benchmark of bench/README.md, in one run:
//
//   (a) open clocks at 1M and 10M: routed events that each open a clock (a customer waits),
//       applied by SlaCore::Apply on store::OverlayView (the batch's writes over RocksDB), in
//       batches of 1000 with one RocksDB write each, as SlaApp::Step does, with SlaApp's RocksDB
//       settings (64 MiB block cache, 16 MiB write buffers); insert rate, and resident memory
//       with the store still open; target: under 1 GiB resident with 10M open clocks;
//   (b) restart: the monitor as `earshot --target=sla` builds it (Process) started on the state
//       folder (a) left; time until Start() returned, /readyz is 200, the 4 partitions are
//       assigned and the timers due within the horizon are in memory; target: under 10 s with
//       1M open clocks. Then, for information, the monitor's clock jumps ahead (an outage): the
//       time until the alerts that came due meanwhile are published;
//   (c) alert delay: the monitor under a steady load of routed events (10k/s for 40 s), each
//       opening a clock whose breach deadline is 5 s later (warning at 3 s); for every breach
//       alert, the time from its deadline to its arrival at a consumer of earshot.alerts.v1;
//       target: p99 < 1 s.
//
//   build/bench/sla_bench [--sizes=1000000[,10000000]] [--restart_sizes=1000000[,10000000]]
//                         [--rate=10000] [--load_seconds=40s] [--deadline=5s]
//                         [--parts=fill,restart,delay]
//
// Everything runs on this machine and on loopback: the embedded Kafka-protocol broker
// (librdkafka's mock cluster) inside the measuring process, RocksDB under a temporary folder
// (removed at the end). Each measurement runs in a child process forked while this process has
// no threads, so each starts from the same clean memory baseline.
// Exits 1 when a target is missed, 2 when the benchmark could not run.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "earshot/v1/alert.pb.h"
#include "earshot/v1/event.pb.h"
#include "earshot/v1/routing.pb.h"
#include "fmt/format.h"
#include "librdkafka/rdkafka.h"
#include "services/common/base/clock.h"
#include "services/common/base/config.h"
#include "services/common/base/log.h"
#include "services/common/base/strings.h"
#include "services/common/http/client.h"
#include "services/common/kafka/consumer.h"
#include "services/common/kafka/embedded_broker.h"
#include "services/common/kafka/producer.h"
#include "services/common/kafka/stateful_consumer.h"
#include "services/common/store/kv_view.h"
#include "services/common/store/store.h"
#include "services/earshot/process.h"
#include "services/sla/policy.h"
#include "services/sla/sla_app.h"
#include "services/sla/sla_core.h"

ABSL_FLAG(std::string, sizes, "1000000",
          "(a) open clocks to store, one fill each; the 1 GiB target is measured with a size of "
          "10M (--sizes=1000000,10000000: about 10 minutes more on 2 cores)");
ABSL_FLAG(std::string, restart_sizes, "1000000",
          "(b) the fills of (a) to restart the monitor on (each must be in --sizes)");
ABSL_FLAG(int, partitions, 4, "partitions of earshot.routed.v1 the clocks are spread over");
ABSL_FLAG(absl::Duration, horizon, absl::Seconds(60), "(b) sla.horizon (SlaApp's default)");
ABSL_FLAG(absl::Duration, outage, absl::Minutes(5),
          "(b) how far the monitor's clock jumps after the restart, to measure the catch-up");
ABSL_FLAG(int64_t, rate, 10000, "(c) routed events per second, each opening a clock");
ABSL_FLAG(absl::Duration, load_seconds, absl::Seconds(40),
          "(c) how long the load runs; 40 s takes in one refill of the in-memory timers (every "
          "horizon/2 = 30 s)");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(5),
          "(c) first_response of the policy: breach deadline after the customer's message; the "
          "warning is at 50% (rounded to the second). Longer than the monitor's consumption lag "
          "while it keeps up, so that the delay measures the timers rather than that lag");
ABSL_FLAG(absl::Duration, drain, absl::Seconds(15),
          "(c) after the load, how long to wait at most for the last alerts");
ABSL_FLAG(absl::Duration, phase_timeout, absl::Minutes(20),
          "upper bound of each fill; a fill that reaches it reports what it stored and fails");
ABSL_FLAG(std::string, parts, "fill,restart,delay", "which parts to run: fill, restart, delay");
ABSL_FLAG(int, batch_max, 0,
          "sla.batch_max of the monitor (records a batch, and so a Kafka "
          "transaction, takes at most); 0: SlaApp's default");
ABSL_FLAG(std::string, tmp, "", "folder for RocksDB (default: a new folder under $TMPDIR)");
ABSL_FLAG(bool, keep, false, "keep the temporary folder");
ABSL_FLAG(std::string, bootstrap, "",
          "(b, c) a real Kafka cluster to run on (its topics are created anew); empty: the "
          "embedded broker (bench/run_sla_bench.sh KAFKA=real starts one)");

namespace earshot::bench {
namespace {

std::string BrokerName() {
  return absl::GetFlag(FLAGS_bootstrap).empty()
             ? "embedded broker in the process"
             : "Apache Kafka at " + absl::GetFlag(FLAGS_bootstrap);
}

using earshot::v1::Alert;
using earshot::v1::RoutedEvent;

constexpr int kBatchMax = 1000;            // SlaApp: sla.batch_max
constexpr size_t kBlockCache = 64 << 20;   // SlaApp: sla.block_cache_bytes
constexpr size_t kWriteBuffer = 16 << 20;  // SlaApp: sla.write_buffer_bytes
constexpr int64_t kOneGiB = int64_t{1} << 30;
// The fill's policy: warnings 3 h after the customer's message, breaches after 4 h. The clocks'
// messages are spread over the 3 hours before the anchor, so their warnings fall over the 3 hours
// after it, as in a steady state: about 1/180 of them within a 60 s horizon.
constexpr char kFillPolicy[] =
    "default: {first_response: 4h, next_response: 4h, warn_at: 75%, escalate_after: 2h}";
constexpr absl::Duration kFillSpread = absl::Hours(3);

std::string FillPolicies() { return fmt::format("policies:\n  {}\n", kFillPolicy); }

// ---------------------------------------------------------------------------------------------
// Measurements of this process.

int64_t StatusBytes(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, n, field) == 0) return std::stoll(line.substr(n)) * 1024;
  }
  return 0;
}
int64_t RssBytes() { return StatusBytes("VmRSS:"); }
int64_t PeakRssBytes() { return StatusBytes("VmHWM:"); }

// Per thread of this process (by thread id), from /proc/self/task/<id>/schedstat: nanoseconds
// on a CPU, and nanoseconds runnable but waiting for one (the other processes of the machine).
struct ThreadTime {
  int64_t run_ns = 0;
  int64_t wait_ns = 0;
};
std::map<int, ThreadTime> ThreadTimes() {
  std::map<int, ThreadTime> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    ThreadTime t;
    if (std::ifstream(e.path() / "schedstat") >> t.run_ns >> t.wait_ns) {
      out[std::atoi(e.path().filename().c_str())] = t;
    }
  }
  return out;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double Mib(int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

// Runs `fn` in a child process forked now and returns what it returned (a plain struct with an
// `error` field), so that each measurement starts from the same memory and no thread of one
// measurement lives on into the next.
// ---------------------------------------------------------------------------------------------
// Synthetic routed events: one customer message on a thread of its own, which opens a clock.

absl::Time FromTs(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

constexpr std::string_view kQueues[] = {"care-de", "care-en", "orders", "social"};

// The routed event of thread `i`: its customer wrote at `wrote` and waits for a first answer.
// `small` leaves out what the monitor does not need (for the load of part c, which has to fit in
// the embedded broker's retention).
RoutedEvent ClockEvent(int64_t i, absl::Time wrote, bool small) {
  const uint64_t h = Mix(static_cast<uint64_t>(i));
  RoutedEvent r;
  auto* e = r.mutable_event();
  auto* t = r.mutable_thread();
  auto [platform, account, key, is_public] = ThreadOf(i);
  const std::string_view queue = kQueues[h % std::size(kQueues)];
  const auto priority =
      (h >> 8) % 10 == 0 ? earshot::v1::PRIORITY_HIGH : earshot::v1::PRIORITY_NORMAL;
  e->set_event_id(fmt::format("{}:m{}", key.substr(0, key.find(':')), i));
  e->set_platform(platform);
  e->set_account_id(account);
  e->set_thread_key(key);
  e->set_direction(earshot::v1::DIRECTION_INBOUND);
  e->set_kind(is_public ? earshot::v1::KIND_COMMENT : earshot::v1::KIND_DIRECT_MESSAGE);
  SetTs(wrote, e->mutable_created_at());
  t->set_thread_key(key);
  t->set_platform(platform);
  t->set_account_id(account);
  t->set_status(earshot::v1::THREAD_STATUS_AWAITING_REPLY);
  SetTs(wrote, t->mutable_oldest_unanswered());
  SetTs(wrote, t->mutable_last_inbound());
  t->set_unanswered_count(1);
  t->set_queue(std::string(queue));
  t->set_priority(priority);
  r.mutable_decision()->set_queue(std::string(queue));
  r.mutable_decision()->set_priority(priority);
  if (!small) {
    const std::string_view excerpt = kCustomerTexts[(h >> 16) % std::size(kCustomerTexts)];
    e->set_message_id(fmt::format("m{}", i));
    e->set_text(std::string(excerpt));
    SetTs(wrote, e->mutable_received_at());
    SetTs(wrote, t->mutable_first_seen());
    t->set_excerpt(std::string(excerpt));
    t->set_message_count(1);
    if (is_public) {
      const std::string permalink =
          fmt::format("https://x.com/i/web/status/{}", 1900000000000000000 + i);
      e->set_permalink(permalink);
      t->set_permalink(permalink);
    }
  }
  return r;
}

// Where the fill's clock `i` starts: its customer wrote within the 3 hours before the anchor, in
// whole microseconds, and not in the first second of them, so that no warning is due within a
// second of the anchor (the restart's clock stands still there: a timer due less than 1 ms ahead
// would have the monitor poll Kafka without waiting until the clock moves).
absl::Time WroteAt(int64_t i, absl::Time anchor) {
  const int64_t spread_us = absl::ToInt64Microseconds(kFillSpread - absl::Seconds(1));
  const auto off = static_cast<int64_t>(Mix(static_cast<uint64_t>(i) ^ 0x5a5a) %
                                        static_cast<uint64_t>(spread_us));
  return anchor - kFillSpread + absl::Seconds(1) + absl::Microseconds(off);
}

store::StoreOptions SlaStoreOptions(const std::string& path) {
  store::StoreOptions o;  // as SlaApp::Start
  o.path = path;
  o.block_cache_bytes = kBlockCache;
  o.write_buffer_bytes = kWriteBuffer;
  o.column_families = sla::ColumnFamilies();
  return o;
}

// ---------------------------------------------------------------------------------------------
// (a) Open clocks.

struct FillResult {
  bool ok = false;
  char error[256] = {};
  int64_t clocks = 0;
  double seconds = 0;       // the whole fill, event generation included
  double cpu_seconds = 0;   // the process: this thread and RocksDB's flushes and compactions
  int64_t generate_ns = 0;  // building and serialising the routed events (the input)
  int64_t apply_ns = 0;     // parse + SlaCore::Apply on the batch view (reads, puts)
  int64_t write_ns = 0;     // Store::Write, once per batch
  int64_t rss = 0;          // store open, after the last write
  int64_t peak_rss = 0;
  int64_t rss_before = 0;  // before opening the store
  int64_t sst_bytes = 0;
  int64_t memtable_bytes = 0;
  int64_t cache_usage = 0;
  int64_t stall_micros = 0;
  int64_t pending_compaction = 0;
  double close_seconds = 0;
  int64_t dir_bytes = 0;
  // Timers at the anchor: due within the horizon, and due by anchor + outage (one alert each:
  // after a pause the monitor raises only the highest level due).
  int64_t in_horizon = 0;
  int64_t due_after_outage = 0;
};

int64_t DirBytes(const std::string& dir) {
  int64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += static_cast<int64_t>(e.file_size(ec));
  }
  return total;
}

FillResult Fill(const std::string& path, int64_t n, int partitions, absl::Time anchor) {
  FillResult r;
  auto fail = [&r](const absl::Status& st) {
    std::snprintf(r.error, sizeof(r.error), "%s", st.ToString().c_str());
    return r;
  };
  auto policies = sla::PolicySet::Parse(FillPolicies(), "fill policies");
  if (!policies.ok()) return fail(policies.status());
  r.rss_before = RssBytes();
  auto store = store::Store::Open(SlaStoreOptions(path));
  if (!store.ok()) return fail(store.status());

  const sla::SlaCore core;
  const absl::Time horizon_end = anchor + absl::GetFlag(FLAGS_horizon);
  const absl::Time outage_end = anchor + absl::GetFlag(FLAGS_outage);
  const absl::Time deadline = absl::Now() + absl::GetFlag(FLAGS_phase_timeout);
  std::vector<int64_t> offsets(static_cast<size_t>(partitions), 0);
  std::vector<int32_t> partition_of(kBatchMax);
  std::vector<std::string> payloads(kBatchMax);
  const absl::Time start = absl::Now();
  const double cpu_start = CpuSeconds();
  absl::Time last_report = start;
  int64_t last_report_clocks = 0;
  const int64_t report_every = std::max<int64_t>(n / 10, 100000);
  int64_t i = 0;
  while (i < n && absl::Now() < deadline) {
    // The input of one SlaApp::Step: serialised routed events, as they come from Kafka.
    const int64_t t0 = NowNs();
    const int count = static_cast<int>(std::min<int64_t>(kBatchMax, n - i));
    for (int k = 0; k < count; ++k) {
      const RoutedEvent ev = ClockEvent(i + k, WroteAt(i + k, anchor), /*small=*/false);
      partition_of[k] = kafka::PartitionForKey(ev.thread().thread_key(), partitions);
      ev.SerializeToString(&payloads[k]);
    }
    const int64_t t1 = NowNs();
    store::OverlayView view(store->get());
    sla::Outcome out;
    sla::PartitionStates partition_states;  // as SlaApp::Step: each record written once a batch
    const absl::Time now = absl::Now();
    for (int k = 0; k < count; ++k) {
      RoutedEvent routed;
      if (!routed.ParseFromString(payloads[k])) return fail(absl::InternalError("bad event"));
      const int32_t p = partition_of[k];
      core.Apply(p, offsets[p]++, routed, **policies, now, view, &out, partition_states);
    }
    partition_states.Flush(view);
    if (!view.error().ok()) return fail(view.error());
    const int64_t t2 = NowNs();
    if (auto st = view.Commit(); !st.ok()) return fail(st);
    const int64_t t3 = NowNs();
    r.generate_ns += t1 - t0;
    r.apply_ns += t2 - t1;
    r.write_ns += t3 - t2;
    for (const auto& [at, p, key] : out.scheduled) {
      const int64_t us = absl::ToUnixMicros(at);
      if (us <= absl::ToUnixMicros(horizon_end)) ++r.in_horizon;
      if (us <= absl::ToUnixMicros(outage_end)) ++r.due_after_outage;
    }
    i += count;
    if (i % report_every == 0 || i == n) {
      const absl::Time now2 = absl::Now();
      std::printf(
          "    %9lld clocks  %6.1f s  %7.0f clocks/s (last %lld: %7.0f/s)  RSS %.0f MiB\n",
          static_cast<long long>(i), absl::ToDoubleSeconds(now2 - start),
          static_cast<double>(i) / absl::ToDoubleSeconds(now2 - start),
          static_cast<long long>(i - last_report_clocks),
          static_cast<double>(i - last_report_clocks) / absl::ToDoubleSeconds(now2 - last_report),
          Mib(RssBytes()));
      std::fflush(stdout);
      last_report = now2;
      last_report_clocks = i;
    }
  }
  r.clocks = i;
  r.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  r.cpu_seconds = CpuSeconds() - cpu_start;
  r.rss = RssBytes();
  r.peak_rss = PeakRssBytes();
  const store::StoreStats stats = (*store)->Stats();
  r.sst_bytes = static_cast<int64_t>(stats.sst_bytes);
  r.memtable_bytes = static_cast<int64_t>(stats.memtable_bytes);
  r.cache_usage = static_cast<int64_t>(stats.block_cache_usage_bytes);
  r.stall_micros = static_cast<int64_t>(stats.write_stall_micros);
  r.pending_compaction = static_cast<int64_t>(stats.pending_compaction_bytes);
  // Closed as SlaApp::Stop closes it (memtables stay in the WAL, replayed on the next open).
  const absl::Time close_start = absl::Now();
  store->reset();
  r.close_seconds = absl::ToDoubleSeconds(absl::Now() - close_start);
  r.dir_bytes = DirBytes(path);
  r.ok = i == n;
  if (!r.ok) {
    std::snprintf(r.error, sizeof(r.error), "phase timeout after %lld clocks",
                  static_cast<long long>(i));
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Helpers for the monitor in this process.

std::string WriteFile(const std::string& path, std::string_view text) {
  std::ofstream(path) << text;
  return path;
}

int Readyz(int admin_port) {
  http::Client admin("127.0.0.1", admin_port, absl::Seconds(5));
  auto r = admin.Get("/readyz");
  return r.ok() ? r->status : 0;
}

absl::StatusOr<Config> MonitorConfig(const std::string& bootstrap, const std::string& state_dir,
                                     const std::string& policies_file, absl::Duration horizon) {
  const std::string yaml = fmt::format(
      "kafka: {{bootstrap: \"{}\"}}\n"
      "grpc: {{addr: \"127.0.0.1:0\"}}\n"
      "admin: {{addr: \"127.0.0.1:0\"}}\n"
      "sla: {{state_dir: \"{}\", policies_file: \"{}\", horizon: {}s{}}}\n",
      bootstrap, state_dir, policies_file, absl::ToInt64Seconds(horizon),
      absl::GetFlag(FLAGS_batch_max) > 0
          ? fmt::format(", batch_max: {}", absl::GetFlag(FLAGS_batch_max))
          : std::string());
  auto config = Config::FromYaml(yaml);
  if (!config.ok()) return config.status();
  // Only this text: no EARSHOT_* variable of the caller's shell changes what is measured.
  config->set_env_lookup([](const std::string&) { return std::nullopt; });
  return config;
}

// ---------------------------------------------------------------------------------------------
// (b) Restart on a filled state folder.

struct RestartResult {
  bool ok = false;
  char error[256] = {};
  int64_t clocks = 0;
  double open_alone_s = -1;  // RocksDB alone opening a copy of the folder (WAL replay included)
  int64_t wal_bytes = 0;     // the write-ahead log the open replays
  double started_s = -1;     // Process::Start returned (RocksDB open, clients created)
  double readyz_s = -1;      // Process::Ready(): what /readyz answers
  double assigned_s = -1;    // the 4 partitions assigned to the monitor
  double timers_s = -1;      // the timers due within the horizon in memory
  double ready_s = -1;       // the last of the four
  int readyz_status = 0;     // GET /readyz once ready
  int64_t timers_expected = 0;
  int64_t timers_loaded = 0;
  int64_t rss_ready = 0;
  int64_t rss_settled = 0;  // 5 s later
  int64_t peak_rss = 0;     // at the end, the catch-up included
  // The catch-up after the clock jumped by --outage.
  int64_t catchup_expected = 0;
  int64_t catchup_published = 0;
  double catchup_s = -1;
  double stop_s = 0;
};

RestartResult Restart(const std::string& dir, const std::string& state_dir, int64_t clocks,
                      int partitions, absl::Time anchor, const FillResult& fill) {
  RestartResult r;
  r.clocks = clocks;
  r.timers_expected = fill.in_horizon;
  r.catchup_expected = fill.due_after_outage;
  auto fail = [&r](const absl::Status& st) {
    std::snprintf(r.error, sizeof(r.error), "%s", st.ToString().c_str());
    return r;
  };
  // Where Start()'s time goes: RocksDB alone opens a copy of the folder (the SST files linked,
  // the rest copied), so that the monitor still finds the WAL the fill left.
  {
    std::error_code ec;
    const std::string copy = state_dir + "-open-copy";
    std::filesystem::remove_all(copy, ec);
    std::filesystem::create_directories(copy, ec);
    for (const auto& e : std::filesystem::directory_iterator(state_dir, ec)) {
      const auto to = std::filesystem::path(copy) / e.path().filename();
      if (e.path().extension() == ".sst") {
        std::filesystem::create_hard_link(e.path(), to, ec);
      } else {
        if (e.path().extension() == ".log") r.wal_bytes += static_cast<int64_t>(e.file_size(ec));
        std::filesystem::copy_file(e.path(), to, ec);
      }
      if (ec) return fail(absl::InternalError("cannot copy " + e.path().string()));
    }
    const absl::Time open_start = absl::Now();
    auto store = store::Store::Open(SlaStoreOptions(copy));
    if (!store.ok()) return fail(store.status());
    r.open_alone_s = absl::ToDoubleSeconds(absl::Now() - open_start);
    store->reset();
    std::filesystem::remove_all(copy, ec);
  }

  std::string error;
  auto broker = BenchKafka::Start(partitions, kafka::StandardTopics(),
                                  absl::GetFlag(FLAGS_bootstrap), &error);
  if (broker == nullptr) return fail(absl::UnavailableError(error));
  const std::string policies = WriteFile(dir + "/fill-policies.yaml", FillPolicies());
  const absl::Duration horizon = absl::GetFlag(FLAGS_horizon);
  auto config = MonitorConfig(broker->bootstrap(), state_dir, policies, horizon);
  if (!config.ok()) return fail(config.status());
  // The monitor's clock stands at the fill's anchor, so that the timers it must load are known
  // exactly (none is due yet; the fill counted those within the horizon). RocksDB, Kafka and
  // everything else run in real time.
  FakeClock clock(anchor);
  ProcessOptions options;
  options.target = "sla";
  options.data_dir = dir + "/process";
  options.clock = &clock;

  const absl::Time begin = absl::Now();
  const auto since = [begin] { return absl::ToDoubleSeconds(absl::Now() - begin); };
  Process process(options, std::move(*config));
  if (auto st = process.Start(); !st.ok()) return fail(st);
  r.started_s = since();
  auto* sla = static_cast<sla::SlaApp*>(process.service("sla"));
  const absl::Time give_up = begin + absl::Seconds(120);
  while (absl::Now() < give_up) {
    if (r.readyz_s < 0 && process.Ready()) r.readyz_s = since();
    const bool assigned = static_cast<int>(sla->OwnedPartitions().size()) == partitions;
    if (r.assigned_s < 0 && assigned) r.assigned_s = since();
    // OwnedPartitions() counts a partition before its timers load (on_assigned), so the count
    // decides: nothing is due, so nothing leaves the set before the whole horizon is in.
    if (r.timers_s < 0 && assigned &&
        static_cast<int64_t>(sla->timers_in_memory()) >= r.timers_expected) {
      r.timers_s = since();
    }
    if (r.readyz_s >= 0 && r.timers_s >= 0) break;
    absl::SleepFor(absl::Milliseconds(1));
  }
  r.timers_loaded = static_cast<int64_t>(sla->timers_in_memory());
  r.ready_s = std::max({r.started_s, r.readyz_s, r.assigned_s, r.timers_s});
  r.rss_ready = RssBytes();
  r.readyz_status = Readyz(process.admin_port());
  if (r.readyz_s < 0 || r.timers_s < 0) {
    std::snprintf(r.error, sizeof(r.error),
                  "not ready within 120 s (ready %d, partitions %zu, timers %lld of %lld)",
                  process.Ready(), sla->OwnedPartitions().size(),
                  static_cast<long long>(r.timers_loaded),
                  static_cast<long long>(r.timers_expected));
  } else {
    r.ok = true;
    absl::SleepFor(absl::Seconds(5));
    r.rss_settled = RssBytes();

    // The catch-up: the clock jumps by --outage; the timers that came due meanwhile load (the
    // horizon moves) and fire, one alert per clock (a warning, or the breach when that is due
    // too). Bounded to 120 s.
    const absl::Time jump = absl::Now();
    clock.Set(anchor + absl::GetFlag(FLAGS_outage));
    while (absl::Now() < jump + absl::Seconds(120)) {
      const std::string metrics = Scrape(process.admin_port());
      double published = 0;
      for (const char* name :
           {"ResponseTimeWarning", "ResponseTimeBreached", "ResponseTimeEscalated"}) {
        published += std::max(
            0.0, MetricValue(metrics, fmt::format("earshot_sla_alerts_total{{name=\"{}\",state="
                                                  "\"firing\"}}",
                                                  name)));
      }
      r.catchup_published = static_cast<int64_t>(published);
      if (r.catchup_published >= r.catchup_expected) {
        r.catchup_s = absl::ToDoubleSeconds(absl::Now() - jump);
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  r.peak_rss = PeakRssBytes();
  const absl::Time stop_start = absl::Now();
  process.Stop();
  r.stop_s = absl::ToDoubleSeconds(absl::Now() - stop_start);
  return r;
}

// ---------------------------------------------------------------------------------------------
// (c) Alert delay under a steady load.

struct DelayResult {
  bool ok = false;
  char error[256] = {};
  double assign_s = 0;
  int64_t produced = 0;
  int64_t produce_failed = 0;
  double produce_seconds = 0;
  int64_t max_behind_ms = 0;  // how far the producer fell behind its schedule at worst
  int64_t applied = 0;        // events the monitor applied by the end
  int64_t max_lag = 0;        // events produced but not yet applied, at worst (sampled)
  double mean_lag = 0;
  int64_t breaches = 0;
  int64_t warnings = 0;
  int64_t other_alerts = 0;
  int64_t late_breaches = 0;  // arrived more than 1 s after the deadline
  // Breach alerts: arrival at a consumer of earshot.alerts.v1 minus the deadline.
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
  // The same for warnings (against their warning time).
  double warn_p50 = 0, warn_p99 = 0;
  // Breach alerts: fired_at (the monitor's clock when it raised them) minus the deadline.
  double fired_p50 = 0, fired_p99 = 0, fired_max = 0;
  // Arrival minus fired_at: Kafka (produce, acknowledgement, fetch) for breach alerts.
  double kafka_p50 = 0, kafka_p99 = 0;
  // earshot_sla_alert_delay_seconds of the monitor: count and the buckets' upper bounds that
  // hold the 50th and 99th percentiles.
  double hist_count = 0, hist_p50 = 0, hist_p99 = 0;
  char hist[512] = {};
  char stages[256] = {};  // mean time of each stage of a batch's commit
  // Breach delay p99 per 5 s of deadlines from the start of the load, to see whether it drifts
  // or jumps (a refill of the in-memory timers every 30 s, say).
  char windows[512] = {};
  double ack_mean = 0;     // the monitor's producer: mean time from produce to acknowledgement
  double cpu_seconds = 0;  // the whole process during the load: monitor, broker, load, reader
  double busiest_thread_cpu = 0;   // CPU seconds of the busiest thread (the monitor's loop)
  double busiest_thread_wait = 0;  // seconds it was runnable but waited for a CPU
  double load_average = 0;
  int64_t alerts_dropped = 0;  // records the broker no longer held (retention)
};

int64_t LowWatermarks(const std::string& bootstrap, const std::string& topic, int partitions) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) return -1;
  int64_t dropped = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0;
    int64_t high = 0;
    if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 5000) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      dropped += low;
    }
  }
  rd_kafka_destroy(rk);
  return dropped;
}

DelayResult AlertDelay(const std::string& dir, int partitions) {
  DelayResult r;
  auto fail = [&r](const absl::Status& st) {
    std::snprintf(r.error, sizeof(r.error), "%s", st.ToString().c_str());
    return r;
  };
  const int64_t rate = absl::GetFlag(FLAGS_rate);
  const absl::Duration load = absl::GetFlag(FLAGS_load_seconds);
  const absl::Duration target = absl::GetFlag(FLAGS_deadline);
  std::string error;
  auto broker = BenchKafka::Start(partitions, kafka::StandardTopics(),
                                  absl::GetFlag(FLAGS_bootstrap), &error);
  if (broker == nullptr) return fail(absl::UnavailableError(error));
  const std::string bootstrap = broker->bootstrap();
  const std::string policies_yaml = fmt::format(
      "policies:\n  default: {{first_response: {0}s, next_response: {0}s, "
      "warn_at: 50%}}\n",
      absl::ToInt64Seconds(target));
  const std::string policies = WriteFile(dir + "/load-policies.yaml", policies_yaml);
  // The same policy here, for the warnings' due times (rounded to the second, as the monitor
  // does: 50% of 5 s is due at 3 s).
  auto policy_set = sla::PolicySet::Parse(policies_yaml, "load policies");
  if (!policy_set.ok()) return fail(policy_set.status());
  const sla::Policy& policy = *(*policy_set)->Find("default");
  auto config = MonitorConfig(bootstrap, dir + "/load-state", policies, absl::Seconds(60));
  if (!config.ok()) return fail(config.status());
  ProcessOptions options;
  options.target = "sla";
  options.data_dir = dir + "/load-process";
  const absl::Time begin = absl::Now();
  Process process(options, std::move(*config));
  if (auto st = process.Start(); !st.ok()) return fail(st);
  auto* sla = static_cast<sla::SlaApp*>(process.service("sla"));
  while (absl::Now() < begin + absl::Seconds(60) &&
         (static_cast<int>(sla->OwnedPartitions().size()) < partitions || !process.Ready())) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  r.assign_s = absl::ToDoubleSeconds(absl::Now() - begin);
  if (static_cast<int>(sla->OwnedPartitions().size()) < partitions) {
    return fail(absl::DeadlineExceededError("the monitor was not assigned its partitions"));
  }

  // The reader: a consumer of earshot.alerts.v1 from the start, with the services' fetch wait,
  // reading while the load runs (the embedded broker keeps only the last ~5 MB of a partition).
  std::vector<double> breach_delay, warn_delay, fired_delay, kafka_delay;
  std::map<int64_t, std::vector<double>> by_window;  // 5 s of deadlines -> breach delays
  std::atomic<int64_t> load_start_ns{0};             // set before the first event is produced
  const int64_t expected = static_cast<int64_t>(absl::ToDoubleSeconds(load) * rate);
  breach_delay.reserve(static_cast<size_t>(expected));
  std::atomic<bool> stop_reader{false};
  std::atomic<int64_t> breaches{0};
  absl::Status reader_status;
  std::thread reader([&] {
    kafka::ConsumerOptions o;
    o.bootstrap = bootstrap;
    o.group_id = "bench-alert-reader";
    o.client_id = "bench-alert-reader";
    o.extra = {{"fetch.wait.max.ms", "50"}};
    auto consumer = kafka::Consumer::Create(o);
    if (!consumer.ok()) {
      reader_status = consumer.status();
      return;
    }
    if (auto st = (*consumer)->AssignAll("earshot.alerts.v1"); !st.ok()) {
      reader_status = st;
      return;
    }
    while (!stop_reader.load()) {
      auto batch = (*consumer)->Poll(1000, absl::Milliseconds(100));
      const absl::Time arrived = absl::Now();
      if (!batch.ok()) {
        reader_status = batch.status();
        return;
      }
      for (const auto& m : *batch) {
        Alert a;
        if (!a.ParseFromString(m.value)) continue;
        if (a.state() != earshot::v1::ALERT_STATE_FIRING) continue;
        const absl::Time deadline = FromTs(a.deadline());
        if (a.level() == earshot::v1::ALERT_LEVEL_BREACH) {
          breach_delay.push_back(absl::ToDoubleSeconds(arrived - deadline));
          const absl::Time wrote = deadline - target;
          by_window[absl::ToInt64Seconds(wrote - absl::FromUnixNanos(load_start_ns.load())) / 5]
              .push_back(breach_delay.back());
          fired_delay.push_back(absl::ToDoubleSeconds(FromTs(a.fired_at()) - deadline));
          kafka_delay.push_back(absl::ToDoubleSeconds(arrived - FromTs(a.fired_at())));
          ++breaches;
        } else if (a.level() == earshot::v1::ALERT_LEVEL_WARNING) {
          const absl::Time warn_at =
              sla::ComputeDeadlines(policy, FromTs(a.wait_started()), true).warn;
          warn_delay.push_back(absl::ToDoubleSeconds(arrived - warn_at));
        } else {
          ++r.other_alerts;
        }
      }
    }
  });

  // The load: every 10 ms, the events of that slice of the schedule, each a new thread whose
  // customer writes now; batches are acknowledged asynchronously (the schedule does not wait).
  kafka::ProducerOptions po;
  po.bootstrap = bootstrap;
  po.client_id = "bench-load";
  po.delivery_timeout = absl::Seconds(30);
  auto producer = kafka::Producer::Create(po, nullptr);
  if (!producer.ok()) {
    stop_reader = true;
    reader.join();
    return fail(producer.status());
  }
  std::atomic<int64_t> failed{0};
  const absl::Duration tick = absl::Milliseconds(10);
  const double cpu_start = CpuSeconds();
  const std::map<int, ThreadTime> times_start = ThreadTimes();
  const absl::Time start = absl::Now();
  load_start_ns = absl::ToUnixNanos(start);
  int64_t sent = 0;
  double lag_sum = 0;
  int64_t lag_samples = 0;
  for (int64_t k = 1; sent < expected; ++k) {
    const absl::Time due = start + tick * k;
    const absl::Time now = absl::Now();
    if (now < due) {
      absl::SleepFor(due - now);
    } else {
      r.max_behind_ms = std::max(r.max_behind_ms, absl::ToInt64Milliseconds(now - due));
    }
    if (absl::Now() > start + load + absl::Seconds(10)) break;  // far behind: stop anyway
    const int64_t until =
        std::min(expected, static_cast<int64_t>(absl::ToDoubleSeconds(tick * k) * rate));
    std::vector<kafka::Record> records;
    records.reserve(static_cast<size_t>(until - sent));
    const absl::Time wrote = absl::Now();
    for (; sent < until; ++sent) {
      const RoutedEvent ev = ClockEvent(sent, wrote, /*small=*/true);
      kafka::Record rec;
      rec.topic = "earshot.routed.v1";
      rec.key = ev.thread().thread_key();
      ev.SerializeToString(&rec.value);
      records.push_back(std::move(rec));
    }
    (*producer)->ProduceBatch(std::move(records), [&failed](absl::Status st) {
      if (!st.ok()) failed += 1;
    });
    // How far the monitor's consumption trails the load (the tick before's events are out).
    const int64_t lag = std::max<int64_t>(0, sent - sla->events_applied());
    r.max_lag = std::max(r.max_lag, lag);
    lag_sum += static_cast<double>(lag);
    ++lag_samples;
  }
  r.mean_lag = lag_samples > 0 ? lag_sum / static_cast<double>(lag_samples) : 0;
  r.produce_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  r.produced = sent;
  for (const auto& [tid, t] : ThreadTimes()) {
    auto it = times_start.find(tid);
    const ThreadTime before = it == times_start.end() ? ThreadTime{} : it->second;
    const double run = static_cast<double>(t.run_ns - before.run_ns) / 1e9;
    if (run > r.busiest_thread_cpu) {
      r.busiest_thread_cpu = run;
      r.busiest_thread_wait = static_cast<double>(t.wait_ns - before.wait_ns) / 1e9;
    }
  }
  (void)(*producer)->Flush(absl::Seconds(30));
  r.produce_failed = failed.load();

  // Until every breach arrived, or the last deadline plus --drain passed.
  const absl::Time drain_end = absl::Now() + target + absl::GetFlag(FLAGS_drain);
  while (breaches.load() < sent && absl::Now() < drain_end) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  absl::SleepFor(absl::Milliseconds(300));
  stop_reader = true;
  reader.join();
  r.cpu_seconds = CpuSeconds() - cpu_start;
  r.load_average = LoadAverage();
  r.applied = sla->events_applied();
  if (!reader_status.ok()) return fail(reader_status);

  r.breaches = static_cast<int64_t>(breach_delay.size());
  r.warnings = static_cast<int64_t>(warn_delay.size());
  r.late_breaches =
      std::count_if(breach_delay.begin(), breach_delay.end(), [](double d) { return d > 1.0; });
  std::string windows;
  for (auto& [w, delays] : by_window) {
    windows += fmt::format("{}{}-{}s:{:.2f}", windows.empty() ? "" : " ", w * 5, w * 5 + 5,
                           Percentile(delays, 0.99));
  }
  std::snprintf(r.windows, sizeof(r.windows), "%s", windows.c_str());
  r.p50 = Percentile(breach_delay, 0.50);
  r.p90 = Percentile(breach_delay, 0.90);
  r.p99 = Percentile(breach_delay, 0.99);
  r.p999 = Percentile(breach_delay, 0.999);
  r.max = breach_delay.empty() ? 0 : breach_delay.back();
  r.warn_p50 = Percentile(warn_delay, 0.50);
  r.warn_p99 = Percentile(warn_delay, 0.99);
  r.fired_p50 = Percentile(fired_delay, 0.50);
  r.fired_p99 = Percentile(fired_delay, 0.99);
  r.fired_max = fired_delay.empty() ? 0 : fired_delay.back();
  r.kafka_p50 = Percentile(kafka_delay, 0.50);
  r.kafka_p99 = Percentile(kafka_delay, 0.99);

  // The monitor's own histogram (due time to the alert's creation, before Kafka).
  const std::string metrics = Scrape(process.admin_port());
  const std::string name = "earshot_sla_alert_delay_seconds";
  r.hist_count = MetricValue(metrics, name + "_count");
  std::string hist;
  r.hist_p50 = r.hist_p99 = -1;
  for (const char* le :
       {"0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "60", "+Inf"}) {
    const double c = MetricValue(metrics, fmt::format("{}_bucket{{le=\"{}\"}}", name, le));
    hist += fmt::format("{}{}:{:.0f}", hist.empty() ? "" : " ", le, c);
    const double upper = std::string_view(le) == "+Inf" ? INFINITY : std::atof(le);
    if (r.hist_p50 < 0 && c >= 0.5 * r.hist_count) r.hist_p50 = upper;
    if (r.hist_p99 < 0 && c >= 0.99 * r.hist_count) r.hist_p99 = upper;
  }
  std::snprintf(r.hist, sizeof(r.hist), "%s", hist.c_str());
  const double acks = MetricValue(metrics, "earshot_sla_kafka_delivery_latency_seconds_count");
  if (acks > 0) {
    r.ack_mean = MetricValue(metrics, "earshot_sla_kafka_delivery_latency_seconds_sum") / acks;
  }
  std::string stages;
  for (const char* stage : {"apply", "produce", "offsets", "commit", "write"}) {
    const std::string series =
        fmt::format("earshot_sla_commit_stage_seconds_{{}}{{{{stage=\"{}\"}}}}", stage);
    const double n = MetricValue(metrics, fmt::format(fmt::runtime(series), "count"));
    if (n <= 0) continue;
    stages += fmt::format("{}{} {:.1f} ms", stages.empty() ? "" : ", ", stage,
                          1e3 * MetricValue(metrics, fmt::format(fmt::runtime(series), "sum")) / n);
    if (std::string_view(stage) == "apply") stages += fmt::format(" ({:.0f} batches)", n);
  }
  std::snprintf(r.stages, sizeof(r.stages), "%s", stages.c_str());
  r.alerts_dropped = LowWatermarks(bootstrap, "earshot.alerts.v1", partitions);
  process.Stop();
  r.ok = r.produced == expected && r.produce_failed == 0 && r.breaches >= expected;
  if (!r.ok) {
    std::snprintf(r.error, sizeof(r.error),
                  "incomplete: %lld of %lld events produced (%lld batches failed), %lld breach "
                  "alerts read, %lld alert records dropped by the broker's retention",
                  static_cast<long long>(r.produced), static_cast<long long>(expected),
                  static_cast<long long>(r.produce_failed), static_cast<long long>(r.breaches),
                  static_cast<long long>(r.alerts_dropped));
  }
  return r;
}

// ---------------------------------------------------------------------------------------------

std::vector<int64_t> ParseSizes(const std::string& list) {
  std::vector<int64_t> out;
  for (absl::string_view piece : absl::StrSplit(ToAbsl(list), ',', absl::SkipEmpty())) {
    int64_t v = 0;
    if (absl::SimpleAtoi(piece, &v) && v > 0) out.push_back(v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Count(int64_t n) {
  if (n % 1000000 == 0) return fmt::format("{}M", n / 1000000);
  if (n % 1000 == 0) return fmt::format("{}k", n / 1000);
  return std::to_string(n);
}

void PrintFill(const FillResult& f) {
  if (f.clocks == 0) {
    std::printf("  %s\n", f.error);
    return;
  }
  const double n = static_cast<double>(f.clocks);
  std::printf(
      "  %s clocks stored in %.1f s: %.0f clocks/s, %.1f CPU-us/clock (the process: the filling "
      "thread, RocksDB flushes and compactions)\n"
      "    us/clock: parse + SlaCore::Apply %.1f, Store::Write %.1f, (input generation %.1f)\n"
      "    RSS %.0f MiB with the store open (peak %.0f MiB; %.0f MiB before opening it); "
      "memtables %.0f MiB, block cache %.0f MiB\n"
      "    SST %.0f MiB, folder %.0f MiB after closing (%.2f s), write stalls %.2f s, "
      "pending compaction %.0f MiB\n",
      Count(f.clocks).c_str(), f.seconds, n / f.seconds, f.cpu_seconds * 1e6 / n,
      static_cast<double>(f.apply_ns) / 1e3 / n, static_cast<double>(f.write_ns) / 1e3 / n,
      static_cast<double>(f.generate_ns) / 1e3 / n, Mib(f.rss), Mib(f.peak_rss), Mib(f.rss_before),
      Mib(f.memtable_bytes), Mib(f.cache_usage), Mib(f.sst_bytes), Mib(f.dir_bytes),
      f.close_seconds, static_cast<double>(f.stall_micros) / 1e6, Mib(f.pending_compaction));
  if (!f.ok) std::printf("    %s\n", f.error);
  std::fflush(stdout);
}

void PrintRestart(const RestartResult& r) {
  if (r.started_s < 0) {
    std::printf("  %s\n", r.error);
    return;
  }
  std::printf(
      "  %s clocks: Start() returned %.2f s, /readyz %.2f s, partitions assigned %.2f s, "
      "timers loaded %.2f s (%lld in the horizon, %lld expected) => ready %.2f s; GET /readyz %d\n"
      "    RocksDB alone opens a copy of the folder in %.2f s (%.0f MiB of WAL to replay); the "
      "rest of the wait for the partitions is the Kafka group join\n"
      "    RSS %.0f MiB when ready, %.0f MiB 5 s later, peak %.0f MiB (catch-up included); stop "
      "%.2f s\n",
      Count(r.clocks).c_str(), r.started_s, r.readyz_s, r.assigned_s, r.timers_s,
      static_cast<long long>(r.timers_loaded), static_cast<long long>(r.timers_expected), r.ready_s,
      r.readyz_status, r.open_alone_s, Mib(r.wal_bytes), Mib(r.rss_ready), Mib(r.rss_settled),
      Mib(r.peak_rss), r.stop_s);
  if (r.catchup_s >= 0) {
    std::printf("    catch-up after a %s outage: %lld alerts came due, published in %.2f s\n",
                absl::FormatDuration(absl::GetFlag(FLAGS_outage)).c_str(),
                static_cast<long long>(r.catchup_expected), r.catchup_s);
  } else if (r.ok) {
    std::printf("    catch-up after a %s outage: only %lld of %lld alerts published within 120 s\n",
                absl::FormatDuration(absl::GetFlag(FLAGS_outage)).c_str(),
                static_cast<long long>(r.catchup_published),
                static_cast<long long>(r.catchup_expected));
  }
  if (!r.ok) std::printf("    %s\n", r.error);
  std::fflush(stdout);
}

int Main() {
  const int partitions = absl::GetFlag(FLAGS_partitions);
  const std::string parts = absl::GetFlag(FLAGS_parts);
  const bool run_fill = parts.find("fill") != std::string::npos;
  const bool run_restart = parts.find("restart") != std::string::npos;
  const bool run_delay = parts.find("delay") != std::string::npos;
  const std::vector<int64_t> sizes = ParseSizes(absl::GetFlag(FLAGS_sizes));
  const std::vector<int64_t> restart_sizes = ParseSizes(absl::GetFlag(FLAGS_restart_sizes));
  TempFolder folder(absl::GetFlag(FLAGS_tmp), "earshot-sla-bench", absl::GetFlag(FLAGS_keep));
  if (!folder.ok()) {
    std::fprintf(stderr, "cannot create a temporary folder\n");
    return 2;
  }
  const std::string& dir = folder.path();
  log::SetLevel("warn");

  std::printf("== machine\n  %s\n  %s, folder %s\n", Machine().c_str(),
              absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::Now(), absl::UTCTimeZone()).c_str(),
              dir.c_str());
  Verdicts verdicts;
  // Every fill's clocks are placed around this instant; the restarts run the monitor's clock
  // from it.
  const absl::Time anchor = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));

  if (run_fill || run_restart) {
    std::printf(
        "\n== (a) open clocks: routed events through SlaCore::Apply on store::OverlayView, batches "
        "of %d, one Store::Write each; RocksDB as SlaApp (block cache %.0f MiB, write buffers "
        "%.0f MiB x 3 x 6 column families), %d partitions\n"
        "  every event opens a clock on a thread of its own; policy %s\n",
        kBatchMax, Mib(kBlockCache), Mib(kWriteBuffer), partitions, kFillPolicy);
    std::fflush(stdout);
    int64_t rss_10m = -1;
    for (int64_t n : sizes) {
      const std::string state = fmt::format("{}/clocks-{}", dir, n);
      std::printf("  -- %s clocks\n", Count(n).c_str());
      std::fflush(stdout);
      const FillResult fill =
          InChild<FillResult>([&] { return Fill(state, n, partitions, anchor); });
      PrintFill(fill);
      if (n >= 10000000) rss_10m = fill.ok ? fill.rss : -2;
      if (n == 1000000 || n >= 10000000) {
        verdicts.Add(fmt::format("insert rate, {} clocks", Count(n)), fill.ok,
                     fill.ok ? fmt::format("{:.0f} clocks/s (information; no target)",
                                           static_cast<double>(fill.clocks) / fill.seconds)
                             : std::string(fill.error));
      }
      if (n >= 10000000) {
        verdicts.Add(fmt::format("RSS with {} open clocks < 1 GiB", Count(n)),
                     fill.ok && fill.rss < kOneGiB && fill.peak_rss < kOneGiB,
                     fmt::format("{:.0f} MiB with the store open after the fill (peak {:.0f} MiB)",
                                 Mib(fill.rss), Mib(fill.peak_rss)));
      }
      if (run_restart &&
          std::find(restart_sizes.begin(), restart_sizes.end(), n) != restart_sizes.end()) {
        if (!fill.ok) {
          verdicts.Add(fmt::format("restart with {} open clocks", Count(n)), false,
                       "the fill failed");
        } else {
          std::printf(
              "\n== (b) restart: Process target \"sla\" on the %s-clock folder, %s, "
              "horizon %s, the monitor's clock at the fill's anchor\n",
              Count(n).c_str(), BrokerName().c_str(),
              absl::FormatDuration(absl::GetFlag(FLAGS_horizon)).c_str());
          std::fflush(stdout);
          const RestartResult rs = InChild<RestartResult>(
              [&] { return Restart(dir, state, n, partitions, anchor, fill); });
          PrintRestart(rs);
          if (n == 1000000) {
            verdicts.Add("restart with 1M open clocks ready < 10 s", rs.ok && rs.ready_s < 10,
                         rs.ok ? fmt::format("{:.2f} s (Start {:.2f}, /readyz {:.2f}, partitions "
                                             "{:.2f}, {} timers loaded {:.2f})",
                                             rs.ready_s, rs.started_s, rs.readyz_s, rs.assigned_s,
                                             rs.timers_loaded, rs.timers_s)
                               : std::string(rs.error));
          } else {
            verdicts.Add(fmt::format("restart with {} open clocks (information)", Count(n)), rs.ok,
                         rs.ok ? fmt::format("ready {:.2f} s; RSS {:.0f} MiB running", rs.ready_s,
                                             Mib(rs.rss_settled))
                               : std::string(rs.error));
          }
          if (n >= 10000000 && rs.ok) {
            verdicts.Add(
                fmt::format("RSS of the running monitor with {} open clocks < 1 GiB", Count(n)),
                rs.rss_settled < kOneGiB,
                fmt::format("{:.0f} MiB 5 s after ready", Mib(rs.rss_settled)));
          }
        }
      }
      std::error_code ec;
      std::filesystem::remove_all(state, ec);
    }
    if (rss_10m == -1) {
      std::printf("  (no size of 10M or more in --sizes: the 1 GiB target is not measured)\n");
    }
  }

  if (run_delay) {
    std::printf(
        "\n== (c) alert delay: Process target \"sla\", %s; %lld "
        "routed events/s for %s, each opening a clock (policy: first_response %s, warning at "
        "50%%); breach alerts read from earshot.alerts.v1 while the load runs\n",
        BrokerName().c_str(), static_cast<long long>(absl::GetFlag(FLAGS_rate)),
        absl::FormatDuration(absl::GetFlag(FLAGS_load_seconds)).c_str(),
        absl::FormatDuration(absl::GetFlag(FLAGS_deadline)).c_str());
    std::fflush(stdout);
    const DelayResult d = InChild<DelayResult>([&] { return AlertDelay(dir, partitions); });
    if (d.produced == 0) {
      std::printf("  %s\n", d.error);
      verdicts.Add("alert delay p99 < 1 s", false, d.error);
    } else {
      std::printf(
          "  partitions assigned after %.2f s; %lld events produced in %.2f s (%.0f/s, at worst "
          "%lld ms behind schedule), %lld applied by the monitor\n"
          "  the monitor's consumption trailed the load by %.0f events on average, %lld at worst "
          "(sampled every 10 ms)\n"
          "  alerts read: %lld breaches, %lld warnings, %lld others; %lld alert records dropped "
          "by the broker's retention before the end\n"
          "  breach: deadline -> arrival p50 %.3f s, p90 %.3f s, p99 %.3f s, p99.9 %.3f s, max "
          "%.3f s (%lld later than 1 s)\n"
          "          deadline -> fired_at (the monitor) p50 %.3f s, p99 %.3f s, max %.3f s; "
          "fired_at -> arrival (Kafka) p50 %.3f s, p99 %.3f s\n"
          "          p99 by when the customer wrote (s into the load): %s\n"
          "  warning: due -> arrival p50 %.3f s, p99 %.3f s, of the %lld raised; %lld not raised "
          "(the monitor reached them after their breach deadline and raised only the breach)\n"
          "  earshot_sla_alert_delay_seconds: %.0f observations, p50 <= %g s, p99 <= %g s "
          "(buckets %s)\n"
          "  the monitor's alert records took %.1f ms on average from produce to acknowledgement "
          "(its loop waits for each batch's before committing)\n"
          "  CPU %.1f s over the load (%.0f%% of the %ld cores), load average %.2f; the busiest "
          "thread (the monitor's loop) ran %.1f s (%.0f%% of one core) and waited %.1f s for a "
          "CPU (%.0f%%)\n",
          d.assign_s, static_cast<long long>(d.produced), d.produce_seconds,
          static_cast<double>(d.produced) / d.produce_seconds,
          static_cast<long long>(d.max_behind_ms), static_cast<long long>(d.applied), d.mean_lag,
          static_cast<long long>(d.max_lag), static_cast<long long>(d.breaches),
          static_cast<long long>(d.warnings), static_cast<long long>(d.other_alerts),
          static_cast<long long>(d.alerts_dropped), d.p50, d.p90, d.p99, d.p999, d.max,
          static_cast<long long>(d.late_breaches), d.fired_p50, d.fired_p99, d.fired_max,
          d.kafka_p50, d.kafka_p99, d.windows, d.warn_p50, d.warn_p99,
          static_cast<long long>(d.warnings),
          static_cast<long long>(std::max<int64_t>(0, d.breaches - d.warnings)), d.hist_count,
          d.hist_p50, d.hist_p99, d.hist, d.ack_mean * 1e3, d.cpu_seconds,
          100 * d.cpu_seconds /
              (absl::ToDoubleSeconds(absl::GetFlag(FLAGS_load_seconds)) *
               static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN))),
          sysconf(_SC_NPROCESSORS_ONLN), d.load_average, d.busiest_thread_cpu,
          100 * d.busiest_thread_cpu / d.produce_seconds, d.busiest_thread_wait,
          100 * d.busiest_thread_wait / d.produce_seconds);
      std::printf("  batch commit, mean per stage: %s\n", d.stages);
      if (!d.ok) std::printf("  %s\n", d.error);
      verdicts.Add(fmt::format("alert delay p99 < 1 s at {} events/s", absl::GetFlag(FLAGS_rate)),
                   d.ok && d.p99 < 1.0,
                   fmt::format("p99 {:.3f} s, p50 {:.3f} s (deadline -> arrival on "
                               "earshot.alerts.v1, {} breach alerts){}",
                               d.p99, d.p50, d.breaches, d.ok ? "" : "; INCOMPLETE"));
    }
  }

  verdicts.PrintSummary();
  return verdicts.failed ? 1 : 0;
}

}  // namespace
}  // namespace earshot::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "The SLA monitor benchmark: open clocks at 1M and 10M (insert rate, resident memory), "
      "restart time with 1M open clocks, alert delay under a steady load. See bench/README.md.");
  absl::ParseCommandLine(argc, argv);
  // As the earshot binary's main() does (Debian's Abseil leaves it on; bench/README.md, Stream).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return earshot::bench::Main();
}
