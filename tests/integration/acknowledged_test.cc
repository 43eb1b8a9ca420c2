// Whatever Earshot acknowledges is tracked. Two ways it once answered a platform and then lost
// the customer's message: after a restart on a new log (the embedded broker starts empty; a
// rebuilt cluster or a recreated topic does the same) the stateful services resumed from
// offsets of the old log and skipped as many new events; and webhooks between librdkafka's
// default 1 MB record limit and the gateway's 4 MiB body limit were answered 503 forever.
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "earshot/v1/routing.pb.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "services/common/kafka/embedded_broker.h"
#include "services/common/kafka/producer.h"
#include "services/common/kafka/records.h"
#include "services/common/kafka/topics.h"
#include "services/router/router_app.h"
#include "tests/integration/stack.h"

namespace earshot {
namespace {

using testing::StackOptions;
using testing::TestStack;
using testing::WaitFor;

// The sum of every sample of a metric family in Prometheus text (0 when absent).
double MetricSum(const std::string& metrics, const std::string& name) {
  const std::regex sample("^" + name + R"((\{[^}]*\})? ([0-9.e+-]+)$)");
  double sum = 0;
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, sample)) sum += std::stod(m[2].str());
  }
  return sum;
}

std::string Message(int n) { return testing::MessengerMessage("restart", n); }

// Event ids of the routed events on `topic`, with how often each was routed.
std::map<std::string, int> RoutedIds(const std::vector<kafka::Message>& msgs) {
  std::map<std::string, int> out;
  for (const auto& m : msgs) {
    earshot::v1::RoutedEvent routed;
    EXPECT_TRUE(routed.ParseFromString(m.value));
    ++out[routed.event().event_id()];
  }
  return out;
}

int64_t Applied(TestStack& stack) {
  return static_cast<router::RouterApp*>(stack.process().service("router"))->events_applied();
}

// The README's start path: `earshot --target=all` on its data folder, 200 webhooks, SIGTERM,
// start again on the same folder, and 400 webhooks as soon as /readyz says ready (platforms
// deliver their backlog the moment an endpoint is back).
TEST(AcknowledgedTest, EveryEventAcknowledgedAfterARestartIsRoutedOnceAndClocked) {
  testing::TestFolder data("earshot-restart");
  StackOptions options;
  options.data_dir = data.path();
  {
    TestStack stack(options);
    for (int n = 0; n < 200; ++n) ASSERT_EQ(stack.PostMeta(Message(n)).status, 200) << n;
    ASSERT_TRUE(WaitFor([&] { return Applied(stack) == 200; }, absl::Seconds(30)));
    ASSERT_TRUE(
        WaitFor([&] { return MetricSum(stack.Metrics(), "earshot_sla_open_clocks") == 200; },
                absl::Seconds(30)));
  }  // stopped as on SIGTERM: drained, flushed, state committed

  // The embedded broker starts empty: its topics hold only what comes after the restart. A real
  // cluster keeps its log, and the stored offsets are right where the services stopped.
  TestStack stack(options);
  const bool same_log = testing::TestKafka::Real();
  for (int n = 200; n < 600; ++n) ASSERT_EQ(stack.PostMeta(Message(n)).status, 200) << n;

  const int first = same_log ? 0 : 200;
  const auto routed =
      RoutedIds(stack.ReadTopic("earshot.routed.v1", 600 - first, absl::Seconds(60)));
  int once = 0;
  for (int n = first; n < 600; ++n) {
    auto it = routed.find(testing::MessengerEventId("restart", n));
    EXPECT_TRUE(it != routed.end()) << "never routed: " << n;
    if (it != routed.end() && it->second == 1) ++once;
  }
  EXPECT_EQ(once, 600 - first) << "events routed exactly once";
  EXPECT_EQ(routed.size(), static_cast<size_t>(600 - first));

  // On a new log: said, not skipped silently, a warning and a counter in both stateful
  // services. On the same log: resumed where they stopped, nothing read again.
  if (same_log) {
    absl::SleepFor(absl::Seconds(1));
    EXPECT_EQ(MetricSum(stack.Metrics(), "earshot_router_input_resets_total"), 0);
    EXPECT_EQ(MetricSum(stack.Metrics(), "earshot_sla_input_resets_total"), 0);
  } else {
    const std::string metrics = stack.Metrics();
    EXPECT_GE(MetricSum(metrics, "earshot_router_input_resets_total"), 1) << metrics;
    EXPECT_TRUE(
        WaitFor([&] { return MetricSum(stack.Metrics(), "earshot_sla_input_resets_total") >= 1; },
                absl::Seconds(10)));
  }
  // The SLA monitor kept the 200 waiting conversations and clocks the 400 new ones.
  EXPECT_TRUE(WaitFor([&] { return MetricSum(stack.Metrics(), "earshot_sla_open_clocks") == 600; },
                      absl::Seconds(30)))
      << MetricSum(stack.Metrics(), "earshot_sla_open_clocks");
}

// The standard topics, empty: on real Kafka deleted and created again; embedded, a new broker.
struct EmptyTopics {
  EmptyTopics() {
    if (!testing::TestKafka::Real()) {
      auto b = kafka::EmbeddedBroker::Start(1, 4, kafka::StandardTopics());
      EXPECT_TRUE(b.ok());
      embedded = std::move(*b);
      bootstrap = embedded->bootstrap();
      return;
    }
    bootstrap = testing::TestKafka::Bootstrap();
    testing::TestKafka::DeleteAllTopics();
    auto config = Config::FromYaml("kafka: {topics: {partitions: 4}}");
    EXPECT_TRUE(config.ok());
    config->set_env_lookup([](const std::string&) { return std::nullopt; });
    const auto st = kafka::EnsureTopics(bootstrap, {}, kafka::TopicSettingsFromConfig(*config));
    EXPECT_TRUE(st.ok()) << st;
  }
  std::unique_ptr<kafka::EmbeddedBroker> embedded;
  std::string bootstrap;
};

// A router restarted on its data folder against a topic that was deleted and created again
// (real Kafka; embedded, a new cluster) while the gateway already wrote to it.
TEST(AcknowledgedTest, RouterAloneRestartedAgainstARecreatedTopicRoutesEveryNewEvent) {
  testing::TestFolder data("earshot-router-recreated");
  auto produce = [](const std::string& bootstrap, int from, int to) {
    kafka::ProducerOptions po;
    po.bootstrap = bootstrap;
    auto producer = kafka::Producer::Create(po, nullptr);
    ASSERT_TRUE(producer.ok()) << producer.status();
    std::vector<kafka::Record> records;
    for (int n = from; n < to; ++n) {
      earshot::v1::Event e;
      e.set_event_id(absl::StrCat("generic:recreated-", n));
      e.set_platform(earshot::v1::PLATFORM_GENERIC);
      e.set_account_id("reviews");
      e.set_thread_key(absl::StrCat("gen:reviews:t", n % 37));
      e.set_message_id(absl::StrCat("recreated-", n));
      e.set_direction(earshot::v1::DIRECTION_INBOUND);
      e.set_kind(earshot::v1::KIND_REVIEW);
      e.set_text("Two stars, slow refund.");
      *e.mutable_received_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
      records.push_back(kafka::EventRecord(e, "earshot.events.v1"));
    }
    absl::Notification done;
    absl::Status status;
    (*producer)->ProduceBatch(std::move(records), [&](absl::Status st) {
      status = st;
      done.Notify();
    });
    done.WaitForNotification();
    ASSERT_TRUE(status.ok()) << status;
  };
  auto router = [&](const std::string& bootstrap) {
    auto config = Config::FromYaml(testing::StackConfig("", bootstrap));
    EXPECT_TRUE(config.ok());
    config->set_env_lookup([](const std::string&) { return std::nullopt; });
    ProcessOptions o;
    o.target = "router";
    o.data_dir = data.path();
    auto process = std::make_unique<Process>(o, std::move(*config));
    const auto st = process->Start();
    EXPECT_TRUE(st.ok()) << st;
    return process;
  };
  auto routed = [](const std::string& bootstrap, size_t want) {
    kafka::ConsumerOptions o;
    o.bootstrap = bootstrap;
    o.group_id = "test-reader";
    auto consumer = kafka::Consumer::Create(o);
    EXPECT_TRUE(consumer.ok());
    EXPECT_TRUE((*consumer)->AssignAll("earshot.routed.v1").ok());
    std::vector<kafka::Message> out;
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (out.size() < want && absl::Now() < deadline) {
      auto batch = (*consumer)->Poll(1000, absl::Milliseconds(100));
      if (batch.ok()) std::move(batch->begin(), batch->end(), std::back_inserter(out));
    }
    absl::SleepFor(absl::Milliseconds(300));  // anything more would be a repeat
    if (auto more = (*consumer)->Poll(1000, absl::Milliseconds(200)); more.ok()) {
      std::move(more->begin(), more->end(), std::back_inserter(out));
    }
    return RoutedIds(out);
  };

  {
    EmptyTopics first;
    produce(first.bootstrap, 0, 100);
    auto process = router(first.bootstrap);
    EXPECT_EQ(routed(first.bootstrap, 100).size(), 100u);
    process->Stop();
  }
  EmptyTopics second;
  produce(second.bootstrap, 100, 250);  // written before the router is back
  auto process = router(second.bootstrap);
  const auto ids = routed(second.bootstrap, 150);
  int once = 0;
  for (int n = 100; n < 250; ++n) {
    auto it = ids.find(absl::StrCat("generic:recreated-", n));
    if (it != ids.end() && it->second == 1) ++once;
  }
  EXPECT_EQ(once, 150);
  EXPECT_EQ(ids.size(), 150u);
  http::Client admin("127.0.0.1", process->admin_port());
  auto metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_GE(MetricSum(metrics->body, "earshot_router_input_resets_total"), 1) << metrics->body;
}

// A Meta page-feed delivery of `comments` comments of `text_bytes` each: one signed body, one
// event per comment.
std::string FeedDelivery(int batch, int comments, size_t text_bytes) {
  std::string body = R"({"object":"page","entry":[)";
  for (int i = 0; i < comments; ++i) {
    if (i > 0) body += ",";
    const std::string id = absl::StrCat(batch, "00", i);
    absl::StrAppend(
        &body, R"({"id":"105550000000001","time":1741170000,"changes":[{"field":"feed","value":{)",
        R"("from":{"id":"60123456789)", i, R"(","name":"Customer"},"item":"comment","verb":"add",)",
        R"("post_id":"105550000000001_9012345",)", R"("comment_id":"9012345_)", id, R"(",)",
        R"("parent_id":"105550000000001_9012345","message":")", std::string(text_bytes, 'a'),
        R"(","created_time":1741169990}}]})");
  }
  return body + "]}";
}

// Signed webhooks of 0.9, 1.5 and 3.9 MB get 2xx and are in Kafka, raw and as events; one byte
// over the 4 MiB limit gets 413, is counted, and writes nothing.
TEST(AcknowledgedTest, WebhooksUpToTheBodyLimitAreWrittenAndOneByteOverGets413) {
  StackOptions options;
  options.body_limit_bytes = 4 << 20;  // the default
  TestStack stack(options);
  struct Case {
    double megabytes;
    int comments;
  };
  // The raw records' body sizes. Each is read right after its request: the embedded broker keeps
  // only about 5 MB a partition, so a later 3.9 MB record may push an earlier one out.
  auto raw_sizes = [&](size_t want) {
    std::set<size_t> sizes;
    for (const auto& m : stack.ReadTopic("earshot.raw.v1", want, absl::Seconds(30))) {
      earshot::v1::RawWebhook raw;
      EXPECT_TRUE(raw.ParseFromString(m.value));
      sizes.insert(raw.body().size());
    }
    return sizes;
  };
  std::vector<std::string> bodies;
  int events = 0;
  int batch = 1;
  for (const Case& c : {Case{0.9, 100}, Case{1.5, 400}, Case{3.9, 900}}) {
    const size_t text = static_cast<size_t>(c.megabytes * 1e6 / c.comments) - 330;
    bodies.push_back(FeedDelivery(batch++, c.comments, text));
    EXPECT_NEAR(static_cast<double>(bodies.back().size()) / 1e6, c.megabytes, 0.05);
    const auto r = stack.PostMeta(bodies.back());
    EXPECT_EQ(r.status, 200) << bodies.back().size() << " bytes: " << r.body;
    EXPECT_TRUE(raw_sizes(bodies.size()).contains(bodies.back().size()))
        << "no raw record of the " << bodies.back().size() << "-byte body";
    events += c.comments;
  }
  std::string over = FeedDelivery(batch, 1, 0);
  over.insert(over.find("\"message\":\"") + 11, std::string((4 << 20) + 1 - over.size(), 'b'));
  ASSERT_EQ(over.size(), (4u << 20) + 1);
  EXPECT_EQ(stack.PostMeta(over).status, 413);

  for (size_t size : raw_sizes(bodies.size()))
    EXPECT_LE(size, 4u << 20) << "a raw record over the limit";
  EXPECT_EQ(stack.ReadTopic("earshot.events.v1", events, absl::Seconds(30)).size(),
            static_cast<size_t>(events));
  EXPECT_EQ(MetricSum(stack.Metrics(), "earshot_gateway_http_refused_total"), 1);
  EXPECT_EQ(stack.ReadTopic("earshot.deadletter.v1", 0, absl::Seconds(1)).size(), 0u);
}

}  // namespace
}  // namespace earshot
