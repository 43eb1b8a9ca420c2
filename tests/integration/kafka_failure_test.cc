// Earshot on a real three-node Kafka (KRaft, replication 3, min.insync.replicas 2) through the
// failures a cluster has and the embedded broker cannot show: a node killed under load, and the
// whole cluster down for 30 seconds. What the gateway acknowledged is read back with kcat, an
// independent client, and decoded with the project's protos; the counts are printed.
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "earshot/v1/alert.pb.h"
#include "earshot/v1/event.pb.h"
#include "earshot/v1/routing.pb.h"
#include "gtest/gtest.h"
#include "services/common/kafka/admin.h"
#include "tests/integration/stack.h"

namespace earshot {
namespace {

using testing::StackOptions;
using testing::TestStack;
using testing::WaitFor;

std::string Shell(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> out(popen(cmd.c_str(), "r"), pclose);
  std::string text;
  std::array<char, 65536> buf{};
  size_t n = 0;
  while (out != nullptr && (n = std::fread(buf.data(), 1, buf.size(), out.get())) > 0) {
    text.append(buf.data(), n);
  }
  return text;
}

std::string Message(int n) { return testing::MessengerMessage("fail", n); }
std::string EventId(int n) { return testing::MessengerEventId("fail", n); }

class KafkaFailureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(::testing::TempDir() + "earshot-kafka3-XXXXXX");
    ASSERT_NE(mkdtemp(dir_->data()), nullptr);
    bootstrap_ = new std::string(std::string(absl::StripAsciiWhitespace(
        Shell(Script("start --nodes=3 --owner=" + std::to_string(getpid()))))));
    ASSERT_FALSE(bootstrap_->empty()) << "scripts/kafka.sh could not start 3 nodes";
  }
  static void TearDownTestSuite() {
    Shell(Script("stop"));
    Shell("rm -rf " + *dir_);
  }
  static std::string Script(const std::string& args) {
    return absl::StrCat(EARSHOT_KAFKA_SCRIPT, " ", args, " --dir=", *dir_, "/cluster 2>&1");
  }

  void SetUp() override {
    // Empty topics for each test: the stack creates them with replication 3.
    auto admin = kafka::Admin::Create(*bootstrap_, {});
    ASSERT_TRUE(admin.ok());
    auto topics = (*admin)->ListTopics(absl::Seconds(10));
    ASSERT_TRUE(topics.ok()) << topics.status();
    std::vector<std::string> names;
    for (const auto& [name, _] : *topics) names.push_back(name);
    ASSERT_TRUE((*admin)->DeleteTopics(names, absl::Seconds(30)).ok());
    ASSERT_TRUE(WaitFor(
        [&] {
          auto left = (*admin)->ListTopics(absl::Seconds(5));
          return left.ok() && left->empty();
        },
        absl::Seconds(30)));
  }

  StackOptions Options() {
    StackOptions o;
    o.bootstrap = *bootstrap_;
    o.env = {{"EARSHOT_KAFKA_TOPICS_PARTITIONS", "4"},
             {"EARSHOT_KAFKA_TOPICS_REPLICATION_FACTOR", "3"},
             {"EARSHOT_KAFKA_TOPICS_MIN_INSYNC_REPLICAS", "2"},
             // A request may wait out a leader's fail-over; past it the gateway answers 503.
             {"EARSHOT_KAFKA_DELIVERY_TIMEOUT", "20s"},
             {"EARSHOT_ROUTER_GROUP_ID", testing::TestKafka::UniqueName("router")},
             {"EARSHOT_SLA_GROUP_ID", testing::TestKafka::UniqueName("sla")}};
    return o;
  }

  // Event ids of `topic`'s records with how often each is there, read by kcat and decoded with
  // the project's protos (Event on earshot.events.v1, RoutedEvent on earshot.routed.v1).
  std::map<std::string, int> ReadIds(const std::string& topic) {
    const std::string out = Shell(
        absl::StrCat("kcat -b ", *bootstrap_, " -C -t ", topic, " -o beginning -e -q -f '%S:%s'"));
    std::map<std::string, int> ids;
    size_t pos = 0;
    while (pos < out.size()) {
      const size_t colon = out.find(':', pos);
      size_t size = 0;
      if (colon == std::string::npos || !absl::SimpleAtoi(out.substr(pos, colon - pos), &size)) {
        ADD_FAILURE() << "unexpected kcat output at " << pos;
        break;
      }
      const std::string value = out.substr(colon + 1, size);
      pos = colon + 1 + size;
      if (topic == "earshot.routed.v1") {
        earshot::v1::RoutedEvent r;
        EXPECT_TRUE(r.ParseFromString(value));
        ++ids[r.event().event_id()];
      } else if (topic == "earshot.raw.v1") {
        // A raw record holds the request as it came: its event id is the message's mid.
        earshot::v1::RawWebhook raw;
        EXPECT_TRUE(raw.ParseFromString(value));
        std::smatch m;
        const std::string body = raw.body();
        if (std::regex_search(body, m, std::regex(R"("mid":"m_fail_(\d+))"))) {
          ++ids[EventId(std::stoi(m[1]))];
        }
      } else if (topic == "earshot.alerts.v1") {
        earshot::v1::Alert a;
        EXPECT_TRUE(a.ParseFromString(value));
        ++ids[a.alert_id()];
      } else if (topic == "earshot.deadletter.v1") {
        earshot::v1::DeadLetter d;
        EXPECT_TRUE(d.ParseFromString(value));
        ++ids[d.raw().request_id()];
      } else {
        earshot::v1::Event e;
        EXPECT_TRUE(e.ParseFromString(value));
        ++ids[e.event_id()];
      }
    }
    return ids;
  }

  // Each acknowledged id: found in `ids` and how often. Prints the counts.
  void ExpectExactlyOnce(const std::string& topic, const std::set<int>& acked, int sent) {
    std::map<std::string, int> ids;
    WaitFor(
        [&] {
          ids = ReadIds(topic);
          for (int n : acked) {
            if (!ids.contains(EventId(n))) return false;
          }
          return true;
        },
        absl::Seconds(90));
    int found = 0;
    int duplicates = 0;
    for (int n : acked) {
      auto it = ids.find(EventId(n));
      if (it == ids.end()) continue;
      ++found;
      duplicates += it->second - 1;
    }
    std::printf("%s: sent %d, acknowledged %zu, found %d, duplicates %d\n", topic.c_str(), sent,
                acked.size(), found, duplicates);
    EXPECT_EQ(found, static_cast<int>(acked.size())) << topic << ": acknowledged and lost";
    EXPECT_EQ(duplicates, 0) << topic;
  }

  inline static std::string* dir_ = nullptr;
  inline static std::string* bootstrap_ = nullptr;
};

// A steady signed load while node 2 is SIGKILLed and, five seconds later, started again.
TEST_F(KafkaFailureTest, OneNodeKilledUnderLoadLosesAndRepeatsNothing) {
  TestStack stack(Options());
  // Four platform connections, each sending its own customers' messages in turn.
  constexpr int kClients = 4;
  std::vector<std::set<int>> acked_by(kClients);
  std::vector<int> sent_by(kClients, 0);
  std::vector<int> refused_by(kClients, 0);
  std::vector<std::thread> load;
  const absl::Time deadline = absl::Now() + absl::Seconds(25);
  for (int c = 0; c < kClients; ++c) {
    load.emplace_back([&, c] {
      http::Client client("127.0.0.1", stack.http_port());
      for (int n = c; n < 400000 && absl::Now() < deadline; n += kClients) {
        const std::string body = Message(n);
        auto r = client.Send(
            "POST", "/webhooks/meta", body,
            {{"Content-Type", "application/json"},
             {"X-Hub-Signature-256", gateway::MetaSignature(body, testing::kMetaSecret)}});
        ++sent_by[c];
        if (r.ok() && r->status == 200) {
          acked_by[c].insert(n);
        } else {
          if (refused_by[c]++ % 500 == 0) {
            std::printf("client %d, message %d: %s\n", c, n,
                        r.ok() ? absl::StrCat(r->status, " ", r->body).c_str()
                               : r.status().ToString().c_str());
          }
        }
      }
    });
  }
  absl::SleepFor(absl::Seconds(5));
  Shell(Script("kill 2"));
  absl::SleepFor(absl::Seconds(7));
  Shell(Script("restart 2"));
  for (auto& t : load) t.join();
  std::set<int> acked;
  int sent = 0;
  int refused = 0;
  for (int c = 0; c < kClients; ++c) {
    acked.insert(acked_by[c].begin(), acked_by[c].end());
    sent += sent_by[c];
    refused += refused_by[c];
  }
  std::printf("load: sent %d, answered 2xx %zu, refused %d\n", sent, acked.size(), refused);
  ASSERT_GT(acked.size(), 100u);
  ExpectExactlyOnce("earshot.events.v1", acked, sent);
  ExpectExactlyOnce("earshot.routed.v1", acked, sent);
}

// Every node down for 30 s: the gateway refuses with 503 and Retry-After and is not ready; once
// the nodes are back every service recovers by itself, and everything acknowledged before and
// after is routed exactly once.
TEST_F(KafkaFailureTest, WholeClusterDownFor30sRecoversByItself) {
  TestStack stack(Options());
  std::set<int> acked;
  int sent = 0;
  for (; sent < 200; ++sent) {
    if (stack.PostMeta(Message(sent)).status == 200) acked.insert(sent);
  }
  ASSERT_EQ(acked.size(), 200u);
  ExpectExactlyOnce("earshot.routed.v1", acked, sent);

  for (int node = 1; node <= 3; ++node) Shell(Script("kill " + std::to_string(node)));
  const absl::Time down = absl::Now();
  EXPECT_TRUE(stack.WaitReady(false, absl::Seconds(15))) << "/readyz still 200 with Kafka down";
  int refused = 0;
  while (absl::Now() < down + absl::Seconds(30)) {
    const auto r = stack.PostMeta(Message(sent));
    ++sent;
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_FALSE(r.header("Retry-After").empty());
    if (r.status == 200) acked.insert(sent - 1);
    ++refused;
    absl::SleepFor(absl::Seconds(2));
  }
  for (int node = 1; node <= 3; ++node) Shell(Script("restart " + std::to_string(node)));
  ASSERT_TRUE(stack.WaitReady(true, absl::Seconds(90))) << "not ready after Kafka came back";
  for (const int end = sent + 200; sent < end; ++sent) {
    const auto r = stack.PostMeta(Message(sent));
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status == 200) acked.insert(sent);
  }
  std::printf("outage: refused %d with 503 while down\n", refused);
  ExpectExactlyOnce("earshot.raw.v1", acked, sent);
  ExpectExactlyOnce("earshot.events.v1", acked, sent);
  ExpectExactlyOnce("earshot.routed.v1", acked, sent);
  // Every topic decodes with the project's protos, and nothing was dead-lettered. (The
  // messages are dated 2025, so each waiting conversation is past its deadline and alerted.)
  const auto alerts = ReadIds("earshot.alerts.v1");
  const auto deadletters = ReadIds("earshot.deadletter.v1");
  std::printf("earshot.alerts.v1: %zu alerts; earshot.deadletter.v1: %zu records\n", alerts.size(),
              deadletters.size());
  EXPECT_TRUE(deadletters.empty());
}

}  // namespace
}  // namespace earshot
