// Scale-out under chaos, as Kafka Streams' users test their applications: the router (3
// replicas) and the SLA monitor (2) run as separate `earshot` processes that share the
// partitions through Kafka while the input flows, and during the run
//   - every replica is restarted in turn (a rolling update),
//   - one router and one SLA monitor are killed with SIGKILL at random points,
//   - the routers are scaled 3 -> 2 -> 4.
// Then the same input goes through one router and one SLA monitor that nothing disturbs, and
// the outcomes are compared:
//   - the routed topic (read_committed) holds every routed event of the single replica: exactly
//     once on Kafka (transactions), at least once with stable ids on the embedded broker;
//   - every thread, read through the Threads API of any router replica, equals the single
//     replica's;
//   - the alerts topic holds the same alerts (same ids), on Kafka each once, and none for a
//     conversation that was answered;
//   - no partition's input was read again from its start.
// The input: a customer-care stream on every platform (tests/support/care_stream.h), recent
// enough that answered conversations are far within their targets, plus conversations whose
// customers have waited for days and get no answer: each raises one alert (its highest level).
// On a real three-node Kafka (EARSHOT_TEST_KAFKA=real; scripts/kafka.sh) with 200k events on 50k
// conversations; on the embedded broker, smaller (librdkafka's mock cluster has no static
// membership, transactions isolation or DescribeConsumerGroups, so there the replicas are
// dynamic members without standbys). Prints the counts.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "earshot/v1/alert.pb.h"
#include "earshot/v1/routing.pb.h"
#include "earshot/v1/threads.grpc.pb.h"
#include "fmt/format.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "services/common/kafka/admin.h"
#include "services/common/kafka/consumer.h"
#include "services/common/kafka/embedded_broker.h"
#include "services/common/kafka/producer.h"
#include "services/common/kafka/records.h"
#include "services/common/kafka/topics.h"
#include "tests/integration/test_folder.h"
#include "tests/integration/test_kafka.h"
#include "tests/support/care_stream.h"
#include "tests/support/earshot_child.h"

namespace earshot {
namespace {

using testing::EarshotChild;
using testing::MetricByLabel;
using testing::MetricSum;
using testing::Stream;
using testing::StreamGenerator;

constexpr int kPartitions = 8;
constexpr uint64_t kSeed = 20261207;
constexpr char kEvents[] = "earshot.events.v1";

struct Scale {
  size_t events;
  int threads;
  int neglected;
};
Scale TheScale() {
  return testing::TestKafka::Real() ? Scale{200000, 50000, 400} : Scale{20000, 5000, 100};
}

std::string Shell(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> out(popen(cmd.c_str(), "r"), pclose);
  std::string text;
  char buf[4096];
  size_t n = 0;
  while (out != nullptr && (n = std::fread(buf, 1, sizeof(buf), out.get())) > 0)
    text.append(buf, n);
  return text;
}

// One deployment: its own routed and alerts topics, consumer groups and state changelogs; both
// read the one input topic.
struct System {
  std::string name;  // chaos, single
  std::string routed() const { return name + ".routed.v1"; }
  std::string alerts() const { return name + ".alerts.v1"; }
  std::string router_group() const { return name + "-router"; }
  std::string sla_group() const { return name + "-sla"; }
  std::vector<std::string> topics() const {
    return {routed(), alerts(), router_group() + ".state.v1", sla_group() + ".state.v1"};
  }
};

// Reads a topic from the start (read_committed) on its own thread; keeps what the checks need.
class TopicReader {
 public:
  TopicReader(const std::string& bootstrap, const std::string& topic) : topic_(topic) {
    kafka::ConsumerOptions o;
    o.bootstrap = bootstrap;
    o.group_id = "scale-out-reader-" + topic;
    auto consumer = kafka::Consumer::Create(o);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    consumer_ = std::move(*consumer);
    EXPECT_TRUE(consumer_->AssignAll(topic).ok());
    thread_ = std::thread([this] { Run(); });
  }
  ~TopicReader() {
    stop_ = true;
    thread_.join();
  }
  // id -> copies, and the hash of each copy's value.
  struct Seen {
    int copies = 0;
    std::set<size_t> hashes;
    std::string thread_key;
  };
  std::map<std::string, Seen> seen() const {
    absl::MutexLock lock(&mu_);
    return seen_;
  }
  int64_t records() const {
    absl::MutexLock lock(&mu_);
    return records_;
  }
  // Waits until `n` distinct ids arrived and nothing more came for `quiet`.
  bool WaitFor(size_t n, absl::Duration timeout, absl::Duration quiet = absl::Seconds(3)) {
    const absl::Time deadline = absl::Now() + timeout;
    int64_t last = -1;
    absl::Time since = absl::Now();
    while (absl::Now() < deadline) {
      const int64_t r = records();
      if (r != last) {
        last = r;
        since = absl::Now();
      }
      if (seen().size() >= n && absl::Now() - since >= quiet) return true;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return false;
  }

 private:
  void Run() {
    while (!stop_) {
      auto batch = consumer_->Poll(2000, absl::Milliseconds(100));
      if (!batch.ok()) continue;
      absl::MutexLock lock(&mu_);
      for (const auto& m : *batch) {
        ++records_;
        // Routed events carry the event id, alerts theirs (with the state) in ce_id.
        std::string id = m.header("ce_id");
        Seen& s = seen_[id];
        ++s.copies;
        s.hashes.insert(std::hash<std::string>{}(m.value));
        s.thread_key = m.key;
      }
    }
  }

  const std::string topic_;
  std::unique_ptr<kafka::Consumer> consumer_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable absl::Mutex mu_;
  std::map<std::string, Seen> seen_ ABSL_GUARDED_BY(mu_);
  int64_t records_ ABSL_GUARDED_BY(mu_) = 0;
};

class ScaleOutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    real_ = testing::TestKafka::Real();
    dir_ = std::make_unique<testing::TestFolder>("earshot-scale-out");
    // Every topic earshot checks at start, and each system's own.
    std::vector<std::string> topics = kafka::StandardTopics();
    for (const System& s : {chaos_, single_}) {
      for (const auto& t : s.topics()) {
        if (std::find(topics.begin(), topics.end(), t) == topics.end()) topics.push_back(t);
      }
    }
    if (real_) {
      // Three nodes, replication 3: the cluster an enterprise runs.
      cluster_ = dir_->path() + "/cluster";
      bootstrap_ = std::string(absl::StripAsciiWhitespace(Shell(absl::StrCat(
          EARSHOT_KAFKA_SCRIPT, " start --nodes=3 --owner=", getpid(), " --dir=", cluster_))));
      ASSERT_FALSE(bootstrap_.empty()) << "scripts/kafka.sh could not start 3 nodes";
      auto admin = kafka::Admin::Create(bootstrap_, {});
      ASSERT_TRUE(admin.ok()) << admin.status();
      std::vector<kafka::NewTopic> news;
      for (const auto& t : topics) {
        // Records up to http.body_limit_bytes and their envelope, as earshot checks at start.
        news.push_back({t,
                        kPartitions,
                        3,
                        {{"min.insync.replicas", "2"},
                         {"max.message.bytes", std::to_string(kafka::kDefaultBodyLimitBytes +
                                                              kafka::kRecordEnvelopeBytes)}}});
        if (t.ends_with(".state.v1")) news.back().configs["cleanup.policy"] = "compact";
      }
      ASSERT_TRUE((*admin)->CreateTopics(news, absl::Seconds(60)).ok());
    } else {
      auto broker = kafka::EmbeddedBroker::Start(1, kPartitions, topics);
      ASSERT_TRUE(broker.ok()) << broker.status();
      broker_ = std::move(*broker);
      bootstrap_ = broker_->bootstrap();
    }
    std::ofstream(dir_->path() + "/sla.yaml") << R"(
policies:
  default:
    first_response: 1d
    next_response: 1d
    warn_at: 75%
    escalate_after: 1d
)";
  }

  void TearDown() override {
    children_.clear();
    if (!cluster_.empty()) Shell(absl::StrCat(EARSHOT_KAFKA_SCRIPT, " stop --dir=", cluster_));
  }

  // The config file of one system; each replica adds its instance id and ports.
  std::string Config(const System& s, const std::vector<int>& router_ports) {
    std::vector<std::string> peers;
    for (int p : router_ports) peers.push_back(fmt::format("\"127.0.0.1:{}\"", p));
    const std::string path = fmt::format("{}/{}.yaml", dir_->path(), s.name);
    std::ofstream(path) << fmt::format(
        R"(kafka:
  bootstrap: "{}"
  topics: {{routed: {}, alerts: {}}}
  properties: {{compression.type: lz4}}
{}admin: {{addr: "127.0.0.1:0"}}
router:
  group_id: {}
  session_timeout_ms: 10000
  standby_replicas: {}
  rules_file: "{}/../../config/rules.example.yaml"
  peers: [{}]
sla:
  group_id: {}
  session_timeout_ms: 10000
  standby_replicas: {}
  policies_file: "{}/sla.yaml"
  surge: {{min_count: 1000000000}}
  silence: {{min_events: 1000000000}}
)",
        bootstrap_, s.routed(), s.alerts(), real_ ? "" : "  fetch_wait: 5ms\n", s.router_group(),
        real_ ? 1 : 0, EARSHOT_FIXTURES_DIR, absl::StrJoin(peers, ", "), s.sla_group(),
        real_ ? 1 : 0, dir_->path());
    return path;
  }

  // A replica: router `r<i>` or SLA monitor `s<i>` of a system, with a data folder of its own.
  EarshotChild* Replica(const System& s, const std::string& target, int i, int grpc_port,
                        const std::string& config) {
    const std::string name = fmt::format("{}-{}{}", s.name, target == "router" ? "r" : "s", i);
    std::vector<std::string> env = {fmt::format("EARSHOT_GRPC_ADDR=127.0.0.1:{}", grpc_port)};
    // Static membership needs KIP-345, which the embedded broker lacks.
    if (real_)
      env.push_back(
          fmt::format("EARSHOT_{}_INSTANCE_ID={}", target == "router" ? "ROUTER" : "SLA", name));
    auto child =
        std::make_unique<EarshotChild>(EARSHOT_BINARY, target, dir_->path() + "/" + name,
                                       dir_->path() + "/" + name + ".log", config, std::move(env));
    children_[name] = std::move(child);
    return children_[name].get();
  }

  static void Start(EarshotChild* c) {
    auto st = c->Start();
    ASSERT_TRUE(st.ok()) << st;
  }
  static void WaitReady(EarshotChild* c, absl::Duration timeout = absl::Seconds(120)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline && c->running() && !c->Ready()) {
      absl::SleepFor(absl::Milliseconds(200));
    }
    ASSERT_TRUE(c->Ready()) << c->log_path() << "\n" << c->LogTail();
  }
  // SIGTERM and a clean exit (drain, commit, leave).
  static void Stop(EarshotChild* c) {
    c->Kill(SIGTERM);
    auto status = c->Wait(absl::Seconds(90));
    ASSERT_TRUE(status.has_value()) << "did not stop on SIGTERM: " << c->log_path();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << c->LogTail();
  }
  static void KillHard(EarshotChild* c) {
    c->Kill(SIGKILL);
    ASSERT_TRUE(c->Wait(absl::Seconds(10)).has_value());
  }

  // Every replica of `prefix` caught up: together they own every partition and report no lag.
  bool CaughtUp(const std::vector<EarshotChild*>& replicas, const std::string& metric_prefix,
                absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    int calm = 0;
    while (absl::Now() < deadline) {
      double owned = 0;
      double lag = 0;
      bool answered = true;
      for (EarshotChild* c : replicas) {
        const std::string m = c->Metrics();
        answered = answered && !m.empty();
        owned += MetricSum(m, metric_prefix + "_owned_partitions");
        // Only partitions the replica owns count (a gauge of a revoked one stays behind).
        const auto by = MetricByLabel(m, metric_prefix + "_consumer_lag", "partition");
        double own_lag = 0;
        for (const auto& [_, v] : by) own_lag += v;
        lag += own_lag;
      }
      calm = answered && owned == kPartitions && lag == 0 ? calm + 1 : 0;
      if (calm >= 10) return true;  // 10 scrapes, 2.5 s: past the 2 s metric refresh
      absl::SleepFor(absl::Milliseconds(250));
    }
    return false;
  }

  // Writes records as the gateway would, in order.
  void Produce(const std::vector<earshot::v1::Event>& events, size_t begin, size_t end) {
    std::vector<kafka::Record> records;
    for (size_t i = begin; i < end; ++i) records.push_back(kafka::EventRecord(events[i], kEvents));
    ASSERT_TRUE(kafka::ProduceAndWait(*producer_, std::move(records)).ok());
  }

  bool real_ = false;
  std::unique_ptr<testing::TestFolder> dir_;
  std::string cluster_;
  std::string bootstrap_;
  std::unique_ptr<kafka::EmbeddedBroker> broker_;
  std::unique_ptr<kafka::Producer> producer_;
  System chaos_{"chaos"};
  System single_{"single"};
  std::map<std::string, std::unique_ptr<EarshotChild>> children_;
};

// The input: the stream, then the neglected conversations' customer messages, interleaved.
std::vector<earshot::v1::Event> Input(const Scale& scale, std::set<std::string>* neglected) {
  const absl::Time now = absl::Now();
  Stream stream = StreamGenerator(kSeed, now - absl::Minutes(30),
                                  absl::Milliseconds(2 * 1000 * 60 * 25 / scale.events))
                      .Generate(scale.events, scale.threads, 0.3);
  // Customers who wrote five days ago and never got an answer; other customers (id_base).
  Stream old = StreamGenerator(kSeed + 1, now - absl::Hours(120), absl::Milliseconds(5),
                               /*id_base=*/100000000)
                   .Generate(static_cast<size_t>(scale.neglected) * 3, scale.neglected, 1.0);
  // Spread through the stream in their own order: a conversation's later message before its
  // first would make the alert's wait start depend on where batches end.
  std::vector<earshot::v1::Event> neglect;
  for (auto& e : old.records) {
    if (e.direction() != earshot::v1::DIRECTION_INBOUND || e.kind() == earshot::v1::KIND_EDIT ||
        e.kind() == earshot::v1::KIND_DELETE || e.kind() == earshot::v1::KIND_CONTROL) {
      continue;
    }
    neglected->insert(e.thread_key());
    neglect.push_back(std::move(e));
  }
  // The generator delivers some messages out of order (as platforms do); here each
  // conversation's arrive in the order they were written.
  std::stable_sort(neglect.begin(), neglect.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.created_at().seconds(), a.created_at().nanos()) <
           std::make_pair(b.created_at().seconds(), b.created_at().nanos());
  });
  std::mt19937_64 rng(kSeed);
  std::vector<size_t> at(neglect.size());
  for (size_t& a : at) a = std::uniform_int_distribution<size_t>(0, stream.records.size())(rng);
  std::sort(at.begin(), at.end());
  std::vector<earshot::v1::Event> out;
  out.reserve(stream.records.size() + neglect.size());
  size_t next = 0;
  for (size_t i = 0; i <= stream.records.size(); ++i) {
    while (next < neglect.size() && at[next] == i) out.push_back(std::move(neglect[next++]));
    if (i < stream.records.size()) out.push_back(std::move(stream.records[i]));
  }
  return out;
}

TEST_F(ScaleOutTest, ReplicasThatRestartFailAndScaleMatchOneUndisturbedReplica) {
  const Scale scale = TheScale();
  std::set<std::string> neglected;
  const auto input = Input(scale, &neglected);
  kafka::ProducerOptions po;
  po.bootstrap = bootstrap_;
  po.extra["compression.type"] = "lz4";
  auto producer = kafka::Producer::Create(po, nullptr);
  ASSERT_TRUE(producer.ok());
  producer_ = std::move(*producer);
  std::printf("input: %zu events on %d+ conversations, %zu neglected for days; %s\n", input.size(),
              scale.threads, neglected.size(), real_ ? "Kafka, 3 nodes" : "embedded broker");

  // The chaos deployment: routers r0..r3 (r3 joins when scaling to 4), monitors s0, s1.
  std::vector<int> router_ports;
  for (int i = 0; i < 4; ++i) router_ports.push_back(testing::FreeLoopbackPort());
  const std::string config = Config(chaos_, router_ports);
  std::vector<EarshotChild*> routers;
  for (int i = 0; i < 4; ++i)
    routers.push_back(Replica(chaos_, "router", i, router_ports[i], config));
  std::vector<EarshotChild*> monitors;
  for (int i = 0; i < 2; ++i) {
    monitors.push_back(Replica(chaos_, "sla", i, testing::FreeLoopbackPort(), config));
  }
  for (int i = 0; i < 3; ++i) Start(routers[i]);
  for (auto* m : monitors) Start(m);
  for (int i = 0; i < 3; ++i) WaitReady(routers[i]);
  for (auto* m : monitors) WaitReady(m);

  TopicReader routed(bootstrap_, chaos_.routed());
  TopicReader alerts(bootstrap_, chaos_.alerts());
  std::mt19937_64 rng(kSeed + 2);
  auto pause = [&](int max_ms) {
    absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(0, max_ms)(rng)));
  };
  // The input in chunks, with an operation between chunks.
  const size_t chunks = 12;
  size_t produced = 0;
  auto next_chunk = [&]() {
    const size_t end = std::min(input.size(), produced + (input.size() + chunks - 1) / chunks);
    Produce(input, produced, end);
    produced = end;
  };
  std::vector<std::string> log;
  auto note = [&](const std::string& what) {
    log.push_back(fmt::format("{} at {}/{} events", what, produced, input.size()));
  };
  next_chunk();
  // A rolling update: each replica in turn, once the one before is ready again.
  for (EarshotChild* c : {routers[0], routers[1], routers[2], monitors[0], monitors[1]}) {
    next_chunk();
    Stop(c);
    Start(c);
    WaitReady(c);
    note("restarted " + c->log_path().substr(c->log_path().rfind('/') + 1));
  }
  // SIGKILLs at random points while records flow.
  next_chunk();
  pause(1500);
  KillHard(routers[1]);
  note("SIGKILL router r1");
  next_chunk();
  Start(routers[1]);
  pause(1500);
  KillHard(monitors[0]);
  note("SIGKILL sla s0");
  next_chunk();
  Start(monitors[0]);
  WaitReady(routers[1]);
  WaitReady(monitors[0]);
  // Scale the routers 3 -> 2 -> 4.
  next_chunk();
  Stop(routers[2]);
  note("scaled routers to 2");
  next_chunk();
  absl::SleepFor(absl::Seconds(real_ ? 12 : 2));  // a static member's session ends; it moves
  Start(routers[2]);
  Start(routers[3]);
  WaitReady(routers[2]);
  WaitReady(routers[3]);
  note("scaled routers to 4");
  while (produced < input.size()) next_chunk();

  ASSERT_TRUE(CaughtUp(routers, "earshot_router", absl::Seconds(300)))
      << "the routers did not catch up\n"
      << routers[0]->LogTail();
  ASSERT_TRUE(CaughtUp(monitors, "earshot_sla", absl::Seconds(300)))
      << "the SLA monitors did not catch up\n"
      << monitors[0]->LogTail();

  // The same input through one undisturbed router and SLA monitor.
  const int single_port = testing::FreeLoopbackPort();
  const std::string single_config = Config(single_, {single_port});
  EarshotChild* one_router = Replica(single_, "router", 0, single_port, single_config);
  EarshotChild* one_sla = Replica(single_, "sla", 0, testing::FreeLoopbackPort(), single_config);
  Start(one_router);
  Start(one_sla);
  TopicReader single_routed(bootstrap_, single_.routed());
  TopicReader single_alerts(bootstrap_, single_.alerts());
  ASSERT_TRUE(CaughtUp({one_router}, "earshot_router", absl::Seconds(300)))
      << one_router->LogTail();
  ASSERT_TRUE(CaughtUp({one_sla}, "earshot_sla", absl::Seconds(300))) << one_sla->LogTail();

  // Routed events: the same ids, each copy equal to the single replica's; on Kafka each once.
  const auto expected = single_routed.seen();
  ASSERT_TRUE(routed.WaitFor(expected.size(), absl::Seconds(60)));
  const auto got = routed.seen();
  int64_t missing = 0, extra = 0, copies = 0, differ = 0;
  for (const auto& [id, s] : expected) {
    auto it = got.find(id);
    if (it == got.end()) {
      ++missing;
      continue;
    }
    copies += it->second.copies - 1;
    if (it->second.hashes != s.hashes) ++differ;
  }
  for (const auto& [id, _] : got) extra += expected.contains(id) ? 0 : 1;
  EXPECT_EQ(missing, 0) << "routed events of the single replica missing from the chaos run";
  EXPECT_EQ(extra, 0) << "routed events the single replica did not route";
  EXPECT_EQ(differ, 0) << "routed events that differ from the single replica's";
  if (real_) {
    EXPECT_EQ(copies, 0) << "routed events seen twice by a read_committed reader";
  }

  // Alerts: the same ids (with their state), on Kafka each once, none for an answered thread.
  ASSERT_TRUE(alerts.WaitFor(single_alerts.seen().size(), absl::Seconds(60)));
  const auto want_alerts = single_alerts.seen();
  const auto got_alerts = alerts.seen();
  std::set<std::string> want_ids, got_ids;
  int64_t alert_copies = 0, unanswered = 0;
  for (const auto& [id, s] : want_alerts) want_ids.insert(id);
  for (const auto& [id, s] : got_alerts) {
    got_ids.insert(id);
    alert_copies += s.copies - 1;
    if (!neglected.contains(s.thread_key)) ++unanswered;
  }
  std::vector<std::string> only_chaos, only_single;
  std::set_difference(got_ids.begin(), got_ids.end(), want_ids.begin(), want_ids.end(),
                      std::back_inserter(only_chaos));
  std::set_difference(want_ids.begin(), want_ids.end(), got_ids.begin(), got_ids.end(),
                      std::back_inserter(only_single));
  EXPECT_TRUE(only_chaos.empty() && only_single.empty())
      << "the chaos run's alerts differ from the single replica's: " << only_chaos.size()
      << " only in the chaos run, e.g. " << (only_chaos.empty() ? "" : only_chaos.front()) << "; "
      << only_single.size() << " only in the single replica's, e.g. "
      << (only_single.empty() ? "" : only_single.front());
  EXPECT_EQ(want_ids.size(), neglected.size()) << "one alert per neglected conversation";
  EXPECT_EQ(unanswered, 0) << "alerts for conversations that were answered in time";
  if (real_) {
    EXPECT_EQ(alert_copies, 0) << "alerts seen twice by a read_committed reader";
  }

  // Threads through the Threads API: every thread through a different replica each time.
  std::set<std::string> thread_keys;
  for (const auto& e : input) thread_keys.insert(e.thread_key());
  auto stub = [](int port) {
    return earshot::v1::Threads::NewStub(
        grpc::CreateChannel(fmt::format("127.0.0.1:{}", port), grpc::InsecureChannelCredentials()));
  };
  std::vector<std::unique_ptr<earshot::v1::Threads::Stub>> replicas;
  for (int p : router_ports) replicas.push_back(stub(p));
  auto reference = stub(single_port);
  int64_t compared = 0, unequal = 0, failed = 0;
  size_t turn = 0;
  for (const std::string& key : thread_keys) {
    earshot::v1::GetThreadRequest req;
    req.set_thread_key(key);
    earshot::v1::Thread a, b;
    grpc::ClientContext ca, cb;
    ca.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    cb.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const auto sa = replicas[turn++ % replicas.size()]->GetThread(&ca, req, &a);
    const auto sb = reference->GetThread(&cb, req, &b);
    if (!sa.ok() || !sb.ok()) {
      ++failed;
      continue;
    }
    ++compared;
    if (!google::protobuf::util::MessageDifferencer::Equals(a, b)) ++unequal;
  }
  EXPECT_EQ(failed, 0) << "threads the Threads API did not answer";
  EXPECT_EQ(unequal, 0) << "threads whose state differs from the single replica's";

  // No partition's input read again from its start.
  int64_t resets = 0;
  for (const auto& [name, c] : children_) {
    std::ifstream in(c->log_path());
    for (std::string line; std::getline(in, line);) {
      if (line.find("stored offset does not belong") != std::string::npos) ++resets;
    }
  }
  EXPECT_EQ(resets, 0) << "partitions read again from their start";

  for (const auto& l : log) std::printf("  %s\n", l.c_str());
  std::printf(
      "routed: %zu events (single replica %zu), %lld copies more, %lld missing, %lld differ\n"
      "alerts: %zu ids (single replica %zu), %lld copies more, %lld for answered threads\n"
      "threads: %lld compared through 4 replicas, %lld differ, %lld unanswered\n"
      "input resets: %lld\n",
      got.size(), expected.size(), static_cast<long long>(copies), static_cast<long long>(missing),
      static_cast<long long>(differ), got_ids.size(), want_ids.size(),
      static_cast<long long>(alert_copies), static_cast<long long>(unanswered),
      static_cast<long long>(compared), static_cast<long long>(unequal),
      static_cast<long long>(failed), static_cast<long long>(resets));
}

}  // namespace
}  // namespace earshot
