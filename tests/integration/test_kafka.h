#pragma once
// The Kafka an integration test runs on. EARSHOT_TEST_KAFKA=real: a real Apache Kafka (KRaft,
// scripts/kafka.sh), started once per test binary on first use, shared by its tests and stopped
// when the binary ends; before each test every topic is deleted, so a test starts on empty
// topics as it does on a new embedded broker, and each stack uses consumer groups of its own.
// Otherwise (the default) each stack starts its own embedded broker.
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "services/common/kafka/admin.h"
#include "services/common/kafka/embedded_broker.h"
#include "services/common/kafka/topics.h"

namespace earshot::testing {

class TestKafka {
 public:
  static bool Real() {
    const char* v = std::getenv("EARSHOT_TEST_KAFKA");
    return v != nullptr && std::string(v) == "real";
  }

  // The bootstrap list of this binary's real cluster (started on first use).
  static const std::string& Bootstrap() { return Get().bootstrap_; }

  // A name no other stack of this binary uses, for consumer groups.
  static std::string UniqueName(const std::string& prefix) {
    static int n = 0;
    return absl::StrCat(prefix, "-", getpid(), "-", ++n);
  }

  // Deletes every topic, so that the next stack creates them anew (a no-op before the cluster
  // started).
  static void DeleteAllTopics() {
    // A stack shared by a suite's tests keeps its topics.
    if (instance_ == nullptr || live_stacks_ > 0) return;
    auto admin = kafka::Admin::Create(instance_->bootstrap_, {});
    ASSERT_TRUE(admin.ok()) << admin.status();
    auto topics = (*admin)->ListTopics(absl::Seconds(10));
    ASSERT_TRUE(topics.ok()) << topics.status();
    std::vector<std::string> names;
    for (const auto& [name, _] : *topics) names.push_back(name);
    ASSERT_TRUE((*admin)->DeleteTopics(names, absl::Seconds(30)).ok());
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      auto left = (*admin)->ListTopics(absl::Seconds(10));
      if (left.ok() && left->empty()) return;
      absl::SleepFor(absl::Milliseconds(100));
    }
    ADD_FAILURE() << "topics still listed 30 s after their deletion";
  }

  // TestStack counts itself here while it runs.
  static void StackStarted() { ++live_stacks_; }
  static void StackStopped() { --live_stacks_; }

  ~TestKafka() {
    const std::string cmd = absl::StrCat(EARSHOT_KAFKA_SCRIPT, " stop --dir=", dir_);
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "kafka.sh stop failed\n");
    std::string ignored = absl::StrCat("rm -rf ", dir_);
    if (std::system(ignored.c_str()) != 0) std::fprintf(stderr, "cannot remove %s\n", dir_.c_str());
  }

 private:
  static TestKafka& Get() {
    if (instance_ == nullptr) instance_ = new TestKafka();
    return *instance_;
  }

  TestKafka() {
    dir_ = ::testing::TempDir() + "earshot-kafka-XXXXXX";
    if (mkdtemp(dir_.data()) == nullptr) std::abort();
    const std::string cmd = absl::StrCat(EARSHOT_KAFKA_SCRIPT, " start --nodes=1 --dir=", dir_,
                                         "/cluster --owner=", getpid());
    std::unique_ptr<FILE, int (*)(FILE*)> out(popen(cmd.c_str(), "r"), pclose);
    std::array<char, 4096> buf{};
    while (out != nullptr && std::fgets(buf.data(), buf.size(), out.get()) != nullptr) {
      bootstrap_ = std::string(absl::StripAsciiWhitespace(buf.data()));
    }
    if (bootstrap_.empty()) {
      std::fprintf(stderr, "scripts/kafka.sh could not start Kafka (see %s)\n", dir_.c_str());
      std::abort();
    }
    std::fprintf(stderr, "real Kafka at %s (%s)\n", bootstrap_.c_str(), dir_.c_str());
    std::atexit([] { delete instance_; });
  }

  inline static TestKafka* instance_ = nullptr;
  inline static int live_stacks_ = 0;
  std::string dir_;
  std::string bootstrap_;
};

// A Kafka that outlives the stacks of one test, for restarts on the same log: this binary's
// real cluster, or an embedded broker of the test's own.
struct LastingKafka {
  LastingKafka() {
    if (TestKafka::Real()) {
      bootstrap = TestKafka::Bootstrap();
      return;
    }
    auto b = kafka::EmbeddedBroker::Start(1, 4, kafka::StandardTopics());
    EXPECT_TRUE(b.ok()) << b.status();
    if (b.ok()) {
      embedded = std::move(*b);
      bootstrap = embedded->bootstrap();
    }
  }
  std::unique_ptr<kafka::EmbeddedBroker> embedded;
  std::string bootstrap;
};

// A Kafka holding `topics` of `partitions` each, for tests that run the services as separate
// processes and need their topics before them: on real Kafka the topics are created (each takes
// a whole webhook, as earshot checks at start; *.state.v1 compacted), otherwise an embedded
// broker of the test's own has them.
struct KafkaWithTopics {
  KafkaWithTopics(const std::vector<std::string>& topics, int partitions) {
    if (!TestKafka::Real()) {
      auto b = kafka::EmbeddedBroker::Start(1, partitions, topics);
      EXPECT_TRUE(b.ok()) << b.status();
      if (b.ok()) {
        embedded = std::move(*b);
        bootstrap = embedded->bootstrap();
      }
      return;
    }
    bootstrap = TestKafka::Bootstrap();
    auto admin = kafka::Admin::Create(bootstrap, {});
    EXPECT_TRUE(admin.ok()) << admin.status();
    if (!admin.ok()) return;
    const std::string max_bytes =
        std::to_string(kafka::kDefaultBodyLimitBytes + kafka::kRecordEnvelopeBytes);
    std::vector<kafka::NewTopic> news;
    for (const auto& t : topics) {
      news.push_back({t, partitions, -1, {{"max.message.bytes", max_bytes}}});
      if (t.ends_with(".state.v1")) news.back().configs["cleanup.policy"] = "compact";
    }
    auto st = (*admin)->CreateTopics(news, absl::Seconds(30));
    EXPECT_TRUE(st.ok()) << st;
  }
  std::unique_ptr<kafka::EmbeddedBroker> embedded;  // null on real Kafka
  std::string bootstrap;
};

// Before each test, on real Kafka: a cluster with no topics (unless a suite's stack runs on).
class FreshTopicsListener : public ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo&) override { TestKafka::DeleteAllTopics(); }
};

inline const bool kFreshTopicsListenerAdded = [] {
  if (TestKafka::Real()) {
    ::testing::UnitTest::GetInstance()->listeners().Append(new FreshTopicsListener());
  }
  return true;
}();

}  // namespace earshot::testing
