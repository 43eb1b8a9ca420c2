// stream_bench: the stream service benchmark of bench/README.md ("Stream"), in one run:
//
//   (a) delivery throughput: `earshot --target=stream` (Process) on an embedded broker holding
//       --records realistic routed events (0.6-1.5 KB: event with text, author and permalink,
//       thread snapshot, routing decision; 4 queues, 6 platforms), written after the stream
//       started, so that its ring holds them all. N = 1, 10, 100 subscribers, each on a
//       connection of its own with a blocking ClientReader on a thread of its own, subscribe
//       from `earliest` with a filter of 2 of the 4 queues (half the records) and read the shared
//       ring (the live path), never Kafka. Counted: routed deliveries while every subscriber is
//       streaming, i.e. from the moment the last one has its start heartbeat until the first one
//       has every match (or --window); in rounds until --window of such time. Subscribing is
//       timed apart. Earshot and the bare server below take turns, --alternations times.
//   (a') the ceiling, in the same run with the same clients: a bare gRPC server (callback API,
//       the same earshot.v1.Stream/Subscribe method, raw ByteBuffers) that replays the exact
//       bytes Earshot delivered (captured from it: start heartbeat, then every match), one write
//       in flight per stream as Earshot, as fast as flow control allows. Prints earshot/bare per
//       N; target: >= 0.70 with 10 subscribers.
//   (b) end-to-end latency: `earshot --target=all` (embedded broker, gateway, router, SLA
//       monitor, stream), one subscriber (latest, routed events). Signed Telegram webhooks
//       (a new chat each) over --connections keep-alive connections: first as fast as they are
//       answered, to find the most deliveries/s the whole pipeline sustains; then half that rate
//       on a fixed schedule for --rate_seconds. For every request, the time from its 2xx answer
//       ("accepted") to its delivery on the subscriber, matched by event_id; target: p99 < 50 ms.
//       Also prints where the time goes: gateway answer, router (to the routed record's Kafka
//       timestamp), stream (from that timestamp to the delivery).
//
//   build/bench/stream_bench [--subscribers=1,10,100] [--window=3s] [--connections=16]
//                            [--rate_seconds=10s] [--parts=throughput,latency]
//                            [--set=key=value,...] [--kafka_properties=name=value,...]
//
// Everything runs on this machine and on loopback, in child processes forked while this one
// has no threads (gRPC is never initialised in the parent): the embedded Kafka-protocol broker
// (librdkafka's mock cluster), the servers under test and their clients share the two cores.
// The mock broker keeps only the last 5 MiB of a partition, so the records of (a) are written
// with zstd (--load_compression; the tail decompresses each once, before anything is measured).
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
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
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
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "earshot/v1/event.pb.h"
#include "earshot/v1/routing.pb.h"
#include "earshot/v1/stream.grpc.pb.h"
#include "fmt/format.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/sync_stream.h"
#include "services/common/base/config.h"
#include "services/common/base/log.h"
#include "services/common/base/strings.h"
#include "services/common/http/client.h"
#include "services/common/kafka/consumer.h"
#include "services/common/kafka/embedded_broker.h"
#include "services/common/kafka/producer.h"
#include "services/earshot/process.h"
#include "services/gateway/gateway_app.h"
#include "services/router/router_app.h"
#include "services/sla/sla_app.h"
#include "services/stream/stream_app.h"

ABSL_FLAG(std::string, bootstrap, "",
          "(a) a real Kafka cluster to run on (its topics are created anew); empty: the embedded "
          "broker (bench/run_stream_bench.sh KAFKA=real starts one)");
ABSL_FLAG(int64_t, records, 110000,
          "(a) routed events in the stream's ring; all must still be in the embedded broker, "
          "which keeps the last 5 MiB of each of the 4 partitions (about 130,000 of these events "
          "with zstd, 20,000 without)");
ABSL_FLAG(std::string, load_compression, "zstd",
          "(a) compression.type of the producer that writes the records (\"\" for none), so that "
          "the broker holds more of them");
ABSL_FLAG(std::string, subscribers, "1,10,100", "(a) numbers of concurrent subscribers");
ABSL_FLAG(absl::Duration, window, absl::Seconds(2),
          "(a) measured time per number of subscribers, server and alternation");
ABSL_FLAG(int, alternations, 3,
          "(a) Earshot, then bare, this many times for each number of subscribers");
ABSL_FLAG(std::string, queues, "care-de,orders",
          "(a) the subscribers' queue filter (of care-de, care-en, orders, social)");
ABSL_FLAG(int64_t, ring_records, 500000, "(a) stream.ring_records");
ABSL_FLAG(int64_t, subscriber_buffer, 500000,
          "(a) stream.subscriber_buffer: at least --records, so that a subscriber that starts at "
          "`earliest` is not ended for being behind");
ABSL_FLAG(bool, mutex_deadlock_detection, false,
          "true: leave Abseil's mutex deadlock detection on, as the library starts it (Debian's "
          "Abseil is built without NDEBUG); false (default): off, as the earshot binary's main() "
          "sets it, in the measuring processes");
ABSL_FLAG(int, connections, 32,
          "(b) keep-alive connections sending webhooks, a thread each (32 reach the most this "
          "machine answers; 64 answer no more)");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "(b) closed-loop warm-up before the max");
ABSL_FLAG(absl::Duration, max_seconds, absl::Seconds(5), "(b) closed loop measured for the max");
ABSL_FLAG(absl::Duration, rate_seconds, absl::Seconds(10), "(b) the scheduled load");
ABSL_FLAG(double, rate, 0, "(b) requests/s of the scheduled load (0: half the measured max)");
ABSL_FLAG(std::string, set, "",
          "config keys of the processes under test to override, key=value[,key=value...], e.g. "
          "stream.fetch_wait=2ms or router.batch_wait=1ms (to find where the time goes)");
ABSL_FLAG(std::string, kafka_properties, "",
          "librdkafka settings for every Kafka client of the processes under test "
          "(kafka.properties), name=value[,...], e.g. fetch.wait.max.ms=5 (the router's and SLA "
          "monitor's consumers; the stream's tail has its own, stream.fetch_wait)");
ABSL_FLAG(std::string, servers, "earshot,bare", "(a) which servers to measure");
ABSL_FLAG(std::string, parts, "throughput,latency", "which parts to run: throughput, latency");
ABSL_FLAG(std::string, tmp, "", "folder for data (default: a new folder under $TMPDIR)");
ABSL_FLAG(bool, keep, false, "keep the temporary folder");

namespace earshot::bench {
namespace {

using earshot::v1::Delivery;
using earshot::v1::RoutedEvent;
using earshot::v1::SubscribeRequest;

constexpr int kPartitions = 4;
constexpr double kTargetRatio = 0.70;  // earshot/bare with 10 subscribers
constexpr double kTargetP99Ms = 50.0;  // end to end at half of the max
constexpr char kRoutedTopic[] = "earshot.routed.v1";
constexpr char kSubscribe[] = "/earshot.v1.Stream/Subscribe";
constexpr char kTelegramToken[] = "bench-telegram-secret";
constexpr char kTelegramBot[] = "7000000001";
constexpr int64_t kChatBase = 100000000;  // chat (and thread) of request i: kChatBase + i

// ---------------------------------------------------------------------------------------------
// Measurements.

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
int64_t WallNs() { return absl::ToUnixNanos(absl::Now()); }

int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// CPU used over an interval: this process, and the rest of the machine ("others").
struct CpuMeter {
  int64_t start_ns = NowNs();
  double proc = CpuSeconds();
  double machine = MachineBusySeconds();
  double Seconds() const { return static_cast<double>(NowNs() - start_ns) / 1e9; }
  double ProcCores() const { return (CpuSeconds() - proc) / Seconds(); }
  double ProcSeconds() const { return CpuSeconds() - proc; }
  double OthersCores() const {
    return std::max(0.0, (MachineBusySeconds() - machine) - (CpuSeconds() - proc)) / Seconds();
  }
};

// Runs `fn` in a child process forked now and returns what it returned (a plain struct with an
// `error` field). Each part starts from a process with no gRPC, Kafka or server threads of an
// earlier part, and gRPC is never initialised in this process (it does not survive a fork).
// The `kafka.properties` map of --kafka_properties, as inline YAML.
std::string KafkaPropertiesYaml() {
  std::string out;
  for (absl::string_view kv :
       absl::StrSplit(absl::GetFlag(FLAGS_kafka_properties), ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    absl::StrAppend(&out, out.empty() ? "" : ", ", p.first, ": \"", p.second, "\"");
  }
  return "{" + out + "}";
}

// The config of a process under test: `yaml`, with the keys of --set overriding it. Nothing else:
// no EARSHOT_* variable of the caller's shell changes what is measured.
absl::StatusOr<Config> ConfigUnderTest(const std::string& yaml) {
  auto config = Config::FromYaml(yaml);
  if (!config.ok()) return config.status();
  std::map<std::string, std::string> overrides;
  for (absl::string_view kv : absl::StrSplit(absl::GetFlag(FLAGS_set), ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    overrides[Config::EnvName(p.first)] = p.second;
  }
  config->set_env_lookup([overrides](const std::string& name) -> std::optional<std::string> {
    auto it = overrides.find(name);
    if (it == overrides.end()) return std::nullopt;
    return it->second;
  });
  return config;
}

// ---------------------------------------------------------------------------------------------
// Realistic routed events for (a).

constexpr std::string_view kSentences[] = {
    "Hallo, meine Bestellung AC-4711203 ist immer noch nicht da. Wo bleibt sie? ",
    "The rain jacket I got is broken, I want a refund. Worst service ever. ",
    "Gibt es die Regenjacke auch in Größe M? Ich würde sie gern bestellen. ",
    "Parcel says delivered but nothing here. Order AC-5512090, please help. ",
    "Ich möchte meinen Vertrag kündigen, wie geht das am schnellsten? ",
    "Is the Alpine 30 backpack back in stock? I want to order two of them. ",
    "Seit zwei Wochen warte ich auf meine Erstattung. Das ist enttäuschend. ",
    "Can I change the delivery address for order AC-3390511 before it ships? ",
    "Der Reißverschluss ist nach drei Tagen gerissen, das kann doch nicht sein. ",
    "Thanks for the quick answer yesterday, the exchange worked perfectly! ",
};
constexpr std::string_view kQueues[] = {"care-de", "care-en", "orders", "social"};
constexpr std::string_view kTags[] = {"complaint",   "question",    "purchase-intent", "vip",
                                      "language:de", "language:en", "order-number"};
constexpr std::string_view kRules[] = {"language-de",     "language-en", "complaints",     "orders",
                                       "purchase-intent", "vip-authors", "social-mentions"};

RoutedEvent MakeRoutedEvent(int64_t i, absl::Time now) {
  const uint64_t h = Mix(static_cast<uint64_t>(i));
  RoutedEvent r;
  auto* e = r.mutable_event();
  auto* t = r.mutable_thread();
  auto* d = r.mutable_decision();
  earshot::v1::Platform platform = earshot::v1::PLATFORM_X;
  std::string account;
  std::string key;
  std::string permalink;
  bool is_public = false;
  switch (i % 6) {
    case 0:
      account = "1500000000000000001";
      key = fmt::format("x:{}:c:{}", account, 1900000000000000000 + i);
      permalink = fmt::format("https://x.com/acme_help/status/{}", 1900000000000000000 + i);
      is_public = true;
      break;
    case 1:
      platform = earshot::v1::PLATFORM_FACEBOOK;
      account = "105550000000001";
      key = fmt::format("fb:{}:c:{}_{}", account, 901234567890123 + i % 97, 1122334455000000 + i);
      permalink = fmt::format("https://www.facebook.com/{}/posts/{}?comment_id={}", account,
                              901234567890123 + i % 97, 1122334455000000 + i);
      is_public = true;
      break;
    case 2:
      platform = earshot::v1::PLATFORM_INSTAGRAM;
      account = "17841400000000001";
      key = fmt::format("ig:{}:c:{}", account, 17900000000000000 + i);
      permalink = fmt::format("https://www.instagram.com/p/C{}x/", 8000000 + i);
      is_public = true;
      break;
    case 3:
      platform = earshot::v1::PLATFORM_MESSENGER;
      account = "105550000000001";
      key = fmt::format("fbm:{}:{}", account, 6000000000000000 + i);
      break;
    case 4:
      platform = earshot::v1::PLATFORM_WHATSAPP;
      account = "410000000000222";
      key = fmt::format("wa:{}:49151{}", account, 10000000 + i);
      break;
    default:
      platform = earshot::v1::PLATFORM_TELEGRAM;
      account = kTelegramBot;
      key = fmt::format("tg:{}:{}", account, 500000000 + i);
      break;
  }
  const std::string_view queue = kQueues[h % std::size(kQueues)];
  const auto priority = (h >> 8) % 10 == 0   ? earshot::v1::PRIORITY_HIGH
                        : (h >> 8) % 10 == 1 ? earshot::v1::PRIORITY_LOW
                                             : earshot::v1::PRIORITY_NORMAL;
  // 1 to 6 sentences: the event's size ranges over about 0.6 to 1.3 KB.
  std::string text;
  const int sentences = 1 + static_cast<int>((h >> 12) % 6);
  for (int s = 0; s < sentences; ++s) {
    text += kSentences[(h >> (16 + 3 * s)) % std::size(kSentences)];
  }
  text.pop_back();
  const bool german = text.find("ich") != std::string::npos || text.find("Hallo") == 0;
  const absl::Time wrote = now - absl::Seconds(static_cast<int64_t>(h % 600));
  const std::string message_id = fmt::format("m{}", 700000000 + i);

  e->set_event_id(fmt::format("{}:{}", key, message_id));
  e->set_platform(platform);
  e->set_account_id(account);
  e->set_thread_key(key);
  e->set_message_id(message_id);
  if (is_public) e->set_parent_id(fmt::format("p{}", 600000000 + i % 97));
  e->set_direction(earshot::v1::DIRECTION_INBOUND);
  e->set_kind(is_public ? earshot::v1::KIND_COMMENT : earshot::v1::KIND_DIRECT_MESSAGE);
  auto* author = e->mutable_author();
  author->set_id(std::to_string(3000000000 + (h >> 20) % 1000000));
  author->set_handle(fmt::format("kunde_{}", (h >> 20) % 1000000));
  author->set_display_name(german ? "Kim Schröder" : "Kim Shaw");
  if (is_public) author->set_follower_count(static_cast<int64_t>((h >> 24) % 5000));
  e->set_text(text);
  e->set_lang(german ? "de" : "en");
  SetTs(wrote, e->mutable_created_at());
  SetTs(wrote + absl::Milliseconds(350), e->mutable_received_at());
  if (!permalink.empty()) e->set_permalink(permalink);
  (*e->mutable_attributes())["request_id"] = fmt::format("req-{:016x}", h);
  if (platform == earshot::v1::PLATFORM_TELEGRAM) {
    (*e->mutable_attributes())["update_id"] = std::to_string(880000000 + i);
  }

  t->set_thread_key(key);
  t->set_platform(platform);
  t->set_account_id(account);
  t->add_participants(author->id());
  SetTs(wrote - absl::Minutes(30), t->mutable_first_seen());
  SetTs(wrote, t->mutable_last_inbound());
  SetTs(wrote - absl::Minutes(25), t->mutable_last_outbound());
  SetTs(wrote, t->mutable_oldest_unanswered());
  t->set_unanswered_count(1);
  t->set_status(earshot::v1::THREAD_STATUS_AWAITING_REPLY);
  t->set_queue(std::string(queue));
  t->set_priority(priority);
  t->set_sla_policy(is_public ? "public" : "private");
  t->set_message_count(static_cast<int64_t>(2 + h % 5));
  auto* pending = t->add_unanswered();
  pending->set_message_id(message_id);
  SetTs(wrote, pending->mutable_at());
  t->set_last_event_id(e->event_id());
  SetTs(wrote + absl::Milliseconds(400), t->mutable_updated_at());
  if (!permalink.empty()) t->set_permalink(permalink);
  size_t cut = std::min<size_t>(text.size(), 120);  // on a UTF-8 character boundary
  while (cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  t->set_excerpt(text.substr(0, cut));
  t->set_lang(e->lang());

  d->set_queue(std::string(queue));
  d->set_priority(priority);
  d->set_sla_policy(t->sla_policy());
  d->set_lang(e->lang());
  const int tags = 1 + static_cast<int>((h >> 40) % 3);
  for (int k = 0; k < tags; ++k) {
    const std::string tag(kTags[(h >> (44 + 3 * k)) % std::size(kTags)]);
    d->add_tags(tag);
    t->add_tags(tag);
  }
  const int rules = 1 + static_cast<int>((h >> 54) % 3);
  for (int k = 0; k < rules; ++k) {
    d->add_rules(std::string(kRules[(h >> (56 + 2 * k)) % std::size(kRules)]));
  }
  d->set_is_question(text.find('?') != std::string::npos);
  d->set_is_complaint(text.find("broken") != std::string::npos ||
                      text.find("enttäuschend") != std::string::npos);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Raw gRPC: subscribers that take deliveries as bytes (so that the client's cost is the
// transport, not a full parse of every event), and the bare server.

enum class Payload { kNone, kRouted, kAlert, kHeartbeat, kBad };

// Which of Delivery's payload fields the message carries: the header fields (cursor, topic,
// partition, offset, written_at) are skipped, the payload is not parsed.
Payload PayloadOf(grpc::ByteBuffer* bytes) {
  grpc::ProtoBufferReader reader(bytes);
  google::protobuf::io::CodedInputStream in(&reader);
  while (const uint32_t tag = in.ReadTag()) {
    switch (tag >> 3) {
      case 6:
        return Payload::kRouted;
      case 7:
        return Payload::kAlert;
      case 8:
        return Payload::kHeartbeat;
      default:
        break;
    }
    if (!google::protobuf::internal::WireFormatLite::SkipField(&in, tag)) return Payload::kBad;
  }
  return Payload::kNone;
}

grpc::ByteBuffer Serialize(const google::protobuf::Message& m) {
  grpc::ByteBuffer out;
  bool own = false;
  (void)grpc::SerializationTraits<google::protobuf::Message>::Serialize(m, &out, &own);
  return out;
}

std::shared_ptr<grpc::Channel> OwnChannel(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> RawSubscribe(
    grpc::Channel* channel, grpc::ClientContext* ctx, const grpc::ByteBuffer& request) {
  static const grpc::internal::RpcMethod method(kSubscribe,
                                                grpc::internal::RpcMethod::SERVER_STREAMING);
  return std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>>(
      grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(channel, method, ctx, request));
}

// One subscriber of (a), on a thread of its own. In each round it subscribes, reads routed
// deliveries until it has every match the ring holds (`expected`) or the round ends, and cancels.
// The counters are read by the main thread while it runs.
class RoundReader {
 public:
  RoundReader(int port, const grpc::ByteBuffer* request, int64_t expected)
      : channel_(OwnChannel(port)), request_(request), expected_(expected) {}
  ~RoundReader() { Join(); }

  bool Connect(absl::Duration timeout) {
    return channel_->WaitForConnected(std::chrono::system_clock::now() +
                                      absl::ToChronoMilliseconds(timeout));
  }
  // Starts a round: subscribes at once.
  void Start() {
    Join();
    {
      absl::MutexLock l(&mu_);
      stop_ = false;
    }
    live_ = false;
    complete_ = false;
    start_wait_ns_ = 0;
    error_.clear();
    thread_ = std::thread([this] { Run(); });
  }
  // Ends the round: wakes a read that waits, then joins.
  void Stop() {
    {
      absl::MutexLock l(&mu_);
      stop_ = true;
      if (ctx_ != nullptr) ctx_->TryCancel();
    }
    Join();
  }
  bool live() const { return live_.load(std::memory_order_acquire); }          // start heartbeat
  bool complete() const { return complete_.load(std::memory_order_acquire); }  // every match
  int64_t routed() const { return routed_.load(std::memory_order_relaxed); }
  int64_t cpu_ns() const { return cpu_ns_.load(std::memory_order_relaxed); }
  int64_t start_wait_ns() const { return start_wait_ns_; }  // subscribe -> start heartbeat
  const std::string& error() const { return error_; }

 private:
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  void Run() {
    grpc::ClientContext ctx;
    {
      absl::MutexLock l(&mu_);
      if (stop_) return;
      ctx_ = &ctx;
    }
    const int64_t subscribed = NowNs();
    auto reader = RawSubscribe(channel_.get(), &ctx, *request_);
    grpc::ByteBuffer bytes;
    int64_t got = 0;
    int64_t cpu_mark = ThreadCpuNs();
    while (got < expected_ && reader->Read(&bytes)) {
      if (!live_.load(std::memory_order_relaxed)) {
        start_wait_ns_ = NowNs() - subscribed;
        live_.store(true, std::memory_order_release);
      }
      if (PayloadOf(&bytes) != Payload::kRouted) continue;
      ++got;
      routed_.fetch_add(1, std::memory_order_relaxed);
      if ((got & 255) == 0) {  // the thread's CPU, for the main thread's snapshots
        const int64_t now = ThreadCpuNs();
        cpu_ns_.fetch_add(now - cpu_mark, std::memory_order_relaxed);
        cpu_mark = now;
      }
    }
    cpu_ns_.fetch_add(ThreadCpuNs() - cpu_mark, std::memory_order_relaxed);
    if (got == expected_) complete_.store(true, std::memory_order_release);
    if (got == expected_) ctx.TryCancel();  // else the stream ended: keep the server's status
    const grpc::Status status = reader->Finish();
    bool stopped;
    {
      absl::MutexLock l(&mu_);
      ctx_ = nullptr;
      stopped = stop_;
    }
    if (got < expected_ && !stopped) {
      error_ = fmt::format("stream ended after {} of {} deliveries: {} {}", got, expected_,
                           static_cast<int>(status.error_code()), status.error_message());
    }
  }

  std::shared_ptr<grpc::Channel> channel_;
  const grpc::ByteBuffer* request_;
  const int64_t expected_;
  std::thread thread_;
  absl::Mutex mu_;
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> live_{false};
  std::atomic<bool> complete_{false};
  std::atomic<int64_t> routed_{0};
  std::atomic<int64_t> cpu_ns_{0};
  // Written by the thread, read after Stop().
  int64_t start_wait_ns_ = 0;
  std::string error_;
};

// The bare server's stream: writes prebuilt messages one at a time (the callback API allows one
// write in flight, as Earshot's Subscription does), then stays open until the client cancels.
class Replay final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit Replay(const std::vector<grpc::ByteBuffer>* messages) : messages_(messages) {
    absl::MutexLock l(&mu_);
    NextLocked();
  }
  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&mu_);
    if (!ok) {
      FinishLocked();
      return;
    }
    NextLocked();
  }
  void OnCancel() override {
    absl::MutexLock l(&mu_);
    FinishLocked();
  }
  void OnDone() override { delete this; }

 private:
  void NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!finished_ && next_ < messages_->size()) StartWrite(&(*messages_)[next_++]);
  }
  void FinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(grpc::Status::CANCELLED);
  }

  const std::vector<grpc::ByteBuffer>* messages_;
  absl::Mutex mu_;
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

class BareStream final
    : public earshot::v1::Stream::WithRawCallbackMethod_Subscribe<earshot::v1::Stream::Service> {
 public:
  explicit BareStream(const std::vector<grpc::ByteBuffer>* messages) : messages_(messages) {}
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Subscribe(grpc::CallbackServerContext*,
                                                        const grpc::ByteBuffer*) override {
    return new Replay(messages_);
  }

 private:
  const std::vector<grpc::ByteBuffer>* messages_;
};

// ---------------------------------------------------------------------------------------------
// (a) Delivery throughput.

constexpr int kMaxCounts = 8;

struct WindowFigures {
  int subscribers = 0;
  int rounds = 0;
  double seconds = 0;  // measured: every subscriber streaming
  int64_t deliveries = 0;
  int64_t errors = 0;
  double client_cores = 0;   // the subscribers' threads
  double server_cores = 0;   // the rest of this process: the server under test, gRPC, Kafka
  double others_cores = 0;   // other processes of the machine
  double start_mean_ms = 0;  // subscribe -> start heartbeat
  double start_max_ms = 0;
  double all_live_max_ms = 0;  // start of a round -> every subscriber has its start heartbeat
  char note[160] = {};
  double rate() const { return seconds > 0 ? static_cast<double>(deliveries) / seconds : 0; }
};

struct ThroughputResult {
  bool ok = false;
  char error[256] = {};
  int counts = 0;
  int64_t matches = 0;
  WindowFigures earshot[kMaxCounts];
  WindowFigures bare[kMaxCounts];
};

std::vector<int> ParseCounts(const std::string& list) {
  std::vector<int> out;
  for (absl::string_view piece : absl::StrSplit(ToAbsl(list), ',', absl::SkipEmpty())) {
    int v = 0;
    if (absl::SimpleAtoi(piece, &v) && v > 0 && out.size() < kMaxCounts) out.push_back(v);
  }
  return out;
}

// Adds the figures of one run to `total` (CPU and subscribe times weighted by measured time and
// subscribes).
void Merge(const WindowFigures& one, WindowFigures* total) {
  const double t = total->seconds + one.seconds;
  if (t > 0) {
    auto mix = [&](double a, double b) { return (a * total->seconds + b * one.seconds) / t; };
    total->client_cores = mix(total->client_cores, one.client_cores);
    total->server_cores = mix(total->server_cores, one.server_cores);
    total->others_cores = mix(total->others_cores, one.others_cores);
  }
  const double starts = total->rounds + one.rounds;
  if (starts > 0) {
    total->start_mean_ms =
        (total->start_mean_ms * total->rounds + one.start_mean_ms * one.rounds) / starts;
  }
  total->subscribers = one.subscribers;
  total->seconds = t;
  total->rounds += one.rounds;
  total->deliveries += one.deliveries;
  total->errors += one.errors;
  total->start_max_ms = std::max(total->start_max_ms, one.start_max_ms);
  total->all_live_max_ms = std::max(total->all_live_max_ms, one.all_live_max_ms);
  if (total->note[0] == 0) std::memcpy(total->note, one.note, sizeof(one.note));
}

// N subscribers of `port`, in rounds: all subscribe; once every one has its start heartbeat,
// the deliveries are counted until the first one has every match (it would stop reading, so
// fewer would be streaming) or --window is used up. Rounds repeat until --window of measured
// time (at most 20). Subscribing is not in the measured time; its cost is printed apart.
WindowFigures RunRounds(int port, int n, const grpc::ByteBuffer& request, int64_t expected,
                        const std::function<void()>& mid_window) {
  WindowFigures f;
  f.subscribers = n;
  std::vector<std::unique_ptr<RoundReader>> readers;
  for (int i = 0; i < n; ++i) {
    readers.push_back(std::make_unique<RoundReader>(port, &request, expected));
    if (!readers.back()->Connect(absl::Seconds(10))) {
      std::snprintf(f.note, sizeof(f.note), "subscriber %d could not connect", i);
      f.errors = 1;
      return f;
    }
  }
  const double window = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_window));
  double client_s = 0;
  double proc_s = 0;
  double others_s = 0;
  double start_sum_ms = 0;
  int64_t starts = 0;
  bool mid_done = !mid_window;
  while (f.seconds < window * 0.99 && f.rounds < 20 && f.errors == 0) {
    ++f.rounds;
    const int64_t round_start = NowNs();
    for (auto& r : readers) r->Start();
    // Every subscriber live (bounded: 60 s).
    while (NowNs() - round_start < int64_t{60} * 1000000000) {
      size_t live = 0;
      for (auto& r : readers) live += r->live() ? 1 : 0;
      if (live == readers.size()) break;
      absl::SleepFor(absl::Microseconds(500));
    }
    f.all_live_max_ms =
        std::max(f.all_live_max_ms, static_cast<double>(NowNs() - round_start) / 1e6);
    std::vector<int64_t> c0(readers.size()), cpu0(readers.size());
    const CpuMeter meter;
    const int64_t t0 = NowNs();
    bool any_complete = false;
    for (size_t i = 0; i < readers.size(); ++i) {
      c0[i] = readers[i]->routed();
      cpu0[i] = readers[i]->cpu_ns();
      any_complete |= readers[i]->complete();
    }
    const bool complete_before_start = any_complete;
    const int64_t deadline = t0 + static_cast<int64_t>((window - f.seconds) * 1e9);
    while (!any_complete && NowNs() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
      for (auto& r : readers) any_complete |= r->complete();
      if (!mid_done && NowNs() > t0 + (deadline - t0) / 3) {
        mid_window();
        mid_done = true;
      }
    }
    const int64_t t1 = NowNs();
    int64_t round_deliveries = 0;
    for (size_t i = 0; i < readers.size(); ++i) {
      round_deliveries += readers[i]->routed() - c0[i];
      client_s += static_cast<double>(readers[i]->cpu_ns() - cpu0[i]) / 1e9;
    }
    proc_s += meter.ProcSeconds();
    others_s += meter.OthersCores() * meter.Seconds();
    f.deliveries += round_deliveries;
    f.seconds += static_cast<double>(t1 - t0) / 1e9;
    for (auto& r : readers) {
      r->Stop();
      if (r->live()) {
        start_sum_ms += static_cast<double>(r->start_wait_ns()) / 1e6;
        f.start_max_ms = std::max(f.start_max_ms, static_cast<double>(r->start_wait_ns()) / 1e6);
        ++starts;
      }
      if (!r->error().empty()) {
        ++f.errors;
        if (f.note[0] == 0) std::snprintf(f.note, sizeof(f.note), "%s", r->error().c_str());
      }
    }
    if (complete_before_start && f.errors == 0) {
      std::snprintf(f.note, sizeof(f.note),
                    "a subscriber had every match before the others were live: more --records");
      f.errors = 1;
    }
  }
  f.start_mean_ms = starts > 0 ? start_sum_ms / static_cast<double>(starts) : 0;
  if (f.seconds > 0) {
    f.client_cores = client_s / f.seconds;
    f.server_cores = std::max(0.0, proc_s - client_s) / f.seconds;
    f.others_cores = others_s / f.seconds;
  }
  return f;
}

ThroughputResult Throughput(const std::string& dir) {
  ThroughputResult r;
  auto fail = [&r](const std::string& what) {
    std::snprintf(r.error, sizeof(r.error), "%s", what.c_str());
    std::printf("  %s\n", what.c_str());
    std::fflush(stdout);
    return r;
  };
  const int64_t records = absl::GetFlag(FLAGS_records);
  const std::vector<int> counts = ParseCounts(absl::GetFlag(FLAGS_subscribers));
  std::set<std::string> queues;
  for (absl::string_view q : absl::StrSplit(absl::GetFlag(FLAGS_queues), ',', absl::SkipEmpty())) {
    queues.insert(std::string(q));
  }

  std::string error;
  auto broker = BenchKafka::Start(kPartitions, kafka::StandardTopics(),
                                  absl::GetFlag(FLAGS_bootstrap), &error);
  if (broker == nullptr) return fail(error);
  const std::string bootstrap = broker->bootstrap();
  auto config = ConfigUnderTest(
      fmt::format("kafka: {{bootstrap: \"{}\", properties: {}}}\n"
                  "grpc: {{addr: \"127.0.0.1:0\"}}\n"
                  "admin: {{addr: \"127.0.0.1:0\"}}\n"
                  "stream: {{ring_records: {}, subscriber_buffer: {}}}\n",
                  bootstrap, KafkaPropertiesYaml(), absl::GetFlag(FLAGS_ring_records),
                  absl::GetFlag(FLAGS_subscriber_buffer)));
  if (!config.ok()) return fail(config.status().ToString());
  ProcessOptions options;
  options.target = "stream";
  options.data_dir = dir + "/stream";
  Process process(options, std::move(*config));
  if (auto st = process.Start(); !st.ok()) return fail("process: " + st.ToString());
  auto* stream = static_cast<stream::StreamApp*>(process.service("stream"));
  const absl::Time ready_by = absl::Now() + absl::Seconds(30);
  while (!process.Ready() && absl::Now() < ready_by) absl::SleepFor(absl::Milliseconds(20));
  if (!process.Ready()) return fail("the stream process did not become ready within 30 s");

  // The records, written after the stream started: its tail reads them all into the ring.
  const absl::Time produce_start = absl::Now();
  int64_t matching = 0;
  int64_t bytes = 0;
  size_t min_size = SIZE_MAX;
  size_t max_size = 0;
  {
    kafka::ProducerOptions po;
    po.bootstrap = bootstrap;
    po.client_id = "stream-bench-load";
    if (!absl::GetFlag(FLAGS_load_compression).empty()) {
      // Only how the broker stores the input: the tail decompresses each record once, before
      // anything is measured. Lets the broker's 5 MiB a partition hold more records.
      po.extra["compression.type"] = absl::GetFlag(FLAGS_load_compression);
      po.extra["batch.size"] = "4000000";
      po.linger = absl::Milliseconds(20);
    }
    auto producer = kafka::Producer::Create(po, nullptr);
    if (!producer.ok()) return fail(producer.status().ToString());
    const absl::Time now = absl::Now();
    for (int64_t i = 0; i < records;) {
      std::vector<kafka::Record> batch;
      for (int k = 0; k < 1000 && i < records; ++k, ++i) {
        const RoutedEvent ev = MakeRoutedEvent(i, now);
        kafka::Record rec{kRoutedTopic, ev.event().thread_key(), ev.SerializeAsString(), {}};
        matching += queues.contains(ev.decision().queue()) ? 1 : 0;
        bytes += static_cast<int64_t>(rec.value.size());
        min_size = std::min(min_size, rec.value.size());
        max_size = std::max(max_size, rec.value.size());
        batch.push_back(std::move(rec));
      }
      absl::Notification done;
      absl::Status status;
      (*producer)->ProduceBatch(std::move(batch), [&](absl::Status st) {
        status = std::move(st);
        done.Notify();
      });
      done.WaitForNotification();
      if (!status.ok()) return fail("produce: " + status.ToString());
    }
  }
  const double produce_s = absl::ToDoubleSeconds(absl::Now() - produce_start);
  const absl::Time ring_by = absl::Now() + absl::Seconds(60);
  while (stream->ring_head() < static_cast<uint64_t>(records) && absl::Now() < ring_by) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const double ring_s = absl::ToDoubleSeconds(absl::Now() - produce_start);
  std::printf(
      "  %lld routed events written (%.1f s; %zu to %zu bytes, mean %.0f), %lld match the filter "
      "queues=[%s]; the stream's ring holds %llu records after %.1f s\n",
      static_cast<long long>(records), produce_s, min_size, max_size,
      static_cast<double>(bytes) / static_cast<double>(records), static_cast<long long>(matching),
      absl::GetFlag(FLAGS_queues).c_str(), static_cast<unsigned long long>(stream->ring_head()),
      ring_s);
  std::fflush(stdout);
  if (stream->ring_head() != static_cast<uint64_t>(records)) {
    return fail("the stream's ring does not hold every record written");
  }
  // `earliest` is the broker's low watermark: every record must still be there.
  {
    kafka::ConsumerOptions co;
    co.bootstrap = bootstrap;
    co.group_id = "stream-bench-watermarks";
    auto consumer = kafka::Consumer::Create(co);
    if (!consumer.ok()) return fail(consumer.status().ToString());
    int64_t held = 0;
    std::string per_partition;
    for (int p = 0; p < kPartitions; ++p) {
      auto wm = (*consumer)->Watermarks(kRoutedTopic, p, absl::Seconds(5));
      if (!wm.ok()) return fail(wm.status().ToString());
      if (wm->first != 0) {
        return fail(fmt::format(
            "the embedded broker dropped the first {} records of partition {} (it keeps 5 MiB a "
            "partition): lower --records",
            wm->first, p));
      }
      held += wm->second;
      per_partition += fmt::format("{}{}", p == 0 ? "" : "/", wm->second);
    }
    if (held != records) return fail("the broker holds a different number of records");
    std::printf("  the broker holds all of them (%s a partition, low watermarks 0)\n",
                per_partition.c_str());
  }

  SubscribeRequest request;
  request.add_topics(earshot::v1::STREAM_TOPIC_ROUTED);
  for (const auto& q : queues) request.mutable_filter()->add_queues(q);
  request.set_earliest(true);
  request.set_client_name("stream-bench");
  const grpc::ByteBuffer request_bytes = Serialize(request);

  // One subscriber first, on its own: checks what Earshot delivers and keeps the bytes for the
  // bare server. The service logs where the subscriber starts ("from":"ring").
  std::vector<grpc::ByteBuffer> captured;
  {
    auto channel = OwnChannel(process.grpc_port());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    log::SetLevel("info");
    auto reader = RawSubscribe(channel.get(), &ctx, request_bytes);
    grpc::ByteBuffer b;
    int64_t routed = 0;
    int64_t delivery_bytes = 0;
    std::map<int, int64_t> last_offset;
    std::string problem;
    while (routed < matching && reader->Read(&b)) {
      if (captured.empty()) log::SetLevel("warn");
      grpc::ByteBuffer copy(b);
      const Payload payload = PayloadOf(&copy);
      captured.push_back(b);
      if (payload == Payload::kHeartbeat) continue;
      if (payload != Payload::kRouted) {
        problem = "a delivery that is neither a heartbeat nor a routed event";
        break;
      }
      ++routed;
      delivery_bytes += static_cast<int64_t>(b.Length());
      Delivery d;
      grpc::ByteBuffer parse(b);
      if (!grpc::SerializationTraits<Delivery>::Deserialize(&parse, &d).ok() ||
          d.cursor().empty() || !queues.contains(d.routed().decision().queue())) {
        problem = "a delivery that does not parse, has no cursor or does not match the filter";
        break;
      }
      auto [it, first] = last_offset.emplace(d.partition(), d.offset());
      if (!first && d.offset() <= it->second) {
        problem = "offsets out of order within a partition";
        break;
      }
      it->second = d.offset();
    }
    log::SetLevel("warn");
    if (routed == matching && problem.empty()) ctx.TryCancel();  // else: the server's status
    const grpc::Status status = reader->Finish();
    if (!problem.empty()) return fail("Earshot's deliveries: " + problem);
    if (routed != matching) {
      return fail(fmt::format(
          "one subscriber got {} of the {} matching records; the stream "
          "ended with {} {}",
          routed, matching, static_cast<int>(status.error_code()), status.error_message()));
    }
    if (captured.front().Length() == 0 || captured.size() != static_cast<size_t>(matching) + 1) {
      return fail("unexpected start of the stream (no start heartbeat)");
    }
    std::printf(
        "  check: one subscriber from `earliest` got all %lld matches (start heartbeat, offsets in "
        "order per partition, each with a cursor); a delivery is %.0f bytes on average\n",
        static_cast<long long>(routed),
        static_cast<double>(delivery_bytes) / static_cast<double>(routed));
    std::fflush(stdout);
  }

  // The bare server, on its own port, with the same builder settings as Process.
  BareStream bare_service(&captured);
  int bare_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &bare_port);
  builder.SetMaxReceiveMessageSize(16 << 20);
  builder.RegisterService(&bare_service);
  std::unique_ptr<grpc::Server> bare = builder.BuildAndStart();
  if (bare == nullptr) return fail("cannot start the bare gRPC server");

  const int admin_port = process.admin_port();
  auto stream_counter = [admin_port](std::string_view name) {
    return std::max(0.0, MetricValue(Scrape(admin_port), name));
  };
  std::printf("\n  %-11s | %-16s | %-16s | %-7s | %s\n", "subscribers", "earshot deliv./s",
              "bare deliv./s", "ratio",
              "CPU cores earshot / bare: server, subscribers, other processes");
  std::fflush(stdout);
  for (int n : counts) {
    WindowFigures& e = r.earshot[r.counts];
    WindowFigures& b = r.bare[r.counts];
    const double slow_before = stream_counter("earshot_stream_slow_disconnects_total");
    double catching_up = -1;
    double connected = -1;
    const std::string servers = absl::GetFlag(FLAGS_servers);
    // Earshot and bare alternate, so that other work on the machine weighs on both alike.
    std::string ratios;
    for (int k = 0; k < absl::GetFlag(FLAGS_alternations); ++k) {
      WindowFigures ek, bk;
      if (servers.find("earshot") != std::string::npos) {
        ek = RunRounds(process.grpc_port(), n, request_bytes, matching, [&] {
          const std::string m = Scrape(admin_port);
          catching_up =
              std::max(catching_up, MetricValue(m, "earshot_stream_catching_up_subscribers"));
          connected = MetricValue(m, "earshot_stream_subscribers");
        });
        Merge(ek, &e);
      }
      absl::SleepFor(absl::Milliseconds(300));
      if (servers.find("bare") != std::string::npos) {
        bk = RunRounds(bare_port, n, request_bytes, matching, nullptr);
        Merge(bk, &b);
      }
      absl::SleepFor(absl::Milliseconds(300));
      absl::StrAppend(&ratios, k == 0 ? "" : ", ",
                      fmt::format("{:.3f}", bk.rate() > 0 ? ek.rate() / bk.rate() : 0));
    }
    const double slow = stream_counter("earshot_stream_slow_disconnects_total") - slow_before;
    if (e.rounds > 0 && e.note[0] == 0 && (catching_up != 0 || slow != 0)) {
      std::snprintf(e.note, sizeof(e.note),
                    "%.0f subscribers read from Kafka mid-window, %.0f ended for being slow",
                    catching_up, slow);
      e.errors += 1;
    }
    ++r.counts;
    std::printf("  %11d | %16.0f | %16.0f | %7.3f | %.2f, %.2f, %.2f / %.2f, %.2f, %.2f\n", n,
                e.rate(), b.rate(), b.rate() > 0 ? e.rate() / b.rate() : 0, e.server_cores,
                e.client_cores, e.others_cores, b.server_cores, b.client_cores, b.others_cores);
    std::printf(
        "  %11s   measured %.2f / %.2f s in %d / %d rounds; subscribe -> start heartbeat mean "
        "%.1f / %.1f ms, max %.1f / %.1f ms, all %d live after %.0f / %.0f ms at worst; "
        "mid-window: %.0f connected to Earshot, %.0f reading from Kafka; ratio per "
        "alternation: %s\n",
        "", e.seconds, b.seconds, e.rounds, b.rounds, e.start_mean_ms, b.start_mean_ms,
        e.start_max_ms, b.start_max_ms, n, e.all_live_max_ms, b.all_live_max_ms, connected,
        catching_up, ratios.c_str());
    for (const WindowFigures* f : {&e, &b}) {
      if (f->errors > 0) {
        std::printf("  %11s   %s: %lld errors: %s\n", "", f == &e ? "earshot" : "bare",
                    static_cast<long long>(f->errors), f->note);
      }
    }
    std::fflush(stdout);
    absl::SleepFor(absl::Milliseconds(300));
  }
  bare->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  process.Stop();
  r.matches = matching;
  r.ok = true;
  for (int i = 0; i < r.counts; ++i) r.ok &= r.earshot[i].errors == 0 && r.bare[i].errors == 0;
  if (!r.ok) std::snprintf(r.error, sizeof(r.error), "some subscribers failed (see above)");
  return r;
}

// ---------------------------------------------------------------------------------------------
// (b) End-to-end latency.

// A Telegram private message; request i is chat kChatBase + i (a thread of its own).
std::string TelegramMessage(int64_t i) {
  return TelegramUpdate(500000000 + i, kChatBase + i, i + 1);
}

// Request index of an event id "tg:<bot>:<chat>:<message_id>", or -1.
int64_t RequestOf(const std::string& event_id) {
  int64_t chat = 0, message = 0;
  if (!TelegramEventIds(event_id, &chat, &message) || chat < kChatBase) return -1;
  return chat - kChatBase;
}

// The one subscriber of (b): every routed delivery, with when it arrived.
class E2eSubscriber {
 public:
  struct Arrival {
    int64_t request = -1;
    int64_t arrived_ns = 0;   // wall clock
    int64_t written_ms = 0;   // the routed record's Kafka timestamp (router's produce call)
    int64_t received_ns = 0;  // Event.received_at (the gateway)
  };

  explicit E2eSubscriber(int port) : channel_(OwnChannel(port)) {
    stub_ = earshot::v1::Stream::NewStub(channel_);
    SubscribeRequest request;
    request.add_topics(earshot::v1::STREAM_TOPIC_ROUTED);
    request.set_latest(true);
    request.set_client_name("stream-bench-e2e");
    reader_ = stub_->Subscribe(&ctx_, request);
    thread_ = std::thread([this] { Run(); });
  }
  ~E2eSubscriber() {
    ctx_.TryCancel();
    if (thread_.joinable()) thread_.join();
  }
  bool WaitLive(absl::Duration timeout) {
    absl::MutexLock l(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&live_), timeout);
  }
  int64_t routed() const { return routed_.load(); }
  std::vector<Arrival> arrivals() {
    absl::MutexLock l(&mu_);
    return arrivals_;
  }

 private:
  void Run() {
    Delivery d;
    while (reader_->Read(&d)) {
      const int64_t now = WallNs();
      absl::MutexLock l(&mu_);
      live_ = true;
      if (!d.has_routed()) continue;
      const auto& rt = d.routed().event().received_at();
      arrivals_.push_back({RequestOf(d.routed().event().event_id()), now,
                           d.written_at().seconds() * 1000 + d.written_at().nanos() / 1000000,
                           rt.seconds() * 1000000000 + rt.nanos()});
      ++routed_;
    }
    reader_->Finish();
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<earshot::v1::Stream::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<Delivery>> reader_;
  std::thread thread_;
  std::atomic<int64_t> routed_{0};
  absl::Mutex mu_;
  bool live_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Arrival> arrivals_ ABSL_GUARDED_BY(mu_);
};

struct LatencyResult {
  bool ok = false;
  char error[256] = {};
  // The max: closed loop.
  double max_rate = 0;         // routed deliveries/s at the subscriber
  double max_accept_rate = 0;  // 2xx answers/s
  double max_answer_p99_ms = 0;
  int64_t max_errors = 0;
  double max_cpu = 0, max_others = 0;
  double drain_s = 0;
  // The scheduled load.
  double rate = 0;
  int64_t scheduled = 0, accepted = 0, errors = 0, matched = 0, negative = 0;
  double behind_max_ms = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;  // ms, accepted -> delivered
  double cpu = 0, others = 0, load = 0;
};

LatencyResult EndToEnd(const std::string& dir) {
  LatencyResult r;
  auto fail = [&r](const std::string& what) {
    std::snprintf(r.error, sizeof(r.error), "%s", what.c_str());
    std::printf("  %s\n", what.c_str());
    std::fflush(stdout);
    return r;
  };
  const std::string source = EARSHOT_SOURCE_DIR;
  const std::string yaml = absl::StrCat(R"(
http: {addr: "127.0.0.1:0", threads: 2}
grpc: {addr: "127.0.0.1:0"}
admin: {addr: "127.0.0.1:0"}
kafka:
  bootstrap: ""
  embedded: {brokers: 1, partitions: 4}
  properties: )",
                                        KafkaPropertiesYaml(), R"(
x: {consumer_secret: bench-x-secret}
meta: {app_secret: bench-meta-secret, verify_token: bench-verify}
telegram: {secret_token: )",
                                        kTelegramToken, R"(, bot_id: ")", kTelegramBot, R"("}
generic: {sources: {reviews: {secret: whsec_YmVuY2gtZ2VuZXJpYy1zZWNyZXQ=}}}
router: {rules_file: ")",
                                        source, R"(/config/rules.example.yaml"}
sla: {policies_file: ")",
                                        source, R"(/config/sla.example.yaml"}
)");
  auto config = ConfigUnderTest(yaml);
  if (!config.ok()) return fail(config.status().ToString());
  ProcessOptions options;
  options.target = "all";
  options.data_dir = dir + "/all";
  Process process(options, std::move(*config));
  if (auto st = process.Start(); !st.ok()) return fail("process: " + st.ToString());
  const int http_port = static_cast<gateway::GatewayApp*>(process.service("gateway"))->http_port();
  auto* router = static_cast<router::RouterApp*>(process.service("router"));
  auto* sla = static_cast<sla::SlaApp*>(process.service("sla"));
  const absl::Time ready_by = absl::Now() + absl::Seconds(60);
  while (absl::Now() < ready_by &&
         !(process.Ready() && router->OwnedPartitions().size() == kPartitions &&
           sla->OwnedPartitions().size() == kPartitions)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (router->OwnedPartitions().size() != kPartitions) {
    return fail("the router did not get its partitions within 60 s");
  }
  E2eSubscriber subscriber(process.grpc_port());
  if (!subscriber.WaitLive(absl::Seconds(10))) return fail("the subscriber did not start");

  const int connections = absl::GetFlag(FLAGS_connections);
  std::atomic<int64_t> next_request{0};
  std::atomic<int64_t> accepted_total{0};
  std::atomic<int64_t> errors_total{0};
  auto post = [&](http::Client& client, int64_t i) -> bool {
    auto resp = client.Send("POST", "/webhooks/telegram", TelegramMessage(i),
                            {{"Content-Type", "application/json"},
                             {"X-Telegram-Bot-Api-Secret-Token", kTelegramToken}});
    const bool ok = resp.ok() && resp->status / 100 == 2;
    (ok ? accepted_total : errors_total)++;
    return ok;
  };
  std::vector<std::unique_ptr<http::Client>> clients;
  for (int c = 0; c < connections; ++c) {
    clients.push_back(std::make_unique<http::Client>("127.0.0.1", http_port, absl::Seconds(10)));
  }
  auto wait_delivered = [&](absl::Duration timeout) {
    const absl::Time start = absl::Now();
    while (subscriber.routed() < accepted_total.load() && absl::Now() < start + timeout) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    return absl::ToDoubleSeconds(absl::Now() - start);
  };

  // The max: every connection sends its next request when the answer arrives.
  {
    const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
    const absl::Duration measured = absl::GetFlag(FLAGS_max_seconds);
    std::atomic<bool> stop{false};
    std::vector<std::vector<double>> answer_ms(static_cast<size_t>(connections));
    const int64_t t0 = WallNs();
    const int64_t from = t0 + absl::ToInt64Nanoseconds(warmup);
    const int64_t to = from + absl::ToInt64Nanoseconds(measured);
    std::vector<std::thread> threads;
    std::atomic<int64_t> accepted_in_window{0};
    for (int c = 0; c < connections; ++c) {
      threads.emplace_back([&, c] {
        while (!stop.load()) {
          const int64_t sent = WallNs();
          const bool ok = post(*clients[static_cast<size_t>(c)], next_request++);
          const int64_t done = WallNs();
          if (ok && sent >= from && done < to) {
            accepted_in_window++;
            answer_ms[static_cast<size_t>(c)].push_back(static_cast<double>(done - sent) / 1e6);
          }
        }
      });
    }
    absl::SleepFor(warmup);
    const CpuMeter cpu;
    absl::SleepFor(measured);
    r.max_cpu = cpu.ProcCores();
    r.max_others = cpu.OthersCores();
    stop = true;
    for (auto& t : threads) t.join();
    r.drain_s = wait_delivered(absl::Seconds(60));
    int64_t delivered = 0;
    for (const auto& a : subscriber.arrivals())
      delivered += a.arrived_ns >= from && a.arrived_ns < to;
    std::vector<double> all;
    for (auto& v : answer_ms) all.insert(all.end(), v.begin(), v.end());
    const double secs = absl::ToDoubleSeconds(measured);
    r.max_rate = static_cast<double>(delivered) / secs;
    r.max_accept_rate = static_cast<double>(accepted_in_window.load()) / secs;
    r.max_answer_p99_ms = Percentile(all, 0.99);
    r.max_errors = errors_total.load();
    std::printf(
        "  max: %d connections, closed loop, %s warm-up, %s measured: %.0f deliveries/s at the "
        "subscriber, %.0f requests/s answered 2xx (answer p99 %.1f ms), %lld errors; CPU: this "
        "process %.2f cores, other processes %.2f\n"
        "       after the load, %.2f s until every accepted event was delivered (%lld of %lld)\n",
        connections, absl::FormatDuration(warmup).c_str(), absl::FormatDuration(measured).c_str(),
        r.max_rate, r.max_accept_rate, r.max_answer_p99_ms, static_cast<long long>(r.max_errors),
        r.max_cpu, r.max_others, r.drain_s, static_cast<long long>(subscriber.routed()),
        static_cast<long long>(accepted_total.load()));
    std::fflush(stdout);
    if (subscriber.routed() < accepted_total.load()) {
      return fail("not every accepted event was delivered after the max");
    }
  }
  absl::SleepFor(absl::Seconds(1));

  // Half the max on a fixed schedule.
  r.rate = absl::GetFlag(FLAGS_rate) > 0 ? absl::GetFlag(FLAGS_rate) : r.max_rate / 2;
  const absl::Duration duration = absl::GetFlag(FLAGS_rate_seconds);
  r.scheduled = static_cast<int64_t>(r.rate * absl::ToDoubleSeconds(duration));
  if (r.scheduled <= 0) return fail("no rate to run at");
  const int64_t first = next_request.load();
  std::vector<int64_t> sent_ns(static_cast<size_t>(r.scheduled), 0);
  std::vector<int64_t> accepted_ns(static_cast<size_t>(r.scheduled), 0);
  std::vector<int64_t> behind_ns(static_cast<size_t>(connections), 0);
  const std::string metrics_before = Scrape(process.admin_port());
  const int64_t errors_before = errors_total.load();
  const double load_before = LoadAverage();
  CpuMeter cpu;
  const int64_t t0 = WallNs() + 20000000;  // 20 ms for the threads to start
  {
    std::vector<std::thread> threads;
    for (int c = 0; c < connections; ++c) {
      threads.emplace_back([&, c] {
        for (int64_t k = c; k < r.scheduled; k += connections) {
          const int64_t at = t0 + static_cast<int64_t>(static_cast<double>(k) * 1e9 / r.rate);
          const int64_t now = WallNs();
          if (now < at) {
            absl::SleepFor(absl::Nanoseconds(at - now));
          } else {
            behind_ns[static_cast<size_t>(c)] =
                std::max(behind_ns[static_cast<size_t>(c)], now - at);
          }
          sent_ns[static_cast<size_t>(k)] = WallNs();
          if (post(*clients[static_cast<size_t>(c)], first + k)) {
            accepted_ns[static_cast<size_t>(k)] = WallNs();
          }
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  const double send_s = static_cast<double>(WallNs() - t0) / 1e9;
  wait_delivered(absl::Seconds(30));
  r.cpu = cpu.ProcCores();
  r.others = cpu.OthersCores();
  r.load = std::max(load_before, LoadAverage());
  const std::string metrics_after = Scrape(process.admin_port());
  r.errors = errors_total.load() - errors_before;
  for (int64_t b : behind_ns)
    r.behind_max_ms = std::max(r.behind_max_ms, static_cast<double>(b) / 1e6);

  // Match deliveries to requests.
  std::vector<double> e2e, answer, router_ms, stream_ms, gateway_ms;
  std::vector<bool> seen(static_cast<size_t>(r.scheduled), false);
  for (const auto& a : subscriber.arrivals()) {
    const int64_t k = a.request - first;
    if (k < 0 || k >= r.scheduled || seen[static_cast<size_t>(k)]) continue;
    seen[static_cast<size_t>(k)] = true;
    const int64_t acc = accepted_ns[static_cast<size_t>(k)];
    if (acc == 0) continue;
    ++r.matched;
    int64_t lat = a.arrived_ns - acc;
    if (lat < 0) {
      ++r.negative;
      lat = 0;
    }
    e2e.push_back(static_cast<double>(lat) / 1e6);
    answer.push_back(static_cast<double>(acc - sent_ns[static_cast<size_t>(k)]) / 1e6);
    gateway_ms.push_back(static_cast<double>(acc - a.received_ns) / 1e6);
    router_ms.push_back(static_cast<double>(a.written_ms * 1000000 - acc) / 1e6);
    stream_ms.push_back(static_cast<double>(a.arrived_ns - a.written_ms * 1000000) / 1e6);
  }
  for (int64_t acc : accepted_ns) r.accepted += acc != 0;
  r.p50 = Percentile(e2e, 0.50);
  r.p90 = Percentile(e2e, 0.90);
  r.p99 = Percentile(e2e, 0.99);
  r.p999 = Percentile(e2e, 0.999);
  r.max = e2e.empty() ? 0 : e2e.back();

  auto mean_ms = [&](const std::string& name) {
    const double c = MetricValue(metrics_after, name + "_count") -
                     std::max(0.0, MetricValue(metrics_before, name + "_count"));
    const double s = MetricValue(metrics_after, name + "_sum") -
                     std::max(0.0, MetricValue(metrics_before, name + "_sum"));
    return c > 0 ? 1e3 * s / c : -1;
  };
  std::printf(
      "  scheduled: %.0f requests/s for %s over %d connections (sent in %.2f s, at worst %.1f ms "
      "behind schedule): %lld scheduled, %lld accepted, %lld errors, %lld delivered and matched "
      "by event_id (%lld before their answer arrived, counted as 0)\n"
      "  accepted -> delivered: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, p99.9 %.1f ms, max %.1f ms\n"
      "  where the time goes (p50 / p99, ms):\n"
      "    client: sent -> 2xx answer                          %6.1f / %6.1f\n"
      "    gateway: received_at -> answer at the client        %6.1f / %6.1f\n"
      "    router: answer -> routed record's Kafka timestamp   %6.1f / %6.1f  (ms resolution; "
      "negative: routed before the client had its answer)\n"
      "    stream: that timestamp -> delivery at the client    %6.1f / %6.1f\n"
      "  means from the process's metrics (ms): gateway Kafka ack %.2f, router batch %.2f, router "
      "Kafka ack %.2f, stream record time -> delivery %.2f\n"
      "  CPU: this process %.2f cores, other processes %.2f; load average %.2f\n",
      r.rate, absl::FormatDuration(duration).c_str(), connections, send_s, r.behind_max_ms,
      static_cast<long long>(r.scheduled), static_cast<long long>(r.accepted),
      static_cast<long long>(r.errors), static_cast<long long>(r.matched),
      static_cast<long long>(r.negative), r.p50, r.p90, r.p99, r.p999, r.max,
      Percentile(answer, 0.5), Percentile(answer, 0.99), Percentile(gateway_ms, 0.5),
      Percentile(gateway_ms, 0.99), Percentile(router_ms, 0.5), Percentile(router_ms, 0.99),
      Percentile(stream_ms, 0.5), Percentile(stream_ms, 0.99),
      mean_ms("earshot_gateway_kafka_delivery_latency_seconds"),
      mean_ms("earshot_router_batch_duration_seconds"),
      mean_ms("earshot_router_kafka_delivery_latency_seconds"),
      mean_ms("earshot_stream_delivery_lag_seconds"), r.cpu, r.others, r.load);
  std::fflush(stdout);
  process.Stop();
  r.ok = r.matched == r.scheduled && r.errors == 0;
  if (!r.ok) {
    std::snprintf(r.error, sizeof(r.error),
                  "%lld of %lld requests delivered and matched, %lld errors",
                  static_cast<long long>(r.matched), static_cast<long long>(r.scheduled),
                  static_cast<long long>(r.errors));
  }
  return r;
}

// ---------------------------------------------------------------------------------------------

int Main() {
  const std::string parts = absl::GetFlag(FLAGS_parts);
  TempFolder folder(absl::GetFlag(FLAGS_tmp), "earshot-stream-bench", absl::GetFlag(FLAGS_keep));
  if (!folder.ok()) {
    std::fprintf(stderr, "cannot create a temporary folder\n");
    return 2;
  }
  const std::string& dir = folder.path();
  log::SetLevel("warn");
  if (!absl::GetFlag(FLAGS_mutex_deadlock_detection)) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }

  std::printf("== machine\n  %s\n  %s\n", Machine().c_str(),
              absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::Now(), absl::UTCTimeZone()).c_str());
  std::string changed;
  if (!absl::GetFlag(FLAGS_set).empty()) changed += " config: " + absl::GetFlag(FLAGS_set);
  if (!absl::GetFlag(FLAGS_kafka_properties).empty()) {
    changed += " kafka.properties: " + absl::GetFlag(FLAGS_kafka_properties);
  }
  if (!absl::GetFlag(FLAGS_mutex_deadlock_detection)) changed += " mutex deadlock detection off";
  std::printf("  changed from the defaults:%s\n", changed.empty() ? " nothing" : changed.c_str());
  Verdicts verdicts;
  verdicts.echo = false;  // the figures print their own lines; the verdicts go in the summary
  bool could_not_run = false;

  if (parts.find("throughput") != std::string::npos) {
    std::printf(
        "\n== (a) deliveries/s: Process target \"stream\" on %s (4 partitions), "
        "subscribers from `earliest` with a queue filter; (a') a bare gRPC server replaying the "
        "same bytes to the same clients; %s measured for each, %d times alternately\n",
        absl::GetFlag(FLAGS_bootstrap).empty()
            ? "an embedded broker"
            : ("Apache Kafka at " + absl::GetFlag(FLAGS_bootstrap)).c_str(),
        absl::FormatDuration(absl::GetFlag(FLAGS_window)).c_str(),
        absl::GetFlag(FLAGS_alternations));
    std::fflush(stdout);
    const ThroughputResult t = InChild<ThroughputResult>([&] { return Throughput(dir); });
    if (t.counts == 0) {
      could_not_run = true;
      verdicts.Add("deliveries with 10 subscribers >= 0.70 of bare gRPC", false, t.error);
    }
    bool had_ten = false;
    for (int i = 0; i < t.counts; ++i) {
      const WindowFigures& e = t.earshot[i];
      const WindowFigures& b = t.bare[i];
      const double ratio = b.rate() > 0 ? e.rate() / b.rate() : 0;
      const std::string text =
          fmt::format("earshot {:.0f} deliveries/s, bare gRPC {:.0f}: {:.3f}{}", e.rate(), b.rate(),
                      ratio, e.errors + b.errors > 0 ? " (WITH ERRORS)" : "");
      if (e.subscribers == 10) {
        had_ten = true;
        verdicts.Add("10 subscribers >= 0.70 of bare gRPC", t.ok && ratio >= kTargetRatio, text);
      } else {
        verdicts.Add(fmt::format("{} subscribers (information)", e.subscribers), true, text);
      }
    }
    if (t.counts > 0 && !had_ten) {
      std::printf("  (10 is not in --subscribers: the target is not measured)\n");
    }
  }

  if (parts.find("latency") != std::string::npos) {
    std::printf(
        "\n== (b) end to end: Process target \"all\" (embedded broker, gateway, router, SLA "
        "monitor, stream), signed Telegram webhooks, one subscriber (latest, routed events)\n");
    std::fflush(stdout);
    const LatencyResult l = InChild<LatencyResult>([&] { return EndToEnd(dir); });
    if (l.matched == 0) could_not_run = true;
    verdicts.Add("end-to-end p99 < 50 ms at half of the max", l.ok && l.p99 < kTargetP99Ms,
                 l.matched == 0
                     ? std::string(l.error)
                     : fmt::format("p99 {:.1f} ms, p50 {:.1f} ms at {:.0f} requests/s (max {:.0f} "
                                   "deliveries/s); {} of {} matched{}",
                                   l.p99, l.p50, l.rate, l.max_rate, l.matched, l.scheduled,
                                   l.ok ? "" : "; INCOMPLETE"));
  }

  verdicts.PrintSummary();
  if (could_not_run) return 2;
  return verdicts.failed ? 1 : 0;
}

}  // namespace
}  // namespace earshot::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "The stream benchmark: deliveries/s to 1, 10, 100 filtered subscribers against a bare gRPC "
      "stream, and end-to-end latency at half of the maximum throughput. See bench/README.md.");
  absl::ParseCommandLine(argc, argv);
  return earshot::bench::Main();
}
