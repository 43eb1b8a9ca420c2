// router_bench: the router benchmark of bench/README.md ("Router"), in one run:
//
//   (a) routed events/s from a pre-filled earshot.events.v1 against the ceiling of a
//       pass-through on the same topic (RouterApp's consumer and producer and batch loop, the
//       same records produced unchanged, no state); target: router >= 0.5 x pass-through.
//       Run twice: on the embedded broker as it is, and with TCP_NODELAY on the broker's sockets
//       as a Kafka broker answers (the verdict; see BrokerNoDelay);
//   (b) per-event cost of RouterCore::Apply on a RocksDB-backed view plus the state write, in
//       batches of 1000 as RouterApp::ProcessBatch does, with 10k and with 1M threads already
//       stored, on a small block cache (8 MiB; the router's 16 MiB write buffers); target:
//       cost(1M) <= 1.5 x cost(10k), in CPU time;
//   (c) resident memory around (b); target: growth within the configured RocksDB caches (block
//       cache + write buffers) plus an allowance, and no more with 1M threads than with 10k
//       beyond that allowance;
//   (d) restore: records/s from a state changelog and the time until every partition is ready;
//   (e) failover (real Kafka, after (d), whose changelog it uses): two `earshot --target=router`
//       processes share the 1M threads; one is killed with SIGKILL; the time until every one
//       of its partitions routes again, with a standby replica (target: under 10 s) and without.
//
//   build/bench/router_bench [--events=200000] [--threads=20000] [--partitions=32]
//                            [--cost_events=100000] [--block_cache_mib=8] [--write_buffer_mib=16]
//                            [--parts=kafka,cost] [--broker=as-is,nodelay]
//
// Everything runs in this process and on loopback: the embedded Kafka-protocol broker
// (librdkafka's mock cluster), the router as `earshot --target=router` builds it (Process), the
// pass-through consumer and producer, RocksDB under a temporary folder (removed at the end).
// Part (b) runs first, each case in a child process forked while this process has no threads
// yet, so that each case's resident memory starts from the same clean baseline and the 1M-thread
// fill (itself in a grandchild) leaves no freed-but-kept heap behind.
// Every loop is bounded by a count and by --phase_timeout.
// Exits 1 when a target is missed, 2 when the benchmark could not run.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "earshot/v1/event.pb.h"
#include "earshot/v1/routing.pb.h"
#include "fmt/format.h"
#include "librdkafka/rdkafka.h"
#include "prometheus/registry.h"
#include "services/common/base/config.h"
#include "services/common/base/log.h"
#include "services/common/base/strings.h"
#include "services/common/http/client.h"
#include "services/common/kafka/changelog.h"
#include "services/common/kafka/embedded_broker.h"
#include "services/common/kafka/producer.h"
#include "services/common/kafka/records.h"
#include "services/common/kafka/stateful_consumer.h"
#include "services/common/store/kv_view.h"
#include "services/common/store/store.h"
#include "services/earshot/process.h"
#include "services/router/router_app.h"
#include "services/router/router_core.h"
#include "services/router/rules.h"
#include "tests/support/earshot_child.h"

ABSL_FLAG(int64_t, events, 200000, "(a) records pre-filled into earshot.events.v1");
ABSL_FLAG(int64_t, threads, 20000, "(a) conversations the pre-filled records belong to");
ABSL_FLAG(int, partitions, 32,
          "partitions of every topic of the embedded broker; librdkafka's mock broker keeps only "
          "the last 5 MiB of each partition, so --events must fit in partitions x 5 MiB");
ABSL_FLAG(double, redeliveries, 0.03, "share of records that are a platform's redelivery");
ABSL_FLAG(int64_t, cost_events, 100000, "(b) events measured per case (after a warm-up)");
ABSL_FLAG(int64_t, cost_warmup, 10000, "(b) events applied per case before the measurement");
ABSL_FLAG(int64_t, small_threads, 10000, "(b) threads stored in the small case");
ABSL_FLAG(int64_t, large_threads, 1000000, "(b) threads stored in the large case");
ABSL_FLAG(int64_t, block_cache_mib, 8, "(b) RocksDB block cache, MiB");
ABSL_FLAG(int64_t, write_buffer_mib, 16,
          "(b) RocksDB write buffer per column family, MiB (router.write_buffer_bytes' default)");
ABSL_FLAG(int64_t, rss_allowance_mib, 32,
          "(c) resident memory a case may grow by beyond the configured caches (allocator, "
          "table readers, the batch in hand)");
ABSL_FLAG(std::string, rules, EARSHOT_SOURCE_DIR "/config/rules.example.yaml",
          "routing rules of the router and of part (b)");
ABSL_FLAG(absl::Duration, phase_timeout, absl::Seconds(180),
          "upper bound of each phase; a phase that reaches it reports what it measured and fails");
ABSL_FLAG(std::string, parts, "kafka,cost,restore,failover",
          "which parts to run: kafka (a), cost (b and c), restore (d), failover (e; after (d), "
          "on a real Kafka only)");
ABSL_FLAG(int, failover_session_ms, 6000,
          "(e) the routers' session time-out (Kafka's default group.min.session.timeout.ms)");
ABSL_FLAG(int64_t, restore_threads, 0,
          "(d) threads in the restored state; 0: 1M on a real Kafka, 100k on the embedded broker "
          "(which keeps only a few MB a partition)");
ABSL_FLAG(std::string, tmp, "", "folder for RocksDB (default: a new folder under $TMPDIR)");
ABSL_FLAG(bool, keep, false, "keep the temporary folder");
ABSL_FLAG(std::vector<std::string>, broker, (std::vector<std::string>{"as-is", "nodelay"}),
          "(a) how the embedded broker answers, one run of both sides for each: as-is = "
          "librdkafka's mock broker as standalone mode runs it (Nagle's algorithm on: many "
          "acknowledgements wait ~40 ms for the client's delayed ACK); nodelay = TCP_NODELAY on "
          "its sockets, as a Kafka broker sets. The verdict is on nodelay when it runs");
ABSL_FLAG(std::vector<std::string>, passthrough_kafka, {},
          "extra librdkafka settings name=value of the pass-through's consumer and producer "
          "(experiments; the router's come from its config)");
ABSL_FLAG(std::string, bootstrap, "",
          "(a) a real Kafka cluster to run on (its topics are created with --partitions); empty: "
          "the embedded broker (bench/run_router_bench.sh KAFKA=real starts one)");
ABSL_FLAG(bool, rocksdb_stats, false,
          "(b) print RocksDB's level layout and compaction statistics after each case");
ABSL_FLAG(bool, reuse_fill, false,
          "(b) with --tmp: reuse the stored threads of an earlier run with --keep (the fill is "
          "kept apart and each run measures on a checkpoint of it)");

namespace earshot::bench {
namespace {

using earshot::v1::Event;

constexpr char kPassThroughTopic[] = "bench.passthrough.v1";
constexpr char kRestoreTopic[] = "bench-router.state.v1";  // compacted (BenchKafka: *.state.v1)
constexpr int kBatchMax = 1000;                            // RouterAppOptions::batch_max
constexpr int kCostTurns = 10;             // (b): turns per case, taken in alternation
constexpr int kColumnFamilies = 6;         // default + the router's five
constexpr int kWriteBuffersPerFamily = 3;  // store.cc: max_write_buffer_number

// ---------------------------------------------------------------------------------------------
// Measurements of this process.

int64_t RssBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double Mib(int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

// ---------------------------------------------------------------------------------------------
// Realistic events: Acme (config/rules.example.yaml) on X, Facebook, Messenger, Instagram,
// WhatsApp and Telegram; customers write in German and English (questions, complaints, orders,
// purchase intent, praise, a little spam and legal), the brand answers about one message in three.
// A thread's platform, keys (bench_util's ThreadOf) and language follow from its index, so the
// 1M-thread fill needs no table of threads; the events come from a seeded generator, the same in
// every run.

const std::vector<std::string_view>& CustomerTextsEn() {
  static const std::vector<std::string_view> t = {
      "Hi, my order AC-{order} still hasn't arrived. Where is it?",
      "is the {product} back in stock? I want to order two",
      "The {product} I got is broken, I want a refund. Worst service ever.",
      "Thanks, the {product} arrived today and it's great!",
      "How much is the {product} in blue?",
      "Can I change the delivery address for order AC-{order}?",
      "I'd like to cancel my order AC-{order} please",
      "Love the new {product} 😍 best purchase this year",
      "Still waiting for an answer to my email from last week... not impressed at all",
      "FREE followers!!! check my bio for a crypto investment opportunity",
      "If I don't get my money back for the {product} my lawyer will hear about this.",
      "ok thanks",
      "Does the {product} come with a warranty? The website doesn't say.",
      "Parcel says delivered but nothing here. Order AC-{order}. Please help",
      "Just wanted to say the staff in the Hamburg store were super helpful today",
      "wrong size delivered again, third time now. what is going on?",
  };
  return t;
}

const std::vector<std::string_view>& CustomerTextsDe() {
  static const std::vector<std::string_view> t = {
      "Hallo, meine Bestellung AC-{order} ist immer noch nicht da. Wo bleibt sie?",
      "Gibt es die {product} auch in Größe M? Würde gern bestellen.",
      "Die {product} ist kaputt angekommen, ich möchte eine Erstattung.",
      "Danke für die schnelle Lieferung, die {product} ist super!",
      "Was kostet die {product} im Laden?",
      "Ich möchte meinen Vertrag kündigen, wie geht das?",
      "Paket fehlt! Die Sendungsverfolgung sagt zugestellt, aber hier ist nichts angekommen.",
      "Wann habt ihr in der Filiale am Wochenende geöffnet?",
      "Danke!",
      "Ich werde mich an die Verbraucherzentrale wenden, wenn das so weitergeht.",
      "Super Service, gerne wieder 👍",
      "Kann ich die Rechnung für AC-{order} noch einmal bekommen?",
      "Seit zwei Wochen warte ich auf meine Erstattung für die {product}. Enttäuschend.",
      "Ist die {product} wasserdicht oder nur wasserabweisend?",
      "Habe gestern die {product} gekauft und bin total zufrieden, danke an das Team",
      "Wie lange dauert der Versand nach Österreich?",
  };
  return t;
}

const std::vector<std::string_view>& ProductsEn() {
  static const std::vector<std::string_view> p = {"rain jacket",     "Alpine 30 backpack",
                                                  "Trail Runner 2",  "down jacket",
                                                  "North Cape tent", "fleece hoodie"};
  return p;
}

const std::vector<std::string_view>& ProductsDe() {
  static const std::vector<std::string_view> p = {"Regenjacke",  "Wanderhose",   "Daunenjacke",
                                                  "Fleecejacke", "Thermoskanne", "Isomatte"};
  return p;
}

struct ThreadShape {
  earshot::v1::Platform platform = earshot::v1::PLATFORM_UNSPECIFIED;
  std::string account;
  std::string thread_key;
  std::string customer;  // the customer's id on the platform
  bool private_chat = false;
  bool german = false;
  std::optional<int64_t> followers;  // X gives it
};

ThreadShape ShapeOf(int64_t thread) {
  ThreadShape s;
  const uint64_t h = Mix(static_cast<uint64_t>(thread));
  s.german = h % 100 < 60;  // Acme's home market
  s.customer = std::to_string(1000000000 + thread);
  SyntheticThread t = ThreadOf(thread);
  s.platform = t.platform;
  s.account = std::move(t.account);
  s.thread_key = std::move(t.key);
  s.private_chat = !t.is_public;
  if (thread % 10 < 3) {  // X mentions
    // Log-uniform between 3 and 100,000: about 1 in 9 above 10,000 (the influencer rule).
    s.followers = static_cast<int64_t>(std::pow(10.0, 0.5 + 4.5 * ((h >> 8) % 1000) / 1000.0));
  }
  return s;
}

std::string_view IdPrefix(earshot::v1::Platform p) {
  switch (p) {
    case earshot::v1::PLATFORM_X:
      return "x";
    case earshot::v1::PLATFORM_FACEBOOK:
      return "fb";
    case earshot::v1::PLATFORM_MESSENGER:
      return "fbm";
    case earshot::v1::PLATFORM_INSTAGRAM:
      return "ig";
    case earshot::v1::PLATFORM_WHATSAPP:
      return "wa";
    default:
      return "tg";
  }
}

// Makes a stream of events over `threads` conversations. Tracks, per thread, whether a customer
// waits, so the brand answers waiting threads (about one message in three is the brand's).
class EventStream {
 public:
  // `id_space` keeps the ids of different streams apart (the fill and the measured stream).
  EventStream(int64_t threads, uint64_t seed, int64_t id_space, double redeliveries)
      : threads_(threads),
        rng_(seed),
        next_id_(id_space),
        redeliveries_(redeliveries),
        waiting_(static_cast<size_t>(threads), false),
        start_(absl::Now() - absl::Hours(2)) {}

  // Marks every thread as waiting (the state the fill leaves).
  void AllWaiting() { std::fill(waiting_.begin(), waiting_.end(), true); }

  // The next event, on a thread picked uniformly at random (or `thread` when >= 0).
  Event Next(int64_t thread = -1) {
    ++count_;
    std::uniform_real_distribution<double> u(0, 1);
    if (thread < 0 && !recent_.empty() && u(rng_) < redeliveries_) {
      // The platform sends an event the gateway already acknowledged (a lost 2xx).
      Event again = recent_[rng_() % recent_.size()];
      SetTs(Now(), again.mutable_received_at());
      ++redelivered_;
      return again;
    }
    if (thread < 0) thread = static_cast<int64_t>(rng_() % static_cast<uint64_t>(threads_));
    const ThreadShape s = ShapeOf(thread);
    const bool outbound = waiting_[thread] && u(rng_) < 0.45;
    waiting_[thread] = !outbound;

    Event e;
    const int64_t native = next_id_++;
    e.set_platform(s.platform);
    e.set_account_id(s.account);
    e.set_thread_key(s.thread_key);
    e.set_message_id(fmt::format("m{}", native));
    e.set_event_id(fmt::format("{}:{}", IdPrefix(s.platform), e.message_id()));
    e.set_direction(outbound ? earshot::v1::DIRECTION_OUTBOUND : earshot::v1::DIRECTION_INBOUND);
    if (s.private_chat) {
      e.set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
    } else if (s.platform == earshot::v1::PLATFORM_X) {
      e.set_kind(outbound || u(rng_) < 0.5 ? earshot::v1::KIND_REPLY : earshot::v1::KIND_MENTION);
    } else {
      e.set_kind(outbound ? earshot::v1::KIND_REPLY : earshot::v1::KIND_COMMENT);
    }
    auto* author = e.mutable_author();
    if (outbound) {
      author->set_id(s.account);
      author->set_handle("acme");
      author->set_display_name("Acme");
      e.set_text(s.german ? "Hallo, das tut uns leid! Schreib uns bitte eine DM mit deiner "
                            "Bestellnummer, dann kümmern wir uns sofort darum."
                          : "Hi, sorry to hear that! Please send us a DM with your order number "
                            "and we'll look into it right away.");
    } else {
      author->set_id(s.customer);
      author->set_handle(fmt::format("user{}", thread));
      author->set_display_name(fmt::format("Kunde {}", thread % 9973));
      if (s.followers) author->set_follower_count(*s.followers);
      const auto& texts = s.german ? CustomerTextsDe() : CustomerTextsEn();
      const auto& products = s.german ? ProductsDe() : ProductsEn();
      std::string text(texts[rng_() % texts.size()]);
      Replace(&text, "{order}", std::to_string(1000000 + rng_() % 9000000));
      Replace(&text, "{product}", std::string(products[rng_() % products.size()]));
      if (s.platform == earshot::v1::PLATFORM_X && !s.private_chat) text = "@acme " + text;
      e.set_text(std::move(text));
    }
    // X gives a language; the others leave it to CLD2.
    if (s.platform == earshot::v1::PLATFORM_X) e.set_lang(s.german ? "de" : "en");
    const absl::Time received = Now();
    SetTs(received - absl::Milliseconds(200 + static_cast<int64_t>(rng_() % 3000)),
          e.mutable_created_at());
    SetTs(received, e.mutable_received_at());
    if (!s.private_chat) {
      e.set_permalink(s.platform == earshot::v1::PLATFORM_X
                          ? fmt::format("https://x.com/{}/status/{}", author->handle(), native)
                          : fmt::format("https://www.facebook.com/{}/posts/{}", s.account, native));
    }
    if (recent_.size() < 1024) {
      recent_.push_back(e);
    } else {
      recent_[rng_() % recent_.size()] = e;
    }
    return e;
  }

  int64_t redelivered() const { return redelivered_; }

 private:
  static void Replace(std::string* s, std::string_view what, const std::string& with) {
    if (auto pos = s->find(what); pos != std::string::npos) s->replace(pos, what.size(), with);
  }
  // Gateway time advances 2 ms an event: a busy brand, within the dedup window throughout.
  absl::Time Now() const { return start_ + absl::Milliseconds(2 * count_); }

  int64_t threads_;
  std::mt19937_64 rng_;
  int64_t next_id_;
  double redeliveries_;
  std::vector<bool> waiting_;
  absl::Time start_;
  int64_t count_ = 0;
  int64_t redelivered_ = 0;
  std::vector<Event> recent_;  // redeliveries are copies of these
};

// ---------------------------------------------------------------------------------------------
// (a) Pass-through ceiling and the router on a pre-filled topic.

// Turns Nagle's algorithm off on the embedded broker's end of every connection of this process
// (connected sockets whose local port is the broker's), checking for new sockets every 50 ms
// while it lives. librdkafka's mock broker (2.0) accepts connections without TCP_NODELAY: a
// small response written while an earlier one is still unacknowledged then waits for the
// client's delayed ACK, about 40 ms on Linux. Kafka brokers set TCP_NODELAY; this makes the
// embedded broker answer like one. Each socket is looked at once (getsockname on its fd).
class BrokerNoDelay {
 public:
  explicit BrokerNoDelay(int port) : port_(port) {
    thread_ = std::thread([this] {
      do {
        Apply();
      } while (!stop_.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
    });
  }
  ~BrokerNoDelay() {
    stop_.Notify();
    thread_.join();
  }

 private:
  void Apply() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
      std::error_code link_ec;
      const std::string target = std::filesystem::read_symlink(entry.path(), link_ec).string();
      if (link_ec || target.rfind("socket:[", 0) != 0 || !seen_.insert(target).second) continue;
      const int fd = std::atoi(entry.path().filename().c_str());
      sockaddr_in local{};
      sockaddr_in peer{};
      socklen_t local_len = sizeof(local);
      socklen_t peer_len = sizeof(peer);
      if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
          local.sin_family != AF_INET || ntohs(local.sin_port) != port_ ||
          getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
        continue;  // not the broker's end of a connection (or its listening socket)
      }
      const int on = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    }
  }

  const int port_;
  std::set<std::string> seen_;  // "socket:[inode]" already looked at; this object's thread only
  absl::Notification stop_;
  std::thread thread_;
};

absl::Status Prefill(const std::string& bootstrap, int64_t n, int64_t threads, int64_t* dups,
                     int64_t* bytes) {
  kafka::ProducerOptions po;
  po.bootstrap = bootstrap;
  po.client_id = "bench-prefill";
  po.delivery_timeout = absl::Seconds(30);
  auto producer = kafka::Producer::Create(po, nullptr);
  if (!producer.ok()) return producer.status();
  EventStream stream(threads, /*seed=*/42, /*id_space=*/1, absl::GetFlag(FLAGS_redeliveries));
  const absl::Time deadline = absl::Now() + absl::GetFlag(FLAGS_phase_timeout);
  for (int64_t done = 0; done < n;) {
    if (absl::Now() > deadline) return absl::DeadlineExceededError("prefill: --phase_timeout");
    std::vector<kafka::Record> records;
    const int64_t count = std::min<int64_t>(5000, n - done);
    records.reserve(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      records.push_back(kafka::EventRecord(stream.Next(), "earshot.events.v1"));
      const kafka::Record& r = records.back();
      *bytes += static_cast<int64_t>(r.key.size() + r.value.size());
      for (const auto& [k, v] : r.headers) *bytes += static_cast<int64_t>(k.size() + v.size());
    }
    absl::Notification acked;
    absl::Status status;
    (*producer)->ProduceBatch(std::move(records), [&](absl::Status st) {
      status = std::move(st);
      acked.Notify();
    });
    acked.WaitForNotification();  // bounded by delivery_timeout
    if (!status.ok()) return status;
    done += count;
  }
  *dups = stream.redelivered();
  return absl::OkStatus();
}

// Records ever written to a topic (the sum of its high watermarks), and how many of them the
// broker no longer holds (the sum of its low watermarks).
struct TopicCount {
  int64_t written = 0;
  int64_t dropped = 0;
};

TopicCount CountTopic(const std::string& bootstrap, const std::string& topic, int partitions) {
  TopicCount count;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) return count;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0;
    int64_t high = 0;
    if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 5000) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      count.written += high;
      count.dropped += low;
    }
  }
  rd_kafka_destroy(rk);
  return count;
}

struct Rate {
  int64_t records = 0;
  absl::Duration elapsed;
  double cpu_seconds = 0;
  bool complete = false;
  int64_t batches = 0;
  double work_seconds = 0;  // per batch after gathering: (apply,) produce, acks, (state write)
  double per_second() const {
    return elapsed > absl::ZeroDuration()
               ? static_cast<double>(records) / absl::ToDoubleSeconds(elapsed)
               : 0;
  }
};

// The pass-through: RouterApp's consumer (kafka::StatefulConsumer with the same batch settings)
// and producer, RouterApp's loop of poll batch, produce, wait for the acknowledgements, commit
// to Kafka; between them nothing but a copy of key, value and headers.
absl::StatusOr<Rate> RunPassThrough(const std::string& bootstrap, int partitions, int64_t n,
                                    absl::Duration timeout) {
  std::map<std::string, std::string> extra;
  for (const std::string& kv : absl::GetFlag(FLAGS_passthrough_kafka)) {
    const auto eq = kv.find('=');
    if (eq != std::string::npos) extra[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  prometheus::Registry registry;  // as RouterApp's producer, with its metrics
  kafka::ProducerOptions po;
  po.bootstrap = bootstrap;
  po.client_id = "bench-passthrough";
  po.metrics_prefix = "bench_passthrough";
  po.extra = extra;
  auto producer = kafka::Producer::Create(po, &registry);
  if (!producer.ok()) return producer.status();

  const router::RouterAppOptions router_defaults;  // batches as the router's
  kafka::StatefulConsumerOptions options;
  options.consumer.bootstrap = bootstrap;
  options.consumer.group_id = "bench-passthrough";
  options.consumer.client_id = "bench-passthrough";
  options.consumer.extra = extra;
  options.topic = "earshot.events.v1";
  options.batch_max = router_defaults.batch_max;
  options.batch_wait = router_defaults.batch_wait;
  int assigned = 0;
  absl::Time assigned_at = absl::InfinitePast();
  double cpu_at_assign = 0;
  kafka::StatefulConsumerHooks hooks;
  hooks.stored_position = [](int32_t) -> absl::StatusOr<std::optional<kafka::StoredPosition>> {
    return std::optional<kafka::StoredPosition>();  // from the start
  };
  hooks.on_assigned = [&](int32_t) {
    if (++assigned == partitions) {
      assigned_at = absl::Now();
      cpu_at_assign = CpuSeconds();
    }
  };
  hooks.on_revoked = [&](int32_t) { --assigned; };
  auto consumer = kafka::StatefulConsumer::Create(options, std::move(hooks));
  if (!consumer.ok()) return consumer.status();

  Rate rate;
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status failure;
  while (rate.records < n && absl::Now() < deadline) {
    std::vector<kafka::MessagePtr> msgs = (*consumer)->PollBatch(absl::Milliseconds(100));
    if (msgs.empty()) continue;
    std::vector<kafka::Record> records;
    records.reserve(msgs.size());
    for (const auto& m : msgs) {
      kafka::Record r;
      r.topic = kPassThroughTopic;
      r.key.assign(static_cast<const char*>(m->key), m->key_len);
      r.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m.get(), &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        for (size_t i = 0; !rd_kafka_header_get_all(hdrs, i, &name, &value, &size); ++i) {
          r.headers.emplace_back(name, std::string(static_cast<const char*>(value), size));
        }
      }
      records.push_back(std::move(r));
    }
    msgs.clear();
    const auto count = static_cast<int64_t>(records.size());
    const absl::Time produce_start = absl::Now();
    absl::Notification acked;
    absl::Status status;
    (*producer)->ProduceBatch(std::move(records), [&](absl::Status st) {
      status = std::move(st);
      acked.Notify();
    });
    acked.WaitForNotification();  // bounded by the producer's delivery timeout
    if (!status.ok()) {
      failure = status;
      break;
    }
    (*consumer)->CommitAsync();  // as RouterApp: for lag tools only
    rate.records += count;
    rate.batches += 1;
    rate.work_seconds += absl::ToDoubleSeconds(absl::Now() - produce_start);
  }
  rate.cpu_seconds = CpuSeconds() - cpu_at_assign;
  rate.elapsed = absl::Now() - assigned_at;
  rate.complete = rate.records >= n;
  (*consumer)->Close();
  if (!failure.ok()) return failure;
  return rate;
}

// The router as `earshot --target=router` runs it, on the pre-filled topic.
// The router's consumer group in a run of part (a): each run a group, and so a state changelog
// (<group>.state.v1), of its own; a later run of the same group would restore the earlier one's
// state and positions from the changelog and find nothing left to route.
std::string BenchRouterGroup(const std::string& mode) { return "bench-router-" + mode; }

absl::StatusOr<Rate> RunRouter(const std::string& bootstrap, const std::string& dir,
                               const std::string& group, int partitions, int64_t n,
                               absl::Duration timeout) {
  const std::string yaml = fmt::format(
      "kafka: {{bootstrap: \"{}\"}}\n"
      "grpc: {{addr: \"127.0.0.1:0\"}}\n"
      "admin: {{addr: \"127.0.0.1:0\"}}\n"
      "router: {{state_dir: \"{}/router-state\", rules_file: \"{}\", group_id: \"{}\"}}\n",
      bootstrap, dir, absl::GetFlag(FLAGS_rules), group);
  auto config = Config::FromYaml(yaml);
  if (!config.ok()) return config.status();
  // Only this file: no EARSHOT_* variable of the caller's shell changes what is measured.
  config->set_env_lookup([](const std::string&) { return std::nullopt; });
  ProcessOptions options;
  options.target = "router";
  options.data_dir = dir;
  Process process(options, std::move(*config));
  if (auto st = process.Start(); !st.ok()) return st;
  auto* router = static_cast<router::RouterApp*>(process.service("router"));

  Rate rate;
  const absl::Time deadline = absl::Now() + timeout;
  while (static_cast<int>(router->OwnedPartitions().size()) < partitions &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  const absl::Time start = absl::Now();
  const double cpu_start = CpuSeconds();
  while (router->events_applied() < n && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  rate.elapsed = absl::Now() - start;
  rate.cpu_seconds = CpuSeconds() - cpu_start;
  rate.records = router->events_applied();
  rate.complete = rate.records >= n;
  // The router's own batch histogram (apply, produce, acknowledgements, state write).
  http::Client admin("127.0.0.1", process.admin_port(), absl::Seconds(5));
  if (auto metrics = admin.Get("/metrics"); metrics.ok()) {
    for (absl::string_view piece : absl::StrSplit(ToAbsl(metrics->body), '\n')) {
      const std::string_view line = ToStd(piece);
      const auto value = [&line] {
        return std::strtod(std::string(line.substr(line.rfind(' ') + 1)).c_str(), nullptr);
      };
      if (line.rfind("earshot_router_batch_duration_seconds_sum", 0) == 0) {
        rate.work_seconds = value();
      } else if (line.rfind("earshot_router_batch_duration_seconds_count", 0) == 0) {
        rate.batches = static_cast<int64_t>(value());
      }
    }
  }
  process.Stop();
  return rate;
}

// ---------------------------------------------------------------------------------------------
// (b) Per-event cost against RocksDB with many threads stored.

// As in router_app.cc (where it is private): the compaction filter of the dedup family.
class DedupFilter : public rocksdb::CompactionFilter {
 public:
  bool Filter(int, const rocksdb::Slice&, const rocksdb::Slice& value, std::string*,
              bool*) const override {
    return router::DedupExpired(std::string_view(value.data(), value.size()), absl::Now());
  }
  const char* Name() const override { return "earshot.DedupFilter"; }
};

class DedupFilterFactory : public rocksdb::CompactionFilterFactory {
 public:
  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context&) override {
    return std::make_unique<DedupFilter>();
  }
  const char* Name() const override { return "earshot.DedupFilterFactory"; }
};

// The fill writes straight into a write batch: every event starts a new thread, so nothing
// stored needs reading except the partitions' counts, kept here.
class FillView : public router::StateView {
 public:
  FillView(store::Store* store, rocksdb::WriteBatch* batch) : store_(store), batch_(batch) {}
  std::optional<std::string> Get(std::string_view cf, std::string_view key) override {
    if (cf != router::CfName(router::Cf::kPartitions)) return std::nullopt;
    auto it = partitions_.find(std::string(key));
    if (it == partitions_.end()) return std::nullopt;
    return it->second;
  }
  void Put(std::string_view cf, std::string_view key, std::string_view value) override {
    if (cf == router::CfName(router::Cf::kPartitions)) {
      partitions_[std::string(key)] = std::string(value);
    }
    batch_->Put(store_->cf(cf), rocksdb::Slice(key.data(), key.size()),
                rocksdb::Slice(value.data(), value.size()));
  }
  void Delete(std::string_view cf, std::string_view key) override {
    batch_->Delete(store_->cf(cf), rocksdb::Slice(key.data(), key.size()));
  }
  // Only an erase or an expiry scans; the fill has neither.
  absl::Status Scan(std::string_view, std::string_view, std::string_view,
                    store::Store::Visit) override {
    return absl::UnimplementedError("the fill view does not scan");
  }

 private:
  store::Store* store_;
  rocksdb::WriteBatch* batch_;
  std::map<std::string, std::string> partitions_;
};

int32_t PartitionOf(std::string_view thread_key, int partitions) {
  return static_cast<int32_t>(std::hash<std::string_view>()(thread_key) %
                              static_cast<size_t>(partitions));
}

absl::StatusOr<std::unique_ptr<store::Store>> OpenStore(const std::string& path, size_t block_cache,
                                                        size_t write_buffer) {
  store::StoreOptions o;
  o.path = path;
  o.block_cache_bytes = block_cache;
  o.write_buffer_bytes = write_buffer;
  o.column_families = router::ColumnFamilies(std::make_shared<DedupFilterFactory>());
  return store::Store::Open(std::move(o));
}

// Stores `threads` threads, one customer message each, through RouterCore with the same rules,
// then compacts, so both cases start from a settled database. Runs in its own process.
absl::Status Fill(const std::string& path, int64_t threads, int partitions,
                  const router::RuleSet& rules) {
  // Large memtables and no WAL while filling; the measured run reopens with the small caches.
  auto store = OpenStore(path, 64 << 20, 128 << 20);
  if (!store.ok()) return store.status();
  router::RouterCore core{router::RouterOptions{}};
  EventStream stream(threads, /*seed=*/7, /*id_space=*/1, /*redeliveries=*/0);
  std::map<int32_t, int64_t> offsets;
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  const absl::Time deadline = absl::Now() + absl::GetFlag(FLAGS_phase_timeout);
  for (int64_t t = 0; t < threads;) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          fmt::format("fill: {} of {} threads in --phase_timeout", t, threads));
    }
    rocksdb::WriteBatch batch;
    FillView view(store->get(), &batch);
    router::PartitionStates states;
    for (int64_t end = std::min(threads, t + 10000); t < end; ++t) {
      Event e = stream.Next(t);
      const int32_t p = PartitionOf(e.thread_key(), partitions);
      core.Apply(p, offsets[p]++, e, rules, view, states);
    }
    states.Flush(view);
    if (auto st = store::FromRocks((*store)->rocksdb_for_tools()->Write(wo, &batch), "fill");
        !st.ok()) {
      return st;
    }
  }
  rocksdb::CompactRangeOptions cro;
  cro.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (router::Cf cf : {router::Cf::kDedup, router::Cf::kThreads, router::Cf::kMessages,
                        router::Cf::kQueueIndex, router::Cf::kPartitions}) {
    auto st = (*store)->rocksdb_for_tools()->CompactRange(cro, (*store)->cf(router::CfName(cf)),
                                                          nullptr, nullptr);
    if (!st.ok()) return store::FromRocks(st, "compact");
  }
  return absl::OkStatus();
}

// Where the time of part (b) goes, summed over the measured events. The timers cost about
// 0.3 us an event, the same in both cases.
struct Phases {
  int64_t decide_ns = 0;  // RuleSet::Decide: CLD2, RE2, keyword matching
  int64_t read_ns = 0;    // state reads: the write batch, then memtables and SST files
  int64_t batch_ns = 0;   // puts and deletes into the batch's overlay
  int64_t apply_ns = 0;   // all of RouterCore::Apply (the three above and the protobuf work)
  int64_t output_ns = 0;  // parse of the input, routed record built and serialised
  int64_t write_ns = 0;   // the RocksDB write of each batch (WAL, memtables)
};

struct CostResult {
  bool ok = false;
  char error[256] = {};
  int64_t threads = 0;
  double fill_seconds = 0;
  int64_t events = 0;
  double seconds = 0;
  double cpu_seconds = 0;         // the whole process: this thread and RocksDB's
  double thread_cpu_seconds = 0;  // the thread that applies the events
  int64_t rss_baseline = 0;       // events generated, store not open
  int64_t rss_open = 0;           // store open, before the warm-up
  int64_t rss_end = 0;            // after the measurement, store still open
  int64_t sst_bytes = 0;
  int64_t cache_hits = 0;
  int64_t cache_misses = 0;
  int64_t cache_usage = 0;
  int64_t memtables = 0;
  int64_t stall_micros = 0;
  int64_t index_misses = 0;        // block cache misses on index blocks, per measured event: x1000
  int64_t filter_misses = 0;       // on filter blocks
  int64_t data_misses = 0;         // on data blocks
  int64_t index_filter_bytes = 0;  // index and filter blocks of every SST file
  Phases phases;
  double turn_cpu_us[kCostTurns] = {};  // the applying thread's CPU-us/event in each turn
};

// The block cache misses by block type, and the size of every SST file's index and filters:
// what decides whether the cache holds the metadata a point lookup needs.
struct CacheDetail {
  int64_t index_misses = 0;
  int64_t filter_misses = 0;
  int64_t data_misses = 0;
  int64_t index_filter_bytes = 0;
};

CacheDetail GetCacheDetail(store::Store* store) {
  CacheDetail d;
  const auto stats = store->rocksdb_for_tools()->GetDBOptions().statistics;
  if (stats) {
    d.index_misses = static_cast<int64_t>(stats->getTickerCount(rocksdb::BLOCK_CACHE_INDEX_MISS));
    d.filter_misses = static_cast<int64_t>(stats->getTickerCount(rocksdb::BLOCK_CACHE_FILTER_MISS));
    d.data_misses = static_cast<int64_t>(stats->getTickerCount(rocksdb::BLOCK_CACHE_DATA_MISS));
  }
  for (router::Cf cf : {router::Cf::kDedup, router::Cf::kThreads, router::Cf::kMessages,
                        router::Cf::kQueueIndex, router::Cf::kPartitions}) {
    std::map<std::string, std::string> props;
    if (store->rocksdb_for_tools()->GetMapProperty(
            store->cf(router::CfName(cf)), rocksdb::DB::Properties::kAggregatedTableProperties,
            &props)) {
      for (const char* key : {"index_size", "filter_size"}) {
        if (auto it = props.find(key); it != props.end()) {
          d.index_filter_bytes += std::strtoll(it->second.c_str(), nullptr, 10);
        }
      }
    }
  }
  return d;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class TimedRules final : public router::RuleSet {
 public:
  TimedRules(const router::RuleSet& rules, int64_t* ns) : rules_(rules), ns_(ns) {}
  earshot::v1::RoutingDecision Decide(const Event& event) const override {
    const int64_t start = NowNs();
    earshot::v1::RoutingDecision d = rules_.Decide(event);
    *ns_ += NowNs() - start;
    return d;
  }
  size_t rule_count() const override { return rules_.rule_count(); }

 private:
  const router::RuleSet& rules_;
  int64_t* ns_;
};

class TimedView final : public router::StateView {
 public:
  TimedView(router::StateView* view, Phases* phases) : view_(view), phases_(phases) {}
  std::optional<std::string> Get(std::string_view cf, std::string_view key) override {
    const int64_t start = NowNs();
    auto v = view_->Get(cf, key);
    phases_->read_ns += NowNs() - start;
    return v;
  }
  void Put(std::string_view cf, std::string_view key, std::string_view value) override {
    const int64_t start = NowNs();
    view_->Put(cf, key, value);
    phases_->batch_ns += NowNs() - start;
  }
  void Delete(std::string_view cf, std::string_view key) override {
    const int64_t start = NowNs();
    view_->Delete(cf, key);
    phases_->batch_ns += NowNs() - start;
  }
  absl::Status Scan(std::string_view cf, std::string_view prefix, std::string_view from,
                    store::Store::Visit visit) override {
    const int64_t start = NowNs();
    auto st = view_->Scan(cf, prefix, from, visit);
    phases_->read_ns += NowNs() - start;
    return st;
  }

 private:
  router::StateView* view_;
  Phases* phases_;
};

// Applies `events` as RouterApp::ProcessBatch does, minus Kafka: parse, RouterCore::Apply on a
// store::OverlayView over RocksDB, the routed record built and serialised, one RocksDB write per
// batch of 1000.
absl::Status ApplyBatches(const std::vector<std::string>& events, size_t from, size_t to,
                          int partitions, const router::RuleSet& rules,
                          const router::RouterCore& core, store::Store* store,
                          std::map<int32_t, int64_t>* offsets, absl::Time deadline, size_t* applied,
                          Phases* phases) {
  const TimedRules timed_rules(rules, &phases->decide_ns);
  for (size_t i = from; i < to && absl::Now() < deadline;) {
    store::OverlayView overlay(store);
    TimedView view(&overlay, phases);
    router::PartitionStates states;
    std::vector<kafka::Record> records;
    for (size_t end = std::min(to, i + kBatchMax); i < end; ++i) {
      int64_t t0 = NowNs();
      Event event;
      if (!event.ParseFromString(events[i])) return absl::InternalError("unparsable event");
      const int32_t p = PartitionOf(event.thread_key(), partitions);
      int64_t t1 = NowNs();
      router::ApplyResult result = core.Apply(p, (*offsets)[p]++, event, timed_rules, view, states);
      int64_t t2 = NowNs();
      if (result.routed) {
        records.push_back(router::RoutedRecord(*result.routed, "earshot.routed.v1"));
      }
      phases->apply_ns += t2 - t1;
      phases->output_ns += (t1 - t0) + (NowNs() - t2);
      ++*applied;
    }
    states.Flush(view);
    const int64_t w = NowNs();
    if (auto st = overlay.Commit(); !st.ok()) {
      return st;
    }
    phases->write_ns += NowNs() - w;
  }
  return absl::OkStatus();
}

CostResult MeasureCost(const std::string& path, int64_t threads, int partitions, Turns& turns) {
  turns.ChildSide();
  CostResult r;
  r.threads = threads;
  auto fail = [&r](const absl::Status& st) {
    std::snprintf(r.error, sizeof(r.error), "%s", st.ToString().c_str());
    return r;
  };
  auto rules = router::RuleSet::LoadFile(absl::GetFlag(FLAGS_rules));
  if (!rules.ok()) return fail(rules.status());

  // The fill in a grandchild: its large memtables and freed heap stay out of this process.
  // It is kept apart from the measured database (a checkpoint of it: hard links), so that
  // --reuse_fill can measure again on the same stored threads.
  const std::string fill_path = path + "-fill";
  const std::string marker = fill_path + "/FILLED";
  const absl::Time fill_start = absl::Now();
  int64_t filled = -1;
  std::ifstream(marker) >> filled;
  if (!absl::GetFlag(FLAGS_reuse_fill) || filled != threads) {
    std::error_code ec;
    std::filesystem::remove_all(fill_path, ec);
    const pid_t pid = fork();
    if (pid < 0) return fail(absl::InternalError("fork failed"));
    if (pid == 0) {
      absl::Status st = Fill(fill_path, threads, partitions, **rules);
      if (!st.ok()) std::fprintf(stderr, "fill: %s\n", st.ToString().c_str());
      std::fflush(nullptr);
      _exit(st.ok() ? 0 : 1);
    }
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
      return fail(absl::InternalError("the fill failed"));
    }
    std::ofstream(marker) << threads << "\n";
  }
  r.fill_seconds = absl::ToDoubleSeconds(absl::Now() - fill_start);
  {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    std::filesystem::create_directories(path, ec);
    for (const auto& entry : std::filesystem::directory_iterator(fill_path, ec)) {
      const auto to = std::filesystem::path(path) / entry.path().filename();
      if (entry.path().extension() == ".sst") {
        std::filesystem::create_hard_link(entry.path(), to, ec);
      } else {
        std::filesystem::copy_file(entry.path(), to, ec);
      }
      if (ec) return fail(absl::InternalError("cannot copy " + entry.path().string()));
    }
  }

  // The measured stream: events on the stored threads, picked uniformly at random, with the
  // same mix as part (a). Generated and serialised before the clock and the memory baseline.
  const auto warmup = static_cast<size_t>(absl::GetFlag(FLAGS_cost_warmup));
  const auto measured = static_cast<size_t>(absl::GetFlag(FLAGS_cost_events));
  EventStream stream(threads, /*seed=*/99, /*id_space=*/int64_t{1} << 40,
                     absl::GetFlag(FLAGS_redeliveries));
  stream.AllWaiting();
  std::vector<std::string> events(warmup + measured);
  for (auto& e : events) stream.Next().SerializeToString(&e);
  std::map<int32_t, int64_t> offsets;
  for (int p = 0; p < partitions; ++p) offsets[p] = threads;  // past the fill's offsets

  r.rss_baseline = RssBytes();
  auto store = OpenStore(path, static_cast<size_t>(absl::GetFlag(FLAGS_block_cache_mib)) << 20,
                         static_cast<size_t>(absl::GetFlag(FLAGS_write_buffer_mib)) << 20);
  if (!store.ok()) return fail(store.status());
  r.rss_open = RssBytes();
  router::RouterCore core{router::RouterOptions{}};
  const absl::Time deadline = absl::Now() + absl::GetFlag(FLAGS_phase_timeout);
  size_t applied = 0;
  Phases warmup_phases;
  if (auto st = ApplyBatches(events, 0, warmup, partitions, **rules, core, store->get(), &offsets,
                             deadline, &applied, &warmup_phases);
      !st.ok()) {
    return fail(st);
  }
  const store::StoreStats before = (*store)->Stats();
  const CacheDetail detail_before = GetCacheDetail(store->get());
  applied = 0;
  // The measurement in kCostTurns turns, taken in alternation with the other case. The process
  // CPU time runs from the first turn to the end of the last, so RocksDB's background work
  // counts wherever it falls; thread CPU and wall time are summed over the turns.
  turns.End();  // ready
  double cpu_start = -1;
  double seconds = 0;
  for (int turn = 0; turn < kCostTurns; ++turn) {
    if (!turns.Await()) return fail(absl::AbortedError("the parent is gone"));
    if (cpu_start < 0) cpu_start = CpuSeconds();
    const absl::Time start = absl::Now();
    const double thread_cpu_start = ThreadCpuSeconds();
    const size_t from = warmup + measured * turn / kCostTurns;
    const size_t to = warmup + measured * (turn + 1) / kCostTurns;
    const absl::Status st = ApplyBatches(events, from, to, partitions, **rules, core, store->get(),
                                         &offsets, deadline, &applied, &r.phases);
    const double thread_cpu = ThreadCpuSeconds() - thread_cpu_start;
    r.thread_cpu_seconds += thread_cpu;
    seconds += absl::ToDoubleSeconds(absl::Now() - start);
    r.turn_cpu_us[turn] = thread_cpu * 1e6 / static_cast<double>(to - from);
    turns.End();
    if (!st.ok()) return fail(st);
  }
  r.cpu_seconds = CpuSeconds() - cpu_start;
  r.seconds = seconds;
  r.events = static_cast<int64_t>(applied);
  const store::StoreStats after = (*store)->Stats();
  r.rss_end = RssBytes();
  const CacheDetail detail = GetCacheDetail(store->get());
  const auto per_kilo_event = [&r](int64_t v) { return r.events > 0 ? v * 1000 / r.events : 0; };
  r.index_misses = per_kilo_event(detail.index_misses - detail_before.index_misses);
  r.filter_misses = per_kilo_event(detail.filter_misses - detail_before.filter_misses);
  r.data_misses = per_kilo_event(detail.data_misses - detail_before.data_misses);
  r.index_filter_bytes = detail.index_filter_bytes;
  if (absl::GetFlag(FLAGS_rocksdb_stats)) {
    for (router::Cf cf : {router::Cf::kThreads, router::Cf::kDedup, router::Cf::kQueueIndex}) {
      std::string stats;
      (*store)->rocksdb_for_tools()->GetProperty((*store)->cf(router::CfName(cf)),
                                                 "rocksdb.cfstats-no-file-histogram", &stats);
      std::fprintf(stderr, "--- %lld threads, %s\n%s\n", static_cast<long long>(threads),
                   router::CfName(cf), stats.c_str());
    }
  }
  r.sst_bytes = static_cast<int64_t>(after.sst_bytes);
  r.cache_hits = static_cast<int64_t>(after.block_cache_hits - before.block_cache_hits);
  r.cache_misses = static_cast<int64_t>(after.block_cache_misses - before.block_cache_misses);
  r.cache_usage = static_cast<int64_t>(after.block_cache_usage_bytes);
  r.memtables = static_cast<int64_t>(after.memtable_bytes);
  r.stall_micros = static_cast<int64_t>(after.write_stall_micros - before.write_stall_micros);
  r.ok = applied == measured;
  if (!r.ok) std::snprintf(r.error, sizeof(r.error), "phase timeout after %zu events", applied);
  return r;
}

// Measures both cases, each in a child process of its own, in alternating turns (small, large,
// large, small, ...): a drift in the machine's speed falls on both alike.
std::pair<CostResult, CostResult> MeasureCostInChildren(const std::string& dir,
                                                        int64_t small_threads,
                                                        int64_t large_threads, int partitions) {
  Turns small_turns;
  const Child small = StartChild<CostResult>(
      [&] { return MeasureCost(dir + "/cost-small", small_threads, partitions, small_turns); });
  small_turns.ParentSide();
  Turns large_turns;
  const Child large = StartChild<CostResult>(
      [&] { return MeasureCost(dir + "/cost-large", large_threads, partitions, large_turns); });
  large_turns.ParentSide();
  if (small_turns.Ready() && large_turns.Ready()) {
    for (int turn = 0; turn < kCostTurns; ++turn) {
      Turns* order[2] = {&small_turns, &large_turns};
      if (turn % 2 == 1) std::swap(order[0], order[1]);
      if (!order[0]->Give() || !order[1]->Give()) break;
    }
  }
  // A child that failed before or during its turns has its error in its result; one still
  // waiting for a turn sees the parent's ends closed and stops.
  small_turns.Close();
  large_turns.Close();
  return {FinishChild<CostResult>(small), FinishChild<CostResult>(large)};
}

// ---------------------------------------------------------------------------------------------

void PrintCost(const CostResult& r, int64_t budget) {
  if (!r.ok) {
    std::printf("  %lld threads: %s\n", static_cast<long long>(r.threads), r.error);
    return;
  }
  const double lookups = static_cast<double>(r.cache_hits + r.cache_misses);
  std::printf(
      "  %8lld threads stored: %6.2f CPU-us/event (%.2f in the applying thread, the rest RocksDB "
      "flushes and compactions); %.2f us/event wall, %lld events in %.2f s\n"
      "                          filled in %.1f s, SST %.0f MiB, block cache hit ratio %.3f "
      "(misses per event: index %.2f, filter %.2f, data %.2f), SST index+filters %.1f MiB\n"
      "                          cache %.1f MiB, memtables %.1f MiB, write stalls %.2f s\n"
      "                          RSS %.1f MiB before opening, %.1f MiB open, %.1f MiB after: "
      "+%.1f MiB (budget %.0f MiB)\n",
      static_cast<long long>(r.threads), r.cpu_seconds * 1e6 / static_cast<double>(r.events),
      r.thread_cpu_seconds * 1e6 / static_cast<double>(r.events),
      r.seconds * 1e6 / static_cast<double>(r.events), static_cast<long long>(r.events), r.seconds,
      r.fill_seconds, Mib(r.sst_bytes), lookups > 0 ? r.cache_hits / lookups : 0,
      static_cast<double>(r.index_misses) / 1000, static_cast<double>(r.filter_misses) / 1000,
      static_cast<double>(r.data_misses) / 1000, Mib(r.index_filter_bytes), Mib(r.cache_usage),
      Mib(r.memtables), static_cast<double>(r.stall_micros) / 1e6, Mib(r.rss_baseline),
      Mib(r.rss_open), Mib(r.rss_end), Mib(r.rss_end - r.rss_baseline), Mib(budget));
  const auto us = [&r](int64_t ns) {
    return static_cast<double>(ns) / 1e3 / static_cast<double>(r.events);
  };
  const Phases& p = r.phases;
  std::printf(
      "                          us/event: Apply %.1f (rules %.1f, state reads %.1f, batch "
      "puts %.1f, rest %.1f), RocksDB write %.1f, parse+output %.1f\n",
      us(p.apply_ns), us(p.decide_ns), us(p.read_ns), us(p.batch_ns),
      us(p.apply_ns - p.decide_ns - p.read_ns - p.batch_ns), us(p.write_ns), us(p.output_ns));
  std::fflush(stdout);
}

// How a run's time splits between gathering batches and working on them.
void PrintBatches(const Rate& r, const char* work) {
  if (r.batches == 0) return;
  const double elapsed = absl::ToDoubleSeconds(r.elapsed);
  std::printf(
      "                %lld batches of %.0f records on average: %.2f ms gathering, %.2f ms %s "
      "per batch\n",
      static_cast<long long>(r.batches),
      static_cast<double>(r.records) / static_cast<double>(r.batches),
      (elapsed - r.work_seconds) * 1e3 / static_cast<double>(r.batches),
      r.work_seconds * 1e3 / static_cast<double>(r.batches), work);
}

// (d) A replica that has none of the state rebuilds every partition from the changelog: the
// router's state of N threads (filled through RouterCore, as in (b)) is written to a
// changelog topic whole (Changelog's seeding, the path of a first start on a new cluster), then
// restored into an empty RocksDB folder partition by partition, as assignments do. Prints
// records/s both ways and the time until every partition is ready, and checks that the
// restored state equals the original key by key.
int RunRestore(const std::string& dir, int partitions, Verdicts& verdicts) {
  std::string error;
  auto broker =
      BenchKafka::Start(partitions, {kRestoreTopic}, absl::GetFlag(FLAGS_bootstrap), &error);
  if (broker == nullptr) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 2;
  }
  int64_t threads = absl::GetFlag(FLAGS_restore_threads);
  if (threads <= 0) threads = broker->real() ? 1000000 : 100000;
  std::printf("\n== (d) restore from the changelog: %lld threads, %d partitions, %s %s\n",
              static_cast<long long>(threads), partitions, broker->name().c_str(),
              broker->bootstrap().c_str());
  std::fflush(stdout);
  auto rules = router::RuleSet::LoadFile(absl::GetFlag(FLAGS_rules));
  if (!rules.ok()) {
    std::fprintf(stderr, "rules: %s\n", rules.status().ToString().c_str());
    return 2;
  }
  const std::string src_path = dir + "/restore-src";
  absl::Time t0 = absl::Now();
  if (auto st = Fill(src_path, threads, partitions, **rules); !st.ok()) {
    std::fprintf(stderr, "fill: %s\n", st.ToString().c_str());
    return 2;
  }
  std::printf("  filled in %.1f s\n", absl::ToDoubleSeconds(absl::Now() - t0));
  auto open = [](const std::string& path) {
    store::StoreOptions o;
    o.path = path;
    o.column_families = router::ColumnFamilies(std::make_shared<DedupFilterFactory>());
    o.column_families.push_back({"changelog"});
    return store::Store::Open(std::move(o));
  };
  kafka::ProducerOptions po;
  po.bootstrap = broker->bootstrap();
  po.client_id = "bench-restore";
  po.delivery_timeout = absl::Seconds(120);
  auto producer = kafka::Producer::Create(po, nullptr);
  auto src = open(src_path);
  auto dst = open(dir + "/restore-dst");
  if (!producer.ok() || !src.ok() || !dst.ok()) {
    std::fprintf(stderr, "restore: cannot open the producer or the stores\n");
    return 2;
  }
  auto changelog = [&](store::Store* s) {
    kafka::ChangelogOptions o;
    o.topic = kRestoreTopic;
    o.partitions = partitions;
    o.consumer.bootstrap = broker->bootstrap();
    o.consumer.group_id = "bench-restore";
    // As earshot sets it on the embedded broker (kafka.fetch_wait): the mock holds every fetch
    // that finds nothing new for the whole wait.
    if (!broker->real()) o.consumer.extra["fetch.wait.max.ms"] = "5";
    for (const auto& cf : router::ColumnFamilies(nullptr)) o.state_cfs.push_back(cf.name);
    o.read_timeout = absl::Seconds(60);
    return kafka::Changelog::Create(o, s, producer->get(), "bench");
  };
  auto seeder = changelog(src->get());
  auto restorer = changelog(dst->get());
  if (!seeder.ok() || !restorer.ok()) {
    std::fprintf(stderr, "restore: %s\n",
                 (seeder.ok() ? restorer.status() : seeder.status()).ToString().c_str());
    return 2;
  }
  auto timed = [&](kafka::Changelog& c) -> absl::StatusOr<double> {
    const absl::Time start = absl::Now();
    for (int p = 0; p < partitions; ++p) {
      if (auto st = c.Restore(p); !st.ok()) return st;
    }
    return absl::ToDoubleSeconds(absl::Now() - start);
  };
  auto seeded = timed(**seeder);
  if (!seeded.ok()) {
    std::fprintf(stderr, "seed: %s\n", seeded.status().ToString().c_str());
    return 2;
  }
  const TopicCount written = CountTopic(broker->bootstrap(), kRestoreTopic, partitions);
  const double records = static_cast<double>(written.written);
  std::printf("  written: %.0f changelog records in %.1f s, %.0f records/s\n", records, *seeded,
              records / *seeded);
  std::fflush(stdout);
  auto restored = timed(**restorer);
  if (!restored.ok()) {
    std::fprintf(stderr, "restore: %s\n", restored.status().ToString().c_str());
    return 2;
  }
  std::printf(
      "  restored: %.0f records in %.1f s, %.0f records/s; every partition ready after %.1f s "
      "(a replica taking all %d partitions with no copy of its own)\n",
      records, *restored, records / *restored, *restored, partitions);
  // The restored state, key by key.
  int64_t differ = 0;
  int64_t keys = 0;
  for (const auto& cf : router::ColumnFamilies(nullptr)) {
    rocksdb::ReadOptions ro;
    ro.total_order_seek = true;
    std::unique_ptr<rocksdb::Iterator> a(
        (*src)->rocksdb_for_tools()->NewIterator(ro, (*src)->cf(cf.name)));
    std::unique_ptr<rocksdb::Iterator> b(
        (*dst)->rocksdb_for_tools()->NewIterator(ro, (*dst)->cf(cf.name)));
    for (a->SeekToFirst(), b->SeekToFirst(); a->Valid() || b->Valid(); a->Next(), b->Next()) {
      if (!a->Valid() || !b->Valid() || a->key() != b->key() || a->value() != b->value()) {
        ++differ;
        break;
      }
      ++keys;
    }
  }
  std::printf("  check: %lld keys compared, %s\n", static_cast<long long>(keys),
              differ == 0 ? "the restored state equals the original" : "STATE DIFFERS");
  verdicts.Add("restored state equals the original", differ == 0,
               fmt::format("{} threads: {:.0f} records restored at {:.0f} records/s, ready "
                           "after {:.1f} s",
                           threads, records, records / *restored, *restored));
  return 0;
}

// (e) Failover after a SIGKILL. Two routers (separate `earshot --target=router` processes, the
// group of (d)'s changelog, so together they hold its threads) share the partitions; with
// router.standby_replicas each also keeps a warm copy of the other's. Once both are ready (and
// the standby copies current), one is killed with SIGKILL and one event is written to every
// partition at once. Printed: when the survivor routed the first and the last event of the
// killed router's partitions, i.e. how long those conversations went unrouted. The killed
// router is idle when it dies (no open transaction, which would hold its partitions' readers
// back for kafka.transaction_timeout more). The fill's stored offsets belong to no log of this
// cluster, so each partition is read from the start of its (empty) input: the routers warn
// about it once per partition.
constexpr char kFailoverEvents[] = "bench-failover.events.v1";
constexpr char kFailoverRouted[] = "bench-failover.routed.v1";

struct FailoverResult {
  double first_s = 0;  // the first event of a moved partition routed, after the kill
  double last_s = 0;   // the last one
  int moved = 0;       // partitions whose event waited for the failover
  bool complete = false;
};

// The routers' metrics until `done` says yes, at most `timeout`.
bool WaitMetrics(std::vector<testing::EarshotChild*> routers, absl::Duration timeout,
                 const std::function<bool(const std::vector<std::string>&)>& done) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::vector<std::string> m;
    for (auto* r : routers) m.push_back(r->Metrics());
    if (done(m)) return true;
    absl::SleepFor(absl::Milliseconds(250));
  }
  return false;
}

absl::StatusOr<FailoverResult> RunFailoverOnce(const std::string& dir, const std::string& bootstrap,
                                               int partitions, int standbys, int run) {
  const std::string base = fmt::format("{}/failover-{}", dir, standbys);
  std::filesystem::create_directories(base);
  const std::string config = base + "/router.yaml";
  std::ofstream(config) << fmt::format(
      "kafka:\n  bootstrap: \"{}\"\n  topics: {{events: {}, routed: {}, router_state: {}}}\n"
      "admin: {{addr: \"127.0.0.1:0\"}}\ngrpc: {{addr: \"127.0.0.1:0\"}}\n"
      "router: {{group_id: bench-router, session_timeout_ms: {}, standby_replicas: {}, rules_file: "
      "\"{}\"}}\n",
      bootstrap, kFailoverEvents, kFailoverRouted, kRestoreTopic,
      absl::GetFlag(FLAGS_failover_session_ms), standbys, absl::GetFlag(FLAGS_rules));
  testing::EarshotChild a(EARSHOT_BINARY, "router", base + "/a", base + "/a.log", config, {});
  testing::EarshotChild b(EARSHOT_BINARY, "router", base + "/b", base + "/b.log", config, {});
  const absl::Duration timeout = absl::GetFlag(FLAGS_phase_timeout);
  const absl::Time t0 = absl::Now();
  // A first, with every partition; then B takes half. So the partitions that move to B when A
  // dies are ones B never held: without a standby it restores them whole.
  if (auto st = a.Start(); !st.ok()) return st;
  if (!WaitMetrics({&a}, timeout, [&](const std::vector<std::string>& m) {
        return MetricValue(m[0], "earshot_router_owned_partitions") == partitions;
      })) {
    return absl::DeadlineExceededError("the first router did not take every partition; log in " +
                                       base);
  }
  if (auto st = b.Start(); !st.ok()) return st;
  // Both ready, sharing the partitions, and (with standbys) each copy of the other's current.
  auto settled = [&](const std::vector<std::string>& m) {
    if (m[0].empty() || m[1].empty()) return false;
    const double owned_a = MetricValue(m[0], "earshot_router_owned_partitions");
    const double owned_b = MetricValue(m[1], "earshot_router_owned_partitions");
    if (owned_a <= 0 || owned_b <= 0 || owned_a + owned_b != partitions) return false;
    if (MetricValue(m[0], "earshot_router_state_restoring_partitions") != 0 ||
        MetricValue(m[1], "earshot_router_state_restoring_partitions") != 0) {
      return false;
    }
    if (standbys == 0) return true;
    return MetricValue(m[0], "earshot_router_standby_partitions") == owned_b &&
           MetricValue(m[1], "earshot_router_standby_partitions") == owned_a &&
           MetricValue(m[0], "earshot_router_standby_lag_records") == 0 &&
           MetricValue(m[1], "earshot_router_standby_lag_records") == 0;
  };
  if (!WaitMetrics({&a, &b}, timeout, settled) || !a.Ready() || !b.Ready()) {
    return absl::DeadlineExceededError("the two routers did not settle; logs in " + base);
  }
  std::printf("  standby %d: both routers ready, partitions shared%s, %.1f s after start\n",
              standbys, standbys > 0 ? " and standby copies current" : "",
              absl::ToDoubleSeconds(absl::Now() - t0));
  std::fflush(stdout);

  // One event per partition, on threads of the filled state.
  std::map<int32_t, Event> probes;
  EventStream stream(
      absl::GetFlag(FLAGS_restore_threads) > 0 ? absl::GetFlag(FLAGS_restore_threads) : 1000000,
      /*seed=*/11, /*id_space=*/100 + run, /*redeliveries=*/0);
  for (int64_t t = 0; static_cast<int>(probes.size()) < partitions && t < 100000; ++t) {
    Event e = stream.Next(t);
    // A customer's message (the rules ignore the brand's) with an id no run has used.
    if (e.direction() != earshot::v1::DIRECTION_INBOUND) continue;
    e.set_event_id(
        fmt::format("{}.failover-{}-{}", e.event_id(), run, absl::ToUnixMicros(absl::Now())));
    const int32_t p = kafka::PartitionForKey(e.thread_key(), partitions);
    if (!probes.contains(p)) probes.emplace(p, std::move(e));
  }
  std::map<std::string, int32_t> partition_of;
  std::vector<kafka::Record> records;
  for (auto& [p, e] : probes) {
    SetTs(absl::Now(), e.mutable_received_at());
    partition_of[e.event_id()] = p;
    records.push_back(kafka::EventRecord(e, kFailoverEvents));
  }
  kafka::ConsumerOptions co;
  co.bootstrap = bootstrap;
  co.group_id = "bench-failover-reader";
  auto reader = kafka::Consumer::Create(co);
  if (!reader.ok()) return reader.status();
  if (auto st = (*reader)->AssignAll(kFailoverRouted); !st.ok()) return st;
  kafka::ProducerOptions po;
  po.bootstrap = bootstrap;
  auto producer = kafka::Producer::Create(po, nullptr);
  if (!producer.ok()) return producer.status();

  a.Kill(SIGKILL);
  const absl::Time killed = absl::Now();
  a.Wait(absl::Seconds(10));
  if (auto st = kafka::ProduceAndWait(**producer, std::move(records)); !st.ok()) return st;
  std::map<int32_t, double> routed_after;
  const absl::Time deadline = absl::Now() + timeout;
  while (static_cast<int>(routed_after.size()) < partitions && absl::Now() < deadline) {
    auto got = (*reader)->Poll(100, absl::Milliseconds(100));
    if (!got.ok()) continue;
    for (const auto& m : *got) {
      earshot::v1::RoutedEvent r;
      if (!r.ParseFromString(m.value)) continue;
      auto it = partition_of.find(r.event().event_id());
      if (it != partition_of.end() && !routed_after.contains(it->second)) {
        routed_after[it->second] = absl::ToDoubleSeconds(absl::Now() - killed);
      }
    }
  }
  b.Kill(SIGTERM);
  b.Wait(absl::Seconds(60));
  FailoverResult result;
  result.complete = static_cast<int>(routed_after.size()) == partitions;
  // The survivor's own partitions route at once; the moved ones wait for the failover.
  double first_own = 1e9;
  for (const auto& [p, s] : routed_after) first_own = std::min(first_own, s);
  result.first_s = 1e9;
  for (const auto& [p, s] : routed_after) {
    if (s > first_own + 1.0) {
      ++result.moved;
      result.first_s = std::min(result.first_s, s);
      result.last_s = std::max(result.last_s, s);
    }
  }
  if (result.moved == 0) result.first_s = 0;
  return result;
}

int RunFailover(const std::string& dir, int partitions, Verdicts& verdicts) {
  const std::string bootstrap = absl::GetFlag(FLAGS_bootstrap);
  if (bootstrap.empty()) {
    std::printf(
        "\n== (e) failover: skipped (needs a real Kafka, --bootstrap: librdkafka's mock cluster "
        "has no DescribeConsumerGroups for standby replicas)\n");
    return 0;
  }
  std::string error;
  // (d)'s changelog stays as it is: BenchKafka makes the topics it is given anew.
  auto broker =
      BenchKafka::Start(partitions, {kFailoverEvents, kFailoverRouted}, bootstrap, &error);
  if (broker == nullptr) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 2;
  }
  std::printf(
      "\n== (e) failover: two routers share (d)'s state, one is killed with SIGKILL; session "
      "time-out %d ms, %s %s\n",
      absl::GetFlag(FLAGS_failover_session_ms), broker->name().c_str(), bootstrap.c_str());
  std::fflush(stdout);
  int run = 0;
  for (int standbys : {1, 0}) {
    auto r = RunFailoverOnce(dir, bootstrap, partitions, standbys, run++);
    if (!r.ok()) {
      std::fprintf(stderr, "failover: %s\n", r.status().ToString().c_str());
      return 2;
    }
    std::printf(
        "  standby %d: %d partitions moved; their first event routed %.1f s after the kill, "
        "the last %.1f s after%s\n",
        standbys, r->moved, r->first_s, r->last_s, r->complete ? "" : " (INCOMPLETE)");
    std::fflush(stdout);
    if (standbys > 0) {
      verdicts.Add("failover with a standby < 10 s", r->complete && r->moved > 0 && r->last_s < 10,
                   fmt::format("SIGKILL to the last moved partition routing again: {:.1f} s "
                               "({} partitions; first {:.1f} s)",
                               r->last_s, r->moved, r->first_s));
    }
  }
  return 0;
}

int Main() {
  const int partitions = absl::GetFlag(FLAGS_partitions);
  const std::string parts = absl::GetFlag(FLAGS_parts);
  const bool run_kafka = parts.find("kafka") != std::string::npos;
  const bool run_cost = parts.find("cost") != std::string::npos;
  TempFolder folder(absl::GetFlag(FLAGS_tmp), "earshot-router-bench", absl::GetFlag(FLAGS_keep));
  if (!folder.ok()) {
    std::fprintf(stderr, "cannot create a temporary folder\n");
    return 2;
  }
  const std::string& dir = folder.path();
  log::SetLevel("warn");

  std::printf("== machine\n  %s\n  %s\n", Machine().c_str(),
              absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::Now(), absl::UTCTimeZone()).c_str());
  Verdicts verdicts;

  // (b) and (c) first: they fork, which is only safe while this process has one thread.
  if (run_cost) {
    const int64_t block_cache = absl::GetFlag(FLAGS_block_cache_mib) << 20;
    const int64_t write_buffers =
        (absl::GetFlag(FLAGS_write_buffer_mib) << 20) * kWriteBuffersPerFamily * kColumnFamilies;
    const int64_t budget =
        block_cache + write_buffers + (absl::GetFlag(FLAGS_rss_allowance_mib) << 20);
    std::printf(
        "\n== (b) per-event cost with threads already stored: RouterCore::Apply on RocksDB + "
        "state write, batches of %d, %lld events after %lld warm-up, events on stored threads "
        "uniformly at random\n"
        "  RocksDB: block cache %.0f MiB, write buffers %.0f MiB (%lld MiB x %d x %d column "
        "families); rules %s\n",
        kBatchMax, static_cast<long long>(absl::GetFlag(FLAGS_cost_events)),
        static_cast<long long>(absl::GetFlag(FLAGS_cost_warmup)), Mib(block_cache),
        Mib(write_buffers), static_cast<long long>(absl::GetFlag(FLAGS_write_buffer_mib)),
        kWriteBuffersPerFamily, kColumnFamilies, absl::GetFlag(FLAGS_rules).c_str());
    std::fflush(stdout);
    const int64_t small_threads = absl::GetFlag(FLAGS_small_threads);
    const int64_t large_threads = absl::GetFlag(FLAGS_large_threads);
    const auto [small, large] =
        MeasureCostInChildren(dir, small_threads, large_threads, partitions);
    PrintCost(small, budget);
    PrintCost(large, budget);
    std::error_code ec;
    std::filesystem::remove_all(dir + "/cost-small", ec);
    std::filesystem::remove_all(dir + "/cost-large", ec);
    if (small.ok && large.ok) {
      // The verdict is on CPU time: what an event costs, whatever else the machine runs, and
      // including the flushes and compactions RocksDB does in the background for it (which
      // wall time on two cores could hide).
      const auto cpu_us = [](const CostResult& c) {
        return c.cpu_seconds * 1e6 / static_cast<double>(c.events);
      };
      const auto wall_us = [](const CostResult& c) {
        return c.seconds * 1e6 / static_cast<double>(c.events);
      };
      const double ratio = cpu_us(large) / cpu_us(small);
      // The applying thread's ratio in each pair of turns: how steady the verdict is.
      std::vector<double> turn_ratios;
      for (int i = 0; i < kCostTurns; ++i) {
        if (small.turn_cpu_us[i] > 0) {
          turn_ratios.push_back(large.turn_cpu_us[i] / small.turn_cpu_us[i]);
        }
      }
      std::sort(turn_ratios.begin(), turn_ratios.end());
      if (!turn_ratios.empty()) {
        std::printf("  per pair of turns (applying thread): ratio %.2f to %.2f, median %.2f\n",
                    turn_ratios.front(), turn_ratios.back(), turn_ratios[turn_ratios.size() / 2]);
      }
      verdicts.Add(fmt::format("cost({}) / cost({}) <= 1.5", large_threads, small_threads),
                   ratio <= 1.5,
                   fmt::format("{:.2f} ({:.1f} vs {:.1f} CPU-us/event; wall {:.1f} vs {:.1f} "
                               "us/event, ratio {:.2f})",
                               ratio, cpu_us(large), cpu_us(small), wall_us(large), wall_us(small),
                               wall_us(large) / wall_us(small)));
      // Two conditions: each case stays within the caches it was given (plus a fixed
      // allowance), and 100x the threads adds at most the allowance on top of the small case,
      // far below the 1M threads' state (the SST size), so memory follows the caches and not the
      // number of threads.
      const int64_t allowance = absl::GetFlag(FLAGS_rss_allowance_mib) << 20;
      std::printf(
          "\n== (c) resident memory: growth from before opening the store to the end of the "
          "measurement; PASS when each case grows by at most block cache + write buffers + %lld "
          "MiB = %.0f MiB, and the %lld-thread case by at most %lld MiB more than the %lld-thread "
          "case\n",
          static_cast<long long>(absl::GetFlag(FLAGS_rss_allowance_mib)), Mib(budget),
          static_cast<long long>(large_threads),
          static_cast<long long>(absl::GetFlag(FLAGS_rss_allowance_mib)),
          static_cast<long long>(small_threads));
      const int64_t grow_small = small.rss_end - small.rss_baseline;
      const int64_t grow_large = large.rss_end - large.rss_baseline;
      verdicts.Add(
          "RSS bounded by the configured caches, not by threads",
          grow_small <= budget && grow_large <= budget && grow_large <= grow_small + allowance,
          fmt::format("+{:.1f} MiB with {} threads, +{:.1f} MiB with {} threads (their "
                      "state: SST {:.0f} MiB); caches {:.0f} MiB + {:.0f} MiB allowance",
                      Mib(grow_small), small_threads, Mib(grow_large), large_threads,
                      Mib(large.sst_bytes), Mib(budget - allowance), Mib(allowance)));
    } else {
      verdicts.Add("per-event cost", false, "a case did not complete");
    }
  }

  if (run_kafka) {
    const int64_t n = absl::GetFlag(FLAGS_events);
    const absl::Duration timeout = absl::GetFlag(FLAGS_phase_timeout);
    std::vector<std::string> topics = kafka::StandardTopics();
    topics.push_back(kPassThroughTopic);
    for (const char* mode : {"as-is", "nodelay"}) {
      topics.push_back(BenchRouterGroup(mode) + ".state.v1");
    }
    std::string error;
    auto broker = BenchKafka::Start(partitions, topics, absl::GetFlag(FLAGS_bootstrap), &error);
    if (broker == nullptr) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 2;
    }
    const bool real = broker->real();
    const std::string bootstrap = broker->bootstrap();
    std::printf(
        "\n== (a) routed events/s from a pre-filled earshot.events.v1 (%lld records, %lld "
        "threads, %d partitions, %s %s), against a pass-through\n",
        static_cast<long long>(n), static_cast<long long>(absl::GetFlag(FLAGS_threads)), partitions,
        broker->name().c_str(), bootstrap.c_str());
    std::fflush(stdout);
    const absl::Time fill_start = absl::Now();
    int64_t dups = 0;
    int64_t bytes = 0;
    if (auto st = Prefill(bootstrap, n, absl::GetFlag(FLAGS_threads), &dups, &bytes); !st.ok()) {
      std::fprintf(stderr, "prefill: %s\n", st.ToString().c_str());
      return 2;
    }
    std::printf(
        "  pre-filled in %.1f s: %lld records of %lld bytes on average (key, value, "
        "headers), %lld of them redeliveries\n",
        absl::ToDoubleSeconds(absl::Now() - fill_start), static_cast<long long>(n),
        static_cast<long long>(bytes / std::max<int64_t>(1, n)), static_cast<long long>(dups));
    std::fflush(stdout);
    if (const TopicCount c = CountTopic(bootstrap, "earshot.events.v1", partitions);
        c.written != n || c.dropped != 0) {
      std::fprintf(stderr,
                   "the embedded broker holds %lld of the %lld records: librdkafka's mock broker "
                   "keeps the last 5 MiB of each partition; raise --partitions or lower --events\n",
                   static_cast<long long>(c.written - c.dropped), static_cast<long long>(n));
      return 2;
    }

    // One pass-through and one router run per broker mode, in this order: the fixer thread of
    // "nodelay" cannot be undone for connections it has seen.
    std::unique_ptr<BrokerNoDelay> nodelay;
    std::optional<double> verdict_ratio;
    std::string verdict_text;
    bool complete = true;
    // A real broker sets TCP_NODELAY itself: one run, as it is.
    const std::vector<std::string> modes =
        real ? std::vector<std::string>{"as-is"} : absl::GetFlag(FLAGS_broker);
    for (const std::string& mode : modes) {
      if (mode == "nodelay") {
        nodelay =
            std::make_unique<BrokerNoDelay>(std::stoi(bootstrap.substr(bootstrap.rfind(':') + 1)));
      } else if (mode != "as-is") {
        std::fprintf(stderr, "--broker: unknown mode %s\n", mode.c_str());
        return 2;
      }
      std::printf("\n  broker %s:\n", real ? "Apache Kafka, one node on loopback"
                                      : mode == "nodelay"
                                          ? "nodelay (TCP_NODELAY on its sockets, as Kafka)"
                                          : "as-is (librdkafka's mock broker, Nagle on)");
      const TopicCount passed_before = CountTopic(bootstrap, kPassThroughTopic, partitions);
      const TopicCount routed_before = CountTopic(bootstrap, "earshot.routed.v1", partitions);
      auto ceiling = RunPassThrough(bootstrap, partitions, n, timeout);
      if (!ceiling.ok()) {
        std::fprintf(stderr, "pass-through: %s\n", ceiling.status().ToString().c_str());
        return 2;
      }
      std::printf(
          "  pass-through: %10.0f records/s  (%lld records in %.2f s from assignment, %.1f "
          "CPU-us/record)\n",
          ceiling->per_second(), static_cast<long long>(ceiling->records),
          absl::ToDoubleSeconds(ceiling->elapsed),
          ceiling->cpu_seconds * 1e6 / static_cast<double>(std::max<int64_t>(1, ceiling->records)));
      PrintBatches(*ceiling, "produce and acknowledgements");
      std::fflush(stdout);

      auto routed =
          RunRouter(bootstrap, dir + "/" + mode, BenchRouterGroup(mode), partitions, n, timeout);
      if (!routed.ok()) {
        std::fprintf(stderr, "router: %s\n", routed.status().ToString().c_str());
        return 2;
      }
      std::printf(
          "  router:       %10.0f events/s   (%lld events in %.2f s from assignment, %.1f "
          "CPU-us/event)\n",
          routed->per_second(), static_cast<long long>(routed->records),
          absl::ToDoubleSeconds(routed->elapsed),
          routed->cpu_seconds * 1e6 / static_cast<double>(std::max<int64_t>(1, routed->records)));
      PrintBatches(*routed, "apply, produce, acknowledgements, state write");
      // What came out: every record once on the pass-through topic; on earshot.routed.v1 every
      // record but the redeliveries (more only if a batch was retried: at-least-once).
      const TopicCount passed = CountTopic(bootstrap, kPassThroughTopic, partitions);
      const TopicCount out = CountTopic(bootstrap, "earshot.routed.v1", partitions);
      std::printf(
          "  check: %lld records written to %s, %lld to earshot.routed.v1 (expected %lld)\n",
          static_cast<long long>(passed.written - passed_before.written), kPassThroughTopic,
          static_cast<long long>(out.written - routed_before.written),
          static_cast<long long>(n - dups));
      const double ratio =
          ceiling->per_second() > 0 ? routed->per_second() / ceiling->per_second() : 0;
      std::printf("  router / pass-through: %.3f\n", ratio);
      std::fflush(stdout);
      verdict_ratio = ratio;
      complete = routed->complete && ceiling->complete;
      verdict_text = fmt::format(
          "{:.3f} (router {:.0f} events/s, pass-through {:.0f} records/s; broker {}{})", ratio,
          routed->per_second(), ceiling->per_second(), mode, complete ? "" : "; INCOMPLETE");
    }
    if (verdict_ratio) {
      verdicts.Add("router / pass-through >= 0.5", *verdict_ratio >= 0.5 && complete, verdict_text);
    }
  }

  if (parts.find("restore") != std::string::npos) {
    if (int code = RunRestore(dir, partitions, verdicts); code != 0) return code;
  }
  if (parts.find("failover") != std::string::npos) {
    if (int code = RunFailover(dir, partitions, verdicts); code != 0) return code;
  }

  verdicts.PrintSummary();
  return verdicts.failed ? 1 : 0;
}

}  // namespace
}  // namespace earshot::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "The router benchmark: routed events/s against a pass-through, per-event cost with 10k and "
      "1M threads stored, resident memory against the configured caches. See bench/README.md.");
  absl::ParseCommandLine(argc, argv);
  // As the earshot binary's main() does (Debian's Abseil leaves it on; bench/README.md, Stream).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return earshot::bench::Main();
}
