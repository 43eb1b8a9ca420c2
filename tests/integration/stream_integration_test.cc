// The stream service end to end, in one process group: signed webhooks into the gateway, the
// router and SLA monitor on the embedded broker, and real gRPC subscribers of
// earshot.v1.Stream/Subscribe with filters, cursors, tokens and flow control.
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "earshot/v1/stream.grpc.pb.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "services/router/router_app.h"
#include "services/stream/stream_app.h"
#include "tests/integration/stack.h"

namespace earshot {
namespace {

using earshot::testing::TestStack;
using earshot::v1::Delivery;
using earshot::v1::SubscribeRequest;

constexpr char kCareToken[] = "care-team-token";
constexpr char kOpsToken[] = "ops-team-token";

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/stream-it-" + name;
  std::ofstream(path) << text;
  return path;
}

std::string StreamConfig() {
  const std::string rules = WriteFile("rules.yaml", R"(
defaults: {queue: care, priority: normal, sla_policy: quick}
rules:
  - name: complaints
    when: {keywords: [broken]}
    then: {queue: escalation, priority: high}
)");
  const std::string sla = WriteFile("sla.yaml", R"(
policies:
  quick: {first_response: 10m, next_response: 10m, warn_at: 50%}
)");
  const std::string principals =
      WriteFile("principals.yaml", absl::StrCat(R"(
principals:
  - {name: care, tokens: [{value: )",
                                                kCareToken, R"(}], scopes: {stream:read: [care]}}
  - {name: ops, tokens: [{value: )",
                                                kOpsToken, R"(}], scopes: {stream:read: ["*"]}}
)"));
  return absl::StrCat("router: {rules_file: \"", rules, "\"}\n", "sla: {policies_file: \"", sla,
                      "\"}\n", "auth: {principals_file: \"", principals,
                      "\"}\nstream: {subscriber_buffer: 100, ring_records: 5000, heartbeat: 1s}\n");
}

// A Telegram private message; each chat is its own thread (tg:<bot>:<chat>).
std::string TelegramMessage(int64_t update_id, int64_t chat, const std::string& text,
                            int64_t date = 0) {
  if (date == 0) date = absl::ToUnixSeconds(absl::Now());
  return absl::StrCat(
      R"({"update_id":)", update_id, R"(,"message":{"message_id":)", update_id, R"(,"from":{"id":)",
      chat, R"(,"is_bot":false,"first_name":"Kim","language_code":"en"},"chat":{"id":)", chat,
      R"(,"type":"private","first_name":"Kim"},"date":)", date, R"(,"text":")", text, R"("}})");
}

std::string ThreadOf(int64_t chat) { return absl::StrCat("tg:", testing::kTelegramBot, ":", chat); }

// One gRPC subscriber, read on its own thread (or not read at all until StartReading: a
// subscriber that stopped reading).
class Subscriber {
 public:
  Subscriber(int port, const std::string& token, SubscribeRequest request, bool read = true) {
    grpc::ChannelArguments args;
    // A small window and no BDP probing: a subscriber that stops reading holds up the server
    // after a few deliveries, like a slow consumer over a real network.
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8192);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // its own connection
    auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                             grpc::InsecureChannelCredentials(), args);
    stub_ = earshot::v1::Stream::NewStub(channel);
    if (!token.empty()) ctx_.AddMetadata("authorization", std::string("Bearer ") + token);
    reader_ = stub_->Subscribe(&ctx_, request);
    if (read) StartReading();
  }
  ~Subscriber() {
    ctx_.TryCancel();
    if (thread_.joinable()) thread_.join();
  }

  void StartReading() {
    thread_ = std::thread([this] {
      Delivery d;
      while (reader_->Read(&d)) {
        absl::MutexLock l(&mu_);
        all_.push_back(d);
      }
      grpc::Status status = reader_->Finish();
      absl::MutexLock l(&mu_);
      status_ = status;
      auto md = ctx_.GetServerTrailingMetadata();
      if (auto it = md.find("earshot-cursor"); it != md.end()) {
        trailer_cursor_ = std::string(it->second.data(), it->second.size());
      }
      ended_ = true;
    });
  }

  // Waits until `pred` holds over what arrived so far.
  bool Wait(const std::function<bool(const std::vector<Delivery>&)>& pred,
            absl::Duration timeout = absl::Seconds(20)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      {
        absl::MutexLock l(&mu_);
        if (pred(all_)) return true;
        if (ended_ || absl::Now() > deadline) return false;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  bool WaitEnd(absl::Duration timeout = absl::Seconds(20)) {
    absl::MutexLock l(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&ended_), timeout);
  }
  std::vector<Delivery> all() {
    absl::MutexLock l(&mu_);
    return all_;
  }
  // Routed events (not heartbeats or alerts) for the given threads, in arrival order.
  std::vector<earshot::v1::RoutedEvent> Routed(const std::set<std::string>& threads = {}) {
    std::vector<earshot::v1::RoutedEvent> out;
    for (const auto& d : all()) {
      if (d.has_routed() &&
          (threads.empty() || threads.contains(d.routed().event().thread_key()))) {
        out.push_back(d.routed());
      }
    }
    return out;
  }
  std::string last_cursor() {
    absl::MutexLock l(&mu_);
    return all_.empty() ? "" : all_.back().cursor();
  }
  grpc::Status status() {
    absl::MutexLock l(&mu_);
    return status_;
  }
  std::string trailer_cursor() {
    absl::MutexLock l(&mu_);
    return trailer_cursor_;
  }

 private:
  std::unique_ptr<earshot::v1::Stream::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<Delivery>> reader_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<Delivery> all_ ABSL_GUARDED_BY(mu_);
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  std::string trailer_cursor_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

size_t CountRouted(const std::vector<Delivery>& ds, const std::set<std::string>& threads) {
  size_t n = 0;
  for (const auto& d : ds) n += d.has_routed() && threads.contains(d.routed().event().thread_key());
  return n;
}

SubscribeRequest Routed() {
  SubscribeRequest r;
  r.add_topics(earshot::v1::STREAM_TOPIC_ROUTED);
  return r;
}

class StreamIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = new TestStack(StreamConfig());
    auto* router = static_cast<router::RouterApp*>(stack_->process().service("router"));
    ASSERT_TRUE(
        testing::WaitFor([&] { return router->OwnedPartitions().size() == 4; }, absl::Seconds(30)))
        << "router never got its partitions";
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }

  int port() { return stack_->process().grpc_port(); }
  // Posts one message per chat and returns the chats' thread keys.
  std::set<std::string> Post(int64_t first_chat, int n, const std::string& text = "hello there") {
    std::set<std::string> threads;
    for (int i = 0; i < n; ++i) {
      const int64_t chat = first_chat + i;
      EXPECT_EQ(stack_->PostTelegram(TelegramMessage(chat, chat, text)).status, 200);
      threads.insert(ThreadOf(chat));
    }
    return threads;
  }
  // Waits for the first delivery (the start heartbeat): the subscription is live.
  static void WaitLive(Subscriber& s) {
    ASSERT_TRUE(s.Wait([](const auto& ds) { return !ds.empty(); })) << s.status().error_message();
    ASSERT_TRUE(s.all().front().has_heartbeat());
    ASSERT_FALSE(s.all().front().cursor().empty());
  }

  static TestStack* stack_;
};

TestStack* StreamIntegrationTest::stack_ = nullptr;

TEST_F(StreamIntegrationTest, FiltersDeliverOnlyWhatEachTeamAskedFor) {
  SubscribeRequest escalation = Routed();
  escalation.mutable_filter()->add_queues("escalation");
  Subscriber ops(port(), kOpsToken, escalation);
  Subscriber care(port(), kCareToken, Routed());  // no queue filter: the team's queues
  SubscribeRequest high = Routed();
  high.mutable_filter()->set_min_priority(earshot::v1::PRIORITY_HIGH);
  Subscriber urgent_only(port(), kOpsToken, high);
  WaitLive(ops);
  WaitLive(care);
  WaitLive(urgent_only);

  std::set<std::string> calm = Post(1000, 3, "where is my parcel");
  std::set<std::string> angry = Post(1100, 2, "my phone arrived broken");
  std::set<std::string> both = calm;
  both.insert(angry.begin(), angry.end());

  ASSERT_TRUE(ops.Wait([&](const auto& ds) { return CountRouted(ds, angry) == 2; }));
  ASSERT_TRUE(care.Wait([&](const auto& ds) { return CountRouted(ds, calm) == 3; }));
  ASSERT_TRUE(urgent_only.Wait([&](const auto& ds) { return CountRouted(ds, angry) == 2; }));
  absl::SleepFor(absl::Milliseconds(500));  // anything that should not come would come by now
  for (const auto& r : ops.Routed(both)) EXPECT_EQ(r.decision().queue(), "escalation");
  EXPECT_EQ(ops.Routed(both).size(), 2u);
  for (const auto& r : care.Routed(both)) EXPECT_EQ(r.decision().queue(), "care");
  EXPECT_EQ(care.Routed(both).size(), 3u);
  EXPECT_EQ(urgent_only.Routed(both).size(), 2u);
  // Every delivery names where it came from and carries a cursor.
  for (const auto& d : ops.all()) {
    EXPECT_FALSE(d.cursor().empty());
    if (d.has_routed()) {
      EXPECT_EQ(d.topic(), earshot::v1::STREAM_TOPIC_ROUTED);
    }
  }
}

TEST_F(StreamIntegrationTest, TokensAndPermissions) {
  Subscriber none(port(), "", Routed());
  ASSERT_TRUE(none.WaitEnd());
  EXPECT_EQ(none.status().error_code(), grpc::StatusCode::UNAUTHENTICATED);

  Subscriber wrong(port(), "not-a-known-token", Routed());
  ASSERT_TRUE(wrong.WaitEnd());
  EXPECT_EQ(wrong.status().error_code(), grpc::StatusCode::UNAUTHENTICATED);

  SubscribeRequest escalation = Routed();
  escalation.mutable_filter()->add_queues("escalation");
  Subscriber denied(port(), kCareToken, escalation);
  ASSERT_TRUE(denied.WaitEnd());
  EXPECT_EQ(denied.status().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(denied.status().error_message().find("escalation"), std::string::npos);

  SubscribeRequest bad_cursor = Routed();
  bad_cursor.set_cursor("garbage");
  Subscriber invalid(port(), kOpsToken, bad_cursor);
  ASSERT_TRUE(invalid.WaitEnd());
  EXPECT_EQ(invalid.status().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  const std::string metrics = stack_->Metrics();
  EXPECT_NE(metrics.find("earshot_stream_rejected_total{code=\"unauthenticated\"} 2"),
            std::string::npos);
  EXPECT_NE(metrics.find("earshot_stream_rejected_total{code=\"permission_denied\"} 1"),
            std::string::npos);
}

TEST_F(StreamIntegrationTest, CursorResumesWithoutGapOrRepeat) {
  std::string cursor;
  std::set<std::string> first;
  {
    Subscriber s(port(), kOpsToken, Routed());
    WaitLive(s);
    first = Post(2000, 5);
    ASSERT_TRUE(s.Wait([&](const auto& ds) { return CountRouted(ds, first) == 5; }));
    cursor = s.last_cursor();
  }  // disconnected
  std::set<std::string> second = Post(2100, 5);

  SubscribeRequest resume = Routed();
  resume.set_cursor(cursor);
  Subscriber again(port(), kOpsToken, resume);
  ASSERT_TRUE(again.Wait([&](const auto& ds) { return CountRouted(ds, second) == 5; }));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(again.Routed(first).size(), 0u) << "saw again what it had acknowledged by cursor";
  EXPECT_EQ(again.Routed(second).size(), 5u);

  // From the start: everything, including both rounds, each once.
  SubscribeRequest earliest = Routed();
  earliest.set_earliest(true);
  Subscriber all(port(), kOpsToken, earliest);
  std::set<std::string> both = first;
  both.insert(second.begin(), second.end());
  ASSERT_TRUE(all.Wait([&](const auto& ds) { return CountRouted(ds, both) == 10; }));
  std::set<std::pair<int, int64_t>> seen;
  for (const auto& d : all.all()) {
    if (d.has_routed()) {
      EXPECT_TRUE(seen.emplace(d.partition(), d.offset()).second) << "repeat";
    }
  }
}

TEST_F(StreamIntegrationTest, StartAtATime) {
  std::set<std::string> threads;
  absl::SleepFor(absl::Milliseconds(200));  // after every record of the earlier tests
  const absl::Time before = absl::Now();
  {
    Subscriber live(port(), kOpsToken, Routed());  // to know when they are routed
    WaitLive(live);
    threads = Post(2500, 3);
    ASSERT_TRUE(live.Wait([&](const auto& ds) { return CountRouted(ds, threads) == 3; }));
  }
  SubscribeRequest since = Routed();
  *since.mutable_time() =
      google::protobuf::util::TimeUtil::MillisecondsToTimestamp(absl::ToUnixMillis(before));
  Subscriber s(port(), kOpsToken, since);
  ASSERT_TRUE(s.Wait([&](const auto& ds) { return CountRouted(ds, threads) == 3; }))
      << s.status().error_message();
  // Nothing routed before that time: the earliest test thread (chat 1000) is older.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(s.Routed({ThreadOf(1000)}).size(), 0u);

  SubscribeRequest future = Routed();
  *future.mutable_time() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(
      absl::ToUnixMillis(absl::Now() + absl::Hours(1)));
  Subscriber none(port(), kOpsToken, future);
  WaitLive(none);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(none.Routed().size(), 0u);
}

TEST_F(StreamIntegrationTest, DuplicateWebhookIsDeliveredOnce) {
  Subscriber s(port(), kOpsToken, Routed());
  WaitLive(s);
  const std::string body = TelegramMessage(3000, 3000, "is this in stock");
  ASSERT_EQ(stack_->PostTelegram(body).status, 200);
  ASSERT_EQ(stack_->PostTelegram(body).status, 200);  // Telegram's redelivery
  std::set<std::string> later = Post(3001, 1);        // arrives after the duplicate would
  ASSERT_TRUE(s.Wait([&](const auto& ds) { return CountRouted(ds, later) == 1; }));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(s.Routed({ThreadOf(3000)}).size(), 1u);
}

TEST_F(StreamIntegrationTest, AlertsArriveOnTheAlertsTopic) {
  SubscribeRequest alerts;
  alerts.add_topics(earshot::v1::STREAM_TOPIC_ALERTS);
  Subscriber s(port(), kOpsToken, alerts);
  WaitLive(s);
  // Written an hour ago, on a 10-minute promise: the breach fires at once.
  const int64_t hour_ago = absl::ToUnixSeconds(absl::Now() - absl::Hours(1));
  ASSERT_EQ(stack_->PostTelegram(TelegramMessage(4000, 4000, "hello?", hour_ago)).status, 200);
  ASSERT_TRUE(s.Wait([&](const auto& ds) {
    for (const auto& d : ds) {
      if (d.has_alert() && d.alert().thread_key() == ThreadOf(4000) &&
          d.alert().level() == earshot::v1::ALERT_LEVEL_BREACH) {
        return true;
      }
    }
    return false;
  })) << "no breach alert for the thread";
  for (const auto& d : s.all()) EXPECT_FALSE(d.has_routed()) << "routed event on alerts stream";
}

TEST_F(StreamIntegrationTest, SlowSubscriberEndedWithCursorWhileFastOneKeepsUp) {
  Subscriber fast(port(), kOpsToken, Routed());
  Subscriber slow(port(), kOpsToken, Routed(), /*read=*/false);
  WaitLive(fast);
  constexpr int kEvents = 400;  // far more than the slow one's window and its buffer of 100
  std::set<std::string> threads = Post(5000, kEvents, "a long message to fill the window quickly");
  ASSERT_TRUE(fast.Wait([&](const auto& ds) { return CountRouted(ds, threads) == kEvents; }))
      << "fast subscriber got " << fast.Routed(threads).size();
  EXPECT_FALSE(fast.WaitEnd(absl::Milliseconds(1))) << "the fast subscriber was ended";
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return stack_->Metrics().find("earshot_stream_slow_disconnects_total 1") !=
               std::string::npos;
      },
      absl::Seconds(10)));

  // The slow one reads what was on its way, then the status with the cursor to resume from.
  slow.StartReading();
  ASSERT_TRUE(slow.WaitEnd());
  EXPECT_EQ(slow.status().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_FALSE(slow.trailer_cursor().empty());
  const size_t before = slow.Routed(threads).size();
  EXPECT_LT(before, static_cast<size_t>(kEvents));

  SubscribeRequest resume = Routed();
  resume.set_cursor(slow.trailer_cursor());
  Subscriber resumed(port(), kOpsToken, resume);
  ASSERT_TRUE(resumed.Wait([&](const auto& ds) {
    return before + CountRouted(ds, threads) >= kEvents;
  })) << "before "
      << before << " after " << resumed.Routed(threads).size();
  std::set<std::string> ids;
  for (const auto& r : slow.Routed(threads)) EXPECT_TRUE(ids.insert(r.event().event_id()).second);
  for (const auto& r : resumed.Routed(threads)) {
    EXPECT_TRUE(ids.insert(r.event().event_id()).second) << "delivered twice";
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kEvents)) << "nothing skipped";
}

TEST_F(StreamIntegrationTest, ReaderOfHistoryInTheRingIsNotCutOffForBeingBehind) {
  // The ring holds far more than the buffer of 100 (the 400 of the test above among them): a
  // subscriber from the earliest record starts thousands behind and is kept while it catches up.
  std::set<std::string> threads;
  for (int i = 0; i < 400; ++i) threads.insert(ThreadOf(5000 + i));
  SubscribeRequest earliest = Routed();
  earliest.set_earliest(true);
  Subscriber s(port(), kOpsToken, earliest, /*read=*/false);
  absl::SleepFor(absl::Milliseconds(600));  // three checks of the ticker while it has read nothing
  s.StartReading();
  ASSERT_TRUE(s.Wait([&](const auto& ds) { return CountRouted(ds, threads) == 400; }))
      << "got " << s.Routed(threads).size() << ", ended: " << s.status().error_message();
  EXPECT_FALSE(s.WaitEnd(absl::Milliseconds(500))) << s.status().error_message();
}

TEST_F(StreamIntegrationTest, AnotherReplicaResumesTheCursorFromKafka) {
  std::string cursor;
  std::set<std::string> first;
  {
    Subscriber s(port(), kOpsToken, Routed());
    WaitLive(s);
    first = Post(6000, 3);
    ASSERT_TRUE(s.Wait([&](const auto& ds) { return CountRouted(ds, first) == 3; }));
    cursor = s.last_cursor();
  }
  std::set<std::string> second = Post(6100, 3);
  ASSERT_EQ(stack_->ReadTopic("earshot.routed.v1", 1).empty(), false);

  // A stream-only replica started now: its ring begins after these records, so it reads the
  // cursor's history from Kafka, then joins its ring.
  auto config = Config::FromYaml(testing::StackConfig(StreamConfig(), stack_->bootstrap()));
  ASSERT_TRUE(config.ok());
  config->set_env_lookup([](const std::string&) { return std::nullopt; });
  ProcessOptions options;
  options.target = "stream";
  const testing::TestFolder data("stream-replica");
  options.data_dir = data.path();
  Process replica(options, std::move(*config));
  ASSERT_TRUE(replica.Start().ok());

  SubscribeRequest resume = Routed();
  resume.set_cursor(cursor);
  Subscriber s(replica.grpc_port(), kOpsToken, resume);
  ASSERT_TRUE(s.Wait([&](const auto& ds) { return CountRouted(ds, second) == 3; }));
  std::set<std::string> third = Post(6200, 3);  // live, through the replica's ring
  ASSERT_TRUE(s.Wait([&](const auto& ds) { return CountRouted(ds, third) == 3; }));
  EXPECT_EQ(s.Routed(first).size(), 0u);
  std::set<std::pair<int, int64_t>> seen;
  for (const auto& d : s.all()) {
    if (d.has_routed()) {
      EXPECT_TRUE(seen.emplace(d.partition(), d.offset()).second) << "repeat";
    }
  }
}

TEST_F(StreamIntegrationTest, MutualTlsRequiresAClientCertificate) {
  const std::string dir = testing::MakeCertificates("stream-tls");
  auto config = Config::FromYaml(testing::StackConfig(StreamConfig(), stack_->bootstrap()));
  ASSERT_TRUE(config.ok()) << config.status();
  // As an operator would: EARSHOT_GRPC_TLS_* in the environment.
  config->set_env_lookup(testing::MutualTlsEnv(dir));
  ProcessOptions options;
  options.target = "stream";
  const testing::TestFolder data("stream-tls-replica");
  options.data_dir = data.path();
  Process replica(options, std::move(*config));
  ASSERT_TRUE(replica.Start().ok());
  const std::string target = "127.0.0.1:" + std::to_string(replica.grpc_port());

  auto subscribe = [&](std::shared_ptr<grpc::ChannelCredentials> creds) {
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    auto stub = earshot::v1::Stream::NewStub(grpc::CreateCustomChannel(target, creds, args));
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kOpsToken);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    auto reader = stub->Subscribe(&ctx, Routed());
    Delivery first;
    const bool got = reader->Read(&first);
    ctx.TryCancel();
    reader->Finish();
    return got && first.has_heartbeat();
  };
  grpc::SslCredentialsOptions with_cert;
  with_cert.pem_root_certs = testing::ReadFile(dir + "/ca.crt");
  with_cert.pem_private_key = testing::ReadFile(dir + "/client.key");
  with_cert.pem_cert_chain = testing::ReadFile(dir + "/client.crt");
  EXPECT_TRUE(subscribe(grpc::SslCredentials(with_cert)));

  grpc::SslCredentialsOptions without_cert;
  without_cert.pem_root_certs = with_cert.pem_root_certs;
  EXPECT_FALSE(subscribe(grpc::SslCredentials(without_cert)));
  EXPECT_FALSE(subscribe(grpc::InsecureChannelCredentials()));
}

}  // namespace
}  // namespace earshot
