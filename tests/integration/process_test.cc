// The `earshot` binary as a user runs it: a child process, JSON-line logs on stdout,
// data/kafka.bootstrap, a signed webhook, and a clean exit on SIGTERM.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "services/common/base/process_metrics.h"
#include "services/common/http/client.h"
#include "services/common/kafka/admin.h"
#include "services/gateway/signature.h"
#include "tests/integration/test_folder.h"
#include "tests/integration/test_kafka.h"
#include "tests/support/earshot_child.h"

namespace earshot {
namespace {

class ProcessTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  void Start(const std::vector<std::pair<std::string, std::string>>& env = {}) {
    // Asked before the fork: the child must not start a cluster of its own.
    const std::string bootstrap = testing::TestKafka::Real() ? testing::TestKafka::Bootstrap() : "";
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
      setenv("EARSHOT_HTTP_ADDR", "127.0.0.1:0", 1);
      setenv("EARSHOT_ADMIN_ADDR", "127.0.0.1:0", 1);
      setenv("EARSHOT_GRPC_ADDR", "127.0.0.1:0", 1);
      setenv("EARSHOT_META_APP_SECRET", "proc-secret", 1);
      if (bootstrap.empty()) {
        unsetenv("EARSHOT_KAFKA_BOOTSTRAP");  // the first run's embedded broker
      } else {
        setenv("EARSHOT_KAFKA_BOOTSTRAP", bootstrap.c_str(), 1);
      }
      std::string data = "--data-dir=" + dir_ + "/data";
      execl(EARSHOT_BINARY, EARSHOT_BINARY, "--target=all", data.c_str(), nullptr);
      _exit(127);
    }
  }

  std::string Log() {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // Waits for a log line matching `pattern`; returns its first capture group.
  std::string WaitForLog(const std::string& pattern, absl::Duration timeout) {
    const std::regex re(pattern);
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      std::smatch m;
      const std::string log = Log();
      if (std::regex_search(log, m, re)) return m.size() > 1 ? m[1].str() : m[0].str();
      absl::SleepFor(absl::Milliseconds(50));
    }
    ADD_FAILURE() << "no log line matching " << pattern << " in:\n" << Log();
    return "";
  }

  testing::TestFolder folder_{"earshot-proc"};  // removed after TearDown stopped the process
  std::string dir_ = folder_.path();
  std::string log_ = dir_ + "/stdout.log";
  pid_t pid_ = -1;
};

TEST_F(ProcessTest, StartsServesAndShutsDownCleanlyOnSigterm) {
  Start();
  const std::string port =
      WaitForLog(R"re("logger":"gateway\.http","msg":"listening","addr":"127\.0\.0\.1:(\d+)")re",
                 absl::Seconds(30));
  WaitForLog(R"("msg":"started")", absl::Seconds(30));
  ASSERT_FALSE(port.empty());

  // Every log line is a JSON object.
  std::istringstream lines(Log());
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("kafka bootstrap:", 0) == 0) continue;  // the one human line
    EXPECT_TRUE(line.front() == '{' && line.back() == '}') << line;
  }

  if (!testing::TestKafka::Real()) {  // the embedded broker says where it listens
    std::ifstream bootstrap_file(dir_ + "/data/kafka.bootstrap");
    std::string bootstrap;
    std::getline(bootstrap_file, bootstrap);
    EXPECT_TRUE(std::regex_match(bootstrap, std::regex(R"(127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+)*)")))
        << bootstrap;
  }

  const std::string body =
      R"({"object":"page","entry":[{"id":"1","time":1741171000456,"messaging":[{"sender":{"id":"7"},"recipient":{"id":"1"},"timestamp":1741171000321,"message":{"mid":"m_1","text":"hi"}}]}]})";
  http::Client client("127.0.0.1", std::stoi(port));
  auto r = client.Send("POST", "/webhooks/meta", body,
                       {{"Content-Type", "application/json"},
                        {"X-Hub-Signature-256", gateway::MetaSignature(body, "proc-secret")}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200) << r->body;

  // The process's memory, for leak hunting: resident, held by the program, kept by tcmalloc.
  const std::string admin_port = WaitForLog(
      R"re("logger":"admin","msg":"listening","addr":"127\.0\.0\.1:(\d+)")re", absl::Seconds(5));
  ASSERT_FALSE(admin_port.empty());
  auto metrics = http::Client("127.0.0.1", std::stoi(admin_port)).Send("GET", "/metrics", "", {});
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const double resident = testing::MetricSum(metrics->body, "process_resident_memory_bytes");
  const double held = testing::MetricSum(metrics->body, "earshot_heap_allocated_bytes");
  EXPECT_GT(resident, 16 << 20) << metrics->body;  // four services' threads, RocksDB, gRPC
#ifndef EARSHOT_SANITIZED_ALLOCATOR
  EXPECT_GT(held, 1 << 20) << metrics->body;
  EXPECT_NE(metrics->body.find("earshot_heap_free_bytes "), std::string::npos);
#else
  EXPECT_EQ(held, 0);
#endif

  ASSERT_EQ(kill(pid_, SIGTERM), 0);
  int status = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  pid_t done = 0;
  while (done == 0 && absl::Now() < deadline) {
    done = waitpid(pid_, &status, WNOHANG);
    if (done == 0) absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(done, pid_) << "earshot did not exit within 30 s of SIGTERM";
  pid_ = -1;
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const std::string log = Log();
  EXPECT_NE(log.find(R"("msg":"shutting down")"), std::string::npos);
  EXPECT_NE(log.find(R"("logger":"earshot","msg":"stopped")"), std::string::npos) << log;
}

// http.cpu_affinity pins the gateway's HTTP threads (named gateway.http-<i>) to its CPUs in
// turn; the other threads stay where the scheduler puts them.
TEST_F(ProcessTest, HttpThreadsPinnedToTheConfiguredCpus) {
  Start({{"EARSHOT_HTTP_THREADS", "2"}, {"EARSHOT_HTTP_CPU_AFFINITY", "0"}});
  WaitForLog(R"("msg":"started")", absl::Seconds(30));
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  std::map<std::string, std::string> allowed;  // thread name -> Cpus_allowed_list
  const std::string tasks = "/proc/" + std::to_string(pid_) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks)) {
    std::string name = read(task.path().string() + "/comm");
    name.erase(name.find_last_not_of('\n') + 1);
    std::smatch m;
    const std::string status = read(task.path().string() + "/status");
    if (std::regex_search(status, m, std::regex(R"(Cpus_allowed_list:\s*(\S+))"))) {
      allowed[name] = m[1];
    }
  }
  EXPECT_EQ(allowed["gateway.http-0"], "0");
  EXPECT_EQ(allowed["gateway.http-1"], "0");
  if (sysconf(_SC_NPROCESSORS_ONLN) > 1) {
    EXPECT_NE(allowed["admin-0"], "0");
  }
}

TEST_F(ProcessTest, BadConfigFailsWithTheReason) {
  pid_ = fork();
  ASSERT_GE(pid_, 0);
  if (pid_ == 0) {
    int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    setenv("EARSHOT_HTTP_THREADS", "many", 1);
    setenv("EARSHOT_HTTP_ADDR", "127.0.0.1:0", 1);
    setenv("EARSHOT_ADMIN_ADDR", "127.0.0.1:0", 1);
    setenv("EARSHOT_GRPC_ADDR", "127.0.0.1:0", 1);
    std::string data = "--data-dir=" + dir_ + "/data";
    execl(EARSHOT_BINARY, EARSHOT_BINARY, "--target=all", data.c_str(), nullptr);
    _exit(127);
  }
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE(Log().find(R"(http.threads: \"many\" is not an integer)"), std::string::npos) << Log();
}

// On a real cluster: a topic that cannot take a whole webhook body stops the start, with the
// topic, its limit and the command that raises it; the missing topics are created.
TEST_F(ProcessTest, RefusesTopicsTooSmallForTheBodyLimit) {
  if (!testing::TestKafka::Real()) GTEST_SKIP() << "the embedded broker takes records of any size";
  auto admin = kafka::Admin::Create(testing::TestKafka::Bootstrap(), {});
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE((*admin)
                  ->CreateTopics({{"earshot.raw.v1", 4, -1, {{"max.message.bytes", "1048588"}}}},
                                 absl::Seconds(30))
                  .ok());
  Start();
  int status = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  pid_t done = 0;
  while (done == 0 && absl::Now() < deadline) {
    done = waitpid(pid_, &status, WNOHANG);
    if (done == 0) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(done, pid_) << "earshot started on a topic too small:\n" << Log();
  pid_ = -1;
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE(Log().find("earshot.raw.v1 takes records of 1048588 bytes"), std::string::npos)
      << Log();
  auto topics = (*admin)->ListTopics(absl::Seconds(10));
  ASSERT_TRUE(topics.ok());
  EXPECT_TRUE(topics->contains("earshot.events.v1")) << "the missing topics are created";
  // Each with its retention: raw webhooks (every customer detail) 7 days, dead letters 30,
  // audit records 3 years, the event topics kafka.topics.retention (14 days).
  auto described = (*admin)->DescribeTopics(
      {"earshot.events.v1", "earshot.deadletter.v1", "earshot.audit.v1"}, absl::Seconds(10));
  ASSERT_TRUE(described.ok()) << described.status();
  const int64_t day_ms = 24 * 3600 * 1000LL;
  EXPECT_EQ((*described)["earshot.events.v1"]["retention.ms"], std::to_string(14 * day_ms));
  EXPECT_EQ((*described)["earshot.deadletter.v1"]["retention.ms"], std::to_string(30 * day_ms));
  EXPECT_EQ((*described)["earshot.audit.v1"]["retention.ms"], std::to_string(3 * 365 * day_ms));
}

}  // namespace
}  // namespace earshot
