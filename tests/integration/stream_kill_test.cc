// The stream service as an operator runs it: two `earshot --target=stream` replicas behind a
// client-side list of addresses. Subscribers with different filters follow replica A while
// routed events are written continuously; A is killed with SIGKILL mid-stream, and each
// subscriber subscribes again on replica B with the cursor of the last delivery it read. The
// resume contract (services/stream/README.md): "you miss nothing and see nothing you processed
// again". So each subscriber's deliveries, A's and then B's, must be exactly the records of
// earshot.routed.v1 its filter matches, in each partition in offset order: none missing, none
// twice, none it did not ask for. The replicas keep a small ring of recent records, and half of
// the subscribers come back only after more than the ring holds was written: B serves them from
// Kafka first (its catch-up reader), the others from its ring.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "earshot/v1/stream.grpc.pb.h"
#include "fmt/format.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "services/common/kafka/producer.h"
#include "services/router/router_app.h"
#include "tests/integration/kill_support.h"
#include "tests/integration/test_folder.h"
#include "tests/integration/test_kafka.h"
#include "tests/support/earshot_child.h"
#include "tests/support/routed_events.h"

namespace earshot {
namespace {

using earshot::v1::Delivery;
using earshot::v1::RoutedEvent;
using earshot::v1::SubscribeRequest;
using testing::EarshotChild;

constexpr int kEvents = 2400;
constexpr int kConversations = 400;
constexpr int kBatch = 12;  // written every 50 ms: the events flow for about 10 s
// Streams a subscriber opens at most: the first on A, then on B after the kill, and again
// whenever B ends one (a subscriber that falls more than stream.subscriber_buffer behind is
// ended with a cursor to resume from, which a busy machine may cause now and then).
constexpr int kMaxSubscribes = 20;
// Records the replicas keep in memory (stream.ring_records): about 1.2 s of the input.
constexpr int kRing = 300;

// One delivered routed event.
struct Delivered {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string event_id;
  int replica = 0;  // 0: A, 1: B
};

// A downstream client on its own thread: subscribes on the first replica of its list and, when
// the stream breaks, again `reconnect_delay` later on the next one (the last one of the list
// again and again) with the cursor of the last delivery it read. Stops when told to, or after
// kMaxSubscribes streams.
class FailoverSubscriber {
 public:
  FailoverSubscriber(std::string name, SubscribeRequest request, std::vector<int> ports,
                     absl::Duration reconnect_delay)
      : name_(std::move(name)),
        request_(std::move(request)),
        ports_(std::move(ports)),
        reconnect_delay_(reconnect_delay) {
    thread_ = std::thread([this] { Run(); });
  }
  ~FailoverSubscriber() { Stop(); }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
      if (ctx_ != nullptr) ctx_->TryCancel();
    }
    if (thread_.joinable()) thread_.join();
  }

  const std::string& name() const { return name_; }
  const SubscribeRequest& request() const { return request_; }
  std::vector<Delivered> delivered() const {
    absl::MutexLock lock(&mu_);
    return delivered_;
  }
  size_t count() const {
    absl::MutexLock lock(&mu_);
    return delivered_.size();
  }
  // How each stream ended, in order.
  std::vector<std::string> ends() const {
    absl::MutexLock lock(&mu_);
    return ends_;
  }
  bool live() const {
    absl::MutexLock lock(&mu_);
    return live_;
  }

 private:
  void Run() {
    std::string cursor;
    for (int attempt = 0; attempt < kMaxSubscribes; ++attempt) {
      const int replica = std::min<int>(attempt, static_cast<int>(ports_.size()) - 1);
      auto stub = earshot::v1::Stream::NewStub(grpc::CreateChannel(
          fmt::format("127.0.0.1:{}", ports_[replica]), grpc::InsecureChannelCredentials()));
      SubscribeRequest request = request_;
      if (!cursor.empty()) request.set_cursor(cursor);
      grpc::ClientContext ctx;
      request.set_client_name(name_);
      {
        absl::MutexLock lock(&mu_);
        if (stop_) return;
        ctx_ = &ctx;
      }
      auto reader = stub->Subscribe(&ctx, request);
      Delivery d;
      while (reader->Read(&d)) {
        absl::MutexLock lock(&mu_);
        live_ = true;
        cursor = d.cursor();
        if (d.has_routed()) {
          delivered_.push_back({d.partition(), d.offset(), d.routed().event().event_id(), replica});
        }
      }
      const grpc::Status status = reader->Finish();
      {
        absl::MutexLock lock(&mu_);
        ctx_ = nullptr;
        live_ = false;
        ends_.push_back(fmt::format("{} on replica {}: {}", static_cast<int>(status.error_code()),
                                    replica == 0 ? "A" : "B", status.error_message()));
        if (stop_) return;
      }
      absl::SleepFor(reconnect_delay_);  // then the next replica
    }
  }

  const std::string name_;
  const SubscribeRequest request_;
  const std::vector<int> ports_;
  const absl::Duration reconnect_delay_;
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool live_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::vector<Delivered> delivered_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> ends_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// The subscription's filter, as the stream applies it (services/stream/filter.cc).
bool Matches(const earshot::v1::StreamFilter& f, const RoutedEvent& r) {
  if (!f.queues().empty() &&
      std::find(f.queues().begin(), f.queues().end(), r.decision().queue()) == f.queues().end()) {
    return false;
  }
  if (!f.platforms().empty() && std::find(f.platforms().begin(), f.platforms().end(),
                                          r.event().platform()) == f.platforms().end()) {
    return false;
  }
  return f.min_priority() == 0 || r.decision().priority() >= f.min_priority();
}

SubscribeRequest Routed(const std::function<void(earshot::v1::StreamFilter*)>& filter) {
  SubscribeRequest r;
  r.add_topics(earshot::v1::STREAM_TOPIC_ROUTED);
  r.set_latest(true);
  r.set_heartbeat_seconds(1);
  filter(r.mutable_filter());
  return r;
}

TEST(StreamKillTest, SubscribersResumeOnTheOtherReplicaWithNothingMissingOrRepeated) {
  const uint64_t seed = testing::TestSeed();
  std::mt19937_64 rng(seed);
  const testing::LastingKafka kafka;
  ASSERT_FALSE(kafka.bootstrap.empty());
  const testing::TestFolder folder("earshot-stream-kill");
  const std::string dir = folder.path();
  std::ofstream(dir + "/earshot.yaml") << fmt::format(
      "stream: {{heartbeat: 1s, ring_records: {0}, subscriber_buffer: {0}}}\n", kRing);
  std::vector<std::unique_ptr<EarshotChild>> replicas;
  std::vector<int> ports;
  for (const char* name : {"a", "b"}) {
    replicas.push_back(std::make_unique<EarshotChild>(
        EARSHOT_BINARY, "stream", dir + "/" + name, dir + "/" + name + ".log",
        dir + "/earshot.yaml", testing::ChildEnv(kafka.bootstrap)));
    ASSERT_TRUE(replicas.back()->Start().ok());
    ASSERT_TRUE(testing::WaitChildReady(*replicas.back(), absl::Seconds(90)))
        << replicas.back()->LogTail();
    ports.push_back(replicas.back()->GrpcPort());
    ASSERT_GT(ports.back(), 0) << replicas.back()->LogTail();
  }
  EarshotChild& a = *replicas[0];
  testing::TopicFollower topic(kafka.bootstrap, "earshot.routed.v1");

  std::vector<std::unique_ptr<FailoverSubscriber>> subscribers;
  auto subscribe = [&](const std::string& name, absl::Duration reconnect_delay,
                       const std::function<void(earshot::v1::StreamFilter*)>& filter) {
    subscribers.push_back(
        std::make_unique<FailoverSubscriber>(name, Routed(filter), ports, reconnect_delay));
  };
  // Back at once, and back after about twice what the ring holds was written.
  const absl::Duration soon = absl::Milliseconds(100);
  const absl::Duration late = absl::Milliseconds(2500);
  subscribe("everything", soon, [](auto*) {});
  subscribe("billing-queue", late, [](auto* f) { f->add_queues("billing"); });
  subscribe("whatsapp-and-telegram", soon, [](auto* f) {
    f->add_platforms(earshot::v1::PLATFORM_WHATSAPP);
    f->add_platforms(earshot::v1::PLATFORM_TELEGRAM);
  });
  subscribe("high-priority-care", late, [](auto* f) {
    f->add_queues("care");
    f->set_min_priority(earshot::v1::PRIORITY_HIGH);
  });
  // Live on A (the start heartbeat came) before anything is written: they start at the end.
  for (const auto& s : subscribers) {
    for (const absl::Time until = absl::Now() + absl::Seconds(30);
         !s->live() && absl::Now() < until; absl::SleepFor(absl::Milliseconds(20))) {
    }
    ASSERT_TRUE(s->live()) << s->name() << " did not get its first delivery: "
                           << (s->ends().empty() ? "" : s->ends().back());
  }

  // The routed events, in batches as the router writes them, on several platforms, queues and
  // priorities.
  kafka::ProducerOptions po;
  po.bootstrap = kafka.bootstrap;
  po.client_id = "stream-kill-test";
  auto producer = kafka::Producer::Create(po, nullptr);
  ASSERT_TRUE(producer.ok()) << producer.status();
  const earshot::v1::Platform platforms[] = {
      earshot::v1::PLATFORM_WHATSAPP, earshot::v1::PLATFORM_TELEGRAM, earshot::v1::PLATFORM_X,
      earshot::v1::PLATFORM_MESSENGER};
  const char* queues[] = {"care", "billing", "escalation"};
  std::vector<RoutedEvent> input;
  for (int i = 0; i < kEvents; ++i) {
    const int conversation = std::uniform_int_distribution<int>(0, kConversations - 1)(rng);
    const absl::Time now = absl::Now();
    input.push_back(testing::CustomerMessage(
        fmt::format("stream-kill:{}", conversation), fmt::format("stream-kill:{}:{}", seed, i),
        platforms[conversation % 4],
        {queues[std::uniform_int_distribution<int>(0, 2)(rng)],
         static_cast<earshot::v1::Priority>(std::uniform_int_distribution<int>(1, 4)(rng)), ""},
        now, now));
  }
  const int kill_at = std::uniform_int_distribution<int>(kEvents * 3 / 10, kEvents * 7 / 10)(rng);
  std::atomic<int> written{0};
  std::atomic<int> failures{0};
  std::jthread writer([&] {
    for (int begin = 0; begin < kEvents; begin += kBatch) {
      std::vector<kafka::Record> records;
      for (int i = begin; i < std::min(kEvents, begin + kBatch); ++i) {
        records.push_back(router::RoutedRecord(input[i], "earshot.routed.v1"));
      }
      const int n = static_cast<int>(records.size());
      if (kafka::ProduceAndWait(**producer, std::move(records)).ok()) {
        written += n;
      } else {
        ++failures;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  });

  // A dies mid-stream.
  for (const absl::Time until = absl::Now() + absl::Seconds(60);
       written < kill_at && absl::Now() < until; absl::SleepFor(absl::Milliseconds(2))) {
  }
  std::vector<size_t> on_a;
  for (const auto& s : subscribers) on_a.push_back(s->count());
  a.Kill(SIGKILL);
  const int killed_at = written;
  ASSERT_TRUE(a.Wait(absl::Seconds(10)).has_value());
  writer.join();
  EXPECT_EQ(failures.load(), 0);

  // What earshot.routed.v1 holds, and for each subscriber what its filter matches.
  ASSERT_TRUE(
      topic.WaitFor([&](const auto& ms) { return ms.size() >= static_cast<size_t>(kEvents); },
                    absl::Seconds(30)));
  ASSERT_TRUE(topic.WaitCaughtUp(absl::Seconds(30)));
  std::map<int32_t, std::vector<std::pair<int64_t, RoutedEvent>>> held;  // partition -> records
  std::set<std::string> held_ids;
  for (const auto& m : topic.messages()) {
    RoutedEvent r;
    ASSERT_TRUE(r.ParseFromString(m.value));
    held_ids.insert(r.event().event_id());
    held[m.partition].emplace_back(m.offset, std::move(r));
  }
  EXPECT_EQ(held_ids.size(), static_cast<size_t>(kEvents)) << "the topic does not hold the input";
  std::vector<std::map<int32_t, std::vector<int64_t>>> expected(subscribers.size());
  std::vector<size_t> expected_count(subscribers.size(), 0);
  for (size_t s = 0; s < subscribers.size(); ++s) {
    for (const auto& [p, records] : held) {
      for (const auto& [offset, r] : records) {
        if (!Matches(subscribers[s]->request().filter(), r)) continue;
        expected[s][p].push_back(offset);
        ++expected_count[s];
      }
    }
  }
  // Each subscriber through to the end (within a minute for all of them).
  const absl::Time through = absl::Now() + absl::Seconds(60);
  for (size_t s = 0; s < subscribers.size(); ++s) {
    while (subscribers[s]->count() < expected_count[s] && absl::Now() < through) {
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  // A little longer: a repeat would come right after the records it repeats.
  absl::SleepFor(absl::Milliseconds(1500));
  for (auto& s : subscribers) s->Stop();

  std::cout << fmt::format(
      "produced: {} routed events on {} conversations in {} partitions; replica A killed after "
      "{}\n",
      kEvents, kConversations, held.size(), killed_at);
  for (size_t s = 0; s < subscribers.size(); ++s) {
    const FailoverSubscriber& sub = *subscribers[s];
    const std::vector<Delivered> got = sub.delivered();
    std::map<int32_t, std::vector<int64_t>> by_partition;
    std::map<std::pair<int32_t, int64_t>, int> copies;
    size_t from_b = 0;
    for (const Delivered& d : got) {
      by_partition[d.partition].push_back(d.offset);
      ++copies[{d.partition, d.offset}];
      from_b += d.replica == 1 ? 1 : 0;
    }
    int duplicates = 0, missing = 0, unexpected = 0;
    for (const auto& [key, n] : copies) duplicates += n - 1;
    for (const auto& [p, offsets] : expected[s]) {
      std::set<int64_t> seen(by_partition[p].begin(), by_partition[p].end());
      for (int64_t o : offsets) missing += seen.contains(o) ? 0 : 1;
    }
    for (const auto& [p, offsets] : by_partition) {
      std::set<int64_t> want(expected[s][p].begin(), expected[s][p].end());
      for (int64_t o : offsets) unexpected += want.contains(o) ? 0 : 1;
    }
    const std::vector<std::string> ends = sub.ends();
    std::cout << fmt::format(
                     "  {}: expected {}, delivered {} ({} by A, {} by B after resuming), "
                     "duplicates {}, missing {}, not matching {}; streams ended: {}\n",
                     sub.name(), expected_count[s], got.size(), got.size() - from_b, from_b,
                     duplicates, missing, unexpected, fmt::join(ends, " | "))
              << std::flush;
    EXPECT_EQ(duplicates, 0) << sub.name() << ": deliveries seen twice";
    EXPECT_EQ(missing, 0) << sub.name() << ": records its filter matches, never delivered";
    EXPECT_EQ(unexpected, 0) << sub.name() << ": deliveries its filter does not match";
    for (const auto& [p, offsets] : expected[s]) {
      EXPECT_EQ(by_partition[p], offsets) << sub.name() << ": partition " << p << " out of order";
    }
    EXPECT_GT(on_a[s], 0u) << sub.name() << ": nothing delivered by A before the kill";
    EXPECT_GT(from_b, 0u) << sub.name() << ": nothing delivered by B: no resume was tested";
    EXPECT_GE(ends.size(), 1u);
  }
  // How B took them on: in its ring, or through Kafka first (a cursor older than its ring).
  const std::string b_log = replicas[1]->Log();
  const std::regex subscribed(R"re("msg":"subscribed".*"client":"([^"]*)","from":"(\w+)")re");
  std::map<std::string, int> paths;
  std::string taken_on;
  for (auto it = std::sregex_iterator(b_log.begin(), b_log.end(), subscribed);
       it != std::sregex_iterator(); ++it) {
    ++paths[(*it)[2].str()];
    taken_on += fmt::format(" {} {};", (*it)[1].str(),
                            (*it)[2] == "ring" ? "from its ring" : "through Kafka first");
  }
  std::cout << "resumed on B:" << taken_on << std::endl;
  EXPECT_GT(paths["kafka"], 0) << "no subscriber resumed through B's catch-up reader";
}

}  // namespace
}  // namespace earshot
