// The router's local state failing under it, as an operator meets it: a separate
// `earshot --target=router` whose disk fills up (every file it writes limited in size, so
// RocksDB's writes fail with EFBIG as on a full disk), and one whose RocksDB folder is corrupt
// when it starts. What must hold:
//   - a failed state write stops processing; /readyz turns 503 at once and /healthz after
//     router.liveness_grace, both naming the check, and /metrics says so for the alert rules;
//   - a restart on a healthy disk goes on from the last commit and reaches the input's end;
//   - a corrupt folder is moved aside with a log line saying so, and the state is rebuilt from
//     the changelog: the same threads and offsets as before.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "earshot/v1/routing.pb.h"
#include "gtest/gtest.h"
#include "services/common/http/client.h"
#include "services/common/kafka/embedded_broker.h"
#include "services/common/kafka/producer.h"
#include "services/common/kafka/records.h"
#include "services/common/store/store.h"
#include "tests/integration/router_child.h"
#include "tests/integration/test_folder.h"
#include "tests/integration/test_kafka.h"
#include "tests/support/care_stream.h"
#include "tests/support/rocksdb_read_only.h"

namespace earshot {
namespace {

constexpr int kPartitions = 4;
constexpr char kGroup[] = "g-fault";
constexpr char kEventsTopic[] = "earshot.events.v1";

// What a router's folder holds, read after it stopped: threads and each partition's offset.
struct StoredState {
  size_t threads = 0;
  std::map<int32_t, int64_t> next_offsets;
};

StoredState ReadState(const std::string& path) {
  StoredState out;
  testing::VisitRocksDb(
      path, [&](const std::string& family, std::string_view key, std::string_view value) {
        if (family == "threads") ++out.threads;
        if (family == "partitions") {
          earshot::v1::RouterPartitionState p;
          EXPECT_TRUE(p.ParseFromArray(value.data(), static_cast<int>(value.size())));
          out.next_offsets[store::ReadBigEndian32(key)] = p.next_offset();
        }
      });
  return out;
}

class StateFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> topics = kafka::StandardTopics();
    topics.push_back(std::string(kGroup) + ".state.v1");
    kafka_ = std::make_unique<earshot::testing::KafkaWithTopics>(topics, kPartitions);
    bootstrap_ = kafka_->bootstrap;
    ASSERT_FALSE(bootstrap_.empty());
    stream_ = testing::StreamGenerator(20261207).Generate(4000, 400);
  }

  std::unique_ptr<RouterChild> NewRouter(const std::string& log_name) {
    const std::string config = dir_ + "/router.yaml";
    std::ofstream(config) << "router:\n  liveness_grace: 3s\n";
    std::vector<std::string> env{
        "EARSHOT_KAFKA_BOOTSTRAP=" + bootstrap_,
        "EARSHOT_GRPC_ADDR=127.0.0.1:0",
        "EARSHOT_ADMIN_ADDR=127.0.0.1:0",
        "EARSHOT_ROUTER_SESSION_TIMEOUT_MS=3000",
        std::string("EARSHOT_ROUTER_GROUP_ID=") + kGroup,
        "EARSHOT_ROUTER_THREAD_TTL=0",  // the stream's receive times lie years back
    };
    return std::make_unique<RouterChild>(dir_ + "/data", dir_ + "/" + log_name, config,
                                         std::move(env), kPartitions);
  }

  // Writes the stream to the events topic as the gateway would.
  void Produce() {
    kafka::ProducerOptions o;
    o.bootstrap = bootstrap_;
    o.client_id = "state-fault-producer";
    auto producer = kafka::Producer::Create(o, nullptr);
    ASSERT_TRUE(producer.ok()) << producer.status();
    std::vector<kafka::Record> records;
    for (const auto& e : stream_.records) records.push_back(kafka::EventRecord(e, kEventsTopic));
    absl::Notification done;
    absl::Status status;
    (*producer)->ProduceBatch(std::move(records), [&](absl::Status st) {
      status = std::move(st);
      done.Notify();
    });
    done.WaitForNotification();  // bounded by the delivery time-out
    ASSERT_TRUE(status.ok()) << status;
  }

  // GET `path` on the router's admin port: the status, or 0 when it does not answer.
  static int Probe(RouterChild& router, const std::string& path, std::string* body = nullptr) {
    const int port = router.AdminPort(absl::Seconds(1));
    if (port == 0) return 0;
    http::Client admin("127.0.0.1", port, absl::Seconds(5));
    auto r = admin.Get(path);
    if (!r.ok()) return 0;
    if (body != nullptr) *body = r->body;
    return r->status;
  }
  // Polls `path` until it answers `status`, for up to `timeout`; the last body.
  static std::optional<std::string> WaitFor(RouterChild& router, const std::string& path,
                                            int status, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline && router.running()) {
      std::string body;
      if (Probe(router, path, &body) == status) return body;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return std::nullopt;
  }

  // Stops the router as Kubernetes does (SIGTERM: drain, flush, commit).
  static void Stop(RouterChild& router) {
    router.Kill(SIGTERM);
    ASSERT_TRUE(router.Wait(absl::Seconds(60)).has_value()) << router.LogTail();
  }

  earshot::testing::TestFolder folder_{"earshot-state-fault"};
  std::string dir_ = folder_.path();
  std::unique_ptr<earshot::testing::KafkaWithTopics> kafka_;
  std::string bootstrap_;
  testing::Stream stream_;
};

TEST_F(StateFaultTest, AFullDiskStopsTheRouterFailsItsProbesAndARestartGoesOn) {
  auto router = NewRouter("full.log");
  // Room for the store's small files, not for the write-ahead log of the whole stream.
  router->set_file_size_limit(512 << 10);
  router->Start();
  ASSERT_GT(router->AdminPort(), 0) << router->LogTail();
  Produce();

  ASSERT_TRUE(router->WaitForLog(R"("msg":"state write failed; stopping")", absl::Seconds(90)))
      << "the router went on with a full disk\n"
      << router->LogTail();
  auto ready = WaitFor(*router, "/readyz", 503, absl::Seconds(10));
  ASSERT_TRUE(ready) << router->LogTail();
  EXPECT_NE(ready->find("router.state"), std::string::npos) << *ready;
  auto alive = WaitFor(*router, "/healthz", 503, absl::Seconds(15));
  ASSERT_TRUE(alive) << "/healthz stayed 200 after the loop stopped\n" << router->LogTail();
  EXPECT_NE(alive->find("router.loop"), std::string::npos) << *alive;
  const std::string metrics = router->Metrics();
  EXPECT_EQ(MetricByLabel(metrics, "earshot_liveness_check", "check")["router.loop"], 0);
  EXPECT_EQ(MetricByLabel(metrics, "earshot_readiness_check", "check")["router.state"], 0);
  const double applied_before = MetricSum(metrics, "earshot_router_events_total");
  std::cout << "disk full after " << applied_before << " of " << stream_.records.size()
            << " events; /readyz and /healthz 503" << std::endl;
  router->Kill(SIGKILL);  // what Kubernetes does once /healthz fails
  router->Wait(absl::Seconds(10));

  // Restarted with room: it goes on from its last commit and reaches the input's end.
  auto restarted = NewRouter("restarted.log");
  restarted->Start();
  auto caught_up = restarted->WaitCaughtUp(absl::Seconds(120));
  ASSERT_TRUE(caught_up) << restarted->LogTail();
  EXPECT_EQ(Probe(*restarted, "/healthz"), 200);
  Stop(*restarted);
  const StoredState state = ReadState(dir_ + "/data/router");
  EXPECT_EQ(state.threads, static_cast<size_t>(stream_.threads));
  int64_t consumed = 0;
  for (const auto& [p, next] : state.next_offsets) consumed += next;
  EXPECT_EQ(consumed, static_cast<int64_t>(stream_.records.size()))
      << "the restarted router did not reach the input's end";
  std::cout << "restarted: " << state.threads << " threads, " << consumed << " events consumed"
            << std::endl;
}

TEST_F(StateFaultTest, ACorruptStoreIsMovedAsideAndRebuiltFromTheChangelog) {
  auto router = NewRouter("first.log");
  router->Start();
  Produce();
  ASSERT_TRUE(router->WaitCaughtUp(absl::Seconds(120))) << router->LogTail();
  Stop(*router);
  const std::string path = dir_ + "/data/router";
  const StoredState before = ReadState(path);
  ASSERT_EQ(before.threads, static_cast<size_t>(stream_.threads));

  // RocksDB's pointer to its current manifest, garbled: the open reports corruption.
  std::ofstream(path + "/CURRENT", std::ios::trunc) << "\x01garbage";

  auto rebuilt = NewRouter("rebuilt.log");
  rebuilt->Start();
  ASSERT_TRUE(rebuilt->WaitForLog(R"("msg":"state store corrupt: moved aside, rebuilding it)",
                                  absl::Seconds(30)))
      << rebuilt->LogTail();
  ASSERT_TRUE(rebuilt->WaitCaughtUp(absl::Seconds(120))) << rebuilt->LogTail();
  Stop(*rebuilt);
  const StoredState after = ReadState(path);
  EXPECT_EQ(after.threads, before.threads);
  EXPECT_EQ(after.next_offsets, before.next_offsets);
  int aside = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/data")) {
    aside += e.path().filename().string().starts_with("router.corrupt-");
  }
  EXPECT_EQ(aside, 1) << "the corrupt folder is kept beside the new one";
  std::cout << "rebuilt from the changelog: " << after.threads << " threads" << std::endl;
}

}  // namespace
}  // namespace earshot
