// Erasing a customer's data and expiring idle threads, end to end: webhooks through gateway and
// router into the SLA monitor, `earshotctl erase` (the built binary) against the Threads API,
// then what is left in the state changelogs (read as a restore reads them: the latest value of
// each key), in RocksDB, behind the Threads API and on earshot.audit.v1. Simulated time.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "earshot/v1/alert.pb.h"
#include "earshot/v1/audit.pb.h"
#include "earshot/v1/threads.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "services/common/kafka/stateful_consumer.h"
#include "services/router/router_app.h"
#include "services/sla/sla_app.h"
#include "tests/integration/stack.h"
#include "tests/support/rocksdb_read_only.h"

namespace earshot {
namespace {

using earshot::testing::ReadFixture;
using earshot::testing::StackOptions;
using earshot::testing::TestFolder;
using earshot::testing::TestKafka;
using earshot::testing::TestStack;
using earshot::testing::WaitFor;

constexpr int64_t kCustomerWrote = 1741173000;  // meta/wa_text.json's timestamp
constexpr char kWhatsApp[] = "wa:410000000000222:4915112345678";
constexpr char kX[] = "x:4000000001:u:7777001";
// What the fixtures hold of the two customers: ids (the WhatsApp one is the phone number), the
// X handle (in the permalink), the texts.
const char* const kCustomerData[] = {"4915112345678", "7777001", "danak_88",
                                     "Thanks, the tracking link works now", "my order #A-5521"};

constexpr char kHourPolicy[] = R"(
policies:
  default: {first_response: 1h, next_response: 1h, warn_at: 75%, escalate_after: 30m}
)";

// The stack's config: the SLA policy above; `more` after it.
std::string Config(const std::string& more = "") {
  static int n = 0;
  const std::string path =
      ::testing::TempDir() + "/erase-policies-" + std::to_string(n++) + ".yaml";
  std::ofstream(path) << kHourPolicy;
  return "sla: {policies_file: \"" + path + "\", horizon: 60s}\n" + more;
}

// Groups of the test's own, so that it knows its changelogs' names on a shared real cluster.
StackOptions Options(const FakeClock& clock, const std::string& data_dir, std::string more = "") {
  StackOptions o{Config(more), &clock};
  o.data_dir = data_dir;
  o.env["EARSHOT_ROUTER_GROUP_ID"] = TestKafka::UniqueName("erase-router");
  o.env["EARSHOT_SLA_GROUP_ID"] = TestKafka::UniqueName("erase-sla");
  return o;
}

std::string StateTopic(const StackOptions& o, const char* group_env) {
  return o.env.at(group_env) + ".state.v1";
}

// A compacted topic as a restore sees it: each key's latest value; tombstoned keys are gone.
std::map<std::string, std::string> Latest(TestStack& stack, const std::string& topic) {
  std::map<std::string, std::string> out;
  for (auto& m : stack.ReadTopic(topic, SIZE_MAX, absl::Seconds(3))) {
    if (m.tombstone) {
      out.erase(m.key);
    } else {
      out[m.key] = std::move(m.value);
    }
  }
  return out;
}

// Every key and value of every column family of every RocksDB folder under `dir`, opened
// read-only beside the running process.
std::vector<std::string> RocksDbContents(const std::string& dir) {
  std::vector<std::string> out;
  for (const char* service : {"router", "sla"}) {
    testing::VisitRocksDb(dir + "/" + service,
                          [&](const std::string&, std::string_view key, std::string_view value) {
                            out.push_back(std::string(key) + "=" + std::string(value));
                          });
  }
  return out;
}

bool Holds(const std::vector<std::string>& where, const std::string& data) {
  return std::any_of(where.begin(), where.end(),
                     [&](const std::string& s) { return s.find(data) != std::string::npos; });
}

// Fails for each piece of customer data found in `where`.
void ExpectNoCustomerData(const std::string& what, const std::vector<std::string>& where) {
  for (const char* data : kCustomerData) {
    for (const auto& s : where) {
      EXPECT_EQ(s.find(data), std::string::npos) << what << " still holds " << data;
    }
  }
}
std::vector<std::string> Flatten(const std::map<std::string, std::string>& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k + "=" + v);
  return out;
}

// `earshotctl erase`, the built binary; its exit code and output.
std::pair<int, std::string> Earshotctl(TestStack& stack, const std::string& args) {
  const std::string cmd = std::string(EARSHOTCTL_BINARY) +
                          " erase --addr=127.0.0.1:" + std::to_string(stack.process().grpc_port()) +
                          " " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (pipe != nullptr && fgets(buf, sizeof(buf), pipe) != nullptr) out += buf;
  const int status = pipe == nullptr ? -1 : pclose(pipe);
  return {WEXITSTATUS(status), out};
}

class EraseTest : public ::testing::Test {
 protected:
  std::unique_ptr<earshot::v1::Threads::Stub> Threads(TestStack& stack) {
    return earshot::v1::Threads::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(stack.process().grpc_port()),
                            grpc::InsecureChannelCredentials()));
  }
  grpc::Status Get(TestStack& stack, const std::string& key, earshot::v1::Thread* out) {
    grpc::ClientContext ctx;
    earshot::v1::GetThreadRequest req;
    req.set_thread_key(key);
    return Threads(stack)->GetThread(&ctx, req, out);
  }
  // Every thread the Threads API lists, of every status.
  std::vector<std::string> Listed(TestStack& stack) {
    std::vector<std::string> out;
    for (auto status : {earshot::v1::THREAD_STATUS_AWAITING_REPLY,
                        earshot::v1::THREAD_STATUS_ANSWERED, earshot::v1::THREAD_STATUS_RESOLVED}) {
      grpc::ClientContext ctx;
      earshot::v1::ListThreadsRequest req;
      req.set_status(status);
      earshot::v1::ListThreadsResponse res;
      EXPECT_TRUE(Threads(stack)->ListThreads(&ctx, req, &res).ok());
      for (const auto& t : res.threads()) out.push_back(t.SerializeAsString());
    }
    return out;
  }
  bool MetricIs(TestStack& stack, const std::string& line) {
    return stack.Metrics().find(line) != std::string::npos;
  }
};

TEST_F(EraseTest, ACustomersDataIsGoneEverywhereAfterEarshotctlErase) {
  FakeClock clock(absl::FromUnixSeconds(kCustomerWrote + 60));
  const TestFolder data("erase");
  const StackOptions options = Options(clock, data.path());
  TestStack stack(options);
  auto* sla = static_cast<sla::SlaApp*>(stack.process().service("sla"));
  ASSERT_TRUE(WaitFor([&] { return sla->OwnedPartitions().size() == 4; }, absl::Seconds(30)));

  // A WhatsApp conversation waiting for an answer; an X mention the brand answered.
  ASSERT_EQ(stack.PostMeta(ReadFixture("meta/wa_text.json")).status, 200);
  ASSERT_EQ(stack.PostX(ReadFixture("x/mention_reply.json")).status, 200);
  ASSERT_EQ(stack.PostX(ReadFixture("x/brand_reply.json")).status, 200);
  ASSERT_TRUE(WaitFor([&] { return sla->events_applied() >= 3; }, absl::Seconds(20)));
  earshot::v1::Thread thread;
  ASSERT_TRUE(Get(stack, kWhatsApp, &thread).ok());
  EXPECT_EQ(thread.status(), earshot::v1::THREAD_STATUS_AWAITING_REPLY);
  ASSERT_TRUE(Get(stack, kX, &thread).ok());
  EXPECT_EQ(thread.status(), earshot::v1::THREAD_STATUS_ANSWERED);

  // What the checks below read does hold the customers' data before the erase.
  const std::string router_topic = StateTopic(options, "EARSHOT_ROUTER_GROUP_ID");
  EXPECT_TRUE(Holds(Flatten(Latest(stack, router_topic)), "4915112345678"));
  EXPECT_TRUE(Holds(RocksDbContents(data.path()), "my order #A-5521"));

  auto [code, out] =
      Earshotctl(stack, "--customer=whatsapp:4915112345678 --reason='ticket 4711' --json");
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("\"threadsErased\":1"), std::string::npos) << out;
  std::tie(code, out) = Earshotctl(stack, "--customer=x:7777001 --reason='ticket 4711'");
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("erasing 1 thread (audit record erase-"), std::string::npos) << out;
  std::tie(code, out) = Earshotctl(stack, "--customer=fax:123");
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("INVALID_ARGUMENT"), std::string::npos) << out;

  ASSERT_TRUE(WaitFor(
      [&] { return MetricIs(stack, "earshot_router_threads_erased_total{reason=\"erase\"} 2"); },
      absl::Seconds(20)));
  ASSERT_TRUE(WaitFor([&] { return sla->events_applied() >= 5; }, absl::Seconds(20)));

  // The Threads API knows nothing of them.
  EXPECT_EQ(Get(stack, kWhatsApp, &thread).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Get(stack, kX, &thread).error_code(), grpc::StatusCode::NOT_FOUND);
  ExpectNoCustomerData("ListThreads", Listed(stack));
  // Nor do the state changelogs (as a restore or a standby reads them) or RocksDB.
  const auto router_state = Latest(stack, router_topic);
  const auto sla_state = Latest(stack, StateTopic(options, "EARSHOT_SLA_GROUP_ID"));
  EXPECT_FALSE(router_state.empty());
  ExpectNoCustomerData("router changelog", Flatten(router_state));
  ExpectNoCustomerData("SLA changelog", Flatten(sla_state));
  for (const auto& [key, _] : sla_state) {
    for (const char* family : {"clocks", "timers", "waits", "firing"}) {
      EXPECT_FALSE(key.starts_with(family)) << "an SLA clock is left: " << family;
    }
  }
  ExpectNoCustomerData("RocksDB", RocksDbContents(data.path()));

  // The waiting thread's deadlines pass: nothing fires for it.
  clock.Set(absl::FromUnixSeconds(kCustomerWrote) + absl::Hours(3));
  for (const auto& m : stack.ReadTopic("earshot.alerts.v1", SIZE_MAX, absl::Seconds(3))) {
    earshot::v1::Alert alert;
    ASSERT_TRUE(alert.ParseFromString(m.value));
    EXPECT_NE(alert.thread_key(), kWhatsApp) << alert.name() << " fired for an erased thread";
  }

  // One audit record per erase, naming the customer by digest only.
  const auto audit = stack.ReadTopic("earshot.audit.v1", 2);
  ASSERT_EQ(audit.size(), 2u);
  earshot::v1::AuditRecord record;
  for (const auto& m : audit) {  // in two partitions (keyed by audit id): either order
    ASSERT_TRUE(record.ParseFromString(m.value));
    if (record.platform() == earshot::v1::PLATFORM_WHATSAPP) break;
  }
  EXPECT_EQ(record.action(), "erase");
  EXPECT_EQ(record.actor(), "anonymous");
  EXPECT_EQ(record.reason(), "ticket 4711");
  EXPECT_EQ(record.threads(), 1);
  EXPECT_EQ(record.customer_sha256(), crypto::HexEncode(crypto::Sha256("whatsapp:4915112345678")));
  EXPECT_EQ(record.platform(), earshot::v1::PLATFORM_WHATSAPP);
  ExpectNoCustomerData("audit topic",
                       {audit[0].key + audit[0].value, audit[1].key + audit[1].value});

  // The customer writes again: a new thread.
  std::string again = ReadFixture("meta/wa_text.json");
  again.replace(again.find("RVhBTVBMRV9JTkJPVU5EXzAwMDE="), 4, "NEW_");
  again.replace(again.find("Thanks, the tracking link works now"), 7, "Again,");
  ASSERT_EQ(stack.PostMeta(again).status, 200);
  ASSERT_TRUE(WaitFor([&] { return Get(stack, kWhatsApp, &thread).ok(); }, absl::Seconds(20)));
  EXPECT_EQ(thread.message_count(), 1);
  EXPECT_EQ(thread.excerpt(), "Again, the tracking link works now");
}

// A loopback port nobody listens on now, for a replica that its peers must know beforehand.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

// Two router replicas that know each other (router.peers): the erase asked of one reaches the
// customer's threads on the other's partitions too.
TEST_F(EraseTest, AnyReplicaErasesTheThreadsOfEveryReplica) {
  const testing::LastingKafka broker;
  FakeClock clock(absl::FromUnixSeconds(kCustomerWrote + 60));
  const TestFolder first_data("erase-first");
  const TestFolder second_data("erase-second");
  const int ports[] = {FreePort(), FreePort()};
  const std::string peers = absl::StrCat("127.0.0.1:", ports[0], ",127.0.0.1:", ports[1]);
  const StackOptions base = Options(clock, first_data.path());
  auto options = [&](const TestFolder& data, int port) {
    StackOptions o = base;
    o.bootstrap = broker.bootstrap;
    o.data_dir = data.path();
    o.env["EARSHOT_GRPC_ADDR"] = absl::StrCat("127.0.0.1:", port);
    o.env["EARSHOT_ROUTER_PEERS"] = peers;
    o.ready_timeout = absl::Seconds(60);  // the second joins the first's group
    if (!TestKafka::Real()) {
      // A broker of the test's own: the standard names, whose changelogs it has (it creates no
      // topics on request).
      o.env.erase("EARSHOT_ROUTER_GROUP_ID");
      o.env.erase("EARSHOT_SLA_GROUP_ID");
    }
    return o;
  };
  TestStack first(options(first_data, ports[0]));
  TestStack second(options(second_data, ports[1]));
  const std::array<router::RouterApp*, 2> routers = {
      static_cast<router::RouterApp*>(first.process().service("router")),
      static_cast<router::RouterApp*>(second.process().service("router"))};
  ASSERT_TRUE(WaitFor(
      [&] {
        return routers[0]->OwnedPartitions().size() == 2 &&
               routers[1]->OwnedPartitions().size() == 2;
      },
      absl::Seconds(60)));

  // The customer writes to six of the brand's WhatsApp numbers: six threads, on both replicas.
  std::vector<std::string> keys;
  std::set<int> owners;
  for (int i = 0; i < 6; ++i) {
    std::string body = ReadFixture("meta/wa_text.json");
    const std::string account = absl::StrCat("41000000000022", i);
    body.replace(body.find("410000000000222"), 15, account);
    body.replace(body.find("RVhBTVBMRV9JTkJPVU5EXzAwMDE="), 1, std::to_string(i));
    ASSERT_EQ(first.PostMeta(body).status, 200);
    keys.push_back("wa:" + account + ":4915112345678");
    const int32_t p = kafka::PartitionForKey(keys.back(), 4);
    owners.insert(routers[0]->OwnedPartitions().contains(p) ? 0 : 1);
  }
  ASSERT_EQ(owners.size(), 2u) << "the threads are all on one replica's partitions";
  earshot::v1::Thread thread;
  for (const auto& key : keys) {
    ASSERT_TRUE(WaitFor([&] { return Get(first, key, &thread).ok(); }, absl::Seconds(20)));
  }

  auto [code, out] = Earshotctl(second, "--customer=whatsapp:4915112345678 --json");
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("\"threadsErased\":6"), std::string::npos) << out;
  for (const auto& key : keys) {
    EXPECT_TRUE(WaitFor(
        [&] { return Get(first, key, &thread).error_code() == grpc::StatusCode::NOT_FOUND; },
        absl::Seconds(20)))
        << key;
  }
  const auto audit = first.ReadTopic("earshot.audit.v1", 1);
  ASSERT_EQ(audit.size(), 1u);
  earshot::v1::AuditRecord record;
  ASSERT_TRUE(record.ParseFromString(audit[0].value));
  EXPECT_EQ(record.threads(), 6);
}

TEST_F(EraseTest, AThreadIdleLongerThanTheTtlExpires) {
  // The router's clock, simulated from now on: the gateway stamps receive times, from which the
  // TTL counts, with the real one.
  FakeClock clock(absl::Now());
  const TestFolder data("expire");
  const StackOptions options = Options(clock, data.path(), "router: {thread_ttl: 1h}\n");
  TestStack stack(options);
  ASSERT_EQ(stack.PostMeta(ReadFixture("meta/wa_text.json")).status, 200);
  earshot::v1::Thread thread;
  ASSERT_TRUE(WaitFor([&] { return Get(stack, kWhatsApp, &thread).ok(); }, absl::Seconds(20)));

  clock.Advance(absl::Minutes(59));  // received about at the start: not idle for an hour yet
  absl::SleepFor(absl::Seconds(1));
  EXPECT_TRUE(Get(stack, kWhatsApp, &thread).ok());
  clock.Advance(absl::Minutes(2));
  ASSERT_TRUE(WaitFor(
      [&] { return MetricIs(stack, "earshot_router_threads_erased_total{reason=\"expired\"} 1"); },
      absl::Seconds(20)));
  EXPECT_EQ(Get(stack, kWhatsApp, &thread).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Listed(stack).empty());
  ExpectNoCustomerData("router changelog",
                       Flatten(Latest(stack, StateTopic(options, "EARSHOT_ROUTER_GROUP_ID"))));
  ExpectNoCustomerData("RocksDB", RocksDbContents(data.path()));
}

}  // namespace
}  // namespace earshot
