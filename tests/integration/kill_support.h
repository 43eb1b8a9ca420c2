#pragma once
// What the kill tests share (gateway_kill_test, sla_kill_test, stream_kill_test): the
// environment of an `earshot` child process on the test's Kafka, a reader that follows a topic
// from its start while services write it, and the seed of a test's random choices.
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "fmt/format.h"
#include "gtest/gtest.h"
#include "services/common/kafka/consumer.h"
#include "tests/integration/test_kafka.h"
#include "tests/support/earshot_child.h"

namespace earshot::testing {

// The partitions of every topic the children create (and the embedded broker has).
inline constexpr int kKillTestPartitions = 4;

// The seed of a test's random choices (kill times, input): EARSHOT_TEST_SEED when set, to repeat
// a run, else a new one. Printed, so that a failed run can be repeated.
inline uint64_t TestSeed() {
  uint64_t seed = 0;
  const char* given = std::getenv("EARSHOT_TEST_SEED");
  if (given == nullptr || !absl::SimpleAtoi(given, &seed)) seed = std::random_device{}();
  std::cout << "seed " << seed << " (EARSHOT_TEST_SEED=" << seed << " repeats it)" << std::endl;
  return seed;
}

// The environment of an `earshot` child on the test's Kafka: every listener on a loopback port
// the system picks (the child names it in its log) unless `extra` gives one, the topics it
// creates in kKillTestPartitions partitions, and consumer sessions that end 3 s after a SIGKILL,
// so that a restarted replica gets its partitions back within seconds. On the embedded broker,
// short fetch waits: the mock cluster holds every fetch of an idle partition for the whole wait.
// `extra` entries replace the defaults of the same name.
inline std::vector<std::string> ChildEnv(const std::string& bootstrap,
                                         const std::vector<std::string>& extra = {}) {
  std::vector<std::string> env = {
      "EARSHOT_KAFKA_BOOTSTRAP=" + bootstrap,
      "EARSHOT_HTTP_ADDR=127.0.0.1:0",
      "EARSHOT_GRPC_ADDR=127.0.0.1:0",
      "EARSHOT_ADMIN_ADDR=127.0.0.1:0",
      fmt::format("EARSHOT_KAFKA_TOPICS_PARTITIONS={}", kKillTestPartitions),
      "EARSHOT_ROUTER_SESSION_TIMEOUT_MS=3000",
      "EARSHOT_SLA_SESSION_TIMEOUT_MS=3000",
  };
  if (!TestKafka::Real()) {
    env.push_back("EARSHOT_KAFKA_FETCH_WAIT=5ms");
    env.push_back("EARSHOT_STREAM_FETCH_WAIT=5ms");
  }
  for (const std::string& e : extra) {
    const std::string name = e.substr(0, e.find('=') + 1);
    std::erase_if(env, [&](const std::string& d) { return d.starts_with(name); });
    env.push_back(e);
  }
  return env;
}

// Waits until the child answers /readyz with 200 (false when it exited or the time ran out).
inline bool WaitChildReady(EarshotChild& child, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline && child.running()) {
    if (child.Ready()) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

// Follows one topic from its start on a thread of its own while services write it, as a
// downstream consumer does: read_committed, so on Kafka what an aborted transaction wrote is
// never seen. Keeps every record. Any thread may ask; the reading thread owns the consumer.
class TopicFollower {
 public:
  using Messages = std::vector<kafka::Message>;

  TopicFollower(const std::string& bootstrap, const std::string& topic) : topic_(topic) {
    kafka::ConsumerOptions o;
    o.bootstrap = bootstrap;
    o.group_id = TestKafka::UniqueName("follower-" + topic);
    o.extra["max.partition.fetch.bytes"] = "8388608";
    auto consumer = kafka::Consumer::Create(o);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (!consumer.ok()) return;
    consumer_ = std::move(*consumer);
    auto st = consumer_->AssignAll(topic);
    EXPECT_TRUE(st.ok()) << st;
    // The ends of the log with open transactions included: the reader's position passes the
    // markers of committed and aborted ones, so it reaches these ends once nothing is open.
    o.group_id += "-ends";
    o.extra["isolation.level"] = "read_uncommitted";
    auto ends = kafka::Consumer::Create(o);
    EXPECT_TRUE(ends.ok()) << ends.status();
    if (ends.ok()) ends_ = std::move(*ends);
    thread_ = std::thread([this] { Run(); });
  }
  ~TopicFollower() {
    stop_.Notify();
    if (thread_.joinable()) thread_.join();
  }
  TopicFollower(const TopicFollower&) = delete;
  TopicFollower& operator=(const TopicFollower&) = delete;

  Messages messages() const {
    absl::MutexLock lock(&mu_);
    return messages_;
  }
  std::vector<std::string> errors() const {
    absl::MutexLock lock(&mu_);
    return errors_;
  }

  // Waits until `done` holds over the records read so far, up to `timeout`.
  bool WaitFor(const std::function<bool(const Messages&)>& done, absl::Duration timeout) const {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        if (done(messages_)) return true;
      }
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  // Waits until every record up to each partition's end, as it is now or becomes meanwhile, was
  // read: what the writers committed is all here.
  bool WaitCaughtUp(absl::Duration timeout) {
    if (ends_ == nullptr) return false;
    const int partitions = ends_->PartitionCount(topic_, absl::Seconds(5));
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline && partitions > 0) {
      bool done = true;
      for (int p = 0; p < partitions && done; ++p) {
        auto marks = ends_->Watermarks(topic_, p, absl::Seconds(5));
        done = marks.ok() && kafka::Position(consumer_->handle(), topic_, p) >= marks->second;
        // A partition the reader has no position in yet is caught up only when it is empty.
        if (marks.ok() && marks->second == 0) done = true;
      }
      if (done) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

 private:
  void Run() {
    while (!stop_.HasBeenNotified()) {
      auto batch = consumer_->Poll(1000, absl::Milliseconds(100));
      absl::MutexLock lock(&mu_);
      if (!batch.ok()) {
        errors_.push_back(batch.status().ToString());
        continue;
      }
      for (auto& m : *batch) messages_.push_back(std::move(m));
    }
  }

  const std::string topic_;
  std::unique_ptr<kafka::Consumer> consumer_;
  std::unique_ptr<kafka::Consumer> ends_;  // watermarks only
  absl::Notification stop_;
  mutable absl::Mutex mu_;
  Messages messages_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> errors_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace earshot::testing
